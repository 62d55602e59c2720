-- Projects, checks, pings and flips. Instants are epoch milliseconds, durations seconds
-- (timeouts) or milliseconds (run durations), so both engines share one representation.

create table projects (
    id integer primary key,
    code blob not null unique,
    name text not null,
    api_key_hash text not null default '',
    api_key_ro_hash text not null default '',
    ping_key text unique,
    badge_key text not null,
    show_slugs integer not null default 0,
    check_limit integer not null default 10000,
    created integer not null
);
create index projects_api_key on projects (api_key_hash) where api_key_hash <> '';
create index projects_api_key_ro on projects (api_key_ro_hash) where api_key_ro_hash <> '';

create table checks (
    id integer primary key,
    code blob not null unique,
    project_id integer not null references projects (id) on delete cascade,
    name text not null default '',
    slug text not null default '',
    tags text not null default '',
    description text not null default '',
    kind text not null default 'simple',
    timeout integer not null default 86400,
    grace integer not null default 3600,
    schedule text not null default '* * * * *',
    tz text not null default 'UTC',
    filter_subject integer not null default 0,
    filter_body integer not null default 0,
    filter_http_body integer not null default 0,
    filter_default_fail integer not null default 0,
    start_kw text not null default '',
    success_kw text not null default '',
    failure_kw text not null default '',
    methods text not null default '',
    manual_resume integer not null default 0,
    badge_key blob not null unique,
    n_pings integer not null default 0,
    last_ping integer,
    last_start integer,
    last_start_rid blob,
    last_duration integer,
    has_confirmation_link integer not null default 0,
    alert_after integer,
    status text not null default 'new',
    -- Bumped by every write, so a writer holding a copy can tell whether it is current.
    version integer not null default 0,
    created integer not null
);
create index checks_project_slug on checks (project_id, slug);
create index checks_alert_after on checks (alert_after) where status <> 'down';

create table pings (
    id integer primary key,
    check_id integer not null references checks (id) on delete cascade,
    n integer not null,
    created integer not null,
    kind text,
    scheme text not null,
    remote_addr text,
    method text not null,
    ua text not null,
    body blob,
    exitstatus integer,
    rid blob
);
create index pings_check_n on pings (check_id, n);

create table flips (
    id integer primary key,
    check_id integer not null references checks (id) on delete cascade,
    created integer not null,
    old_status text not null,
    new_status text not null,
    reason text not null,
    processed integer
);
create index flips_check_created on flips (check_id, created);
create index flips_unprocessed on flips (id) where processed is null;
