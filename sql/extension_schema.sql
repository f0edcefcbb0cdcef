--
-- CREATE EXTENSION warns when any role but a superuser can create objects in the schema the
-- API functions go to: such a role could add an overload (pat_authenticate(varchar)) that a
-- client binding varchar parameters calls instead. In a database of its own, since a database
-- holds pg_pat once.
--
\set SHOW_CONTEXT never
CREATE DATABASE regress_pat_schemas;
\c regress_pat_schemas
CREATE ROLE regress_pat_schema_writer;
-- A schema another role may create in: a warning naming the role.
CREATE SCHEMA shared_api;
GRANT CREATE ON SCHEMA shared_api TO regress_pat_schema_writer;
CREATE EXTENSION pg_pat SCHEMA shared_api;
-- What the warning is about: an overload for argument types pg_pat has none for resolves
-- before the real function. pg_pat ships varchar ones (trust_overloads.sql), so the writer can
-- neither add nor replace those; but a client binding varchar[] scopes calls this one.
SET ROLE regress_pat_schema_writer;
CREATE FUNCTION shared_api.pat_authenticate(token varchar, required_scopes text[] DEFAULT '{}',
                                            client_addr inet DEFAULT NULL)
RETURNS text LANGUAGE sql AS $$ SELECT 'someone else'::text $$;
CREATE OR REPLACE FUNCTION shared_api.pat_authenticate(token varchar,
                                                       required_scopes text[] DEFAULT '{}',
                                                       client_addr inet DEFAULT NULL)
RETURNS text LANGUAGE sql AS $$ SELECT 'someone else'::text $$;
-- An overload without the address argument is made, but takes no call: in the same schema a
-- two-argument call matches both, and PostgreSQL refuses to choose.
CREATE FUNCTION shared_api.pat_authenticate(token varchar, required_scopes text[])
RETURNS text LANGUAGE sql AS $$ SELECT 'someone else'::text $$;
CREATE FUNCTION shared_api.pat_authenticate(token varchar, required_scopes varchar[])
RETURNS text LANGUAGE sql AS $$ SELECT 'someone else'::text $$;
RESET ROLE;
SELECT shared_api.pat_authenticate('pat_x'::varchar, '{}'::text[]);
SELECT shared_api.pat_authenticate('pat_x'::varchar, '{}'::varchar[]);
DROP FUNCTION shared_api.pat_authenticate(varchar, varchar[]);
DROP FUNCTION shared_api.pat_authenticate(varchar, text[]);
DROP EXTENSION pg_pat;
-- PUBLIC may create: a warning naming PUBLIC.
CREATE SCHEMA public_api;
GRANT CREATE ON SCHEMA public_api TO PUBLIC;
CREATE EXTENSION pg_pat SCHEMA public_api;
DROP EXTENSION pg_pat;
-- A dedicated schema only superusers create in: no warning.
CREATE SCHEMA pat_api;
CREATE EXTENSION pg_pat SCHEMA pat_api;
SELECT pat.warn_if_schema_writable('pat_api') AS warned;
DROP EXTENSION pg_pat;
-- A schema whose name needs quotes: granting a profile and auditing a table name it right.
CREATE SCHEMA "Tokens API";
CREATE EXTENSION pg_pat SCHEMA "Tokens API";
SELECT "Tokens API".pat_grant_profile('regress_pat_schema_writer', 'validator');
SELECT has_schema_privilege('regress_pat_schema_writer', 'Tokens API', 'USAGE') AS schema_usage,
       has_function_privilege('regress_pat_schema_writer',
                              '"Tokens API".pat_validate(text, text[], inet, text)', 'EXECUTE') AS may_validate;
CREATE TABLE quoted_notes (id integer PRIMARY KEY, body text);
SELECT "Tokens API".pat_audit_table('quoted_notes', true);
SELECT tgname, tgfoid::regprocedure FROM pg_trigger WHERE tgrelid = 'quoted_notes'::regclass
ORDER BY tgname;
INSERT INTO quoted_notes VALUES (1, 'audited');
DROP TABLE quoted_notes;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA "Tokens API" FROM regress_pat_schema_writer;
REVOKE ALL ON SCHEMA "Tokens API" FROM regress_pat_schema_writer;
DROP EXTENSION pg_pat;
\c contrib_regression
DROP DATABASE regress_pat_schemas;
DROP ROLE regress_pat_schema_writer;
