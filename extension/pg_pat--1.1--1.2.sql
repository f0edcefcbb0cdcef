-- pg_pat 1.2: preloaded, with checks that never write.
--
-- pg_pat must be in shared_preload_libraries (loading it any other way fails, and with it this
-- script). pat_validate and pat_authenticate count every check in shared memory and write no
-- table; pg_pat's background worker writes the counts out every pat.usage_flush_interval
-- through pat_merge_usage(), on a standby by forwarding them to the primary over libpq.

\echo Use "ALTER EXTENSION pg_pat UPDATE TO '1.2'" to load this file. \quit

-- Fails here, with a hint, unless pg_pat was preloaded.
CREATE FUNCTION pat.require_preloaded() RETURNS void
    AS 'MODULE_PATHNAME', 'pat_require_preloaded'
    LANGUAGE C STRICT;
SELECT pat.require_preloaded();

-- Tables ------------------------------------------------------------------------------------

-- Checks per token, UTC day and outcome. token_id NULL: checks that named no stored token
-- (malformed, not_found), and checks of tokens that did not fit in shared memory.
CREATE TABLE pat.token_checks (
    token_id uuid REFERENCES pat.tokens ON DELETE CASCADE,
    day      date NOT NULL,
    outcome  text NOT NULL
             CHECK (outcome IN ('valid', 'insufficient_scope', 'expired', 'revoked',
                                'not_found', 'malformed')),
    checks   bigint NOT NULL CHECK (checks > 0),
    CONSTRAINT token_checks_key UNIQUE NULLS NOT DISTINCT (token_id, day, outcome)
);
COMMENT ON TABLE pat.token_checks IS
    'checks per token, UTC day and outcome, written by pg_pat''s background worker';
SELECT pg_catalog.pg_extension_config_dump('pat.token_checks', '');

COMMENT ON TABLE pat.token_usage IS
    'last valid use per token, written by pg_pat''s background worker (never by a check)';

-- Shared memory ------------------------------------------------------------------------------

CREATE FUNCTION @extschema@.pat_flush_usage() RETURNS integer
    AS 'MODULE_PATHNAME', 'pat_flush_usage'
    LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pat_flush_usage() IS
    'write this database''s pending usage now (the worker does it every pat.usage_flush_interval); how many tokens';

CREATE FUNCTION pat.pending_last_use(token_id uuid) RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'pat_pending_last_use'
    LANGUAGE C VOLATILE STRICT;

CREATE FUNCTION pat.pending_checks(token_id uuid, since date,
                                   OUT day date, OUT outcome text, OUT checks bigint)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'pat_pending_checks'
    LANGUAGE C VOLATILE;

-- The one place usage reaches the tables: from this node's worker, from pat_flush_usage(), and
-- from a standby's worker over libpq. Last use only moves forward; counts add up. Tokens deleted
-- meanwhile are skipped. Returns how many tokens it wrote.
CREATE FUNCTION @extschema@.pat_merge_usage(
    used_token_ids uuid[], used_at timestamptz[],
    checked_token_ids uuid[], checked_days date[], checked_outcomes text[],
    checked_counts bigint[])
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    written integer;
BEGIN
    IF used_token_ids IS NULL OR used_at IS NULL OR checked_token_ids IS NULL
       OR checked_days IS NULL OR checked_outcomes IS NULL OR checked_counts IS NULL THEN
        RAISE EXCEPTION 'usage arrays must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF cardinality(used_token_ids) <> cardinality(used_at)
       OR cardinality(checked_token_ids) <> cardinality(checked_days)
       OR cardinality(checked_token_ids) <> cardinality(checked_outcomes)
       OR cardinality(checked_token_ids) <> cardinality(checked_counts) THEN
        RAISE EXCEPTION 'usage arrays must have matching lengths'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    INSERT INTO pat.token_usage AS u (token_id, last_used_at)
    SELECT n.token_id, max(n.used_at)
    FROM unnest(used_token_ids, used_at) AS n(token_id, used_at)
    WHERE n.used_at IS NOT NULL
      AND EXISTS (SELECT FROM pat.tokens t WHERE t.token_id OPERATOR(pg_catalog.=) n.token_id)
    GROUP BY n.token_id
    ON CONFLICT (token_id) DO UPDATE SET last_used_at = excluded.last_used_at
    WHERE u.last_used_at IS NULL OR u.last_used_at OPERATOR(pg_catalog.<) excluded.last_used_at;

    INSERT INTO pat.token_checks AS c (token_id, day, outcome, checks)
    SELECT n.token_id, n.day, n.outcome, sum(n.checks)::bigint
    FROM unnest(checked_token_ids, checked_days, checked_outcomes, checked_counts)
         AS n(token_id, day, outcome, checks)
    WHERE n.checks OPERATOR(pg_catalog.>) 0
      AND (n.token_id IS NULL
           OR EXISTS (SELECT FROM pat.tokens t
                      WHERE t.token_id OPERATOR(pg_catalog.=) n.token_id))
    GROUP BY n.token_id, n.day, n.outcome
    ON CONFLICT ON CONSTRAINT token_checks_key
    DO UPDATE SET checks = c.checks OPERATOR(pg_catalog.+) excluded.checks;

    SELECT count(DISTINCT t.token_id) INTO written
    FROM pat.tokens t
    WHERE t.token_id OPERATOR(pg_catalog.=) ANY (used_token_ids || checked_token_ids);
    RETURN written;
END
$$;
COMMENT ON FUNCTION @extschema@.pat_merge_usage(uuid[], timestamptz[], uuid[], date[], text[],
                                                 bigint[]) IS
    'internal: merge a batch of usage (called by pg_pat''s worker, also from standbys over libpq)';

-- Reading usage ------------------------------------------------------------------------------

CREATE FUNCTION @extschema@.pat_usage(token_id uuid, since date DEFAULT CURRENT_DATE - 30)
RETURNS TABLE (day date, outcome text, checks bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pat.require_not_null(token_id, 'token_id');
    PERFORM pat.require_not_null(since, 'since');
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
COMMENT ON FUNCTION @extschema@.pat_usage(uuid, date) IS
    'checks of a token per UTC day and outcome since a day, including what is not written out yet';

-- pat_list: last use includes what this node counted but has not written out yet.
CREATE OR REPLACE FUNCTION @extschema@.pat_list(user_id text)
RETURNS TABLE (token_id uuid, name text, scopes text[], created_at timestamptz,
               expires_at timestamptz, last_used_at timestamptz, revoked_at timestamptz,
               status text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pat.check_user_id(user_id);
    RETURN QUERY
    SELECT t.token_id, t.name, t.scopes, t.created_at, t.expires_at,
           greatest(u.last_used_at, pat.pending_last_use(t.token_id)),
           t.revoked_at,
           CASE WHEN t.revoked_at IS NOT NULL THEN 'revoked'
                WHEN t.expires_at OPERATOR(pg_catalog.<=) now() THEN 'expired'
                ELSE 'active' END
    FROM pat.tokens t
    LEFT JOIN pat.token_usage u ON u.token_id OPERATOR(pg_catalog.=) t.token_id
    WHERE t.user_id OPERATOR(pg_catalog.=) pat_list.user_id
    ORDER BY t.created_at DESC, t.token_id;
END
$$;

-- Privileges -------------------------------------------------------------------------------

INSERT INTO pat.profile_functions (function_signature, least_profile) VALUES
    ('pat_usage(uuid, date)', 'application'),
    ('pat_flush_usage()', 'admin'),
    ('pat_merge_usage(uuid[], timestamptz[], uuid[], date[], text[], bigint[])', 'admin');

REVOKE ALL ON pat.token_checks FROM PUBLIC;
REVOKE ALL ON FUNCTION
    pat.require_preloaded(),
    pat.pending_last_use(uuid),
    pat.pending_checks(uuid, date),
    @extschema@.pat_flush_usage(),
    @extschema@.pat_merge_usage(uuid[], timestamptz[], uuid[], date[], text[], bigint[]),
    @extschema@.pat_usage(uuid, date)
FROM PUBLIC;
