--
-- Nothing an audit row holds can stall the hash chain (issue 22 item 5). The linker hashes the
-- row's JSON text as UTF-8 when it is UTF-8, and otherwise a 0xFF byte followed by the text's
-- bytes as stored: a SQL_ASCII database's bytes that are not UTF-8 link and verify. The text is
-- hashed as it is produced, never held whole; and an audited row whose old_data or new_data
-- would print as more than 64 MB of JSON is refused when written (54000), so the log always
-- reads back and restores as text.
--
\set SHOW_CONTEXT never
SELECT current_database() AS regress_db \gset

-- A SQL_ASCII database, where any byte but NUL is a character.
SET client_min_messages = warning;
DROP DATABASE IF EXISTS regress_pat_ascii;
RESET client_min_messages;
CREATE DATABASE regress_pat_ascii ENCODING 'SQL_ASCII' TEMPLATE template0
    LC_COLLATE 'C' LC_CTYPE 'C';
\c regress_pat_ascii
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION pg_pat;
RESET client_min_messages;
-- A valid row first, then a token name, a user id and an audited row holding 0xff 0xfe.
SELECT count(*) FROM pat_create('ascii-alice', 'plain', '{}', '1 day');
SELECT count(*) FROM pat_create('ascii-alice', 'caf' || chr(233) || chr(255) || chr(254), '{}',
                                '1 day');
SELECT count(*) FROM pat_create('ascii-' || chr(255), 'odd user', '{}', '1 day');
CREATE TABLE ascii_notes (id int PRIMARY KEY, body text);
SELECT pat_audit_table('ascii_notes', record_without_token => true);
INSERT INTO ascii_notes VALUES (1, 'bytes ' || chr(255) || chr(254));
-- Every row links, and the chain verifies.
SELECT pat_audit_link() > 0 AS linked;
SELECT ok, detail, unlinked FROM pat_audit_verify();
-- Later rows link too.
SELECT count(*) FROM pat_create('ascii-alice', 'after', '{}', '1 day');
UPDATE ascii_notes SET body = 'plain again' WHERE id = 1;
SELECT pat_audit_link() AS linked;
SELECT ok, detail, unlinked FROM pat_audit_verify();
-- What is hashed: the UTF-8 JSON text where it is UTF-8 (the formula of earlier versions), else
-- 0xff and the bytes as stored.
SELECT l.seq, encode(convert_to(coalesce(l.token_name, l.user_id), 'SQL_ASCII'), 'hex') AS name,
       l.row_hash = sha256(coalesce(l.prev_hash, '') || convert_to(j.text, 'SQL_ASCII'))
           AS hashed_as_utf8,
       l.row_hash = sha256(coalesce(l.prev_hash, '') || '\xff'::bytea
                           || convert_to(j.text, 'SQL_ASCII')) AS hashed_as_stored
FROM pat.audit_log l
CROSS JOIN LATERAL (SELECT jsonb_build_array(
    l.seq, EXTRACT(EPOCH FROM l.occurred_at), l.user_id, l.token_id, l.token_name, l.actor,
    l.action, l.table_name, l.old_data, l.new_data, l.db_role, l.session_role,
    l.txid)::text AS text) AS j
ORDER BY l.seq;
-- An edit of a row hashed as stored is still found.
SET session_replication_role = replica;
UPDATE pat.audit_log SET user_id = 'ascii-x' WHERE user_id = 'ascii-' || chr(255);
RESET session_replication_role;
SELECT ok, detail FROM pat_audit_verify();
\c :regress_db
\set SHOW_CONTEXT never
DROP DATABASE regress_pat_ascii;

-- The size of an audited row: its new_data here prints as 24 bytes of JSON plus the payload.
CREATE TABLE chain_big (id int PRIMARY KEY, payload text);
SELECT pat_audit_table('chain_big', record_without_token => true);
SELECT pat_audit_link() >= 0 AS linked;
SELECT octet_length(jsonb_build_object('id', 1, 'payload', '')::text) AS overhead;
-- One byte over 64 MB: refused, and nothing is written.
INSERT INTO chain_big VALUES (1, repeat('x', 64 * 1024 * 1024 - 24 + 1));
\echo :SQLSTATE
SELECT count(*) AS pending FROM pat.audit_pending;
-- Exactly 64 MB: written, linked and verified.
INSERT INTO chain_big VALUES (1, repeat('x', 64 * 1024 * 1024 - 24));
SELECT pat_audit_link() AS linked;
SELECT ok, detail, unlinked FROM pat_audit_verify();
-- An update's old_data counts too.
UPDATE chain_big SET payload = payload || 'y' WHERE id = 1;
\echo :SQLSTATE
-- Control characters print as six bytes each (\u0001): the limit is on the printed text.
UPDATE chain_big SET payload = repeat(chr(1), 11 * 1024 * 1024) WHERE id = 1;
\echo :SQLSTATE
UPDATE chain_big SET payload = repeat(chr(1), 10 * 1024 * 1024) WHERE id = 1;
SELECT pat_audit_link() AS linked;
SELECT ok, detail, unlinked FROM pat_audit_verify();
SELECT pat_audit_table_off('chain_big');
DROP TABLE chain_big;
