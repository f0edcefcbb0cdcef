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
-- Text longer than one piece of the hash (64 kB), valid UTF-8 cut anywhere: hashed as UTF-8.
SELECT pat_audit_link() AS linked \gset
INSERT INTO ascii_notes VALUES (2, 'x' || repeat(chr(195) || chr(169), 50000));
SELECT pat_audit_link() AS linked;
SELECT l.row_hash = sha256(l.prev_hash || convert_to(jsonb_build_array(
           l.seq, EXTRACT(EPOCH FROM l.occurred_at), l.user_id, l.token_id, l.token_name,
           l.actor, l.action, l.table_name, l.old_data, l.new_data, l.db_role, l.session_role,
           l.txid)::text, 'SQL_ASCII')) AS hashed_as_utf8
FROM pat.audit_log l ORDER BY l.seq DESC LIMIT 1;
-- An edit of a row hashed as stored is still found. The log's guard fires for every role and
-- in every replication mode, so the edit switches it off in the catalog, as only a superuser can
-- (touching the log's pg_class row makes the session rebuild its cached triggers).
UPDATE pg_catalog.pg_trigger SET tgenabled = 'D'
WHERE tgrelid = 'pat.audit_log'::regclass AND tgname = 'audit_log_append_only';
UPDATE pg_catalog.pg_class SET relhastriggers = true WHERE oid = 'pat.audit_log'::regclass;
UPDATE pat.audit_log SET user_id = 'ascii-x' WHERE user_id = 'ascii-' || chr(255);
SELECT ok, detail FROM pat_audit_verify();
\c :regress_db
\set SHOW_CONTEXT never
DROP DATABASE regress_pat_ascii;

-- A database in another encoding: the text is hashed converted to UTF-8, as it always was,
-- in pieces cut between characters.
SET client_min_messages = warning;
DROP DATABASE IF EXISTS regress_pat_eucjp;
RESET client_min_messages;
CREATE DATABASE regress_pat_eucjp ENCODING 'EUC_JP' TEMPLATE template0
    LC_COLLATE 'C' LC_CTYPE 'C';
\c regress_pat_eucjp
\set SHOW_CONTEXT never
SET client_encoding = 'UTF8';
SET client_min_messages = warning;
CREATE EXTENSION pg_pat;
RESET client_min_messages;
CREATE TABLE eucjp_notes (id int PRIMARY KEY, body text);
SELECT pat_audit_table('eucjp_notes', record_without_token => true);
-- The last one holds a character of EUC_JP's user-defined area, which has no UTF-8 equivalent.
INSERT INTO eucjp_notes VALUES (1, 'x' || repeat('日本語', 30000)), (2, 'é'),
                               (3, convert_from('\xf5a1', 'EUC_JP'));
SELECT pat_audit_link() AS linked;
SELECT ok, detail, unlinked FROM pat_audit_verify();
SELECT l.seq,
       l.row_hash = sha256(coalesce(l.prev_hash, '') || convert_to(j.text, 'UTF8'))
           AS hashed_as_utf8,
       l.row_hash = sha256(coalesce(l.prev_hash, '') || '\xff'::bytea
                           || convert_to(j.text, 'EUC_JP')) AS hashed_as_stored
FROM pat.audit_log l
CROSS JOIN LATERAL (SELECT jsonb_build_array(
    l.seq, EXTRACT(EPOCH FROM l.occurred_at), l.user_id, l.token_id, l.token_name, l.actor,
    l.action, l.table_name, l.old_data, l.new_data, l.db_role, l.session_role,
    l.txid)::text AS text) AS j
WHERE l.seq < 3
UNION ALL
SELECT l.seq, NULL,
       l.row_hash = sha256(l.prev_hash || '\xff'::bytea || convert_to(jsonb_build_array(
           l.seq, EXTRACT(EPOCH FROM l.occurred_at), l.user_id, l.token_id, l.token_name,
           l.actor, l.action, l.table_name, l.old_data, l.new_data, l.db_role, l.session_role,
           l.txid)::text, 'EUC_JP'))
FROM pat.audit_log l WHERE l.seq = 3
ORDER BY 1;
\c :regress_db
\set SHOW_CONTEXT never
DROP DATABASE regress_pat_eucjp;

-- A chain 1.8 verifies with its SQL pat.audit_hash() still verifies after the update.
SET client_min_messages = warning;
DROP DATABASE IF EXISTS regress_pat_chain18;
RESET client_min_messages;
CREATE DATABASE regress_pat_chain18;
\c regress_pat_chain18
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION pg_pat VERSION '1.8';
RESET client_min_messages;
CREATE TABLE notes18 (id int PRIMARY KEY, body jsonb);
SELECT pat_audit_table('notes18', record_without_token => true);
SELECT count(*) FROM pat_create('chain18', 'café "quoted"', '{}', '1 day');
INSERT INTO notes18 VALUES (1, '{"a": [1.50, null, "\t\u0001☃"], "b": {}}'), (2, '"x"');
SELECT pat_audit_link() AS linked;
SELECT l.lanname, ok, detail, checked FROM pat_audit_verify(), pg_proc p
JOIN pg_language l ON l.oid = p.prolang WHERE p.oid = 'pat.audit_hash'::regproc;
ALTER EXTENSION pg_pat UPDATE TO '1.9';
SELECT l.lanname, ok, detail, checked FROM pat_audit_verify(), pg_proc p
JOIN pg_language l ON l.oid = p.prolang WHERE p.oid = 'pat.audit_hash'::regproc;
\c :regress_db
\set SHOW_CONTEXT never
DROP DATABASE regress_pat_chain18;

-- Rows of earlier versions keep their hash: for UTF-8 text, pat.audit_hash() is the SQL
-- formula they were linked with, whatever the JSON holds.
CREATE FUNCTION pg_temp.formula(prev bytea, old_data jsonb, new_data jsonb, name text)
RETURNS bytea LANGUAGE sql AS $$
    SELECT sha256(coalesce(prev, '') || convert_to(jsonb_build_array(
        7, EXTRACT(EPOCH FROM timestamptz '2026-12-01 10:00:00.123456+00'), 'u', NULL::uuid,
        name, NULL::text, 'update', 'public.t', old_data, new_data, 'r', 's', 42)::text, 'UTF8'))
$$;
SELECT v, pat.audit_hash(p, 7, '2026-12-01 10:00:00.123456+00', 'u', NULL, n, NULL, 'update',
                         'public.t', v, v, 'r', 's', 42) = pg_temp.formula(p, v, v, n) AS same
FROM (VALUES (NULL::jsonb), ('"scalar"'), ('12.50'), ('[]'), ('{}'), ('null'), ('true'),
             ('{"a": [1, {"b": null}, [], {}], "c": {"d": [false, "e\"\\\b\f\n\r\t\u0001\u001f"]}}'),
             ('[1e-20, -0.0, 123456789012345678901234567890, "caf\u00e9 \ud83d\ude00 ☃"]'),
             ('{"": "", "long key": [[[["deep"]]]]}')) AS t(v)
CROSS JOIN (VALUES (NULL::bytea, NULL::text), ('\x0102'::bytea, 'naïve "name"')) AS u(p, n)
ORDER BY 1, 2;
-- A number printing as 131,072 digits, a string longer than a piece of the hash.
SELECT pat.audit_hash(NULL, 7, '2026-12-01 10:00:00.123456+00', 'u', NULL, NULL, NULL, 'update',
                      'public.t', v, v, 'r', 's', 42) = pg_temp.formula(NULL, v, v, NULL) AS same
FROM (VALUES (jsonb_build_array(1e131071::numeric, repeat('é"', 70000)))) AS t(v);

-- A pending row whose JSON prints as more than 1 GB (left by an earlier version, or restored):
-- its text is never built, so it links and verifies. 8,200 numbers of 131,072 digits each,
-- stored in 100 kB, loaded as pg_restore loads rows, with a superuser's COPY.
SET client_min_messages = warning;
DROP DATABASE IF EXISTS regress_pat_huge;
RESET client_min_messages;
CREATE DATABASE regress_pat_huge;
\c regress_pat_huge
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION pg_pat;
RESET client_min_messages;
COPY pat.audit_pending (batch, ordinal, occurred_at, action, table_name, new_data, db_role,
                        session_role, txid)
FROM PROGRAM $$awk 'BEGIN { printf "1\t1\t2026-12-01 00:00:00+00\tinsert\tpublic.huge\t[";
                            for (i = 1; i <= 8200; i++) printf "%s1e131071", (i > 1 ? ", " : "");
                            print "]\tpostgres\tpostgres\t1" }'$$;
SELECT jsonb_array_length(new_data) FROM pat.audit_pending;
SELECT (SELECT sum(length(e::text) + 2) FROM jsonb_array_elements(new_data) AS e) > 1024 * 1024 * 1024
       AS prints_over_1_gb
FROM pat.audit_pending;
SELECT pat_audit_link() AS linked;
SELECT ok, detail, checked, unlinked FROM pat_audit_verify();
\c :regress_db
\set SHOW_CONTEXT never
DROP DATABASE regress_pat_huge;

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
-- An update whose new row is over the limit is refused.
UPDATE chain_big SET payload = payload || 'y' WHERE id = 1;
\echo :SQLSTATE
-- Control characters print as six bytes each (\u0001): the limit is on the printed text.
UPDATE chain_big SET payload = repeat(chr(1), 11 * 1024 * 1024) WHERE id = 1;
\echo :SQLSTATE
UPDATE chain_big SET payload = repeat(chr(1), 10 * 1024 * 1024) WHERE id = 1;
SELECT pat_audit_link() AS linked;
SELECT ok, detail, unlinked FROM pat_audit_verify();
-- So is one whose old row is (written while the table was not audited).
SELECT pat_audit_table_off('chain_big');
UPDATE chain_big SET payload = repeat('x', 64 * 1024 * 1024 - 24 + 1) WHERE id = 1;
SELECT pat_audit_table('chain_big', record_without_token => true);
UPDATE chain_big SET payload = 'small' WHERE id = 1;
\echo :SQLSTATE
SELECT pat_audit_table_off('chain_big');
DROP TABLE chain_big;
