--
-- A client binding strings as varchar (JDBC's default) must reach pg_pat's functions, not an
-- overload someone added in a schema they can write to: pg_pat ships varchar overloads of the
-- functions applications pass tokens and scopes to (pat_validate, pat_authenticate,
-- pat_has_scope, pat_require_scope), so a lookalike later on the search_path never wins; and
-- pat_validate and pat_authenticate warn, once per session, about a lookalike on the
-- search_path (one earlier than pg_pat's schema still wins).
-- In a database of its own, with pg_pat in a schema of its own. Tokens are never printed.
--
\set SHOW_CONTEXT never
CREATE DATABASE regress_pat_overloads;
\c regress_pat_overloads
CREATE SCHEMA pat_api;
CREATE EXTENSION pg_pat SCHEMA pat_api;
SET search_path = pat_api, public;
SELECT pat_define_scope('to_notes:read'), pat_define_role('to_member', '{to_notes:read}');
SELECT pat_grant_role('to-alice', 'to_member');
SELECT token AS tok FROM pat_create('to-alice', 'service', '{to_notes:read}', '7 days') \gset
RESET search_path;

-- A writable schema, as public is for PUBLIC before PostgreSQL 15 (or after a GRANT), and a
-- role that plants lookalikes taking varchar there, each recording what it was given.
CREATE ROLE regress_pat_planter;
CREATE SCHEMA regress_writable;
GRANT CREATE, USAGE ON SCHEMA regress_writable TO regress_pat_planter;
SET ROLE regress_pat_planter;
CREATE TABLE regress_writable.captured (what text);
GRANT INSERT, SELECT ON regress_writable.captured TO PUBLIC;
CREATE FUNCTION regress_writable.pat_authenticate(token varchar) RETURNS text LANGUAGE sql
AS $$ INSERT INTO regress_writable.captured VALUES ('pat_authenticate'); SELECT 'to-mallory' $$;
CREATE FUNCTION regress_writable.pat_validate(token varchar, OUT valid boolean, OUT status text)
LANGUAGE sql
AS $$ INSERT INTO regress_writable.captured VALUES ('pat_validate'); SELECT true, 'valid' $$;
CREATE FUNCTION regress_writable.pat_has_scope(scope varchar) RETURNS boolean LANGUAGE sql
AS $$ INSERT INTO regress_writable.captured VALUES ('pat_has_scope'); SELECT true $$;
CREATE FUNCTION regress_writable.pat_require_scope(scope varchar) RETURNS void LANGUAGE sql
AS $$ INSERT INTO regress_writable.captured VALUES ('pat_require_scope') $$;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA regress_writable TO PUBLIC;
RESET ROLE;

-- The application's role, with the validator profile (which includes the varchar overloads)
-- and the writable schema after pg_pat's on its search_path.
CREATE ROLE regress_pat_app;
SELECT pat_api.pat_grant_profile('regress_pat_app', 'validator');
GRANT USAGE ON SCHEMA regress_writable TO regress_pat_app;
SET ROLE regress_pat_app;
SET search_path = pat_api, regress_writable;

-- Parameters bound as varchar, as JDBC binds a String.
PREPARE authenticate(varchar) AS SELECT pat_authenticate($1);
PREPARE validate(varchar) AS SELECT valid, status FROM pat_validate($1);
PREPARE has_scope(varchar) AS SELECT pat_has_scope($1);
PREPARE require_scope(varchar) AS SELECT pat_require_scope($1);
BEGIN;
EXECUTE authenticate(:'tok');
EXECUTE has_scope('to_notes:write');
EXECUTE require_scope('to_notes:write');
\echo :SQLSTATE
ROLLBACK;
EXECUTE validate('pat_not_a_token');
SELECT pat_authenticate('pat_not_a_token'::varchar);
\echo :SQLSTATE
SELECT count(*) AS captured FROM regress_writable.captured;
RESET search_path;

-- What the overloads do not protect against: a schema EARLIER on the search_path than pg_pat's
-- wins for any exact match. Only superusers should be able to create in the schemas before it.
SET search_path = regress_writable, pat_api;
SELECT pat_authenticate(:'tok'::varchar) AS user_id;
SELECT count(*) AS captured FROM regress_writable.captured;
RESET search_path;
RESET ROLE;

-- pg_pat's own functions warn, once per session, about a lookalike on the search_path. A
-- lookalike that forwards to pg_pat after keeping the token (and so goes unnoticed by the
-- application) makes pg_pat run, and warn.
SET ROLE regress_pat_planter;
CREATE OR REPLACE FUNCTION regress_writable.pat_authenticate(token varchar) RETURNS text
LANGUAGE plpgsql
AS $$
BEGIN
    INSERT INTO regress_writable.captured VALUES ('forwarded');
    RETURN pat_api.pat_authenticate(token::text);
END
$$;
RESET ROLE;
\c
SET ROLE regress_pat_app;
SET search_path = regress_writable, pat_api;
BEGIN;
SELECT pat_authenticate(:'tok'::varchar) AS user_id;
SELECT pat_authenticate(:'tok'::varchar) AS user_id;
COMMIT;
SELECT what, count(*) FROM regress_writable.captured GROUP BY what ORDER BY what;
-- No lookalike on the search_path: no warning.
\c
CREATE SCHEMA regress_late;
GRANT USAGE ON SCHEMA regress_late TO regress_pat_app;
SET ROLE regress_pat_app;
SET search_path = pat_api, regress_late;
SELECT valid FROM pat_validate('pat_not_a_token');
-- One created later is looked for at the next call.
RESET ROLE;
CREATE FUNCTION regress_late.pat_validate(token varchar, scopes varchar[]) RETURNS boolean
LANGUAGE sql AS $$ SELECT true $$;
SET ROLE regress_pat_app;
SELECT valid FROM pat_validate('pat_not_a_token');
SELECT valid FROM pat_validate('pat_not_a_token');
-- A search_path set later too.
\c
SET ROLE regress_pat_app;
SET search_path = pat_api;
SELECT valid FROM pat_validate('pat_not_a_token');
SET search_path = pat_api, regress_writable;
SELECT valid FROM pat_validate('pat_not_a_token');
SELECT valid FROM pat_validate('pat_not_a_token');
RESET search_path;
RESET ROLE;

-- An update from 1.8 gives the overloads to every role that could run the text functions.
DROP EXTENSION pg_pat;
CREATE EXTENSION pg_pat SCHEMA pat_api VERSION '1.8';
SELECT pat_api.pat_grant_profile('regress_pat_app', 'validator');
ALTER EXTENSION pg_pat UPDATE TO '1.9';
SELECT p.oid::regprocedure AS function,
       has_function_privilege('regress_pat_app', p.oid, 'EXECUTE') AS app_may_run,
       has_function_privilege('public', p.oid, 'EXECUTE') AS public_may_run
FROM pg_proc p
WHERE p.pronamespace = 'pat_api'::regnamespace
  AND p.proname IN ('pat_validate', 'pat_authenticate', 'pat_has_scope', 'pat_require_scope')
ORDER BY 1::text;

\c contrib_regression
DROP DATABASE regress_pat_overloads;
DROP ROLE regress_pat_app, regress_pat_planter;
