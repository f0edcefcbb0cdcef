-- pg_pat 1.8: the rest of the token lifecycle (issue 13): notices, leak reports, inactivity.
--
-- pat.notices is an outbox of notices to token owners, one per token and kind: expiry notices
-- (60, 30, 7 and 1 days before, and on expiry) queued by pg_pat's background worker or
-- pat_queue_notices(), and revoked_leaked, revoked_inactive and reuse_after_rotation queued in
-- the transaction of the event. pat_take_notices() hands each out once. pat_report_leaked()
-- revokes reported tokens (profile scanner); pat_scanner_rules() gives scanners the pattern of
-- every prefix issued under (pat.token_prefixes). pat.max_inactivity has the worker revoke
-- tokens unused for longer.

\echo Use "ALTER EXTENSION pg_pat UPDATE TO '1.8'" to load this file. \quit

SELECT pat.require_preloaded();

-- Lifecycle indexes ========================================================================

-- The expiry notices read the tokens expiring soon; reuse detection and the notices look for a
-- token's successor.
CREATE INDEX tokens_expires_at_idx ON pat.tokens (expires_at);
CREATE INDEX tokens_rotated_from_idx ON pat.tokens (rotated_from);

COMMENT ON COLUMN pat.audit_log.action IS
    'created, renamed, scopes_changed, expiry_changed, revoked, deleted, rotated, reuse_after_rotation, revoked_leaked, revoked_inactive (token lifecycle); role_granted, role_revoked, role_defined, scope_defined; insert, update, delete, truncate (pat_audit); audit_trigger_disabled, audit_trigger_dropped; audit_purged';

-- Notices: an outbox =======================================================================
-- One row per token and kind, queued in the transaction that makes it due (a revocation) or
-- by pg_pat's background worker (expiry); a mailer takes them with pat_take_notices() in its
-- own transaction, so a notice is delivered once, or, when the mailer rolls back, again.

CREATE TABLE pat.notices (
    notice_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind       text NOT NULL
               CHECK (kind IN ('expires_in_60_days', 'expires_in_30_days', 'expires_in_7_days',
                               'expires_in_1_day', 'expired', 'revoked_leaked',
                               'revoked_inactive', 'reuse_after_rotation')),
    user_id    text NOT NULL,
    token_id   uuid NOT NULL,  -- no foreign key: a notice outlives a deleted token
    token_name text NOT NULL,
    due_at     timestamptz NOT NULL,
    details    jsonb NOT NULL DEFAULT '{}',
    queued_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    taken_at   timestamptz,
    CONSTRAINT notices_token_kind_key UNIQUE (token_id, kind)
);
COMMENT ON TABLE pat.notices IS
    'notices to token owners (expiry, leak, inactivity, reuse after rotation), one per token and kind; pat_take_notices() hands each out once';
COMMENT ON COLUMN pat.notices.due_at IS
    'when the notice became due: the threshold crossed (expires_at - 7 days, ...) or the event';
-- pat_take_notices() reads the oldest untaken notices; taken ones leave the index.
CREATE INDEX notices_untaken_idx ON pat.notices (notice_id) WHERE taken_at IS NULL;
SELECT pg_catalog.pg_extension_config_dump('pat.notices', '');
SELECT pg_catalog.pg_extension_config_dump('pat.notices_notice_id_seq', '');

-- Every prefix tokens were issued under, for pat_scanner_rules(); pat_create adds the current
-- one when it first issues under it.
CREATE TABLE pat.token_prefixes (
    prefix        text PRIMARY KEY CHECK (pg_catalog.length(prefix) <= 64),
    first_used_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE pat.token_prefixes IS
    'prefixes tokens were issued under (pat.token_prefix), for pat_scanner_rules()';
SELECT pg_catalog.pg_extension_config_dump('pat.token_prefixes', '');

CREATE FUNCTION @extschema@.pat_queue_notices() RETURNS integer
AS 'MODULE_PATHNAME', 'pat_queue_notices'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pat_queue_notices() IS
    'queue the expiry notices due now (pg_pat''s worker does it every pat.lifecycle_interval); how many';

CREATE FUNCTION @extschema@.pat_take_notices(max integer DEFAULT 100)
RETURNS TABLE (notice_id bigint, kind text, user_id text, token_id uuid, token_name text,
               due_at timestamptz, details jsonb)
AS 'MODULE_PATHNAME', 'pat_take_notices'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pat_take_notices(integer) IS
    'take up to max (1 to 1000) untaken notices, oldest first, marking them taken: once each, even with concurrent takers; a rollback leaves them for the next';

-- Called by pat_merge_usage() with the tokens whose checks answered revoked or expired.
CREATE FUNCTION pat.record_reuse_after_rotation(token_ids uuid[]) RETURNS integer
AS 'MODULE_PATHNAME', 'pat_record_reuse_after_rotation'
LANGUAGE C VOLATILE STRICT;

-- Leak reports =============================================================================

CREATE FUNCTION @extschema@.pat_report_leaked(tokens text[], source text DEFAULT NULL)
RETURNS integer
AS 'MODULE_PATHNAME', 'pat_report_leaked'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pat_report_leaked(text[], text) IS
    'revoke every listed token that is stored and active (at most 1000), with audit action revoked_leaked and a notice to each owner; how many; the rest is skipped';

CREATE FUNCTION @extschema@.pat_scanner_rules(format text DEFAULT 'regex') RETURNS text
AS 'MODULE_PATHNAME', 'pat_scanner_rules'
LANGUAGE C STABLE;
COMMENT ON FUNCTION @extschema@.pat_scanner_rules(text) IS
    'the pattern of tokens under the current and former prefixes: regex (POSIX) or gitleaks (a TOML rule)';

-- Usage: a check with a token that rotation ended is recorded, once ========================

CREATE OR REPLACE FUNCTION @extschema@.pat_merge_usage(
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

    -- Checks refused with a token that has a successor: reuse after rotation (1.8).
    PERFORM pat.record_reuse_after_rotation(array_agg(DISTINCT n.token_id))
    FROM unnest(checked_token_ids, checked_outcomes, checked_counts)
         AS n(token_id, outcome, checks)
    WHERE n.token_id IS NOT NULL AND n.outcome IN ('revoked', 'expired')
      AND n.checks OPERATOR(pg_catalog.>) 0
    HAVING count(*) OPERATOR(pg_catalog.>) 0;

    SELECT count(DISTINCT t.token_id) INTO written
    FROM pat.tokens t
    WHERE t.token_id OPERATOR(pg_catalog.=) ANY (used_token_ids || checked_token_ids);
    RETURN written;
END
$$;

-- Profiles: scanner, which may only report leaks ===========================================

ALTER TABLE pat.profile_functions
    DROP CONSTRAINT profile_functions_least_profile_check,
    ADD CONSTRAINT profile_functions_least_profile_check
        CHECK (least_profile IN ('scanner', 'validator', 'application', 'application_role_admin',
                                 'admin'));
COMMENT ON TABLE pat.profile_functions IS
    'which grant profile first gets each API function: validator < application < application_role_admin < admin, each including the ones before; scanner stands apart, and admin includes it';

CREATE OR REPLACE FUNCTION @extschema@.pat_grant_profile(grantee regrole, profile text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    profiles CONSTANT text[] := ARRAY['validator', 'application', 'application_role_admin',
                                      'admin'];
    rank integer;
    fn text;
BEGIN
    PERFORM pat.require_not_null(grantee, 'grantee');
    PERFORM pat.require_not_null(profile, 'profile');
    rank := array_position(profiles, profile);
    IF rank IS NULL AND profile <> 'scanner' THEN
        RAISE EXCEPTION 'unknown grant profile "%"', profile
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Profiles: validator, application, application_role_admin, admin, scanner.';
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO %s', '@extschema@', grantee);
    FOR fn IN
        SELECT p.function_signature FROM pat.profile_functions p
        WHERE CASE WHEN profile = 'scanner' THEN p.least_profile = 'scanner'
                   WHEN p.least_profile = 'scanner' THEN profile = 'admin'
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
    'grant a database role one of the profiles validator, application, application_role_admin, admin, or scanner (only pat_report_leaked)';

-- Privileges ===============================================================================

INSERT INTO pat.profile_functions (function_signature, least_profile) VALUES
    ('pat_queue_notices()', 'application'),
    ('pat_take_notices(integer)', 'application'),
    ('pat_scanner_rules(text)', 'application'),
    ('pat_report_leaked(text[], text)', 'scanner');
REVOKE ALL ON pat.notices, pat.token_prefixes FROM PUBLIC;
REVOKE ALL ON FUNCTION
    @extschema@.pat_queue_notices(),
    @extschema@.pat_take_notices(integer),
    @extschema@.pat_scanner_rules(text),
    @extschema@.pat_report_leaked(text[], text),
    pat.record_reuse_after_rotation(uuid[])
FROM PUBLIC;

-- Tokens were issued under at least the prefix set now; earlier ones are not known.
INSERT INTO pat.token_prefixes (prefix)
SELECT pg_catalog.current_setting('pat.token_prefix');

-- Roles already holding a profile get its new functions: the application profile (whoever can
-- run its pat_list) and the admin profile (pat_define_role), which also reads the new tables.
DO $$
DECLARE
    grant_to record;
BEGIN
    FOR grant_to IN
        SELECT f.new_function, pg_catalog.quote_ident(r.rolname) AS grantee
        FROM (VALUES
                ('pat_list(text)', 'pat_queue_notices()'),
                ('pat_list(text)', 'pat_take_notices(integer)'),
                ('pat_list(text)', 'pat_scanner_rules(text)'),
                ('pat_define_role(text, text[], boolean)', 'pat_report_leaked(text[], text)'))
             AS f(profile_function, new_function),
             pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a, pg_catalog.pg_roles r
        WHERE p.oid = pg_catalog.to_regprocedure('@extschema@.' || f.profile_function)
          AND a.privilege_type = 'EXECUTE' AND r.oid = a.grantee AND a.grantee <> p.proowner
        ORDER BY 1, 2
    LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %I.%s TO %s', '@extschema@',
                                  grant_to.new_function, grant_to.grantee);
    END LOOP;
    FOR grant_to IN
        SELECT DISTINCT pg_catalog.quote_ident(r.rolname) AS grantee
        FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a, pg_catalog.pg_roles r
        WHERE p.oid = pg_catalog.to_regprocedure(
                  '@extschema@.pat_define_role(text, text[], boolean)')
          AND a.privilege_type = 'EXECUTE' AND r.oid = a.grantee AND a.grantee <> p.proowner
        ORDER BY 1
    LOOP
        EXECUTE pg_catalog.format('GRANT SELECT ON pat.notices, pat.token_prefixes TO %s',
                                  grant_to.grantee);
    END LOOP;
END
$$;

SELECT pat.warn_if_schema_writable('@extschema@');
