-- pg_pat 1.4: the write path in C++.
--
-- Every management function is a C function: pat_create, pat_update, pat_revoke,
-- pat_revoke_all, pat_list, pat_define_scope, pat_define_role, pat_grant_role, pat_revoke_role
-- and pat_grantable_scopes check their arguments with the same rules (src/core/policy.hpp) and
-- the same cached view of what each user may grant as pat_validate, and write through kept
-- plans as the owner of pg_pat's tables. They are no longer SECURITY DEFINER: like
-- pat_validate they switch to the owner for their own queries only, under a search path
-- pinned to pg_catalog, so no caller's search_path reaches them.

\echo Use "ALTER EXTENSION pg_pat UPDATE TO '1.4'" to load this file. \quit

SELECT pat.require_preloaded();

-- The API ------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION @extschema@.pat_create(user_id text, name text, scopes text[],
                                                  expires text)
RETURNS TABLE (token_id uuid, token text, expires_at timestamptz)
AS 'MODULE_PATHNAME', 'pat_create_text'
LANGUAGE C VOLATILE;

CREATE OR REPLACE FUNCTION @extschema@.pat_create(user_id text, name text, scopes text[],
                                                  expires interval)
RETURNS TABLE (token_id uuid, token text, expires_at timestamptz)
AS 'MODULE_PATHNAME', 'pat_create_interval'
LANGUAGE C VOLATILE;

CREATE OR REPLACE FUNCTION @extschema@.pat_create(user_id text, name text, scopes text[],
                                                  expires timestamptz)
RETURNS TABLE (token_id uuid, token text, expires_at timestamptz)
AS 'MODULE_PATHNAME', 'pat_create_timestamptz'
LANGUAGE C VOLATILE;

CREATE OR REPLACE FUNCTION @extschema@.pat_update(token_id uuid, name text DEFAULT NULL,
                                                  scopes text[] DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'pat_update'
LANGUAGE C VOLATILE;

CREATE OR REPLACE FUNCTION @extschema@.pat_revoke(token_id uuid) RETURNS boolean
AS 'MODULE_PATHNAME', 'pat_revoke'
LANGUAGE C VOLATILE;

CREATE OR REPLACE FUNCTION @extschema@.pat_revoke_all(user_id text) RETURNS integer
AS 'MODULE_PATHNAME', 'pat_revoke_all'
LANGUAGE C VOLATILE;

CREATE OR REPLACE FUNCTION @extschema@.pat_list(user_id text)
RETURNS TABLE (token_id uuid, name text, scopes text[], created_at timestamptz,
               expires_at timestamptz, last_used_at timestamptz, revoked_at timestamptz,
               status text)
AS 'MODULE_PATHNAME', 'pat_list'
LANGUAGE C STABLE;

CREATE OR REPLACE FUNCTION @extschema@.pat_define_scope(scope text, description text DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'pat_define_scope'
LANGUAGE C VOLATILE;

CREATE OR REPLACE FUNCTION @extschema@.pat_define_role(role text, scopes text[],
                                                       all_scopes boolean DEFAULT false)
RETURNS void
AS 'MODULE_PATHNAME', 'pat_define_role'
LANGUAGE C VOLATILE;

CREATE OR REPLACE FUNCTION @extschema@.pat_grant_role(user_id text, role text) RETURNS boolean
AS 'MODULE_PATHNAME', 'pat_grant_role'
LANGUAGE C VOLATILE;

CREATE OR REPLACE FUNCTION @extschema@.pat_revoke_role(user_id text, role text) RETURNS boolean
AS 'MODULE_PATHNAME', 'pat_revoke_role'
LANGUAGE C VOLATILE;

CREATE OR REPLACE FUNCTION @extschema@.pat_grantable_scopes(user_id text) RETURNS SETOF text
AS 'MODULE_PATHNAME', 'pat_grantable_scopes'
LANGUAGE C STABLE;

-- The PL/pgSQL helpers they used are gone; the rules live in the C++ core.
DROP FUNCTION pat.create_token(text, text, text[], timestamptz);
DROP FUNCTION pat.lock_token(uuid);
DROP FUNCTION pat.checked_scopes(text, text[]);
DROP FUNCTION pat.grantable_scopes(text);
DROP FUNCTION pat.require_role(text);
DROP FUNCTION pat.check_token_name(text);
DROP FUNCTION pat.check_user_id(text);

-- Lifecycle audit ----------------------------------------------------------------------------

-- The lifecycle rows are written by a C trigger: the same rows as before, without a PL/pgSQL
-- call and an executor per row. Its WHEN conditions moved into it (a WHEN clause is parsed
-- again by every statement's executor).
CREATE OR REPLACE FUNCTION pat.tokens_audit() RETURNS trigger
    AS 'MODULE_PATHNAME', 'pat_tokens_audit'
    LANGUAGE C;
DROP TRIGGER tokens_audit_insert ON pat.tokens;
DROP TRIGGER tokens_audit_update ON pat.tokens;
DROP TRIGGER tokens_audit_delete ON pat.tokens;
CREATE TRIGGER tokens_audit AFTER INSERT OR UPDATE OR DELETE ON pat.tokens
    FOR EACH ROW EXECUTE FUNCTION pat.tokens_audit();

-- The table refuses what the API refuses ------------------------------------------------------

-- The C guards apply the API's rules to every INSERT and UPDATE (see src/pg/tokens_trigger.cpp):
-- user id and name as the API checks them, and for any role but a superuser restoring a dump,
-- no revoked or back-dated row and an expiry the API would accept. They replace the length
-- CHECKs, which every statement's executor parsed again.
CREATE FUNCTION pat.tokens_before_insert() RETURNS trigger
    AS 'MODULE_PATHNAME', 'pat_tokens_before_insert'
    LANGUAGE C;
CREATE TRIGGER tokens_before_insert BEFORE INSERT ON pat.tokens
    FOR EACH ROW EXECUTE FUNCTION pat.tokens_before_insert();
ALTER TABLE pat.tokens ENABLE ALWAYS TRIGGER tokens_before_insert;
ALTER TABLE pat.tokens ENABLE ALWAYS TRIGGER tokens_before_update;
ALTER TABLE pat.tokens DROP CONSTRAINT tokens_user_id_check, DROP CONSTRAINT tokens_name_check;

-- A role given direct access to pat.tokens (the README's row-level security setup) may read
-- and edit the authenticated user's rows, never insert or delete any: tokens are created with
-- pat_create() and revoked, never deleted, with pat_revoke().
DROP POLICY tokens_of_authenticated_user ON pat.tokens;
CREATE POLICY tokens_readable_by_authenticated_user ON pat.tokens FOR SELECT
    USING (user_id OPERATOR(pg_catalog.=) @extschema@.pat_current_user());
CREATE POLICY tokens_editable_by_authenticated_user ON pat.tokens FOR UPDATE
    USING (user_id OPERATOR(pg_catalog.=) @extschema@.pat_current_user());

-- Usage rows are made by the first write of a token's usage (pat_merge_usage upserts them), not
-- at creation: a token never used has none, and pat_create checks no foreign key for it.

REVOKE ALL ON FUNCTION pat.tokens_before_insert() FROM PUBLIC;

-- The schema the API is in ---------------------------------------------------------------------

-- Whoever can create objects in the schema pg_pat's functions live in can add an overload that
-- a client then calls instead (pat_authenticate(varchar), for a driver binding varchar, as
-- JDBC does by default). Warns, naming them, when any role but a superuser can; every later
-- update script calls it again.
CREATE FUNCTION pat.warn_if_schema_writable(schema regnamespace) RETURNS boolean
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    writers text;
BEGIN
    IF EXISTS (SELECT FROM pg_namespace n, aclexplode(n.nspacl) a
               WHERE n.oid = schema AND a.grantee = 0 AND a.privilege_type = 'CREATE') THEN
        writers := 'PUBLIC';
    ELSE
        SELECT string_agg(quote_ident(r.rolname), ', ' ORDER BY r.rolname) INTO writers
        FROM pg_roles r
        WHERE NOT r.rolsuper AND r.oid >= 16384  -- not predefined roles: their members count
          AND has_schema_privilege(r.oid, schema, 'CREATE');
    END IF;
    IF writers IS NULL THEN
        RETURN false;
    END IF;
    RAISE WARNING 'roles other than superusers can create objects in schema %, where pg_pat''s functions are: %',
                  schema, writers
        USING DETAIL = 'Such a role can add an overload, e.g. pat_authenticate(varchar), that '
                       'clients binding varchar parameters (JDBC''s default) call instead.',
              HINT = 'Install pg_pat in a schema only superusers can create in: CREATE SCHEMA '
                     'pat_api; CREATE EXTENSION pg_pat SCHEMA pat_api; or REVOKE CREATE ON '
                     'SCHEMA ' || schema || ' from those roles.';
    RETURN true;
END
$$;
REVOKE ALL ON FUNCTION pat.warn_if_schema_writable(regnamespace) FROM PUBLIC;

SELECT pat.warn_if_schema_writable('@extschema@');
