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
