-- pg_pat 1.9: trust off the happy path (issue 22).

\echo Use "ALTER EXTENSION pg_pat UPDATE TO '1.9'" to load this file. \quit

SELECT pat.require_preloaded();

-- Only the owner deletes or truncates token rows (issue 22 item 6b) ===========================
-- A token's row is the record of its revocation: a role with DELETE and INSERT (past row
-- security) could delete a revoked token's row and insert its digest again with a fresh
-- expiry, and the token validated again. pat.tokens_before_delete() refuses DELETE and
-- TRUNCATE to every role but the table's owner (its members and superusers included), whatever
-- session_replication_role says. pg_pat itself deletes no token row. (Item 2, the scope rules
-- of pat_create and pat_update in pat.tokens_before_insert() and pat.tokens_before_update(), is
-- in the library: those functions keep their names.)
CREATE FUNCTION pat.tokens_before_delete() RETURNS trigger
    AS 'MODULE_PATHNAME', 'pat_tokens_before_delete'
    LANGUAGE C;
CREATE TRIGGER tokens_before_delete BEFORE DELETE ON pat.tokens
    FOR EACH ROW EXECUTE FUNCTION pat.tokens_before_delete();
CREATE TRIGGER tokens_before_truncate BEFORE TRUNCATE ON pat.tokens
    FOR EACH STATEMENT EXECUTE FUNCTION pat.tokens_before_delete();
ALTER TABLE pat.tokens ENABLE ALWAYS TRIGGER tokens_before_delete;
ALTER TABLE pat.tokens ENABLE ALWAYS TRIGGER tokens_before_truncate;
REVOKE ALL ON FUNCTION pat.tokens_before_delete() FROM PUBLIC;

-- varchar overloads of the functions applications pass tokens and scopes to (issue 22 item 15) ====
-- A client binding strings as varchar (JDBC's default) calls an exact match in any schema on
-- its search_path before pg_pat's text functions, so an overload in a schema a role can write
-- to (public) took its tokens. With exact matches in pg_pat's schema, such an overload later on
-- the search_path no longer wins.
CREATE FUNCTION @extschema@.pat_validate(token varchar, required_scopes text[] DEFAULT '{}',
    OUT valid boolean, OUT status text, OUT token_id uuid, OUT user_id text,
    OUT token_name text, OUT scopes text[], OUT expires_at timestamptz)
AS 'MODULE_PATHNAME', 'pat_validate'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pat_validate(varchar, text[]) IS
    'pat_validate(text, text[]) for clients binding varchar';

CREATE FUNCTION @extschema@.pat_authenticate(token varchar, required_scopes text[] DEFAULT '{}')
RETURNS text
AS 'MODULE_PATHNAME', 'pat_authenticate'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pat_authenticate(varchar, text[]) IS
    'pat_authenticate(text, text[]) for clients binding varchar';

CREATE FUNCTION @extschema@.pat_has_scope(scope varchar) RETURNS boolean
AS 'MODULE_PATHNAME', 'pat_has_scope'
LANGUAGE C STABLE PARALLEL RESTRICTED;

CREATE FUNCTION @extschema@.pat_require_scope(scope varchar) RETURNS void
AS 'MODULE_PATHNAME', 'pat_require_scope'
LANGUAGE C STABLE PARALLEL RESTRICTED;

INSERT INTO pat.profile_functions (function_signature, least_profile) VALUES
    ('pat_validate(varchar, text[])', 'validator'),
    ('pat_authenticate(varchar, text[])', 'validator'),
    ('pat_has_scope(varchar)', 'validator'),
    ('pat_require_scope(varchar)', 'validator');
REVOKE ALL ON FUNCTION
    @extschema@.pat_validate(varchar, text[]),
    @extschema@.pat_authenticate(varchar, text[]),
    @extschema@.pat_has_scope(varchar),
    @extschema@.pat_require_scope(varchar)
FROM PUBLIC;

-- Whoever may run the text function may run its varchar twin: a client binding varchar now
-- calls the twin, and must not lose access with the update.
DO $$
DECLARE
    grant_to record;
BEGIN
    FOR grant_to IN
        SELECT f.new_function, pg_catalog.quote_ident(r.rolname) AS grantee
        FROM (VALUES
                ('pat_validate(text, text[])', 'pat_validate(varchar, text[])'),
                ('pat_authenticate(text, text[])', 'pat_authenticate(varchar, text[])'),
                ('pat_has_scope(text)', 'pat_has_scope(varchar)'),
                ('pat_require_scope(text)', 'pat_require_scope(varchar)'))
             AS f(text_function, new_function),
             pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a, pg_catalog.pg_roles r
        WHERE p.oid = pg_catalog.to_regprocedure('@extschema@.' || f.text_function)
          AND a.privilege_type = 'EXECUTE' AND r.oid = a.grantee AND a.grantee <> p.proowner
        ORDER BY 1, 2
    LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %I.%s TO %s', '@extschema@',
                                  grant_to.new_function, grant_to.grantee);
    END LOOP;
END
$$;

-- The warning about a writable API schema names an overload pg_pat does not ship itself.
CREATE OR REPLACE FUNCTION pat.warn_if_schema_writable(schema regnamespace) RETURNS boolean
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
        USING DETAIL = 'Such a role can add an overload, e.g. pat_authenticate(varchar, '
                       'varchar[]), that clients binding those types call instead.',
              HINT = 'Install pg_pat in a schema only superusers can create in: CREATE SCHEMA '
                     'pat_api; CREATE EXTENSION pg_pat SCHEMA pat_api; or REVOKE CREATE ON '
                     'SCHEMA ' || schema || ' from those roles.';
    RETURN true;
END
$$;

-- Expiries a restore can read (issue 22 item 3) ====
-- pat_rotate could carry a lifetime past the last valid timestamptz; such a value is written
-- by pg_dump as text COPY refuses, so the restore of pat.tokens would fail. It is brought back
-- to the last valid time (shortening an expiry is allowed and audited); +infinity, which the
-- API reads as never, is stored as never.
UPDATE pat.tokens SET expires_at = '294276-12-31 23:59:59.999999+00'
 WHERE expires_at OPERATOR(pg_catalog.>) '294276-12-31 23:59:59.999999+00'
   AND expires_at OPERATOR(pg_catalog.<>) 'infinity';
UPDATE pat.tokens SET expires_at = NULL
 WHERE expires_at OPERATOR(pg_catalog.=) 'infinity';

-- Bounded times in pat_merge_usage (issue 22 item 11) ====
-- The one place usage reaches the tables: from this node's worker, from pat_flush_usage(), and
-- from a standby's worker over libpq. Last use only moves forward; counts add up. Tokens deleted
-- meanwhile are skipped. Returns how many tokens it wrote.
--
-- Times are bounded, since what is written decides pat.max_inactivity and reuse notices. A
-- standby's clock may run ahead of this one, and uses made after this transaction began reach
-- it, so 5 minutes past now() are taken as they are; a later use (even 'infinity', which would
-- exempt a token from inactivity for ever) is recorded as now(), and a later check day as
-- today (UTC). A use from more than 5 minutes before its token was created, or a check more
-- than a day before, cannot have happened and is skipped. Both with a LOG line, never an
-- error: a batch refused for one row would be retried, and refused, for ever, losing every use
-- in it. A refused check (revoked, expired) counts as reuse after rotation only if its day is
-- not before the day the token stopped working.
CREATE OR REPLACE FUNCTION @extschema@.pat_merge_usage(
    used_token_ids uuid[], used_at timestamptz[],
    checked_token_ids uuid[], checked_days date[], checked_outcomes text[],
    checked_counts bigint[])
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    skew CONSTANT interval := '5 minutes';
    latest CONSTANT timestamptz := now() OPERATOR(pg_catalog.+) skew;
    today CONSTANT date := (now() AT TIME ZONE 'UTC')::date;
    latest_day CONSTANT date := (latest AT TIME ZONE 'UTC')::date;
    clamped_uses bigint;
    skipped_uses bigint;
    clamped_checks bigint;
    skipped_checks bigint;
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

    WITH sent AS (
        SELECT m.token_id, m.used_at AS sent_at,
               CASE WHEN m.used_at OPERATOR(pg_catalog.>) latest THEN now()
                    ELSE m.used_at END AS bounded_at
        FROM unnest(used_token_ids, used_at) AS m(token_id, used_at)
        WHERE m.used_at IS NOT NULL),
    judged AS (
        -- bounded_at is at most latest: adding the skew cannot leave the range.
        SELECT s.token_id, s.sent_at, s.bounded_at,
               s.bounded_at OPERATOR(pg_catalog.+) skew
                   OPERATOR(pg_catalog.>=) t.created_at AS plausible
        FROM sent s JOIN pat.tokens t ON t.token_id OPERATOR(pg_catalog.=) s.token_id),
    merged AS (
        INSERT INTO pat.token_usage AS u (token_id, last_used_at)
        SELECT j.token_id, max(j.bounded_at) FROM judged j WHERE j.plausible
        GROUP BY j.token_id
        ON CONFLICT (token_id) DO UPDATE SET last_used_at = excluded.last_used_at
        WHERE u.last_used_at IS NULL
           OR u.last_used_at OPERATOR(pg_catalog.<) excluded.last_used_at
        RETURNING 1)
    SELECT count(*) FILTER (WHERE j.sent_at OPERATOR(pg_catalog.>) latest),
           count(*) FILTER (WHERE NOT j.plausible)
    INTO clamped_uses, skipped_uses
    FROM judged j;

    WITH sent AS (
        SELECT m.token_id, m.outcome, m.checks, m.day AS sent_day,
               CASE WHEN m.day OPERATOR(pg_catalog.>) latest_day THEN today
                    ELSE m.day END AS bounded_day
        FROM unnest(checked_token_ids, checked_days, checked_outcomes, checked_counts)
             AS m(token_id, day, outcome, checks)
        WHERE m.checks OPERATOR(pg_catalog.>) 0),
    judged AS (
        -- bounded_day is at most latest_day: adding a day cannot leave the range. A check
        -- counted for the whole database (token_id NULL) has no creation to be after.
        SELECT s.*,
               s.bounded_day IS NOT NULL
               AND s.bounded_day OPERATOR(pg_catalog.>) '-infinity'::date
               AND (s.token_id IS NULL
                    OR s.bounded_day OPERATOR(pg_catalog.+) 1
                       OPERATOR(pg_catalog.>=) (t.created_at AT TIME ZONE 'UTC')::date)
                   AS plausible
        FROM sent s LEFT JOIN pat.tokens t ON t.token_id OPERATOR(pg_catalog.=) s.token_id
        WHERE s.token_id IS NULL OR t.token_id IS NOT NULL),
    merged AS (
        INSERT INTO pat.token_checks AS c (token_id, day, outcome, checks)
        SELECT j.token_id, j.bounded_day, j.outcome, sum(j.checks)::bigint
        FROM judged j WHERE j.plausible
        GROUP BY j.token_id, j.bounded_day, j.outcome
        ON CONFLICT ON CONSTRAINT token_checks_key
        DO UPDATE SET checks = c.checks OPERATOR(pg_catalog.+) excluded.checks
        RETURNING 1)
    SELECT count(*) FILTER (WHERE j.sent_day OPERATOR(pg_catalog.>) latest_day),
           count(*) FILTER (WHERE NOT j.plausible)
    INTO clamped_checks, skipped_checks
    FROM judged j;

    IF clamped_uses OPERATOR(pg_catalog.>) 0 OR skipped_uses OPERATOR(pg_catalog.>) 0
       OR clamped_checks OPERATOR(pg_catalog.>) 0 OR skipped_checks OPERATOR(pg_catalog.>) 0 THEN
        RAISE LOG 'pg_pat: pat_merge_usage recorded % uses and % check days later than now() + 5 minutes as now, and skipped % uses and % checks from before their token existed',
            clamped_uses, clamped_checks, skipped_uses, skipped_checks;
    END IF;

    -- Checks refused with a token that has a successor: reuse after rotation (1.8), if made
    -- no earlier than the day the token stopped working.
    PERFORM pat.record_reuse_after_rotation(array_agg(DISTINCT n.token_id))
    FROM unnest(checked_token_ids, checked_days, checked_outcomes, checked_counts)
         AS n(token_id, day, outcome, checks)
    JOIN pat.tokens t ON t.token_id OPERATOR(pg_catalog.=) n.token_id
    WHERE n.checks OPERATOR(pg_catalog.>) 0
      AND n.day OPERATOR(pg_catalog.<=) latest_day
      AND CASE n.outcome
          WHEN 'revoked' THEN t.revoked_at IS NOT NULL
              AND LEAST(n.day, latest_day) OPERATOR(pg_catalog.+) 1
                  OPERATOR(pg_catalog.>=) (t.revoked_at AT TIME ZONE 'UTC')::date
          WHEN 'expired' THEN t.expires_at OPERATOR(pg_catalog.<=) now()
              AND LEAST(n.day, latest_day) OPERATOR(pg_catalog.+) 1
                  OPERATOR(pg_catalog.>=) (t.expires_at AT TIME ZONE 'UTC')::date
          ELSE false END
    HAVING count(*) OPERATOR(pg_catalog.>) 0;

    SELECT count(DISTINCT t.token_id) INTO written
    FROM pat.tokens t
    WHERE t.token_id OPERATOR(pg_catalog.=) ANY (used_token_ids || checked_token_ids);
    RETURN written;
END
$$;
COMMENT ON FUNCTION @extschema@.pat_merge_usage(uuid[], timestamptz[], uuid[], date[], text[],
                                                 bigint[]) IS
    'internal: merge a batch of usage (pg_pat''s worker, and standbys over libpq as a role with the admin profile); last uses after now() + 5 minutes are recorded as now(), uses and checks from before their token existed are skipped';

-- The audit log's guards and tokens_audit fire in replica mode too (issue 22 item 6) ====

-- session_replication_role = replica (a superuser's, or logical replication's apply) skips
-- ordinary triggers, and must not skip these.
ALTER TABLE pat.audit_log ENABLE ALWAYS TRIGGER audit_log_append_only;
ALTER TABLE pat.audit_log ENABLE ALWAYS TRIGGER audit_log_no_truncate;
ALTER TABLE pat.audit_pending ENABLE ALWAYS TRIGGER audit_pending_append_only;
ALTER TABLE pat.audit_pending ENABLE ALWAYS TRIGGER audit_pending_no_truncate;
ALTER TABLE pat.tokens ENABLE ALWAYS TRIGGER tokens_audit;

-- pg_pat's event trigger fires in replica mode too (issue 22 item 6) ====

-- A pat_audit() trigger disabled under session_replication_role = replica is recorded too.
ALTER EVENT TRIGGER pat_audit_trigger_changes ENABLE ALWAYS;

-- Auditing switched off by other paths is recorded (issue 22 item 7) ====

-- A CREATE OR REPLACE TRIGGER that stops a pat_audit() trigger recording, and a partition
-- detached from an audited table, are recorded (by the library's utility hook); so are
-- pat_audit() triggers dropped by DROP SCHEMA ... CASCADE or DROP OWNED, and TRUNCATE of a
-- partition, with existing actions.
COMMENT ON COLUMN pat.audit_log.action IS
    'created, renamed, scopes_changed, expiry_changed, revoked, deleted, rotated, reuse_after_rotation, revoked_leaked, revoked_inactive (token lifecycle); role_granted, role_revoked, role_defined, scope_defined; insert, update, delete, truncate (pat_audit); audit_trigger_disabled, audit_trigger_dropped, audit_trigger_replaced, audit_partition_detached; audit_purged';

-- The chain's head anchored by the linker, checked by pat_audit_verify() (issue 22 item 6) ====

-- The head of the chain as the linker last linked it: seq and row_hash of the last row, written
-- in the same transaction (by pg_pat's linker only, no trigger fired). pat_audit_verify() checks
-- the log against it, so rows deleted from the tail are found. No row until the first link.
CREATE TABLE pat.audit_head (
    seq      bigint NOT NULL,
    row_hash bytea NOT NULL
);
COMMENT ON TABLE pat.audit_head IS
    'the chain''s head (seq, row_hash of its last row) as pg_pat''s linker last linked it, in the same transaction: pat_audit_verify() finds a deleted tail against it';
-- The current head, under the chain lock so that no linker links past it before this commits.
SELECT FROM pat.audit_chain_head FOR UPDATE;
INSERT INTO pat.audit_head (seq, row_hash)
SELECT l.seq, l.row_hash FROM pat.audit_log l ORDER BY l.seq DESC LIMIT 1;
SELECT pg_catalog.pg_extension_config_dump('pat.audit_head', '');
-- Written by the linker only (a superuser's COPY, as pg_restore loads it, is let in).
CREATE TRIGGER audit_head_linker_only BEFORE INSERT OR UPDATE OR DELETE ON pat.audit_head
    FOR EACH ROW EXECUTE FUNCTION pat.audit_log_append_only();
CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON pat.audit_head
    FOR EACH STATEMENT EXECUTE FUNCTION pat.audit_log_append_only();
ALTER TABLE pat.audit_head ENABLE ALWAYS TRIGGER audit_head_linker_only;
ALTER TABLE pat.audit_head ENABLE ALWAYS TRIGGER audit_head_no_truncate;
REVOKE ALL ON pat.audit_head FROM PUBLIC;

CREATE OR REPLACE FUNCTION @extschema@.pat_audit_verify()
RETURNS TABLE (ok boolean, checked bigint, first_broken_seq bigint, detail text,
               row_count bigint, head_seq bigint, head_hash text, unlinked bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    first_seq bigint := 1;
    anchor bytea;
    purge record;
    broken record;
    head record;
    anchored record;
    at_anchor bytea;
    total bigint;
    waiting bigint;
BEGIN
    -- After a purge the chain starts where the latest audit_purged row says, at its anchor.
    SELECT l.seq, (l.new_data ->> 'through_seq')::bigint AS through_seq,
           decode(l.new_data ->> 'anchor', 'hex') AS anchor
    INTO purge
    FROM pat.audit_log l
    WHERE l.action = 'audit_purged'
    ORDER BY l.seq DESC
    LIMIT 1;
    IF FOUND THEN
        first_seq := purge.through_seq + 1;
        anchor := purge.anchor;
    END IF;

    -- Each row is checked against its predecessor (or, for the first, the purge anchor); the
    -- first problem in seq order is reported, a gap before a bad row it precedes.
    SELECT c.at_seq, c.problem INTO broken
    FROM (SELECT l.seq, l.prev_hash, l.row_hash,
                 COALESCE(lag(l.seq) OVER w + 1, first_seq) AS expected_seq,
                 CASE WHEN lag(l.seq) OVER w IS NULL THEN anchor
                      ELSE lag(l.row_hash) OVER w END AS expected_prev,
                 pat.audit_hash(l.prev_hash, l.seq, l.occurred_at, l.user_id, l.token_id,
                                l.token_name, l.actor, l.action, l.table_name, l.old_data,
                                l.new_data, l.db_role, l.session_role, l.txid) AS recomputed
          FROM pat.audit_log l
          WINDOW w AS (ORDER BY l.seq)) AS r
    CROSS JOIN LATERAL (
        SELECT 1 AS rank, r.expected_seq AS at_seq,
               format('rows %s to %s are missing', r.expected_seq, r.seq - 1) AS problem
        WHERE r.seq > r.expected_seq
        UNION ALL
        SELECT 2, r.seq, format('row %s is out of sequence', r.seq)
        WHERE r.seq < r.expected_seq
        UNION ALL
        SELECT 3, r.seq, format('row %s was modified', r.seq)
        WHERE r.row_hash IS DISTINCT FROM r.recomputed
        UNION ALL
        SELECT 4, r.seq, format('row %s does not link to row %s', r.seq, r.seq - 1)
        WHERE r.prev_hash IS DISTINCT FROM r.expected_prev
    ) AS c
    ORDER BY c.at_seq, c.rank
    LIMIT 1;

    -- The head, to be anchored outside the database, and what still waits for the linker.
    SELECT l.seq, l.row_hash, encode(l.row_hash, 'hex') AS hash INTO head
    FROM pat.audit_log l ORDER BY l.seq DESC LIMIT 1;

    -- The log must end at the head the linker anchored when it last linked: rows deleted from
    -- the tail leave it short, rows added past it were not linked by pg_pat.
    SELECT h.seq, h.row_hash INTO anchored FROM pat.audit_head h;
    IF broken IS NULL AND FOUND THEN
        SELECT l.row_hash INTO at_anchor FROM pat.audit_log l WHERE l.seq = anchored.seq;
        IF head.seq IS NULL OR head.seq < anchored.seq THEN
            SELECT COALESCE(head.seq + 1, first_seq) AS at_seq,
                   format('rows %s to %s are missing: the log ends before its anchored head',
                          COALESCE(head.seq + 1, first_seq), anchored.seq) AS problem
            INTO broken;
        ELSIF at_anchor IS DISTINCT FROM anchored.row_hash THEN
            SELECT anchored.seq AS at_seq,
                   format('row %s is not the anchored head', anchored.seq) AS problem
            INTO broken;
        ELSIF head.seq > anchored.seq THEN
            SELECT anchored.seq + 1 AS at_seq,
                   format('rows %s to %s are past the anchored head', anchored.seq + 1, head.seq)
                       AS problem
            INTO broken;
        END IF;
    END IF;
    SELECT count(*) INTO total FROM pat.audit_log;
    SELECT count(*) INTO waiting FROM pat.audit_pending;

    IF broken IS NULL THEN
        RETURN QUERY SELECT true, total, NULL::bigint, NULL::text, total, head.seq, head.hash,
                            waiting;
    ELSE
        RETURN QUERY
        SELECT false, (SELECT count(*) FROM pat.audit_log l WHERE l.seq < broken.at_seq),
               broken.at_seq, broken.problem, total, head.seq, head.hash, waiting;
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.pat_audit_verify() IS
    'walk the audit hash chain in seq order: ok, rows checked, the first broken seq with what is wrong (an edit, a gap, a bad link, a tail missing or added against the head the linker anchored in pat.audit_head); the row count and head (seq, hex row_hash) to anchor outside the database; rows not yet linked';

-- An audit row that nothing can stop from linking (issue 22 item 5) ====
-- pat.audit_hash() is computed in C, as the linker computes it: the row's JSON text is written
-- straight into the hash, never held whole, and hashed as UTF-8 when it is UTF-8 (every row
-- linked so far keeps its hash), else as 0xFF and the bytes as stored.
CREATE OR REPLACE FUNCTION pat.audit_hash(prev_hash bytea, seq bigint, occurred_at timestamptz,
                                          user_id text, token_id uuid, token_name text,
                                          actor text, action text, table_name text,
                                          old_data jsonb, new_data jsonb, db_role text,
                                          session_role text, txid bigint)
RETURNS bytea
AS 'MODULE_PATHNAME', 'pat_audit_hash'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION pat.audit_hash(bytea, bigint, timestamptz, text, uuid, text, text, text, text,
                                   jsonb, jsonb, text, text, bigint) IS
    'row_hash of an audit row: sha256(prev_hash || its columns as canonical JSON text, as UTF-8; 0xff and the text as stored when it is not UTF-8)';

-- Per-user creation locks (issue 22 item 8) ================================================
-- pat.max_active_tokens_per_user: a creation for a user first inserts or updates the user's
-- row here, then counts the user's active tokens. Creations for one user so wait for each
-- other, and under REPEATABLE READ or SERIALIZABLE a creation whose snapshot misses another's
-- fails with 40001 (the row was updated after the snapshot) instead of counting without it.
-- Only the owner may lock a row (no role can hold up a user's creations), and no data is
-- dumped: the rows hold nothing but the lock.
CREATE TABLE pat.user_token_locks (
    user_id    text PRIMARY KEY,
    counted_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE pat.user_token_locks IS
    'one row per user whose tokens were counted for pat.max_active_tokens_per_user: creations for the user lock it';
REVOKE ALL ON pat.user_token_locks FROM PUBLIC;

SELECT pat.warn_if_schema_writable('@extschema@');
