-- pg_pat 1.9: trust off the happy path (issue 22).

\echo Use "ALTER EXTENSION pg_pat UPDATE TO '1.9'" to load this file. \quit

SELECT pat.require_preloaded();

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
