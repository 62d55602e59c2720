-- Projects, checks, pings and flips. Instants are epoch milliseconds, durations seconds
-- (timeouts) or milliseconds (run durations), so both engines share one representation.

create table projects (
    id bigint generated always as identity primary key,
    code uuid not null unique,
    name text not null,
    api_key_hash text not null default '',
    api_key_ro_hash text not null default '',
    ping_key text unique,
    badge_key text not null,
    show_slugs boolean not null default false,
    check_limit bigint not null default 10000,
    created bigint not null
);
create index projects_api_key on projects (api_key_hash) where api_key_hash <> '';
create index projects_api_key_ro on projects (api_key_ro_hash) where api_key_ro_hash <> '';

create table checks (
    id bigint generated always as identity primary key,
    code uuid not null unique,
    project_id bigint not null references projects (id) on delete cascade,
    name text not null default '',
    slug text not null default '',
    tags text not null default '',
    description text not null default '',
    kind text not null default 'simple',
    timeout bigint not null default 86400,
    grace bigint not null default 3600,
    schedule text not null default '* * * * *',
    tz text not null default 'UTC',
    filter_subject boolean not null default false,
    filter_body boolean not null default false,
    filter_http_body boolean not null default false,
    filter_default_fail boolean not null default false,
    start_kw text not null default '',
    success_kw text not null default '',
    failure_kw text not null default '',
    methods text not null default '',
    manual_resume boolean not null default false,
    badge_key uuid not null unique,
    n_pings bigint not null default 0,
    last_ping bigint,
    last_start bigint,
    last_start_rid uuid,
    last_duration bigint,
    has_confirmation_link boolean not null default false,
    alert_after bigint,
    status text not null default 'new',
    -- Bumped by every write, so a writer holding a copy can tell whether it is current.
    version bigint not null default 0,
    created bigint not null
);
create index checks_project_slug on checks (project_id, slug);
create index checks_alert_after on checks (alert_after) where status <> 'down';

create table pings (
    id bigint generated always as identity primary key,
    check_id bigint not null references checks (id) on delete cascade,
    n bigint not null,
    created bigint not null,
    kind text,
    scheme text not null,
    remote_addr text,
    method text not null,
    ua text not null,
    body bytea,
    exitstatus bigint,
    rid uuid
);
create index pings_check_n on pings (check_id, n);

create table flips (
    id bigint generated always as identity primary key,
    check_id bigint not null references checks (id) on delete cascade,
    created bigint not null,
    old_status text not null,
    new_status text not null,
    reason text not null,
    processed bigint
);
create index flips_check_created on flips (check_id, created);
create index flips_unprocessed on flips (id) where processed is null;
