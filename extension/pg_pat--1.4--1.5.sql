-- pg_pat 1.5: audit that costs no more than a hand-written trigger, never blocks a revocation,
-- and records every change of what a token may do.
--
-- Audit rows are appended to pat.audit_pending without any shared lock and linked into the
-- hash chain, in link order, by pg_pat's background worker shortly after commit
-- (pat.audit_link_delay); pat_audit_link() links at once. The chain lock is the linker's alone,
-- so no application transaction, revocation or token creation waits for another's audit rows.
-- Role grants, revocations and definitions and scope definitions are audit rows; so are a
-- TRUNCATE of an audited table (pat_audit_truncate) and a pat_audit() trigger being disabled
-- or dropped (the event trigger pat_audit_trigger_changes). Rows enter the log only through
-- pg_pat, and the log's tables can be altered only by pg_pat's scripts. pat_audit_verify()
-- also returns the row count, the head and the rows not yet linked.

\echo Use "ALTER EXTENSION pg_pat UPDATE TO '1.5'" to load this file. \quit

SELECT pat.require_preloaded();

-- Pending rows ------------------------------------------------------------------------------

-- Every audit row is appended here by its transaction, without any shared lock, and moved into
-- pat.audit_log, linked, after commit (see docs/audit.md). batch: one per transaction, drawn at
-- its first row; ordinal: the row's place in its transaction. No index: the linker reads the
-- whole table, which holds a delay's worth of rows.
CREATE SEQUENCE pat.audit_batch_seq;
COMMENT ON SEQUENCE pat.audit_batch_seq IS
    'one number per transaction with audit rows, drawn at its first row: the link order';
CREATE TABLE pat.audit_pending (
    batch        bigint NOT NULL,
    ordinal      integer NOT NULL,
    occurred_at  timestamptz NOT NULL,
    user_id      text,
    token_id     uuid,
    token_name   text,
    actor        text,
    action       text NOT NULL,
    table_name   text,
    old_data     jsonb,
    new_data     jsonb,
    db_role      text NOT NULL,
    session_role text NOT NULL,
    txid         bigint NOT NULL
);
COMMENT ON TABLE pat.audit_pending IS
    'audit rows committed but not yet linked into pat.audit_log (by pg_pat''s worker, within pat.audit_link_delay)';
-- pg_dump keeps rows not yet linked and the batch numbers; a restore links them.
SELECT pg_catalog.pg_extension_config_dump('pat.audit_pending', '');
SELECT pg_catalog.pg_extension_config_dump('pat.audit_batch_seq', '');

-- pg_pat's writer and linker fire no trigger; everyone else's INSERT, UPDATE, DELETE and
-- TRUNCATE is refused (a superuser's COPY, as pg_restore runs it, is let in).
CREATE TRIGGER audit_pending_append_only BEFORE INSERT OR UPDATE OR DELETE ON pat.audit_pending
    FOR EACH ROW EXECUTE FUNCTION pat.audit_log_append_only();
CREATE TRIGGER audit_pending_no_truncate BEFORE TRUNCATE ON pat.audit_pending
    FOR EACH STATEMENT EXECUTE FUNCTION pat.audit_log_append_only();

-- Linking -----------------------------------------------------------------------------------

CREATE FUNCTION @extschema@.pat_audit_link() RETURNS bigint
AS 'MODULE_PATHNAME', 'pat_audit_link'
LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION @extschema@.pat_audit_link() IS
    'link the committed audit rows into the hash chain now (pg_pat''s worker does it within pat.audit_link_delay of each commit); how many';

-- Disabling or dropping a pat_audit() trigger is recorded -----------------------------------

CREATE FUNCTION pat.audit_trigger_changes() RETURNS event_trigger
AS 'MODULE_PATHNAME', 'pat_audit_trigger_changes'
LANGUAGE C;
CREATE EVENT TRIGGER pat_audit_trigger_changes ON ddl_command_start
    WHEN TAG IN ('ALTER TABLE', 'DROP TRIGGER', 'DROP TABLE')
    EXECUTE FUNCTION pat.audit_trigger_changes();
COMMENT ON EVENT TRIGGER pat_audit_trigger_changes IS
    'records a pat_audit() trigger being disabled or dropped, with the role that does it';

INSERT INTO pat.profile_functions (function_signature, least_profile) VALUES
    ('pat_audit_link()', 'admin');
REVOKE ALL ON pat.audit_pending, pat.audit_batch_seq FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.pat_audit_link(), pat.audit_trigger_changes() FROM PUBLIC;

-- The log refuses rows from anyone but pg_pat (which fires no trigger) ------------------------

DROP TRIGGER audit_log_append_only ON pat.audit_log;
CREATE TRIGGER audit_log_append_only BEFORE INSERT OR UPDATE OR DELETE ON pat.audit_log
    FOR EACH ROW EXECUTE FUNCTION pat.audit_log_append_only();
COMMENT ON TABLE pat.audit_log IS
    'append-only audit log: token lifecycle, role and scope changes and audited row changes, hash-chained in seq order';
COMMENT ON COLUMN pat.audit_log.seq IS
    'position in the hash chain: gapless, in link order (each transaction''s rows together, in order)';
COMMENT ON COLUMN pat.audit_log.occurred_at IS 'when the row was written (clock_timestamp())';
COMMENT ON COLUMN pat.audit_log.action IS
    'created, renamed, scopes_changed, expiry_changed, revoked, deleted (token lifecycle); role_granted, role_revoked, role_defined, scope_defined; insert, update, delete, truncate (pat_audit); audit_trigger_disabled, audit_trigger_dropped; audit_purged';
COMMENT ON TABLE pat.audit_chain_head IS
    'one row, locked by the linker (pg_pat''s worker, pat_audit_link, pat_audit_purge) while it links: serializes the hash chain';

-- The 1.1 lifecycle writer, replaced by the C trigger pat.tokens_audit() in 1.4.
DROP FUNCTION pat.audit_write(text, text, text, uuid, text, jsonb, jsonb);

-- TRUNCATE of audited tables -----------------------------------------------------------------

-- Attaches (or replaces) the triggers pat_audit (row changes) and pat_audit_truncate (TRUNCATE,
-- one row per statement) on a table. SECURITY INVOKER on purpose: the caller needs the TRIGGER
-- privilege on the table and EXECUTE on pat_audit(), as CREATE TRIGGER itself requires; it
-- needs nothing in schema pat.
CREATE OR REPLACE FUNCTION @extschema@.pat_audit_table(target regclass,
                                                       record_without_token boolean DEFAULT false,
                                                       exclude text[] DEFAULT '{}')
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    missing text;
    args text;
BEGIN
    IF target IS NULL OR record_without_token IS NULL OR exclude IS NULL
       OR array_position(exclude, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'pat_audit_table() arguments must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_class c
                   WHERE c.oid OPERATOR(pg_catalog.=) target AND c.relkind IN ('r', 'p', 'f')) THEN
        RAISE EXCEPTION '"%" is not a table', target USING ERRCODE = 'wrong_object_type';
    END IF;
    SELECT e INTO missing FROM unnest(exclude) AS e
    WHERE NOT EXISTS (SELECT 1 FROM pg_attribute a
                      WHERE a.attrelid OPERATOR(pg_catalog.=) target
                        AND a.attname OPERATOR(pg_catalog.=) e
                        AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped)
    LIMIT 1;
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'column "%" of "%" does not exist', missing, target
            USING ERRCODE = 'undefined_column';
    END IF;
    -- One trigger argument per excluded column, each a quoted literal.
    SELECT string_agg(quote_literal(a), ', ' ORDER BY a OPERATOR(pg_catalog.<>) 'always', a)
    INTO args
    FROM (SELECT 'always' AS a WHERE record_without_token
          UNION
          SELECT 'exclude=' OPERATOR(pg_catalog.||) e FROM unnest(exclude) AS e) AS trigger_args;
    -- target::text is quoted and, with this search_path, schema-qualified.
    EXECUTE format('CREATE OR REPLACE TRIGGER pat_audit AFTER INSERT OR UPDATE OR DELETE ON %s'
                   ' FOR EACH ROW EXECUTE FUNCTION %I.pat_audit(%s)',
                   target, '@extschema@', coalesce(args, ''));
    EXECUTE format('CREATE OR REPLACE TRIGGER pat_audit_truncate AFTER TRUNCATE ON %s'
                   ' FOR EACH STATEMENT EXECUTE FUNCTION %I.pat_audit(%s)',
                   target, '@extschema@', coalesce(args, ''));
END
$$;
COMMENT ON FUNCTION @extschema@.pat_audit_table(regclass, boolean, text[]) IS
    'audit a table with pat_audit(): row changes and TRUNCATE made with a token (or all, with record_without_token), leaving out the exclude columns';


CREATE OR REPLACE FUNCTION @extschema@.pat_audit_table_off(target regclass) RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF target IS NULL THEN
        RAISE EXCEPTION 'target must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_trigger t
                   WHERE t.tgrelid OPERATOR(pg_catalog.=) target
                     AND t.tgname OPERATOR(pg_catalog.=) 'pat_audit'
                     AND t.tgparentid OPERATOR(pg_catalog.=) 0) THEN
        RETURN false;
    END IF;
    EXECUTE format('DROP TRIGGER pat_audit ON %s', target);
    EXECUTE format('DROP TRIGGER IF EXISTS pat_audit_truncate ON %s', target);
    RETURN true;
END
$$;
COMMENT ON FUNCTION @extschema@.pat_audit_table_off(regclass) IS
    'stop auditing a table (drop its pat_audit triggers); false if it had none';

COMMENT ON FUNCTION @extschema@.pat_audit() IS
    'AFTER INSERT OR UPDATE OR DELETE FOR EACH ROW and AFTER TRUNCATE FOR EACH STATEMENT trigger: records changes made with a token; arguments ''always'' and ''exclude=<column>''';

-- Tables audited before 1.5 get their TRUNCATE trigger, with the same arguments.
DO $$
DECLARE
    audited record;
BEGIN
    FOR audited IN
        SELECT t.tgrelid::regclass AS target,
               substring(pg_get_triggerdef(t.oid) FROM 'EXECUTE FUNCTION (.*)$') AS call
        FROM pg_trigger t
        WHERE t.tgname = 'pat_audit' AND t.tgparentid = 0
          AND t.tgfoid = '@extschema@.pat_audit()'::regprocedure
    LOOP
        EXECUTE format('CREATE OR REPLACE TRIGGER pat_audit_truncate AFTER TRUNCATE ON %s'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION %s', audited.target, audited.call);
    END LOOP;
END
$$;

-- Verification: the head and the rows not yet linked --------------------------------------

-- A new result type needs a new function; whoever could run the old one can run the new one.
SELECT pg_catalog.set_config('pg_pat_update.verify_grantees',
    COALESCE((SELECT pg_catalog.string_agg(pg_catalog.quote_ident(r.rolname), ', ')
              FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a, pg_catalog.pg_roles r
              WHERE p.oid = '@extschema@.pat_audit_verify()'::regprocedure
                AND a.privilege_type = 'EXECUTE' AND r.oid = a.grantee
                AND a.grantee <> p.proowner), ''), true);
DROP FUNCTION @extschema@.pat_audit_verify();
CREATE FUNCTION @extschema@.pat_audit_verify()
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
    SELECT l.seq, encode(l.row_hash, 'hex') AS hash INTO head
    FROM pat.audit_log l ORDER BY l.seq DESC LIMIT 1;
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
    'walk the audit hash chain in seq order: ok, rows checked, the first broken seq with what is wrong (an edit, a gap, a bad link); the row count and head (seq, hex row_hash) to anchor outside the database; rows not yet linked';
REVOKE ALL ON FUNCTION @extschema@.pat_audit_verify() FROM PUBLIC;
DO $$
BEGIN
    IF current_setting('pg_pat_update.verify_grantees') <> '' THEN
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %s', '@extschema@.pat_audit_verify()',
                       current_setting('pg_pat_update.verify_grantees'));
    END IF;
END
$$;

SELECT pat.warn_if_schema_writable('@extschema@');
