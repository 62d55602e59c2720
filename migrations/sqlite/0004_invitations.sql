-- Team invitations: a manager invites an address to a project with a role; the link mailed
-- to it makes whoever signs up or logs in with that address a member.

create table invitations (
    id integer primary key,
    project_id integer not null references projects (id) on delete cascade,
    -- Lowercased, like users.email.
    email text not null,
    role text not null check (role in ('manager', 'member', 'readonly')),
    -- SHA-256 of the random token in the link; the token itself is never stored.
    token_hash text not null unique,
    -- Who invited; kept when that account is deleted.
    invited_by integer references users (id) on delete set null,
    created integer not null,
    expires_at integer not null,
    -- Inviting the same address again replaces the invitation (and its link).
    unique (project_id, email)
);
