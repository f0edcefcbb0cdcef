-- The settings app's database: run once as a superuser on a cluster that preloads pg_pat.
-- pg_pat keeps the tokens; this file adds what an application brings: its scopes and roles,
-- its users, a table its API serves (row-level security on the token's user and scopes,
-- audited by pg_pat), and the role it connects as (the application profile, nothing more).
CREATE EXTENSION IF NOT EXISTS pg_pat;

SELECT pat_define_scope('notes:read', 'read your notes');
SELECT pat_define_scope('notes:write', 'add notes');
SELECT pat_define_scope('profile:read', 'read your profile');
SELECT pat_define_scope('tokens:manage', 'manage your tokens from the CLI');
-- pat.delegate_scope: an agent's token with it mints short-lived tokens for its sub-agents
-- (POST /api/tokens), without the right to manage the user's other tokens.
SELECT pat_define_scope('tokens:delegate', 'let an agent mint tokens for its sub-agents');
SELECT pat_define_role('member', '{notes:read,profile:read}');
SELECT pat_define_role('editor',
                       '{notes:read,notes:write,profile:read,tokens:delegate,tokens:manage}');
SELECT pat_grant_role('alice', 'editor');
SELECT pat_grant_role('bob', 'member');

CREATE ROLE settings_app LOGIN;
SELECT pat_grant_profile('settings_app', 'application');

CREATE SCHEMA app;
-- Passwords are PBKDF2-SHA256 (app.py hashes and checks them); the example makes two users.
CREATE TABLE app.users (
    user_id       text PRIMARY KEY,
    display_name  text NOT NULL,
    password_hash text NOT NULL
);
CREATE TABLE app.notes (
    note_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    text NOT NULL DEFAULT pat_current_user(),
    body       text NOT NULL CHECK (length(body) BETWEEN 1 AND 2000),
    -- A note is written to a notebook; a token's notes:write may be bound to some of them.
    notebook   text NOT NULL DEFAULT 'inbox' CHECK (notebook ~ '^[a-z0-9-]{1,40}$'),
    created_at timestamptz NOT NULL DEFAULT now()
);
-- A token reads its own user's notes with notes:read and adds them with notes:write; without
-- a token context, nothing (pat_current_user() is NULL).
ALTER TABLE app.notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY notes_read ON app.notes FOR SELECT
    USING (user_id = pat_current_user() AND pat_has_scope('notes:read'));
-- pat_has_scope(scope, resource): a token whose notes:write is bound to notebooks writes to
-- those only (the settings page binds them); an unbound one to every notebook.
CREATE POLICY notes_write ON app.notes FOR INSERT
    WITH CHECK (user_id = pat_current_user() AND pat_has_scope('notes:write', notebook));
-- Every write through the API is in the audit log, attributed to the token's user and name.
SELECT pat_audit_table('app.notes');

GRANT USAGE ON SCHEMA app TO settings_app;
GRANT SELECT ON app.users TO settings_app;
GRANT SELECT, INSERT ON app.notes TO settings_app;
