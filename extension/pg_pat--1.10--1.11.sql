-- pg_pat 1.11: tokens for agents and services (issue 26): delegation that dies with its parent,
-- organizations' tokens, and who created each token.

\echo Use "ALTER EXTENSION pg_pat UPDATE TO '1.11'" to load this file. \quit

SELECT pat.require_preloaded();

-- pat.tokens: the delegation chain, the creator and the token's type ===========================
-- Constant defaults: no table rewrite. Tokens made before have no parent, no recorded creator
-- and are personal.
ALTER TABLE pat.tokens
    ADD COLUMN parent_id uuid,
    ADD COLUMN ancestors uuid[],
    ADD COLUMN created_by text,
    ADD COLUMN token_type text NOT NULL DEFAULT 'personal'
        CHECK (token_type IN ('personal', 'organization')),
    ADD COLUMN has_children boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN pat.tokens.parent_id IS
    'the token that minted this one with pat_delegate(); NULL for a token made otherwise';
COMMENT ON COLUMN pat.tokens.ancestors IS
    'the delegation chain above this token, root first, parent last; NULL for a root token. A token is valid only while each of them is: a check that reads the row reads them too, and a change to a token with children drops its user''s cached tokens, so no descendant row is written when an ancestor falls';
COMMENT ON COLUMN pat.tokens.created_by IS
    'who made the token: token:<token_id>:<user_id> (the authenticated token), actor:<pat_set_actor()>, or role:<database role>';
COMMENT ON COLUMN pat.tokens.has_children IS
    'set (never cleared) when pat_delegate() first mints from the token: a change to such a token drops its user''s cached tokens, so its descendants answer for it at their next check; a change to any other token drops only its own';
COMMENT ON COLUMN pat.tokens.token_type IS
    'personal: user_id is a person; organization: user_id is an account id (pat_create_org_token), which no role grant, role loss or pat_revoke_all(user) reaches';
-- pat_revoke counts the descendants that fall with a token; pat_token_activity reads their rows.
-- Delegated tokens only: a root token (most of them) costs no index entry when it is made.
CREATE INDEX tokens_ancestors_idx ON pat.tokens USING gin (ancestors) WHERE ancestors IS NOT NULL;

-- pat_list gains token_type, parent_id and created_by; pat_validate gains token_type ========
-- Their OUT columns change, so they are dropped and created again; whoever could run one keeps
-- that right (a temporary table is no member of the extension).
CREATE TEMP TABLE pat_reshaped_grantees AS
SELECT f.signature, pg_catalog.quote_ident(r.rolname) AS grantee
FROM (VALUES ('pat_list(text)'), ('pat_validate(text, text[])'),
             ('pat_validate(varchar, text[])')) AS f(signature),
     pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a, pg_catalog.pg_roles r
WHERE p.oid = pg_catalog.to_regprocedure('@extschema@.' || f.signature)
  AND a.privilege_type = 'EXECUTE' AND r.oid = a.grantee AND a.grantee <> p.proowner;

DROP FUNCTION @extschema@.pat_list(text);
CREATE FUNCTION @extschema@.pat_list(user_id text)
RETURNS TABLE (token_id uuid, name text, scopes text[], created_at timestamptz,
               expires_at timestamptz, last_used_at timestamptz, revoked_at timestamptz,
               status text, token_type text, parent_id uuid, created_by text)
AS 'MODULE_PATHNAME', 'pat_list'
LANGUAGE C STABLE;
COMMENT ON FUNCTION @extschema@.pat_list(text) IS
    'a user''s tokens with their status (active, expired, revoked: a token whose ancestor fell is revoked or expired with it), type, parent and creator; never a digest or secret';

DROP FUNCTION @extschema@.pat_validate(text, text[]);
CREATE FUNCTION @extschema@.pat_validate(token text, required_scopes text[] DEFAULT '{}',
    OUT valid boolean, OUT status text, OUT token_id uuid, OUT user_id text,
    OUT token_name text, OUT scopes text[], OUT expires_at timestamptz, OUT token_type text)
AS 'MODULE_PATHNAME', 'pat_validate'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pat_validate(text, text[]) IS
    'check a bearer token: one row with status valid, malformed, not_found, expired, revoked or insufficient_scope; token_type personal, or organization when user_id is an account id';

DROP FUNCTION @extschema@.pat_validate(varchar, text[]);
CREATE FUNCTION @extschema@.pat_validate(token varchar, required_scopes text[] DEFAULT '{}',
    OUT valid boolean, OUT status text, OUT token_id uuid, OUT user_id text,
    OUT token_name text, OUT scopes text[], OUT expires_at timestamptz, OUT token_type text)
AS 'MODULE_PATHNAME', 'pat_validate'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pat_validate(varchar, text[]) IS
    'pat_validate(text, text[]) for clients binding varchar';

REVOKE ALL ON FUNCTION @extschema@.pat_list(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.pat_validate(text, text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.pat_validate(varchar, text[]) FROM PUBLIC;

-- Organization tokens =========================================================================

CREATE FUNCTION @extschema@.pat_create_org_token(account_id text, name text, scopes text[],
                                                 expires text)
RETURNS TABLE (token_id uuid, token text, expires_at timestamptz)
AS 'MODULE_PATHNAME', 'pat_create_org_token'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pat_create_org_token(text, text, text[], text) IS
    'issue a token of an organization''s account (token_type organization; account_id is returned as user_id): any defined scope, untouched by any user''s role loss or pat_revoke_all; never inside a token context';
REVOKE ALL ON FUNCTION @extschema@.pat_create_org_token(text, text, text[], text) FROM PUBLIC;

CREATE FUNCTION @extschema@.pat_current_token_type() RETURNS text
AS 'MODULE_PATHNAME', 'pat_current_token_type'
LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.pat_current_token_type() IS
    'the authenticated token''s type: personal or organization (pat_current_user() is then an account id); NULL outside a token context';
REVOKE ALL ON FUNCTION @extschema@.pat_current_token_type() FROM PUBLIC;

-- Delegation ==================================================================================

COMMENT ON FUNCTION @extschema@.pat_token_activity(uuid, integer) IS
    'one token''s audit rows and its delegated descendants'', newest first (at most max, 1 to 1000): when, what, which table, who (naming the delegated token that acted); in a token context only the user''s own tokens';

CREATE FUNCTION @extschema@.pat_delegate(name text, scopes text[], expires text DEFAULT NULL)
RETURNS TABLE (token_id uuid, token text, expires_at timestamptz)
AS 'MODULE_PATHNAME', 'pat_delegate'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pat_delegate(text, text[], text) IS
    'inside a token context whose token holds pat.delegate_scope: a child token of the same user, with scopes it holds, living no longer than it and pat.max_delegated_lifetime (NULL: as long as allowed); it falls with its parent';
REVOKE ALL ON FUNCTION @extschema@.pat_delegate(text, text[], text) FROM PUBLIC;

-- Profiles: organization_admin, which may only issue organizations' tokens ====================

ALTER TABLE pat.profile_functions
    DROP CONSTRAINT profile_functions_least_profile_check,
    ADD CONSTRAINT profile_functions_least_profile_check
        CHECK (least_profile IN ('scanner', 'organization_admin', 'validator', 'application',
                                 'application_role_admin', 'admin'));
COMMENT ON TABLE pat.profile_functions IS
    'which grant profile first gets each API function: validator < application < application_role_admin < admin, each including the ones before; scanner and organization_admin stand apart, and admin includes them';

INSERT INTO pat.profile_functions (function_signature, least_profile) VALUES
    ('pat_delegate(text, text[], text)', 'application'),
    ('pat_create_org_token(text, text, text[], text)', 'organization_admin'),
    ('pat_current_token_type()', 'validator');

CREATE OR REPLACE FUNCTION @extschema@.pat_grant_profile(grantee regrole, profile text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    profiles CONSTANT text[] := ARRAY['validator', 'application', 'application_role_admin',
                                      'admin'];
    -- Profiles that include no other and that only admin includes.
    apart CONSTANT text[] := ARRAY['scanner', 'organization_admin'];
    rank integer;
    fn text;
BEGIN
    PERFORM pat.require_not_null(grantee, 'grantee');
    PERFORM pat.require_not_null(profile, 'profile');
    rank := array_position(profiles, profile);
    IF rank IS NULL AND profile <> ALL (apart) THEN
        RAISE EXCEPTION 'unknown grant profile "%"', profile
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Profiles: validator, application, application_role_admin, admin, scanner, organization_admin.';
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO %s', '@extschema@', grantee);
    FOR fn IN
        SELECT p.function_signature FROM pat.profile_functions p
        WHERE CASE WHEN profile = ANY (apart) THEN p.least_profile = profile
                   WHEN p.least_profile = ANY (apart) THEN profile = 'admin'
                   ELSE array_position(profiles, p.least_profile) <= rank END
        ORDER BY p.function_signature
    LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION %I.%s TO %s', '@extschema@', fn, grantee);
    END LOOP;
    IF profile = 'admin' THEN
        -- Read-only access to the tables, for investigations; digests are not secrets.
        EXECUTE format('GRANT USAGE ON SCHEMA pat TO %s', grantee);
        EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA pat TO %s', grantee);
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.pat_grant_profile(regrole, text) IS
    'grant a database role one of the profiles validator, application, application_role_admin, admin, scanner (only pat_report_leaked) or organization_admin (only pat_create_org_token)';

-- Whoever could run a reshaped function keeps it. Roles that could run pat_list (the
-- application profile) get pat_delegate; those that could run pat_validate (the validator
-- profile) get pat_current_token_type; admins (who could run pat_token_cache_stats) get
-- pat_create_org_token, as pat_grant_profile would give them.
DO $$
DECLARE
    granted record;
BEGIN
    FOR granted IN SELECT g.signature, g.grantee FROM pg_temp.pat_reshaped_grantees g
                   ORDER BY 1, 2 LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %I.%s TO %s', '@extschema@',
                                  granted.signature, granted.grantee);
        IF granted.signature = 'pat_list(text)' THEN
            EXECUTE pg_catalog.format(
                'GRANT EXECUTE ON FUNCTION %I.pat_delegate(text, text[], text) TO %s',
                '@extschema@', granted.grantee);
        ELSIF granted.signature = 'pat_validate(text, text[])' THEN
            EXECUTE pg_catalog.format(
                'GRANT EXECUTE ON FUNCTION %I.pat_current_token_type() TO %s',
                '@extschema@', granted.grantee);
        END IF;
    END LOOP;
    FOR granted IN
        SELECT DISTINCT pg_catalog.quote_ident(r.rolname) AS grantee
        FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a, pg_catalog.pg_roles r
        WHERE p.oid = pg_catalog.to_regprocedure('@extschema@.pat_token_cache_stats()')
          AND a.privilege_type = 'EXECUTE' AND r.oid = a.grantee AND a.grantee <> p.proowner
        ORDER BY 1
    LOOP
        EXECUTE pg_catalog.format(
            'GRANT EXECUTE ON FUNCTION %I.pat_create_org_token(text, text, text[], text) TO %s',
            '@extschema@', granted.grantee);
    END LOOP;
END
$$;
DROP TABLE pg_temp.pat_reshaped_grantees;
