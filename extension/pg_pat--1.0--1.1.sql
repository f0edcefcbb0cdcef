-- pg_pat 1.1: the audit log.
--
-- Every token lifecycle event (row triggers on pat.tokens) and every row change an application
-- makes on a table it audits with pat_audit() inside a pat_authenticate() context is appended to
-- pat.audit_log, attributed to the token's user and name. The log is append-only for every role;
-- pat_audit_purge() is the only way rows leave it, and it records itself. Each row carries a
-- SHA-256 hash chained to the previous row's; pat_audit_verify() finds the first broken link.
--
-- All rows are written by one C function (see src/pg/audit_writer.cpp). A transaction's first
-- append takes a row lock on the single row of pat.audit_chain_head, held until it ends, and
-- reads the chain's last row with a snapshot taken after the lock; every append goes after the
-- last one: seq is gapless and the chain order is the commit order, at the price of
-- serializing transactions that write audit rows (docs/audit.md has the numbers).

\echo Use "ALTER EXTENSION pg_pat UPDATE TO '1.1'" to load this file. \quit

-- Tables ------------------------------------------------------------------------------------

CREATE TABLE pat.audit_log (
    seq          bigint PRIMARY KEY,
    occurred_at  timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
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
    txid         bigint NOT NULL,
    prev_hash    bytea,
    row_hash     bytea NOT NULL
);
COMMENT ON TABLE pat.audit_log IS
    'append-only audit log: token lifecycle and audited row changes, hash-chained in seq order';
COMMENT ON COLUMN pat.audit_log.seq IS 'position in the hash chain: gapless, in commit order';
-- No CHECK constraint: each append runs its own executor, which would parse it again every
-- time (a fifth of an append's cost); the C writers only ever write the actions below.
COMMENT ON COLUMN pat.audit_log.action IS
    'created, renamed, scopes_changed, expiry_changed, revoked, deleted (token lifecycle); insert, update, delete (pat_audit); audit_purged';
COMMENT ON COLUMN pat.audit_log.user_id IS
    'the token''s user: for row changes the authenticated token, for lifecycle rows the token changed';
COMMENT ON COLUMN pat.audit_log.actor IS
    'who acted for the user: pat_set_actor(), else the authenticated user when not user_id';
COMMENT ON COLUMN pat.audit_log.table_name IS
    'schema-qualified, quoted as format(''%I.%I''); the root table for a partition';
COMMENT ON COLUMN pat.audit_log.db_role IS
    'the SQL role that ran it (SET ROLE applies, SECURITY DEFINER functions do not)';
COMMENT ON COLUMN pat.audit_log.session_role IS 'session_user';
COMMENT ON COLUMN pat.audit_log.txid IS 'txid_current() of the writing transaction';
COMMENT ON COLUMN pat.audit_log.prev_hash IS 'row_hash of the previous row; NULL for the first';
COMMENT ON COLUMN pat.audit_log.row_hash IS 'pat.audit_hash() of this row';

-- "What did token X do between issue and revoke": token_id = X ORDER BY occurred_at.
CREATE INDEX audit_log_token_idx ON pat.audit_log (token_id, occurred_at);
-- "Which tokens of user U touched table T": row changes only, lifecycle rows have no table.
CREATE INDEX audit_log_user_table_idx ON pat.audit_log (user_id, table_name, token_id)
    WHERE table_name IS NOT NULL;
-- Time windows over the whole log; tiny, since occurred_at grows with seq.
CREATE INDEX audit_log_occurred_at_idx ON pat.audit_log USING brin (occurred_at);

-- The row every audit append locks until commit. It is only ever locked, never updated, so a
-- REPEATABLE READ or SERIALIZABLE writer that waited for it does not fail with a serialization
-- error; the chain's tail is read from pat.audit_log itself.
CREATE TABLE pat.audit_chain_head (
    id boolean PRIMARY KEY DEFAULT true CHECK (id)
);
COMMENT ON TABLE pat.audit_chain_head IS
    'one row, locked by every audit append until commit: serializes the hash chain';
INSERT INTO pat.audit_chain_head DEFAULT VALUES;

-- pg_dump keeps the log; the chain head is recreated by CREATE EXTENSION and holds no data.
SELECT pg_catalog.pg_extension_config_dump('pat.audit_log', '');

-- The hash chain -----------------------------------------------------------------------------

-- The hash of one audit row: SHA-256 of prev_hash followed by the UTF-8 text of a JSON array of
-- the row's other columns (occurred_at as epoch seconds with microseconds). Every part is
-- independent of session settings, so anyone can recompute it with plain SQL.
CREATE FUNCTION pat.audit_hash(prev_hash bytea, seq bigint, occurred_at timestamptz,
                               user_id text, token_id uuid, token_name text, actor text,
                               action text, table_name text, old_data jsonb, new_data jsonb,
                               db_role text, session_role text, txid bigint)
RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE
RETURN pg_catalog.sha256(
    COALESCE(prev_hash, ''::bytea) OPERATOR(pg_catalog.||)
    pg_catalog.convert_to(
        pg_catalog.jsonb_build_array(
            seq, EXTRACT(EPOCH FROM occurred_at), user_id, token_id, token_name, actor, action,
            table_name, old_data, new_data, db_role, session_role, txid)::text,
        'UTF8'));
COMMENT ON FUNCTION pat.audit_hash(bytea, bigint, timestamptz, text, uuid, text, text, text, text,
                                   jsonb, jsonb, text, text, bigint) IS
    'row_hash of an audit row: sha256(prev_hash || its columns as canonical JSON text)';

-- C functions ---------------------------------------------------------------------------------

-- Appends one audit row (the only function that writes them); owner only.
CREATE FUNCTION pat.audit_write(action text, table_name text, user_id text, token_id uuid,
                                token_name text, old_data jsonb, new_data jsonb)
RETURNS bigint
AS 'MODULE_PATHNAME', 'pat_audit_write'
LANGUAGE C VOLATILE;

-- BEFORE UPDATE OR DELETE (row) and BEFORE TRUNCATE (statement) on pat.audit_log: refuses all,
-- but the deletes pat_audit_purge() runs.
CREATE FUNCTION pat.audit_log_append_only() RETURNS trigger
AS 'MODULE_PATHNAME', 'pat_audit_log_append_only'
LANGUAGE C;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON pat.audit_log
    FOR EACH ROW EXECUTE FUNCTION pat.audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON pat.audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION pat.audit_log_append_only();

CREATE FUNCTION @extschema@.pat_set_actor(actor text) RETURNS void
AS 'MODULE_PATHNAME', 'pat_set_actor'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pat_set_actor(text) IS
    'who acts in this transaction (an admin for a user, a support agent): recorded as the actor of every audit row until the transaction ends; NULL clears';

CREATE FUNCTION @extschema@.pat_current_actor() RETURNS text
AS 'MODULE_PATHNAME', 'pat_current_actor'
LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.pat_current_actor() IS
    'the actor pat_set_actor() set in this transaction, NULL without one';

CREATE FUNCTION @extschema@.pat_audit() RETURNS trigger
AS 'MODULE_PATHNAME', 'pat_audit'
LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pat_audit() IS
    'AFTER INSERT OR UPDATE OR DELETE FOR EACH ROW trigger: records row changes made with a token; arguments ''always'' and ''exclude=<column>''';

CREATE FUNCTION @extschema@.pat_audit_purge(older_than interval) RETURNS bigint
AS 'MODULE_PATHNAME', 'pat_audit_purge'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pat_audit_purge(interval) IS
    'delete the audit rows older than now() - older_than (the oldest part of the chain); recorded as an audit_purged row; returns how many';

-- Token lifecycle ----------------------------------------------------------------------------

-- Writes created, renamed, scopes_changed, expiry_changed, revoked and deleted rows; never the
-- digest. Runs as the owner so that whoever may change pat.tokens leaves a record.
CREATE FUNCTION pat.tokens_audit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM pat.audit_write('created', NULL, NEW.user_id, NEW.token_id, NEW.name, NULL,
                                jsonb_build_object('name', NEW.name, 'scopes', NEW.scopes,
                                                   'expires_at', NEW.expires_at));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM pat.audit_write('deleted', NULL, OLD.user_id, OLD.token_id, OLD.name,
                                jsonb_build_object('name', OLD.name, 'scopes', OLD.scopes,
                                                   'expires_at', OLD.expires_at,
                                                   'revoked_at', OLD.revoked_at),
                                NULL);
    ELSE
        IF NEW.name IS DISTINCT FROM OLD.name THEN
            PERFORM pat.audit_write('renamed', NULL, NEW.user_id, NEW.token_id, NEW.name,
                                    jsonb_build_object('name', OLD.name),
                                    jsonb_build_object('name', NEW.name));
        END IF;
        IF NEW.scopes IS DISTINCT FROM OLD.scopes THEN
            PERFORM pat.audit_write('scopes_changed', NULL, NEW.user_id, NEW.token_id, NEW.name,
                                    jsonb_build_object('scopes', OLD.scopes),
                                    jsonb_build_object('scopes', NEW.scopes));
        END IF;
        IF NEW.expires_at IS DISTINCT FROM OLD.expires_at THEN
            PERFORM pat.audit_write('expiry_changed', NULL, NEW.user_id, NEW.token_id, NEW.name,
                                    jsonb_build_object('expires_at', OLD.expires_at),
                                    jsonb_build_object('expires_at', NEW.expires_at));
        END IF;
        IF OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL THEN
            PERFORM pat.audit_write('revoked', NULL, NEW.user_id, NEW.token_id, NEW.name, NULL,
                                    jsonb_build_object('revoked_at', NEW.revoked_at));
        END IF;
    END IF;
    RETURN NULL;
END
$$;

-- A row whose created_at is before this transaction began is being restored (pg_restore COPY),
-- not created: its creation is already in the restored log.
CREATE TRIGGER tokens_audit_insert AFTER INSERT ON pat.tokens
    FOR EACH ROW
    WHEN (NEW.created_at OPERATOR(pg_catalog.>=) pg_catalog.transaction_timestamp())
    EXECUTE FUNCTION pat.tokens_audit();
-- An update that only records a use (last_used_at) does not fire it.
CREATE TRIGGER tokens_audit_update AFTER UPDATE ON pat.tokens
    FOR EACH ROW
    WHEN (NEW.name IS DISTINCT FROM OLD.name
          OR NEW.scopes IS DISTINCT FROM OLD.scopes
          OR NEW.expires_at IS DISTINCT FROM OLD.expires_at
          OR NEW.revoked_at IS DISTINCT FROM OLD.revoked_at)
    EXECUTE FUNCTION pat.tokens_audit();
CREATE TRIGGER tokens_audit_delete AFTER DELETE ON pat.tokens
    FOR EACH ROW EXECUTE FUNCTION pat.tokens_audit();

-- Attaching pat_audit() --------------------------------------------------------------------

-- Attaches (or replaces) the trigger pat_audit on a table. SECURITY INVOKER on purpose: the
-- caller needs the TRIGGER privilege on the table and EXECUTE on pat_audit(), as CREATE TRIGGER
-- itself requires; it needs nothing in schema pat.
CREATE FUNCTION @extschema@.pat_audit_table(target regclass,
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
END
$$;
COMMENT ON FUNCTION @extschema@.pat_audit_table(regclass, boolean, text[]) IS
    'audit a table with pat_audit(): row changes made with a token (or all, with record_without_token), leaving out the exclude columns';

CREATE FUNCTION @extschema@.pat_audit_table_off(target regclass) RETURNS boolean
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
    RETURN true;
END
$$;
COMMENT ON FUNCTION @extschema@.pat_audit_table_off(regclass) IS
    'stop auditing a table (drop its pat_audit trigger); false if it had none';

-- Verification ------------------------------------------------------------------------------

CREATE FUNCTION @extschema@.pat_audit_verify()
RETURNS TABLE (ok boolean, checked bigint, first_broken_seq bigint, detail text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    first_seq bigint := 1;
    anchor bytea;
    purge record;
    broken record;
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

    IF broken IS NULL THEN
        RETURN QUERY SELECT true, (SELECT count(*) FROM pat.audit_log), NULL::bigint, NULL::text;
    ELSE
        RETURN QUERY
        SELECT false, (SELECT count(*) FROM pat.audit_log l WHERE l.seq < broken.at_seq),
               broken.at_seq, broken.problem;
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.pat_audit_verify() IS
    'walk the audit hash chain in seq order: ok, rows checked, and the first broken seq with what is wrong (an edit, a gap, a bad link)';

-- What pat_grant_profile() grants of the audit functions.
INSERT INTO pat.profile_functions (function_signature, least_profile) VALUES
    ('pat_set_actor(text)', 'application'),
    ('pat_current_actor()', 'application'),
    ('pat_audit()', 'admin'),
    ('pat_audit_verify()', 'admin'),
    ('pat_audit_purge(interval)', 'admin'),
    ('pat_audit_table(regclass, boolean, text[])', 'admin'),
    ('pat_audit_table_off(regclass)', 'admin');

-- Privileges: nothing for PUBLIC. See docs/audit.md for who gets what.
REVOKE ALL ON pat.audit_log, pat.audit_chain_head FROM PUBLIC;
REVOKE ALL ON FUNCTION
    pat.audit_hash(bytea, bigint, timestamptz, text, uuid, text, text, text, text, jsonb, jsonb,
                   text, text, bigint),
    pat.audit_write(text, text, text, uuid, text, jsonb, jsonb),
    pat.audit_log_append_only(),
    pat.tokens_audit(),
    @extschema@.pat_set_actor(text),
    @extschema@.pat_current_actor(),
    @extschema@.pat_audit(),
    @extschema@.pat_audit_purge(interval),
    @extschema@.pat_audit_table(regclass, boolean, text[]),
    @extschema@.pat_audit_table_off(regclass),
    @extschema@.pat_audit_verify()
FROM PUBLIC;
