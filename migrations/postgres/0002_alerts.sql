-- Channels, shard leases and the notification outbox.

create table channels (
    id bigint generated always as identity primary key,
    code uuid not null unique,
    project_id bigint not null references projects (id) on delete cascade,
    name text not null default '',
    kind text not null,
    -- The kind's settings as healthchecks.io stores them (JSON).
    value text not null,
    -- Webhooks: the Standard Webhooks signing secret (whsec_…), shown once at creation.
    secret text not null default '',
    email_verified boolean not null default false,
    -- SHA-256 of the token in the verification link, until it is used.
    verify_token_hash text not null default '',
    disabled boolean not null default false,
    last_notify bigint,
    last_notify_duration bigint,
    last_error text not null default '',
    created bigint not null
);
create index channels_project on channels (project_id, id);

create table check_channels (
    check_id bigint not null references checks (id) on delete cascade,
    channel_id bigint not null references channels (id) on delete cascade,
    primary key (check_id, channel_id)
);
create index check_channels_channel on check_channels (channel_id);

-- Processes running the background loops; a lease holder's fair share depends on how many
-- are alive.
create table instances (
    holder text primary key,
    seen_at bigint not null
);

-- One row per shard of checks. token is the fencing token: every new taking increments it.
create table leases (
    shard integer primary key,
    holder text,
    token bigint not null default 0,
    expires_at bigint not null default 0
);
insert into leases (shard) select n from generate_series(0, 15) as n;

-- One notification per (status change, channel), written with the change. due_at is when
-- the dispatcher should next try it (NULL once delivered or dead-lettered); attempts counts
-- the tries claimed so far and fences a claim against later ones.
create table outbox (
    id bigint generated always as identity primary key,
    code uuid not null unique,
    project_id bigint not null references projects (id) on delete cascade,
    check_id bigint references checks (id) on delete cascade,
    channel_id bigint not null references channels (id) on delete cascade,
    -- 'flip', 'test' or 'verify'.
    purpose text not null,
    -- 'up' or 'down' (flips and tests).
    direction text not null default '',
    reason text not null default '',
    changed_at bigint not null,
    created bigint not null,
    due_at bigint,
    attempts bigint not null default 0,
    -- 'pending', 'delivered' or 'dead'.
    state text not null default 'pending',
    last_error text not null default '',
    delivered_at bigint
);
create index outbox_due on outbox (due_at) where due_at is not null;
create index outbox_check on outbox (check_id, id);
create index outbox_channel on outbox (channel_id, id);

-- No foreign key to outbox: checking it would lock each notification row once more per
-- attempt, which doubles the write cost of a burst of deliveries. Deleting a check or a
-- channel deletes its attempts explicitly.
create table attempts (
    id bigint generated always as identity primary key,
    outbox_id bigint not null,
    n bigint not null,
    started bigint not null,
    latency_ms bigint not null,
    -- 'delivered', 'retry' (will be tried again), 'dead' (the last try, or a permanent error).
    outcome text not null,
    status_code bigint,
    error text not null default ''
);
create index attempts_outbox on attempts (outbox_id, n);

-- Retention: each check's pings numbered up to this one have been pruned.
alter table checks add column pruned_to bigint not null default 0;

-- The site's own secret (badge signatures), made on first start and shared by every process.
create table site (
    id integer primary key,
    secret text not null
);
