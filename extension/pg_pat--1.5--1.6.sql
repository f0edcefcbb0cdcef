-- pg_pat 1.6: a token context that knows its limits.
--
-- Inside a transaction authenticated with pat_authenticate(), the management functions act
-- only on the authenticated user's own tokens, only for a token holding pat.manage_scope
-- (default tokens:manage), and never grant more scopes or a longer life than the token has.
-- pat_current_scopes(), pat_current_expires_at() and pat_clear() complete the context API;
-- pat_authenticate() warns outside a transaction block. pat_token_activity() lists one token's
-- audit rows for a settings page. Each token records the fingerprint of the digest key it was
-- made under (pat.tokens.key_id); pat_key_status() lists them, and a check that finds active
-- tokens under a key this server lacks logs a WARNING.

\echo Use "ALTER EXTENSION pg_pat UPDATE TO '1.6'" to load this file. \quit

SELECT pat.require_preloaded();

-- Digest key fingerprints ===================================================================

ALTER TABLE pat.tokens ADD COLUMN key_id text;
COMMENT ON COLUMN pat.tokens.key_id IS
    'fingerprint of the digest key the token was made under (pat_key_status()): "sha256" for no key, else the first 8 bytes of HMAC-SHA-256(key, ''pg_pat key id'') in hex; NULL for a token made before 1.6';
-- pat_key_status() and the check's survey skip through it, one descent per distinct key.
CREATE INDEX tokens_key_id_idx ON pat.tokens (key_id);

CREATE FUNCTION pat.configured_key_ids() RETURNS text[]
AS 'MODULE_PATHNAME', 'pat_configured_key_ids'
LANGUAGE C STABLE;

CREATE FUNCTION @extschema@.pat_key_status(OUT key_id text, OUT tokens bigint,
                                           OUT active_tokens bigint, OUT configured boolean,
                                           OUT current boolean)
RETURNS SETOF record
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH configured AS (
        SELECT k.key_id, k.position
        FROM unnest(pat.configured_key_ids()) WITH ORDINALITY AS k(key_id, position)
    ), used AS (
        SELECT t.key_id, count(*) AS tokens,
               count(*) FILTER (WHERE t.revoked_at IS NULL
                                  AND (t.expires_at IS NULL OR t.expires_at > now()))
                   AS active_tokens
        FROM pat.tokens t
        GROUP BY t.key_id
    )
    SELECT COALESCE(u.key_id, c.key_id), COALESCE(u.tokens, 0), COALESCE(u.active_tokens, 0),
           CASE WHEN c.key_id IS NOT NULL THEN true WHEN u.key_id IS NOT NULL THEN false END,
           COALESCE(c.position = 1, false)
    FROM used u FULL JOIN configured c ON c.key_id = u.key_id
    ORDER BY c.position NULLS LAST, u.key_id NULLS LAST
$$;
COMMENT ON FUNCTION @extschema@.pat_key_status() IS
    'each digest key fingerprint with its tokens and active tokens, whether this server has the key (NULL: tokens made before 1.6, key not recorded), and the current one';

-- The token context =========================================================================

CREATE FUNCTION @extschema@.pat_current_scopes() RETURNS text[]
AS 'MODULE_PATHNAME', 'pat_current_scopes'
LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.pat_current_scopes() IS
    'the effective scopes of the transaction''s token, sorted; NULL without one';

CREATE FUNCTION @extschema@.pat_current_expires_at() RETURNS timestamptz
AS 'MODULE_PATHNAME', 'pat_current_expires_at'
LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.pat_current_expires_at() IS
    'when the transaction''s token expires; NULL without one, or for a token that never expires';

CREATE FUNCTION @extschema@.pat_clear() RETURNS boolean
AS 'MODULE_PATHNAME', 'pat_clear'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.pat_clear() IS
    'end the transaction''s token context now; whether there was one';

-- Recent activity ===========================================================================

CREATE FUNCTION @extschema@.pat_token_activity(token_id uuid, max integer DEFAULT 50)
RETURNS TABLE (occurred_at timestamptz, action text, table_name text, actor text)
AS 'MODULE_PATHNAME', 'pat_token_activity'
LANGUAGE C STABLE;
COMMENT ON FUNCTION @extschema@.pat_token_activity(uuid, integer) IS
    'one token''s audit rows, newest first (at most max, 1 to 1000): when, what, which table, who; in a token context only the user''s own tokens';

-- pat_usage in a token context: the user's own tokens only, as pat_token_activity.
CREATE FUNCTION pat.require_own_token(token_id uuid) RETURNS void
AS 'MODULE_PATHNAME', 'pat_require_own_token'
LANGUAGE C STABLE;
REVOKE ALL ON FUNCTION pat.require_own_token(uuid) FROM PUBLIC;
CREATE OR REPLACE FUNCTION @extschema@.pat_usage(token_id uuid, since date DEFAULT CURRENT_DATE - 30)
RETURNS TABLE (day date, outcome text, checks bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pat.require_not_null(token_id, 'token_id');
    PERFORM pat.require_not_null(since, 'since');
    PERFORM pat.require_own_token(token_id);  -- in a token context: own tokens only (1.6)
    IF NOT EXISTS (SELECT FROM pat.tokens t
                   WHERE t.token_id OPERATOR(pg_catalog.=) pat_usage.token_id) THEN
        RAISE EXCEPTION 'token % does not exist', token_id USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY
    SELECT u.day, u.outcome, sum(u.checks)::bigint
    FROM (SELECT c.day, c.outcome, c.checks FROM pat.token_checks c
          WHERE c.token_id OPERATOR(pg_catalog.=) pat_usage.token_id
            AND c.day OPERATOR(pg_catalog.>=) since
          UNION ALL
          SELECT p.day, p.outcome, p.checks FROM pat.pending_checks(token_id, since) p) u
    GROUP BY u.day, u.outcome
    ORDER BY u.day, u.outcome;
END
$$;

-- Profiles and privileges ===================================================================

INSERT INTO pat.profile_functions (function_signature, least_profile) VALUES
    ('pat_current_scopes()', 'validator'),
    ('pat_current_expires_at()', 'validator'),
    ('pat_clear()', 'validator'),
    ('pat_token_activity(uuid, integer)', 'application'),
    ('pat_key_status()', 'admin');
REVOKE ALL ON FUNCTION
    @extschema@.pat_current_scopes(),
    @extschema@.pat_current_expires_at(),
    @extschema@.pat_clear(),
    @extschema@.pat_token_activity(uuid, integer),
    @extschema@.pat_key_status(),
    pat.configured_key_ids()
FROM PUBLIC;

-- Roles already holding a profile get its new functions: whoever can run the profile's
-- pat_authenticate, pat_list or pat_define_role (pat_grant_profile's grants) gets them too.
DO $$
DECLARE
    grant_to record;
BEGIN
    FOR grant_to IN
        SELECT f.new_function, pg_catalog.quote_ident(r.rolname) AS grantee
        FROM (VALUES
                ('pat_authenticate(text, text[])', 'pat_current_scopes()'),
                ('pat_authenticate(text, text[])', 'pat_current_expires_at()'),
                ('pat_authenticate(text, text[])', 'pat_clear()'),
                ('pat_list(text)', 'pat_token_activity(uuid, integer)'),
                ('pat_define_role(text, text[], boolean)', 'pat_key_status()'))
             AS f(profile_function, new_function),
             pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a, pg_catalog.pg_roles r
        WHERE p.oid = pg_catalog.to_regprocedure('@extschema@.' || f.profile_function)
          AND a.privilege_type = 'EXECUTE' AND r.oid = a.grantee AND a.grantee <> p.proowner
        ORDER BY 1, 2
    LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %I.%s TO %s', '@extschema@',
                                  grant_to.new_function, grant_to.grantee);
    END LOOP;
END
$$;

SELECT pat.warn_if_schema_writable('@extschema@');
