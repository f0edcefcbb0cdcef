--
-- pat_authenticate and the transaction-local token context: pat_current_user(),
-- pat_current_token_id(), pat_current_token_name(), pat_has_scope() and pat_require_scope().
-- Tokens, ids and timestamps are never printed. Every error is followed by \echo :SQLSTATE.
--
\set SHOW_CONTEXT never

SELECT pat_define_scope('catalog:read', 'Read the software catalog');
SELECT pat_define_scope('catalog:write', 'Edit the software catalog');
SELECT pat_define_scope('scorecards:write', 'Edit scorecards');
SELECT pat_define_role('au_reader', '{catalog:read}');
SELECT pat_define_role('au_writer', '{catalog:write}');
SELECT pat_grant_role('au-alice', 'au_reader'), pat_grant_role('au-alice', 'au_writer');
SELECT pat_grant_role('au-bob', 'au_reader');

SELECT token AS tok, token_id AS tok_id
FROM pat_create('au-alice', 'alice cli', '{catalog:read,catalog:write}', '30 days') \gset
SELECT token AS bob_tok, token_id AS bob_id
FROM pat_create('au-bob', 'bob cli', '{catalog:read}', 'never') \gset

-- A good token: the user id. Outside a transaction block (as here) the first success of the
-- session warns that the token context ends with the statement, as SET LOCAL does.
SELECT pat_authenticate(:'tok') AS user_id;
SELECT pat_authenticate(:'tok', '{}') AS user_id;
SELECT pat_authenticate(:'tok', '{catalog:read,catalog:write}') AS user_id;
SELECT pat_authenticate(:'bob_tok', '{catalog:read}') AS user_id;
SELECT pg_typeof(pat_authenticate(:'tok')) AS result_type;

-- A missing scope: 42501, naming the scope when there is one to name.
SELECT pat_authenticate(:'tok', '{scorecards:write}');
\echo :SQLSTATE
SELECT pat_authenticate(:'bob_tok', '{catalog:read,catalog:write}');
\echo :SQLSTATE
SELECT pat_authenticate(:'tok', '{nope:nope}');
\echo :SQLSTATE
SELECT pat_authenticate(:'tok', '{catalog:read,NULL}');
\echo :SQLSTATE
SELECT pat_authenticate(:'tok', NULL);
\echo :SQLSTATE

-- A bad token: 28000, with the status in the DETAIL.
SELECT pat_authenticate(NULL);
\echo :SQLSTATE
SELECT pat_authenticate('');
\echo :SQLSTATE
SELECT pat_authenticate('garbage');
\echo :SQLSTATE
SELECT pat_authenticate(repeat('x', 1000000));
\echo :SQLSTATE
SELECT pat_authenticate(overlay(:'tok' PLACING CASE WHEN substr(:'tok', 9, 1) = 'A' THEN 'B'
                                                    ELSE 'A' END FROM 9 FOR 1));
\echo :SQLSTATE
SELECT token AS gone_tok FROM pat_create('au-alice', 'gone', '{}', '1 day') \gset
DELETE FROM pat.tokens WHERE user_id = 'au-alice' AND name = 'gone';
SELECT pat_authenticate(:'gone_tok');
\echo :SQLSTATE
SELECT token AS exp_tok, token_id AS exp_id
FROM pat_create('au-alice', 'expired', '{catalog:read}', '1 day') \gset
UPDATE pat.tokens SET expires_at = now() - interval '1 second' WHERE token_id = :'exp_id';
SELECT pat_authenticate(:'exp_tok');
\echo :SQLSTATE
-- expired is reported before a missing scope.
SELECT pat_authenticate(:'exp_tok', '{scorecards:write}');
\echo :SQLSTATE
SELECT token AS rev_tok, token_id AS rev_id
FROM pat_create('au-alice', 'revoked', '{catalog:read}', '1 day') \gset
SELECT pat_revoke(:'rev_id') AS revoked;
SELECT pat_authenticate(:'rev_tok');
\echo :SQLSTATE
SELECT pat_authenticate(:'rev_tok', '{scorecards:write}');
\echo :SQLSTATE

-- Without pat_authenticate there is no context.
SELECT pat_current_user() IS NULL AS no_user, pat_current_token_id() IS NULL AS no_token_id,
       pat_current_token_name() IS NULL AS no_token_name,
       pat_has_scope('catalog:read') AS has_read, pat_has_scope(NULL) AS has_null;
SELECT pat_require_scope('catalog:read');
\echo :SQLSTATE

-- Inside the transaction that authenticated: the user, token and effective scopes.
BEGIN;
SELECT pat_authenticate(:'tok', '{catalog:read}') AS user_id;
SELECT pat_current_user(), pat_current_token_id() = :'tok_id' AS same_token_id,
       pg_typeof(pat_current_token_id()) AS token_id_type, pat_current_token_name();
SELECT s AS scope, pat_has_scope(s) AS has_scope
FROM unnest(ARRAY['catalog:read', 'catalog:write', 'scorecards:write', 'nope:nope', '',
                  'CATALOG:READ', 'catalog']) AS s;
SELECT pat_has_scope(NULL) AS has_null;
SELECT pat_require_scope('catalog:read');
SELECT pat_require_scope('catalog:write');
SELECT pat_require_scope(NULL);
\echo :SQLSTATE
ROLLBACK;
BEGIN;
SELECT pat_authenticate(:'tok') AS user_id;
SELECT pat_require_scope('scorecards:write');
\echo :SQLSTATE
ROLLBACK;
-- Gone after ROLLBACK (including one forced by an error).
SELECT pat_current_user() IS NULL AS no_user, pat_current_token_id() IS NULL AS no_token_id,
       pat_current_token_name() IS NULL AS no_token_name, pat_has_scope('catalog:read') AS has_read;

-- Gone after COMMIT.
BEGIN;
SELECT pat_authenticate(:'tok') AS user_id;
SELECT pat_current_user();
COMMIT;
SELECT pat_current_user() IS NULL AS no_user, pat_current_token_id() IS NULL AS no_token_id,
       pat_current_token_name() IS NULL AS no_token_name, pat_has_scope('catalog:read') AS has_read;
SELECT pat_require_scope('catalog:read');
\echo :SQLSTATE

-- A read-only transaction (a replica, a read-only pool) authenticates just the same.
BEGIN READ ONLY;
SELECT pat_authenticate(:'tok', '{catalog:read}') AS user_id;
SELECT pat_current_user(), pat_has_scope('catalog:read') AS has_read;
COMMIT;

-- A single-statement transaction keeps nothing for the next statement.
SELECT pat_authenticate(:'tok') AS user_id;
SELECT pat_current_user() IS NULL AS no_user;

-- A later pat_authenticate in the same transaction replaces the context.
BEGIN;
SELECT pat_authenticate(:'tok') AS user_id;
SELECT pat_authenticate(:'bob_tok') AS user_id;
SELECT pat_current_user(), pat_current_token_id() = :'bob_id' AS bob_token,
       pat_current_token_name(), pat_has_scope('catalog:write') AS has_write;
COMMIT;

-- Savepoints: rolling back the savepoint that set the context clears it.
BEGIN;
SAVEPOINT s1;
SELECT pat_authenticate(:'tok') AS user_id;
SELECT pat_current_user();
ROLLBACK TO SAVEPOINT s1;
SELECT pat_current_user() IS NULL AS no_user, pat_current_token_id() IS NULL AS no_token_id,
       pat_current_token_name() IS NULL AS no_token_name, pat_has_scope('catalog:read') AS has_read;
COMMIT;
-- A released savepoint hands the context to its parent; rolling that back clears it.
BEGIN;
SAVEPOINT outer_sp;
SAVEPOINT inner_sp;
SELECT pat_authenticate(:'tok') AS user_id;
RELEASE SAVEPOINT inner_sp;
SELECT pat_current_user();
ROLLBACK TO SAVEPOINT outer_sp;
SELECT pat_current_user() IS NULL AS no_user;
COMMIT;
-- Released up to the top level, it lasts until the end of the transaction.
BEGIN;
SAVEPOINT s1;
SELECT pat_authenticate(:'tok') AS user_id;
RELEASE SAVEPOINT s1;
SAVEPOINT s2;
ROLLBACK TO SAVEPOINT s2;
SELECT pat_current_user();
COMMIT;
SELECT pat_current_user() IS NULL AS no_user;
-- A failed pat_authenticate in a savepoint leaves the context set before it alone.
BEGIN;
SELECT pat_authenticate(:'tok') AS user_id;
SAVEPOINT s1;
SELECT pat_authenticate(:'rev_tok');
\echo :SQLSTATE
ROLLBACK TO SAVEPOINT s1;
SELECT pat_current_user(), pat_current_token_name();
-- Rolling back a savepoint that did not set the context leaves it alone.
SAVEPOINT s2;
SELECT 1 / 0;
\echo :SQLSTATE
ROLLBACK TO SAVEPOINT s2;
SELECT pat_current_user();
-- Replaced inside a savepoint that is then rolled back: the context from before it is back
-- (trust_context.sql has more).
SAVEPOINT s3;
SELECT pat_authenticate(:'bob_tok') AS user_id;
SELECT pat_current_user();
ROLLBACK TO SAVEPOINT s3;
SELECT pat_current_user(), pat_current_token_name();
COMMIT;
-- A PL/pgSQL exception block is a savepoint too.
SET regress.tok = :'tok';
DO $$
BEGIN
    BEGIN
        PERFORM pat_authenticate(current_setting('regress.tok'));
        RAISE NOTICE 'inside the block: %', pat_current_user();
        RAISE EXCEPTION 'undo';
    EXCEPTION WHEN raise_exception THEN
        RAISE NOTICE 'after the block: %', coalesce(pat_current_user(), 'no user');
    END;
END
$$;

-- The context holds the effective scopes: a role the user lost is not in it.
SELECT pat_revoke_role('au-alice', 'au_writer') AS lost_writer;
BEGIN;
SELECT pat_authenticate(:'tok') AS user_id;
SELECT pat_has_scope('catalog:read') AS has_read, pat_has_scope('catalog:write') AS has_write;
COMMIT;
SELECT pat_authenticate(:'tok', '{catalog:write}');
\echo :SQLSTATE
SELECT pat_grant_role('au-alice', 'au_writer') AS regained_writer;
SELECT pat_authenticate(:'tok', '{catalog:write}') AS user_id;

-- pat_authenticate records last_used_at like pat_validate.
SELECT token AS lu_tok, token_id AS lu_id FROM pat_create('au-bob', 'used', '{}', '1 day') \gset
SELECT last_used_at FROM pat_list('au-bob') WHERE token_id = :'lu_id';
SELECT pat_authenticate(:'lu_tok') AS user_id;
SELECT last_used_at BETWEEN now() - interval '1 hour' AND now() AS recorded
FROM pat_list('au-bob') WHERE token_id = :'lu_id';

-- The context in a row-level security policy: each authenticated user sees their own rows.
CREATE TABLE au_documents (owner text, title text);
INSERT INTO au_documents VALUES ('au-alice', 'alice 1'), ('au-alice', 'alice 2'),
                                ('au-bob', 'bob 1');
ALTER TABLE au_documents ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_documents ON au_documents FOR SELECT USING (owner = pat_current_user());
CREATE POLICY writers_insert ON au_documents FOR INSERT
    WITH CHECK (owner = pat_current_user() AND pat_has_scope('catalog:write'));
CREATE ROLE regress_pat_rls_app NOLOGIN;
GRANT SELECT, INSERT ON au_documents TO regress_pat_rls_app;
GRANT EXECUTE ON FUNCTION pat_authenticate(text, text[], inet), pat_current_user(),
                          pat_has_scope(text) TO regress_pat_rls_app;
SET ROLE regress_pat_rls_app;
SELECT title FROM au_documents ORDER BY title;
BEGIN;
SELECT pat_authenticate(:'tok') AS user_id;
SELECT title FROM au_documents ORDER BY title;
INSERT INTO au_documents VALUES ('au-alice', 'alice 3');
COMMIT;
BEGIN;
SELECT pat_authenticate(:'bob_tok') AS user_id;
SELECT title FROM au_documents ORDER BY title;
INSERT INTO au_documents VALUES ('au-bob', 'bob 2');
\echo :SQLSTATE
ROLLBACK;
SELECT title FROM au_documents ORDER BY title;
RESET ROLE;
SELECT owner, title FROM au_documents ORDER BY title;

-- Clean up: leave the database as CREATE EXTENSION left it.
DROP TABLE au_documents;
RESET regress.tok;
DROP OWNED BY regress_pat_rls_app;
DROP ROLE regress_pat_rls_app;
SET client_min_messages = warning;
TRUNCATE pat.tokens, pat.user_roles, pat.role_scopes, pat.roles, pat.scopes CASCADE;
RESET client_min_messages;
