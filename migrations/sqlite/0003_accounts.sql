-- Dashboard accounts: users, their sessions, and their roles in projects.

create table users (
    id integer primary key,
    -- Lowercased; one account per address.
    email text not null unique,
    -- Argon2id, PHC string.
    password_hash text not null,
    created integer not null
);

create table sessions (
    id integer primary key,
    -- SHA-256 of the random token in the cookie; the token itself is never stored.
    token_hash text not null unique,
    user_id integer not null references users (id) on delete cascade,
    -- Every form of the session carries it.
    csrf_token text not null,
    created integer not null,
    expires_at integer not null
);
create index sessions_user on sessions (user_id);

create table memberships (
    project_id integer not null references projects (id) on delete cascade,
    user_id integer not null references users (id) on delete cascade,
    role text not null check (role in ('owner', 'manager', 'member', 'readonly')),
    created integer not null,
    primary key (project_id, user_id)
);
create index memberships_user on memberships (user_id);
