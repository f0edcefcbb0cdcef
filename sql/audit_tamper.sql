--
-- Tampering that only the superuser can do is found by pat_audit_verify(): an edited row, a
-- deleted row (a gap), an edit whose row_hash was recomputed (the next row no longer links),
-- two rows swapping places, a forged row. ALTER TABLE ... DISABLE TRIGGER is refused on the log
-- and its guards fire even with session_replication_role = replica, so the tampering switches
-- them off the one way left to a superuser: editing pg_trigger itself. After each, the original
-- rows are put back and the chain verifies again.
-- Seqs are shown relative to the first row written here.
--
\set SHOW_CONTEXT never

-- Switches the log's guards off (or back on) in the catalog; touching the log's pg_class row
-- makes every session rebuild its cached triggers.
CREATE PROCEDURE pg_temp.skip_guards(skip boolean) LANGUAGE sql AS $$
    UPDATE pg_catalog.pg_trigger SET tgenabled = CASE WHEN skip THEN 'D' ELSE 'A' END
    WHERE tgrelid = 'pat.audit_log'::regclass
      AND tgname IN ('audit_log_append_only', 'audit_log_no_truncate');
    UPDATE pg_catalog.pg_class SET relhastriggers = true WHERE oid = 'pat.audit_log'::regclass;
$$;

CREATE TABLE audit_ledger (id int PRIMARY KEY, amount numeric);
SELECT pat_audit_table('audit_ledger', record_without_token => true);
SELECT pat_audit_link() AS linked \gset
SELECT coalesce(max(seq), 0) AS base FROM pat.audit_log \gset
INSERT INTO audit_ledger SELECT g, g * 10 FROM generate_series(1, 6) AS g;
UPDATE audit_ledger SET amount = amount + 1 WHERE id IN (2, 4);
SELECT pat_audit_link() AS linked \gset
SELECT seq - :base AS n, action, old_data, new_data FROM pat.audit_log WHERE seq > :base
ORDER BY seq;
SELECT ok, first_broken_seq, detail FROM pat_audit_verify();
-- A copy of the rows, to put them back.
CREATE TEMP TABLE audit_saved AS SELECT * FROM pat.audit_log WHERE seq > :base;

-- How pat_audit_verify() reports a break, seqs relative to :base.
CREATE FUNCTION pg_temp.verify_relative(base bigint)
RETURNS TABLE (ok boolean, first_broken bigint, detail text)
LANGUAGE sql AS $$
    SELECT v.ok, v.first_broken_seq - base,
           (SELECT string_agg(CASE WHEN p ~ '^\d+$' THEN (p::bigint - base)::text ELSE p END,
                              '' ORDER BY n)
            FROM regexp_split_to_table(v.detail, '(?=\d)(?<!\d)|(?<=\d)(?!\d)')
                 WITH ORDINALITY AS parts(p, n))
    FROM pat_audit_verify() AS v
$$;

-- 1. An edited row: its own hash no longer matches.
CALL pg_temp.skip_guards(true);
UPDATE pat.audit_log SET new_data = jsonb_set(new_data, '{amount}', '1000')
WHERE seq = :base + 3;
CALL pg_temp.skip_guards(false);
SELECT * FROM pg_temp.verify_relative(:base);
-- checked counts the rows before the break.
SELECT pat_audit_link() AS linked \gset
SELECT checked = (SELECT count(*) FROM pat.audit_log WHERE seq < :base + 3) AS checked_before
FROM pat_audit_verify();
CALL pg_temp.skip_guards(true);
UPDATE pat.audit_log l SET new_data = s.new_data FROM audit_saved s
WHERE l.seq = s.seq AND l.seq = :base + 3;
CALL pg_temp.skip_guards(false);
SELECT * FROM pg_temp.verify_relative(:base);

-- 2. A deleted row: the gap is reported at the missing seq.
CALL pg_temp.skip_guards(true);
DELETE FROM pat.audit_log WHERE seq = :base + 5;
CALL pg_temp.skip_guards(false);
SELECT * FROM pg_temp.verify_relative(:base);
-- Two more rows gone.
CALL pg_temp.skip_guards(true);
DELETE FROM pat.audit_log WHERE seq IN (:base + 6, :base + 7);
CALL pg_temp.skip_guards(false);
SELECT * FROM pg_temp.verify_relative(:base);
CALL pg_temp.skip_guards(true);
INSERT INTO pat.audit_log SELECT * FROM audit_saved WHERE seq IN (:base + 5, :base + 6, :base + 7);
CALL pg_temp.skip_guards(false);
SELECT * FROM pg_temp.verify_relative(:base);

-- 3. An edit with its row_hash recomputed: the edited row is consistent, the next one no
-- longer links to it.
CALL pg_temp.skip_guards(true);
UPDATE pat.audit_log SET new_data = jsonb_set(new_data, '{amount}', '1000')
WHERE seq = :base + 2;
UPDATE pat.audit_log SET row_hash =
    pat.audit_hash(prev_hash, seq, occurred_at, user_id, token_id, token_name, actor, action,
                   table_name, old_data, new_data, db_role, session_role, txid)
WHERE seq = :base + 2;
CALL pg_temp.skip_guards(false);
SELECT * FROM pg_temp.verify_relative(:base);
CALL pg_temp.skip_guards(true);
UPDATE pat.audit_log l SET new_data = s.new_data, row_hash = s.row_hash FROM audit_saved s
WHERE l.seq = s.seq AND l.seq = :base + 2;
CALL pg_temp.skip_guards(false);
SELECT * FROM pg_temp.verify_relative(:base);

-- 4. Two rows swapping places.
CALL pg_temp.skip_guards(true);
UPDATE pat.audit_log SET seq = -1 WHERE seq = :base + 7;
UPDATE pat.audit_log SET seq = :base + 7 WHERE seq = :base + 8;
UPDATE pat.audit_log SET seq = :base + 8 WHERE seq = -1;
CALL pg_temp.skip_guards(false);
SELECT * FROM pg_temp.verify_relative(:base);
CALL pg_temp.skip_guards(true);
DELETE FROM pat.audit_log WHERE seq IN (:base + 7, :base + 8);
INSERT INTO pat.audit_log SELECT * FROM audit_saved WHERE seq IN (:base + 7, :base + 8);
CALL pg_temp.skip_guards(false);
SELECT * FROM pg_temp.verify_relative(:base);

-- 5. A forged row appended by hand, with a made-up hash. A plain INSERT is refused (42501)...
SELECT pat_audit_link() AS linked \gset
INSERT INTO pat.audit_log (seq, user_id, action, db_role, session_role, txid, row_hash)
VALUES (0, 'audit_mallory', 'insert', 'x', 'x', 0, '\x00');
\echo :SQLSTATE
-- ... and one slipped in with the triggers skipped is found.
CALL pg_temp.skip_guards(true);
INSERT INTO pat.audit_log (seq, user_id, action, db_role, session_role, txid, prev_hash,
                           row_hash)
SELECT max(seq) + 1, 'audit_mallory', 'insert', 'x', 'x', 0,
       (SELECT row_hash FROM pat.audit_log ORDER BY seq DESC LIMIT 1), '\x00'
FROM pat.audit_log;
CALL pg_temp.skip_guards(false);
SELECT * FROM pg_temp.verify_relative(:base);
CALL pg_temp.skip_guards(true);
DELETE FROM pat.audit_log WHERE user_id = 'audit_mallory';
CALL pg_temp.skip_guards(false);

-- Everything is back: the chain verifies, and appends go on.
SELECT ok, first_broken_seq, detail FROM pat_audit_verify();
DELETE FROM audit_ledger;
-- Linked here or, under load, by pg_pat's worker first.
SELECT pat_audit_link() AS linked \gset
SELECT count(*) AS linked_deletes FROM pat.audit_log
WHERE seq > :base AND action = 'delete' AND table_name = 'public.audit_ledger';
SELECT ok, first_broken_seq, detail FROM pat_audit_verify();
DROP TABLE audit_ledger;
