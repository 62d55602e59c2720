-- Dashboard accounts: users, their sessions, and their roles in projects.

create table users (
    id bigint generated always as identity primary key,
    -- Lowercased; one account per address.
    email text not null unique,
    -- Argon2id, PHC string.
    password_hash text not null,
    created bigint not null
);

create table sessions (
    id bigint generated always as identity primary key,
    -- SHA-256 of the random token in the cookie; the token itself is never stored.
    token_hash text not null unique,
    user_id bigint not null references users (id) on delete cascade,
    -- Every form of the session carries it.
    csrf_token text not null,
    created bigint not null,
    expires_at bigint not null
);
create index sessions_user on sessions (user_id);

create table memberships (
    project_id bigint not null references projects (id) on delete cascade,
    user_id bigint not null references users (id) on delete cascade,
    role text not null check (role in ('owner', 'manager', 'member', 'readonly')),
    created bigint not null,
    primary key (project_id, user_id)
);
create index memberships_user on memberships (user_id);
