-- pg_pat 1.12: tokens that carry their own limits (issue 27): networks, resources, suspension
-- and metadata, enforced by the check.

\echo Use "ALTER EXTENSION pg_pat UPDATE TO '1.12'" to load this file. \quit

SELECT pat.require_preloaded();

-- pat.tokens: a token's own limits ==============================================================
-- All NULL by default: no table rewrite, and a token made before has no limits.
ALTER TABLE pat.tokens
    ADD COLUMN networks cidr[],
    ADD COLUMN resources jsonb,
    ADD COLUMN metadata jsonb,
    ADD COLUMN suspended_at timestamptz;
COMMENT ON COLUMN pat.tokens.networks IS
    'the networks the token works from (NULL: any); a check from elsewhere, or from an unknown address, answers forbidden_network';
COMMENT ON COLUMN pat.tokens.resources IS
    'per scope, the resource ids the scope covers ({"notes:write": ["42"]}); a scope not named covers every resource';
COMMENT ON COLUMN pat.tokens.metadata IS
    'the application''s own data about the token, returned by pat_validate and pat_current_metadata(); never the secret';
COMMENT ON COLUMN pat.tokens.suspended_at IS
    'when pat_suspend() switched the token off (NULL: not suspended); checks answer suspended until pat_resume(), and the expiry never moves';

-- Checks answered suspended or forbidden_network are counted like the others.
ALTER TABLE pat.token_checks
    DROP CONSTRAINT token_checks_outcome_check,
    ADD CONSTRAINT token_checks_outcome_check
        CHECK (outcome IN ('valid', 'insufficient_scope', 'expired', 'revoked',
                           'not_found', 'malformed', 'suspended', 'forbidden_network'));

-- pat_validate takes the client's address and a resource and returns metadata; pat_authenticate
-- takes the client's address ====================================================================
-- Their arguments (and pat_validate's OUT columns) change, so they are dropped and created
-- again; whoever could run one keeps that right (a temporary table is no member of the
-- extension). A caller passing two arguments is answered as before.
CREATE TEMP TABLE pat_reshaped_grantees AS
SELECT f.old_signature, f.new_signature, pg_catalog.quote_ident(r.rolname) AS grantee
FROM (VALUES ('pat_validate(text, text[])', 'pat_validate(text, text[], inet, text)'),
             ('pat_validate(varchar, text[])', 'pat_validate(varchar, text[], inet, text)'),
             ('pat_authenticate(text, text[])', 'pat_authenticate(text, text[], inet)'),
             ('pat_authenticate(varchar, text[])', 'pat_authenticate(varchar, text[], inet)'))
         AS f(old_signature, new_signature),
     pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a, pg_catalog.pg_roles r
WHERE p.oid = pg_catalog.to_regprocedure('@extschema@.' || f.old_signature)
  AND a.privilege_type = 'EXECUTE' AND r.oid = a.grantee AND a.grantee <> p.proowner;

DROP FUNCTION @extschema@.pat_validate(text, text[]);
CREATE FUNCTION @extschema@.pat_validate(token text, required_scopes text[] DEFAULT '{}',
    client_addr inet DEFAULT NULL, resource text DEFAULT NULL,
    OUT valid boolean, OUT status text, OUT token_id uuid, OUT user_id text,
    OUT token_name text, OUT scopes text[], OUT expires_at timestamptz, OUT token_type text,
    OUT metadata jsonb)
AS 'MODULE_PATHNAME', 'pat_validate'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pat_validate(text, text[], inet, text) IS
    'check a bearer token: one row with status valid, malformed, not_found, expired, revoked, suspended, forbidden_network (client_addr outside the token''s networks, or NULL for a token with networks) or insufficient_scope (also for a resource the scope is not bound to); token_type personal, or organization when user_id is an account id; the token''s metadata';

DROP FUNCTION @extschema@.pat_authenticate(text, text[]);
CREATE FUNCTION @extschema@.pat_authenticate(token text, required_scopes text[] DEFAULT '{}',
                                             client_addr inet DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'pat_authenticate'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pat_authenticate(text, text[], inet) IS
    'check a bearer token or raise (28000; 42501 for a missing scope or an address outside the token''s networks); sets the token context for this transaction; client_addr: the HTTP client''s address, or inet_client_addr() for a direct connection';

DROP FUNCTION @extschema@.pat_validate(varchar, text[]);
CREATE FUNCTION @extschema@.pat_validate(token varchar, required_scopes text[] DEFAULT '{}',
    client_addr inet DEFAULT NULL, resource text DEFAULT NULL,
    OUT valid boolean, OUT status text, OUT token_id uuid, OUT user_id text,
    OUT token_name text, OUT scopes text[], OUT expires_at timestamptz, OUT token_type text,
    OUT metadata jsonb)
AS 'MODULE_PATHNAME', 'pat_validate'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pat_validate(varchar, text[], inet, text) IS
    'pat_validate(text, text[], inet, text) for clients binding varchar';

DROP FUNCTION @extschema@.pat_authenticate(varchar, text[]);
CREATE FUNCTION @extschema@.pat_authenticate(token varchar, required_scopes text[] DEFAULT '{}',
                                             client_addr inet DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'pat_authenticate'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pat_authenticate(varchar, text[], inet) IS
    'pat_authenticate(text, text[], inet) for clients binding varchar';

REVOKE ALL ON FUNCTION @extschema@.pat_validate(text, text[], inet, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.pat_authenticate(text, text[], inet) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.pat_validate(varchar, text[], inet, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.pat_authenticate(varchar, text[], inet) FROM PUBLIC;

UPDATE pat.profile_functions f SET function_signature = g.new_signature
FROM (VALUES ('pat_validate(text, text[])', 'pat_validate(text, text[], inet, text)'),
             ('pat_validate(varchar, text[])', 'pat_validate(varchar, text[], inet, text)'),
             ('pat_authenticate(text, text[])', 'pat_authenticate(text, text[], inet)'),
             ('pat_authenticate(varchar, text[])', 'pat_authenticate(varchar, text[], inet)'))
         AS g(old_signature, new_signature)
WHERE f.function_signature = g.old_signature;

-- Whoever could run a reshaped function keeps it.
DO $$
DECLARE
    granted record;
BEGIN
    FOR granted IN SELECT g.new_signature, g.grantee FROM pg_temp.pat_reshaped_grantees g
                   ORDER BY 1, 2 LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %I.%s TO %s', '@extschema@',
                                  granted.new_signature, granted.grantee);
    END LOOP;
END
$$;
DROP TABLE pg_temp.pat_reshaped_grantees;
