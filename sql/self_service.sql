--
-- Self-service inside a token context: in a transaction authenticated with
-- pat_authenticate(), every management function acts only on the authenticated user's own
-- tokens, only for a token holding pat.manage_scope, and never grants more scopes or a later
-- expiry than the token has; outside one (the back end acting for its signed-in web user)
-- nothing changes. Each function is called both ways. Also: pat_current_scopes(),
-- pat_current_expires_at(), pat_clear(), the warning outside a transaction block, and
-- pat_token_activity(). Tokens, ids and timestamps are never printed. Every error is followed by
-- \echo :SQLSTATE; errors naming a token id are shown with VERBOSITY sqlstate.
--
\set SHOW_CONTEXT never

SELECT pat_define_scope('ss_notes:read'), pat_define_scope('ss_notes:write'),
       pat_define_scope('tokens:manage'), pat_define_scope('ss_admin:write');
SELECT pat_define_role('ss_member', '{ss_notes:read,ss_notes:write,tokens:manage}');
SELECT pat_grant_role('ss-alice', 'ss_member'), pat_grant_role('ss-bob', 'ss_member');

-- The application back end's role, as the README sets it up.
CREATE ROLE ss_app;
SELECT pat_grant_profile('ss_app', 'application');
GRANT ALL ON SCHEMA public TO ss_app;

-- alice's CLI token may manage tokens; her read-only agent token may not; bob has one token.
SELECT token AS cli, token_id AS cli_id
FROM pat_create('ss-alice', 'cli', '{ss_notes:read,tokens:manage}', '30 days') \gset
SELECT token AS agent, token_id AS agent_id
FROM pat_create('ss-alice', 'agent', '{ss_notes:read}', '7 days') \gset
SELECT token AS bob_tok, token_id AS bob_id
FROM pat_create('ss-bob', 'bob cli', '{ss_notes:read,ss_notes:write,tokens:manage}', 'never') \gset
SHOW pat.manage_scope;

SET ROLE ss_app;

-- The context API -----------------------------------------------------------------------------

-- Outside a transaction block the context ends with the statement, so pat_authenticate warns.
SELECT pat_authenticate(:'cli') AS user_id;
SELECT pat_current_user(), pat_current_scopes(), pat_current_expires_at();
BEGIN;
SELECT pat_authenticate(:'cli') AS user_id;
SELECT pat_current_scopes();
SELECT pat_current_expires_at() = (SELECT expires_at FROM pat_list('ss-alice') WHERE token_id = :'cli_id')
       AS expires_as_listed;
-- pat_clear() ends the context before the transaction does; whether there was one.
SELECT pat_clear() AS cleared, pat_current_user(), pat_current_scopes(),
       pat_current_expires_at(), pat_current_token_id(), pat_has_scope('ss_notes:read');
SELECT pat_clear() AS cleared_again;
COMMIT;
-- A token that never expires: pat_current_expires_at() is NULL, pat_current_token_id() is not.
BEGIN;
SELECT pat_authenticate(:'bob_tok') AS user_id;
SELECT pat_current_expires_at(), pat_current_token_id() = :'bob_id' AS has_token;
ROLLBACK;
-- Inside a function called in a transaction block there is no warning.
BEGIN;
SELECT count(*) FROM (SELECT pat_authenticate(:'agent')) a;
ROLLBACK;

-- pat_list ----------------------------------------------------------------------------------
BEGIN;
SELECT pat_authenticate(:'cli') AS user_id;
SELECT name, scopes, status FROM pat_list('ss-alice') ORDER BY name;
SAVEPOINT s;
SELECT name FROM pat_list('ss-bob');
\echo :SQLSTATE
ROLLBACK TO SAVEPOINT s;
COMMIT;
-- A token without the manage scope manages nothing, its own tokens neither.
BEGIN;
SELECT pat_authenticate(:'agent') AS user_id;
SELECT name FROM pat_list('ss-alice');
\echo :SQLSTATE
ROLLBACK;
-- Outside a token context: any user.
SELECT name FROM pat_list('ss-bob');

-- pat_grantable_scopes: what the user's roles allow and the token holds ----------------------
BEGIN;
SELECT pat_authenticate(:'cli') AS user_id;
SELECT * FROM pat_grantable_scopes('ss-alice');
SAVEPOINT s;
SELECT * FROM pat_grantable_scopes('ss-bob');
\echo :SQLSTATE
ROLLBACK TO SAVEPOINT s;
COMMIT;
BEGIN;
SELECT pat_authenticate(:'agent') AS user_id;
SELECT * FROM pat_grantable_scopes('ss-alice');
\echo :SQLSTATE
ROLLBACK;
SELECT * FROM pat_grantable_scopes('ss-alice');

-- pat_create --------------------------------------------------------------------------------
BEGIN;
SELECT pat_authenticate(:'cli') AS user_id;
-- Her own user, scopes she holds, no later expiry: allowed (all three overloads).
SELECT token_id AS child_id FROM pat_create('ss-alice', 'child', '{ss_notes:read}', '7 days') \gset
SELECT name, scopes, status FROM pat_list('ss-alice') WHERE token_id = :'child_id';
SELECT count(*) FROM pat_create('ss-alice', 'child 2', '{}', interval '1 day');
SELECT count(*) FROM pat_create('ss-alice', 'child 3', '{tokens:manage}', now() + interval '29 days');
SAVEPOINT s;
-- Another user: refused before anything about that user is read.
SELECT token_id FROM pat_create('ss-bob', 'minted', '{ss_notes:read}', '7 days');
\echo :SQLSTATE
ROLLBACK TO SAVEPOINT s;
-- A scope her roles allow but the token does not hold: refused, naming it.
SELECT token_id FROM pat_create('ss-alice', 'broader', '{ss_notes:read,ss_notes:write}', '7 days');
\echo :SQLSTATE
ROLLBACK TO SAVEPOINT s;
-- A scope her roles do not allow: the role rule answers first, naming what she may grant.
SELECT token_id FROM pat_create('ss-alice', 'foreign', '{ss_admin:write}', '7 days');
\echo :SQLSTATE
ROLLBACK TO SAVEPOINT s;
-- Outliving the token: a later date, a longer interval, or never.
SELECT token_id FROM pat_create('ss-alice', 'longer', '{ss_notes:read}', '60 days');
\echo :SQLSTATE
ROLLBACK TO SAVEPOINT s;
SELECT token_id FROM pat_create('ss-alice', 'longer', '{ss_notes:read}', interval '31 days');
\echo :SQLSTATE
ROLLBACK TO SAVEPOINT s;
SELECT token_id FROM pat_create('ss-alice', 'longer', '{ss_notes:read}', now() + interval '1 year');
\echo :SQLSTATE
ROLLBACK TO SAVEPOINT s;
SELECT token_id FROM pat_create('ss-alice', 'forever', '{ss_notes:read}', 'never');
\echo :SQLSTATE
ROLLBACK TO SAVEPOINT s;
-- Bad input still gets its own error first.
SELECT token_id FROM pat_create('ss-alice', NULL, '{ss_notes:read}', '7 days');
\echo :SQLSTATE
ROLLBACK TO SAVEPOINT s;
COMMIT;
-- The read-only agent token mints nothing, not even a narrower token for itself.
BEGIN;
SELECT pat_authenticate(:'agent') AS user_id;
SELECT token_id FROM pat_create('ss-alice', 'agent 2', '{ss_notes:read}', '1 day');
\echo :SQLSTATE
ROLLBACK;
-- bob's never-expiring token may create a never-expiring token.
BEGIN;
SELECT pat_authenticate(:'bob_tok') AS user_id;
SELECT count(*) FROM pat_create('ss-bob', 'bob forever', '{ss_notes:write}', 'never');
COMMIT;
-- Outside a token context: any user, any grantable scope, any expiry.
SELECT count(*) FROM pat_create('ss-bob', 'from the back end', '{ss_notes:read}', 'never');

-- pat_update --------------------------------------------------------------------------------
BEGIN;
SELECT pat_authenticate(:'cli') AS user_id;
SELECT pat_update(:'child_id', 'child renamed');
SELECT pat_update(:'child_id', scopes => '{tokens:manage}');
SELECT name, scopes FROM pat_list('ss-alice') WHERE token_id = :'child_id';
SAVEPOINT s;
SELECT pat_update(:'child_id', scopes => '{ss_notes:write}');
\echo :SQLSTATE
ROLLBACK TO SAVEPOINT s;
\set VERBOSITY sqlstate
SELECT pat_update(:'bob_id', 'taken over');
\set VERBOSITY default
\echo :SQLSTATE
ROLLBACK TO SAVEPOINT s;
-- A token id that does not exist gets the same answer as another user's.
SELECT pat_update('00000000-0000-7000-8000-000000000000', 'x');
\echo :SQLSTATE
ROLLBACK TO SAVEPOINT s;
COMMIT;
BEGIN;
SELECT pat_authenticate(:'agent') AS user_id;
SELECT pat_update(:'agent_id', 'agent renamed');
\echo :SQLSTATE
ROLLBACK;
-- Outside: any token; a missing one is 22023 as before.
SELECT pat_update(:'bob_id', 'bob laptop');
\set VERBOSITY sqlstate
SELECT pat_update('00000000-0000-7000-8000-000000000000', 'x');
\set VERBOSITY default
\echo :SQLSTATE

-- pat_token_activity --------------------------------------------------------------------------
BEGIN;
SELECT pat_authenticate(:'cli') AS user_id;
-- Newest first, rows not yet linked included.
SELECT action, table_name, actor FROM pat_token_activity(:'child_id');
SELECT action FROM pat_token_activity(:'child_id', 1);
SAVEPOINT s;
SELECT action FROM pat_token_activity(:'bob_id');
\echo :SQLSTATE
ROLLBACK TO SAVEPOINT s;
SELECT action FROM pat_token_activity('00000000-0000-7000-8000-000000000000');
\echo :SQLSTATE
ROLLBACK TO SAVEPOINT s;
-- pat_usage follows the same rule.
SELECT DISTINCT outcome FROM pat_usage(:'cli_id');
SELECT count(*) FROM pat_usage(:'bob_id');
\echo :SQLSTATE
ROLLBACK TO SAVEPOINT s;
COMMIT;
BEGIN;
SELECT pat_authenticate(:'agent') AS user_id;
SELECT action FROM pat_token_activity(:'agent_id');
\echo :SQLSTATE
ROLLBACK;
-- Outside: any token, also after linking; the bounds of max.
RESET ROLE;
SELECT pat_audit_link() >= 0 AS linked;
SET ROLE ss_app;
SELECT action, actor FROM pat_token_activity(:'bob_id');
SELECT DISTINCT outcome FROM pat_usage(:'bob_id');
SELECT count(*) FROM pat_token_activity('00000000-0000-7000-8000-000000000000');
SELECT action FROM pat_token_activity(:'bob_id', 0);
\echo :SQLSTATE
SELECT action FROM pat_token_activity(:'bob_id', 1001);
\echo :SQLSTATE
SELECT action FROM pat_token_activity(:'bob_id', NULL);
\echo :SQLSTATE
SELECT action FROM pat_token_activity(NULL);
\echo :SQLSTATE

-- pat_revoke and pat_revoke_all -----------------------------------------------------------------
BEGIN;
SELECT pat_authenticate(:'cli') AS user_id;
SAVEPOINT s;
\set VERBOSITY sqlstate
SELECT pat_revoke(:'bob_id');
\set VERBOSITY default
\echo :SQLSTATE
ROLLBACK TO SAVEPOINT s;
SELECT pat_revoke('00000000-0000-7000-8000-000000000000');
\echo :SQLSTATE
ROLLBACK TO SAVEPOINT s;
SELECT pat_revoke_all('ss-bob');
\echo :SQLSTATE
ROLLBACK TO SAVEPOINT s;
SELECT pat_revoke(:'child_id') AS revoked, pat_revoke(:'child_id') AS again;
COMMIT;
BEGIN;
SELECT pat_authenticate(:'agent') AS user_id;
SELECT pat_revoke(:'agent_id');
\echo :SQLSTATE
ROLLBACK;
BEGIN;
SELECT pat_authenticate(:'agent') AS user_id;
SELECT pat_revoke_all('ss-alice');
\echo :SQLSTATE
ROLLBACK;
-- bob's token revokes every token of his, itself included; the next request is refused.
BEGIN;
SELECT pat_authenticate(:'bob_tok') AS user_id;
SELECT pat_revoke_all('ss-bob') AS revoked;
COMMIT;
SELECT status FROM pat_validate(:'bob_tok');
-- Outside a token context: any user.
SELECT pat_revoke_all('ss-alice') AS revoked;

-- pat.manage_scope is a superuser's setting; empty lets no token manage tokens.
SET pat.manage_scope = 'ss_notes:read';
\echo :SQLSTATE
RESET ROLE;
SET pat.manage_scope = 'not a scope';
\echo :SQLSTATE
SELECT token AS t2 FROM pat_create('ss-alice', 'cli 2', '{ss_notes:read,tokens:manage}', '1 day') \gset
SET pat.manage_scope = '';
BEGIN;
SELECT pat_authenticate(:'t2') AS user_id;
SELECT name FROM pat_list('ss-alice');
\echo :SQLSTATE
ROLLBACK;
SET pat.manage_scope = 'ss_notes:read';
BEGIN;
SELECT pat_authenticate(:'t2') AS user_id;
SELECT count(*) FROM pat_list('ss-alice');
ROLLBACK;
RESET pat.manage_scope;

REVOKE ALL ON SCHEMA public FROM ss_app;
DROP OWNED BY ss_app;
DROP ROLE ss_app;
