-- pg_pat 1.14: pat_validate returns a named row type, pat.validation, with the same columns as
-- before, instead of OUT parameters. PostgreSQL builds the row type of a function with OUT
-- parameters from pg_proc at the start of every statement that calls it in FROM (a type lookup
-- per column), and a named type's from its type cache: a pooled service's check is cheaper by
-- that much.

\echo Use "ALTER EXTENSION pg_pat UPDATE TO '1.14'" to load this file. \quit

SELECT pat.require_preloaded();

CREATE TYPE pat.validation AS (
    valid boolean,
    status text,
    token_id uuid,
    user_id text,
    token_name text,
    scopes text[],
    expires_at timestamptz,
    token_type text,
    metadata jsonb,
    retry_after interval,
    remaining bigint
);
COMMENT ON TYPE pat.validation IS 'the row pat_validate returns';
-- A caller of pat_validate needs no right on its row type: only making objects of it does.
REVOKE ALL ON TYPE pat.validation FROM PUBLIC;

-- A function's result type cannot change in place, so both pat_validate functions are dropped
-- and made again; whoever could run one keeps that right (a temporary table is no member of the
-- extension). An object of the database that depends on one (a view calling it) stops the
-- update with PostgreSQL's own error naming it: drop it first and make it again after.
CREATE TEMP TABLE pat_reshaped_grantees AS
SELECT f.signature, pg_catalog.quote_ident(r.rolname) AS grantee
FROM (VALUES ('pat_validate(text, text[], inet, text)'),
             ('pat_validate(varchar, text[], inet, text)')) AS f(signature),
     pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a, pg_catalog.pg_roles r
WHERE p.oid = pg_catalog.to_regprocedure('@extschema@.' || f.signature)
  AND a.privilege_type = 'EXECUTE' AND r.oid = a.grantee AND a.grantee <> p.proowner;

DROP FUNCTION @extschema@.pat_validate(text, text[], inet, text);
CREATE FUNCTION @extschema@.pat_validate(token text, required_scopes text[] DEFAULT '{}',
    client_addr inet DEFAULT NULL, resource text DEFAULT NULL)
RETURNS pat.validation
AS 'MODULE_PATHNAME', 'pat_validate'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pat_validate(text, text[], inet, text) IS
    'check a bearer token: one row with status valid, malformed, not_found, expired, revoked, suspended, forbidden_network (client_addr outside the token''s networks, or NULL for a token with networks) or insufficient_scope (also for a resource the scope is not bound to), and for an otherwise valid token rate_limited (retry_after: when it could pass) or usage_exceeded (its credits spent); token_type personal, or organization when user_id is an account id; the token''s metadata; remaining: its credits left (NULL without a budget)';

DROP FUNCTION @extschema@.pat_validate(varchar, text[], inet, text);
CREATE FUNCTION @extschema@.pat_validate(token varchar, required_scopes text[] DEFAULT '{}',
    client_addr inet DEFAULT NULL, resource text DEFAULT NULL)
RETURNS pat.validation
AS 'MODULE_PATHNAME', 'pat_validate'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pat_validate(varchar, text[], inet, text) IS
    'pat_validate(text, text[], inet, text) for clients binding varchar';

REVOKE ALL ON FUNCTION @extschema@.pat_validate(text, text[], inet, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.pat_validate(varchar, text[], inet, text) FROM PUBLIC;

DO $$
DECLARE
    -- The schema's name as an identifier, quoted where it needs to be.
    api CONSTANT text := '@extschema@'::pg_catalog.regnamespace::text;
    granted record;
BEGIN
    FOR granted IN SELECT g.signature, g.grantee FROM pg_temp.pat_reshaped_grantees g
                   ORDER BY 1, 2 LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s.%s TO %s', api,
                                  granted.signature, granted.grantee);
    END LOOP;
END
$$;
DROP TABLE pg_temp.pat_reshaped_grantees;
