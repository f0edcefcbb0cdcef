--
-- Organizations' tokens: pat_create_org_token() issues a token of an account (token_type
-- 'organization', the account id answered as user_id) outside any token context, by a role
-- holding the organization_admin (or admin) profile. It may carry any defined scope, no
-- person's roles bound it, and no user's role loss or pat_revoke_all(user) reaches it, even a
-- user whose id is the account's. Tokens, ids and timestamps are never printed. Every error is
-- followed by \echo :SQLSTATE.
--
\set SHOW_CONTEXT never

SELECT pat_define_scope('og_billing:read'), pat_define_scope('og_billing:write'),
       pat_define_scope('og_notes:read');
SELECT pat_define_role('og_member', '{og_notes:read,og_billing:read}');
-- A person whose id is the account's, and the person who set the account up.
SELECT pat_grant_role('acme', 'og_member'), pat_grant_role('og-carol', 'og_member');

CREATE ROLE og_orgadmin;
SELECT pat_grant_profile('og_orgadmin', 'organization_admin');
CREATE ROLE og_app;
SELECT pat_grant_profile('og_app', 'application');
-- The profile holds pat_create_org_token only; application does not hold it; admin does.
SELECT has_function_privilege('og_orgadmin', 'pat_create_org_token(text, text, text[], text)',
                              'EXECUTE') AS orgadmin_creates,
       has_function_privilege('og_orgadmin', 'pat_create(text, text, text[], text, cidr[], jsonb, jsonb)', 'EXECUTE')
           AS orgadmin_creates_personal,
       has_function_privilege('og_app', 'pat_create_org_token(text, text, text[], text)',
                              'EXECUTE') AS app_creates;

-- Issuing -------------------------------------------------------------------------------------
-- The admin tool names the person it acts for.
GRANT EXECUTE ON FUNCTION pat_set_actor(text) TO og_orgadmin;
SET ROLE og_orgadmin;
BEGIN;
SELECT pat_set_actor('og-carol');
-- Any defined scope: og_billing:write is in no role at all.
SELECT token AS org, token_id AS org_id
FROM pat_create_org_token('acme', 'ci deploy', '{og_billing:read,og_billing:write}', '90 days')
\gset
COMMIT;
RESET ROLE;
SELECT valid, status, user_id, token_name, scopes, token_type
FROM pat_validate(:'org', '{og_billing:write}');
SELECT name, status, token_type, parent_id, created_by FROM pat_list('acme')
WHERE token_id = :'org_id';
-- The person acme's own token is personal.
SELECT token AS person FROM pat_create('acme', 'laptop', '{og_notes:read}', '30 days') \gset
SELECT status, token_type FROM pat_validate(:'person');

-- The context function.
BEGIN;
SELECT pat_authenticate(:'org') AS user_id;
SELECT pat_current_token_type(), pat_current_user();
ROLLBACK;
BEGIN;
SELECT pat_authenticate(:'person') AS user_id;
SELECT pat_current_token_type();
ROLLBACK;
SELECT pat_current_token_type() IS NULL AS outside_context;

-- Not inside a token context, not for an undefined scope.
BEGIN;
SELECT pat_authenticate(:'person') AS user_id;
SELECT * FROM pat_create_org_token('acme', 'from a token', '{og_notes:read}', '1 day');
\echo :SQLSTATE
ROLLBACK;
SELECT * FROM pat_create_org_token('acme', 'undefined', '{og_nothing}', '1 day');
\echo :SQLSTATE
-- pat.max_lifetime applies as to any token.
SET pat.max_lifetime = '30 days';
SELECT * FROM pat_create_org_token('acme', 'too long', '{og_notes:read}', '90 days');
\echo :SQLSTATE
SELECT * FROM pat_create_org_token('acme', 'forever', '{og_notes:read}', 'never');
\echo :SQLSTATE
RESET pat.max_lifetime;

-- Untouched by people --------------------------------------------------------------------------
-- The role loss of the person with the same id: the person's token loses its scope, the
-- account's keeps every scope it was given.
SELECT pat_revoke_role('acme', 'og_member');
SELECT status FROM pat_validate(:'person', '{og_notes:read}');
SELECT status FROM pat_validate(:'org', '{og_billing:read}');
-- The role loss of its creator.
SELECT pat_revoke_role('og-carol', 'og_member');
SELECT status FROM pat_validate(:'org', '{og_billing:read}');
-- pat_revoke_all of the person with the same id.
SELECT pat_revoke_all('acme') AS revoked;
SELECT status FROM pat_validate(:'person');
SELECT status FROM pat_validate(:'org');
-- An undefined scope is dropped from it as from any token.
BEGIN;
DELETE FROM pat.scopes WHERE scope = 'og_billing:write';
SELECT status, scopes FROM pat_validate(:'org');
ROLLBACK;

-- pat_update gives it any defined scope, as pat_create_org_token does.
SELECT pat_update(:'org_id', scopes => '{og_billing:read,og_notes:read}');
SELECT status, scopes FROM pat_validate(:'org');
SELECT pat_update(:'org_id', scopes => '{og_nothing}');
\echo :SQLSTATE

-- Rotation keeps the type; a revocation reaches it as any token.
SELECT token AS org2, token_id AS org2_id FROM pat_rotate(:'org_id') \gset
SELECT status, token_type, user_id FROM pat_validate(:'org2');
SELECT status FROM pat_validate(:'org');
SELECT pat_revoke(:'org2_id') AS revoked;
SELECT status FROM pat_validate(:'org2');

-- An organization's token that holds the delegate scope mints organization children.
SELECT pat_define_scope('tokens:delegate');
SELECT token AS org3, token_id AS org3_id
FROM pat_create_org_token('acme', 'agent', '{og_billing:read,tokens:delegate}', '30 days') \gset
BEGIN;
SELECT pat_authenticate(:'org3') AS user_id;
SELECT token AS org3_child FROM pat_delegate('sub-agent', '{og_billing:read}') \gset
SELECT * FROM pat_delegate('greedy', '{og_billing:write}');
\echo :SQLSTATE
ROLLBACK;
BEGIN;
SELECT pat_authenticate(:'org3') AS user_id;
SELECT token AS org3_child FROM pat_delegate('sub-agent', '{og_billing:read}') \gset
COMMIT;
SELECT status, token_type, user_id FROM pat_validate(:'org3_child', '{og_billing:read}');
SELECT pat_revoke(:'org3_id') AS revoked;
SELECT status FROM pat_validate(:'org3_child');

-- A direct INSERT of an organization's row by a role given access is refused.
CREATE ROLE og_writer BYPASSRLS;
GRANT USAGE ON SCHEMA pat TO og_writer;
GRANT SELECT, INSERT ON pat.tokens TO og_writer;
SET ROLE og_writer;
INSERT INTO pat.tokens (user_id, name, scopes, digest, expires_at, token_type)
VALUES ('acme', 'forged', '{og_notes:read}', '\x0a', now() + interval '1 hour', 'organization');
\echo :SQLSTATE
RESET ROLE;
DROP OWNED BY og_writer;
DROP ROLE og_writer;

-- Hostile input ------------------------------------------------------------------------------
SELECT * FROM pat_create_org_token(NULL, 'n', '{og_notes:read}', '1 day');
\echo :SQLSTATE
SELECT * FROM pat_create_org_token('', 'n', '{og_notes:read}', '1 day');
\echo :SQLSTATE
SELECT * FROM pat_create_org_token(repeat('a', 256), 'n', '{og_notes:read}', '1 day');
\echo :SQLSTATE
SELECT * FROM pat_create_org_token('acme', NULL, '{og_notes:read}', '1 day');
\echo :SQLSTATE
SELECT * FROM pat_create_org_token('acme', 'n', NULL, '1 day');
\echo :SQLSTATE
SELECT * FROM pat_create_org_token('acme', 'n', '{NULL}', '1 day');
\echo :SQLSTATE
SELECT * FROM pat_create_org_token('acme', 'n', '{og_notes:read}', NULL);
\echo :SQLSTATE
SELECT * FROM pat_create_org_token('acme', 'n', '{og_notes:read}', 'yesterday-ish');
\echo :SQLSTATE
SELECT * FROM pat_create_org_token('acme', 'n', '{og_notes:read}', '-5 days');
\echo :SQLSTATE
SELECT * FROM pat_create_org_token('acme', 'n', ARRAY[repeat('s', 100000)], '1 day');
\echo :SQLSTATE
SELECT count(*) AS stored_by_failures FROM pat.tokens WHERE user_id = 'acme' AND name = 'n';

DROP OWNED BY og_orgadmin, og_app;
DROP ROLE og_orgadmin, og_app;

-- Clean up: leave the tables as CREATE EXTENSION left them.
SET client_min_messages = warning;
TRUNCATE pat.tokens, pat.user_roles, pat.role_scopes, pat.roles, pat.scopes CASCADE;
RESET client_min_messages;
