--
-- Each token's last client addresses: a valid check given the client's address notes it in
-- shared memory (no write), the usage flush writes the newest 5 distinct per token, pat_list
-- and pat_token_activity show them, and an address the token was not used from queues a
-- new_address notice (pat.client_addresses: off, record, notify). Tokens and ids are never
-- printed.
--
\set SHOW_CONTEXT never
\set VERBOSITY default

SHOW pat.client_addresses;
SELECT pat_define_scope('addr:read'), pat_define_scope('addr:write');
SELECT pat_define_role('addr_reader', '{addr:read}');
SELECT pat_grant_role('ad-alice', 'addr_reader');
SELECT token AS tok, token_id AS tid
FROM pat_create('ad-alice', 'from places', '{addr:read}', '30 days') \gset
-- Whatever other tests left pending or queued.
SELECT pat_flush_usage() >= 0 AS flushed;
SELECT count(*) >= 0 AS drained FROM pat_take_notices(1000);

-- Valid checks from seven addresses, IPv4 and IPv6, one of them twice and one as its
-- IPv4-mapped IPv6 form; a check without an address and a refused one record none.
SELECT valid FROM pat_validate(:'tok', '{addr:read}', '192.0.2.1');
SELECT valid FROM pat_validate(:'tok', '{addr:read}', '2001:db8::1');
SELECT valid FROM pat_validate(:'tok', '{addr:read}', '192.0.2.2');
SELECT valid FROM pat_validate(:'tok', '{addr:read}', '192.0.2.3');
SELECT valid FROM pat_validate(:'tok', '{addr:read}', '2001:db8::2');
SELECT valid FROM pat_validate(:'tok', '{addr:read}', '192.0.2.4');
SELECT valid FROM pat_validate(:'tok', '{addr:read}', '192.0.2.1/24');
SELECT valid FROM pat_validate(:'tok', '{addr:read}', NULL);
SELECT valid FROM pat_validate(:'tok', '{addr:read}');
SELECT valid, status FROM pat_validate(:'tok', '{addr:write}', '198.51.100.9');
SELECT valid FROM pat_validate(:'tok', '{addr:read}', '::ffff:192.0.2.3');
-- A check writes nothing: nothing is in the table until a flush; pat_list shows what this
-- server has pending: the newest 5 distinct, newest first (2001:db8::1 was pushed out).
SELECT count(*) AS written FROM pat.token_addresses WHERE token_id = :'tid';
SELECT last_addresses FROM pat_list('ad-alice') WHERE token_id = :'tid';
SELECT pat_flush_usage() >= 1 AS flushed;
-- Written, the same.
SELECT last_addresses FROM pat_list('ad-alice') WHERE token_id = :'tid';
SELECT address, first_seen_at <= last_used_at AS ordered, last_used_at <= now() AS past
FROM pat.token_addresses WHERE token_id = :'tid' ORDER BY last_used_at DESC;
-- Each new address once, in the owner's new_address notice.
SELECT kind, user_id, token_name, details FROM pat_take_notices(1000) WHERE token_id = :'tid';
-- pat_token_activity: the last use from each address beside the audit rows.
SELECT action, client_address, actor FROM pat_token_activity(:'tid');

-- A known address again: its last use moves (pat_list merges the pending use with the written
-- ones), no notice.
SELECT valid FROM pat_validate(:'tok', '{addr:read}', '192.0.2.2');
SELECT last_addresses FROM pat_list('ad-alice') WHERE token_id = :'tid';
SELECT pat_flush_usage() >= 1 AS flushed;
SELECT last_addresses FROM pat_list('ad-alice') WHERE token_id = :'tid';
SELECT count(*) AS notices FROM pat_take_notices(1000) WHERE token_id = :'tid';
-- A new one: noticed, and the oldest of the five goes.
SELECT valid FROM pat_validate(:'tok', '{addr:read}', '203.0.113.5');
SELECT pat_flush_usage() >= 1 AS flushed;
SELECT last_addresses FROM pat_list('ad-alice') WHERE token_id = :'tid';
SELECT count(*) AS kept FROM pat.token_addresses WHERE token_id = :'tid';
SELECT kind, details FROM pat_take_notices(1000) WHERE token_id = :'tid';
-- New addresses while the notice is not taken yet: the one notice lists each of them.
SELECT valid FROM pat_validate(:'tok', '{addr:read}', '203.0.113.6');
SELECT pat_flush_usage() >= 1 AS flushed;
SELECT valid FROM pat_validate(:'tok', '{addr:read}', '2001:db8::6');
SELECT pat_flush_usage() >= 1 AS flushed;
SELECT kind, details FROM pat.notices
WHERE token_id = :'tid' AND kind = 'new_address' AND taken_at IS NULL;
SELECT kind, details FROM pat_take_notices(1000) WHERE token_id = :'tid';

-- record: kept, no notice.
SET pat.client_addresses = record;
SELECT valid FROM pat_validate(:'tok', '{addr:read}', '203.0.113.7');
SELECT pat_flush_usage() >= 1 AS flushed;
SELECT (last_addresses)[1] AS newest FROM pat_list('ad-alice') WHERE token_id = :'tid';
SELECT count(*) AS notices FROM pat_take_notices(1000) WHERE token_id = :'tid';
-- off: a check records nothing (flushed with notify on again), and what was pending when it
-- was switched off is not written.
SET pat.client_addresses = off;
SELECT valid FROM pat_validate(:'tok', '{addr:read}', '203.0.113.8');
SET pat.client_addresses = notify;
SELECT pat_flush_usage() >= 1 AS flushed;
SELECT valid FROM pat_validate(:'tok', '{addr:read}', '203.0.113.9');
SET pat.client_addresses = off;
SELECT pat_flush_usage() >= 1 AS flushed;
RESET pat.client_addresses;
SELECT last_addresses FROM pat_list('ad-alice') WHERE token_id = :'tid';
SELECT count(*) AS notices FROM pat_take_notices(1000) WHERE token_id = :'tid';
SELECT count(*) AS never_written FROM pat.token_addresses
WHERE address IN ('203.0.113.8', '203.0.113.9');
-- A superuser's setting: an application's session cannot change it.
CREATE ROLE regress_pat_ad_app;
SET ROLE regress_pat_ad_app;
SET pat.client_addresses = off;
RESET ROLE;

-- Another token's addresses are its own: the same address is new to it.
SELECT token AS other, token_id AS other_id
FROM pat_create('ad-alice', 'elsewhere', '{addr:read}', '30 days') \gset
SELECT valid FROM pat_validate(:'other', '{addr:read}', '192.0.2.2');
SELECT pat_flush_usage() >= 1 AS flushed;
SELECT last_addresses FROM pat_list('ad-alice') WHERE token_id = :'other_id';
SELECT kind, token_name, details FROM pat_take_notices(1000) WHERE token_id = :'other_id';
-- A rotated token's successor used where its predecessor was: no notice; elsewhere: one.
SELECT token AS successor, token_id AS successor_id FROM pat_rotate(:'tid') \gset
SELECT valid FROM pat_validate(:'successor', '{addr:read}', '203.0.113.7');
SELECT pat_flush_usage() >= 1 AS flushed;
SELECT count(*) AS notices FROM pat_take_notices(1000) WHERE token_id = :'successor_id';
SELECT valid FROM pat_validate(:'successor', '{addr:read}', '203.0.113.70');
SELECT pat_flush_usage() >= 1 AS flushed;
SELECT last_addresses FROM pat_list('ad-alice') WHERE token_id = :'successor_id';
SELECT kind, token_name, details FROM pat_take_notices(1000) WHERE token_id = :'successor_id';
-- A token never used from an address shows none.
SELECT token_id AS unused_id FROM pat_create('ad-alice', 'unused', '{addr:read}', '30 days') \gset
SELECT last_addresses IS NULL AS none FROM pat_list('ad-alice') WHERE token_id = :'unused_id';

-- pat_merge_addresses is the flush's (the admin profile's); nobody else reads the table.
SELECT has_table_privilege('regress_pat_ad_app', 'pat.token_addresses', 'SELECT') AS app_reads,
       has_function_privilege('regress_pat_ad_app',
                              'pat_merge_addresses(uuid[], inet[], timestamptz[], boolean)',
                              'EXECUTE') AS app_merges;
SELECT pat_merge_addresses(NULL, '{}', '{}', true);
SELECT pat_merge_addresses(ARRAY[:'tid']::uuid[], '{}', '{}', true);
-- A deleted token's addresses go with it.
DELETE FROM pat.tokens WHERE token_id = :'other_id';
SELECT count(*) AS left_behind FROM pat.token_addresses WHERE token_id = :'other_id';
DROP ROLE regress_pat_ad_app;

-- A check from an address stays write-free: read-only, no transaction id.
BEGIN TRANSACTION READ ONLY;
SELECT valid FROM pat_validate(:'successor', '{addr:read}', '192.0.2.99');
SELECT pg_current_xact_id_if_assigned() IS NULL AS no_transaction_id;
COMMIT;

-- Clean up: leave the tables as CREATE EXTENSION left them.
SET client_min_messages = warning;
TRUNCATE pat.tokens, pat.user_roles, pat.role_scopes, pat.roles, pat.scopes, pat.notices CASCADE;
RESET client_min_messages;
