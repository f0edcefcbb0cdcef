-- The token lifecycle: expiry notices, the notices outbox, leak reports, scanner rules,
-- reuse after rotation, the scanner profile and pat.max_inactivity's setting. pg_pat's worker
-- may queue expiry notices at any moment too, so counts from pat_queue_notices() are not shown;
-- what a take returns is. Takes show only this test's user's notices.
SET client_min_messages = warning;

SELECT pat_define_scope('life:read');
SELECT pat_define_role('life_reader', ARRAY['life:read']);
SELECT pat_grant_role('life-u', 'life_reader');

CREATE TEMP TABLE taken (kind text, token_name text, due_at timestamptz, details jsonb);
-- Takes every untaken notice, keeping this user's.
CREATE FUNCTION pg_temp.take() RETURNS SETOF taken LANGUAGE sql AS $$
    SELECT kind, token_name, due_at, details FROM pat_take_notices(1000)
    WHERE user_id = 'life-u' ORDER BY token_name, kind
$$;
SELECT count(*) >= 0 AS drained FROM pat_take_notices(1000);

-- Expiry notices --------------------------------------------------------------------------
-- Due once less than the threshold is left, and only if the token was made with more left:
-- 7 days and 2 seconds is due its "7 days" notice 3 seconds later; exactly 7 days never.
CREATE TEMP TABLE soon AS
    SELECT * FROM pat_create('life-u', 'seven days and two seconds', ARRAY['life:read'],
                             now() + interval '7 days 2 seconds');
SELECT count(*) FROM pat_create('life-u', 'exactly seven days', ARRAY['life:read'], '7 days');
SELECT pat_queue_notices() >= 0 AS queued;
SELECT kind, token_name FROM pg_temp.take();
SELECT pg_sleep(3);
SELECT pat_queue_notices() >= 0 AS queued;
SELECT t.kind, t.token_name, t.due_at = s.expires_at - interval '7 days' AS due_at_threshold,
       (t.details->>'expires_at')::timestamptz = s.expires_at AS names_expiry
FROM pg_temp.take() t, soon s;
-- Queued once: nothing more.
SELECT pat_queue_notices() >= 0 AS queued;
SELECT kind, token_name FROM pg_temp.take();

-- Tokens loaded with an earlier created_at (a superuser may, as a restore does): a token that
-- passed 60, 30 and 7 days unseen gets the tightest, "7 days", only; one that expired an hour
-- ago gets "expired"; one that expired 8 days ago nothing (a worker that was down catches up
-- for a week, an upgrade does not mail about old expiries); revoked and rotated tokens nothing.
INSERT INTO pat.tokens (user_id, name, scopes, digest, created_at, expires_at, revoked_at) VALUES
    ('life-u', 'three days left', ARRAY['life:read'], sha256('life 1'),
     now() - interval '87 days', now() + interval '3 days', NULL),
    ('life-u', 'expired an hour ago', ARRAY['life:read'], sha256('life 2'),
     now() - interval '30 days', now() - interval '1 hour', NULL),
    ('life-u', 'expired eight days ago', ARRAY['life:read'], sha256('life 3'),
     now() - interval '30 days', now() - interval '8 days', NULL),
    ('life-u', 'revoked', ARRAY['life:read'], sha256('life 4'),
     now() - interval '87 days', now() + interval '3 days', now() - interval '1 day'),
    ('life-u', 'fifty days left', ARRAY['life:read'], sha256('life 5'),
     now() - interval '40 days', now() + interval '50 days', NULL);
SELECT count(*) FROM pat_rotate((SELECT token_id FROM pat.tokens WHERE name = 'fifty days left'),
                                overlap => '1 day');
SELECT pat_queue_notices() >= 0 AS queued;
SELECT kind, token_name FROM pg_temp.take();
-- Once the tightest has been given, looser ones are never queued after it.
SELECT pat_queue_notices() >= 0 AS queued;
SELECT kind, token_name FROM pg_temp.take();

-- A round reads candidates 10,000 at a time, in (expires_at, token_id) order: 10,500 tokens
-- expiring at the same moment all get their notice, once.
INSERT INTO pat.tokens (user_id, name, scopes, digest, created_at, expires_at)
SELECT 'life-batch', 'batch ' || g, ARRAY['life:read'], sha256(('life batch ' || g)::bytea),
       now() - interval '87 days', date_trunc('second', now()) + interval '3 days'
FROM generate_series(1, 10500) g;
SELECT pat_queue_notices() >= 0 AS queued;
SELECT kind, count(*), count(DISTINCT token_id) AS tokens FROM pat.notices
WHERE user_id = 'life-batch' GROUP BY kind;
SELECT pat_queue_notices() >= 0 AS queued;
SELECT count(*) FROM pat.notices WHERE user_id = 'life-batch';
-- Tokens first: the worker could queue their notices again in between.
DELETE FROM pat.tokens WHERE user_id = 'life-batch';
DELETE FROM pat.notices WHERE user_id = 'life-batch';

-- Taking -----------------------------------------------------------------------------------
SELECT * FROM pat_take_notices(0);
SELECT * FROM pat_take_notices(1001);
SELECT * FROM pat_take_notices(NULL);
-- A taker that rolls back leaves its notices for the next.
SELECT count(*) FROM pat_report_leaked(ARRAY[(SELECT token FROM soon)], 'rollback test');
BEGIN;
SELECT kind, token_name FROM pg_temp.take();
ROLLBACK;
SELECT kind, token_name, details FROM pg_temp.take();
SELECT kind, token_name FROM pg_temp.take();

-- Leak reports -----------------------------------------------------------------------------
CREATE TEMP TABLE leaked AS
    SELECT * FROM pat_create('life-u', 'leaked', ARRAY['life:read'], 'never');
CREATE TEMP TABLE expired AS
    SELECT * FROM pat_create('life-u', 'expires at once', ARRAY['life:read'], '1 second');
SELECT pg_sleep(1.1);
-- Malformed, unknown, NULL, expired and already revoked entries are skipped without a word;
-- one megabyte of garbage too.
SELECT pat_report_leaked(ARRAY[(SELECT token FROM leaked), 'pat_garbage', NULL,
                               'pat_000000000000000000000000000000000000',
                               (SELECT token FROM expired), (SELECT token FROM soon),
                               repeat('x', 1000000)],
                         'https://github.com/acme/app/blob/main/.env') AS revoked;
SELECT (pat_validate((SELECT token FROM leaked), ARRAY[]::text[])).status;
-- The expired one gets its expiry notice instead (from the worker, or from this call).
SELECT pat_queue_notices() >= 0 AS queued;
SELECT kind, token_name, details - 'expires_at' AS details, details ? 'expires_at' AS expiry
FROM pg_temp.take();
SELECT action, token_name, new_data FROM pat_token_activity((SELECT token_id FROM leaked)) a
JOIN (SELECT action, token_name, new_data FROM pat.audit_pending
      UNION ALL SELECT action, token_name, new_data FROM pat.audit_log) l USING (action)
WHERE l.token_name = 'leaked' AND action = 'revoked_leaked';
-- The token text is never recorded.
SELECT count(*) AS rows_with_token_text
FROM (SELECT new_data::text AS data FROM pat.audit_pending
      UNION ALL SELECT new_data::text FROM pat.audit_log
      UNION ALL SELECT details::text FROM pat.notices) r
WHERE r.data LIKE '%' || (SELECT token FROM leaked) || '%';
-- Reported twice: nothing revoked the second time, no second notice.
SELECT pat_report_leaked(ARRAY[(SELECT token FROM leaked)]) AS revoked;
SELECT kind, token_name FROM pg_temp.take();
-- Bad reports.
SELECT pat_report_leaked(NULL);
SELECT pat_report_leaked(ARRAY(SELECT 'x' || i FROM generate_series(1, 1001) i));
SELECT pat_report_leaked(ARRAY(SELECT 'x' || i FROM generate_series(1, 1000) i)) AS revoked;
SELECT pat_report_leaked(ARRAY[ARRAY['a'], ARRAY['b']]);
SELECT pat_report_leaked(ARRAY['x'], repeat('s', 201));
SELECT pat_report_leaked(ARRAY['x'], E'line\nbreak');
SELECT pat_report_leaked(ARRAY[]::text[], NULL) AS revoked;

-- Scanner rules ----------------------------------------------------------------------------
-- Earlier tests issued under other prefixes; start from the current one alone.
DELETE FROM pat.token_prefixes WHERE prefix <> current_setting('pat.token_prefix');
SELECT pat_scanner_rules();
SELECT pat_scanner_rules('gitleaks');
SELECT (SELECT token FROM leaked) ~ ('^' || pat_scanner_rules() || '$') AS matches;
SET pat.token_prefix = 'life_';
CREATE TEMP TABLE prefixed AS
    SELECT * FROM pat_create('life-u', 'new prefix', ARRAY['life:read'], 'never');
RESET pat.token_prefix;
-- The former prefix stays in the rules once it has issued a token.
SELECT pat_scanner_rules();
SELECT (SELECT token FROM prefixed) ~ ('^' || pat_scanner_rules() || '$') AS matches;
SELECT prefix FROM pat.token_prefixes ORDER BY prefix;
-- A rolled-back creation under a prefix leaves no record, and the next one records it.
SET pat.token_prefix = 'gone_';
BEGIN;
SELECT count(*) FROM pat_create('life-u', 'rolled back', ARRAY['life:read'], 'never');
ROLLBACK;
SELECT prefix FROM pat.token_prefixes WHERE prefix = 'gone_';
SELECT count(*) FROM pat_create('life-u', 'kept', ARRAY['life:read'], 'never');
SELECT prefix FROM pat.token_prefixes WHERE prefix = 'gone_';
RESET pat.token_prefix;
SELECT pat_scanner_rules('yaml');
SELECT pat_scanner_rules(NULL);

-- Reuse after rotation -------------------------------------------------------------------
CREATE TEMP TABLE first AS
    SELECT * FROM pat_create('life-u', 'rotated', ARRAY['life:read'], '30 days');
CREATE TEMP TABLE second AS SELECT * FROM pat_rotate((SELECT token_id FROM first));
SELECT (pat_validate((SELECT token FROM first), ARRAY[]::text[])).status AS old_token;
SELECT pat_flush_usage() >= 0 AS flushed;
SELECT kind, token_name, details->>'rotated_to' = (SELECT token_id::text FROM second) AS names_successor
FROM pg_temp.take();
SELECT a.action FROM pat_token_activity((SELECT token_id FROM first)) a
ORDER BY a.occurred_at, a.action;
-- Recorded once; the live token keeps working.
SELECT (pat_validate((SELECT token FROM first), ARRAY[]::text[])).status AS old_token;
SELECT pat_flush_usage() >= 0 AS flushed;
SELECT kind, token_name FROM pg_temp.take();
SELECT count(*) AS reuse_rows FROM pat_token_activity((SELECT token_id FROM first))
WHERE action = 'reuse_after_rotation';
SELECT (pat_validate((SELECT token FROM second), ARRAY[]::text[])).status AS new_token;
-- After an overlap the old token expires; a check then is reuse too. During it, it is not.
CREATE TEMP TABLE third AS
    SELECT * FROM pat_rotate((SELECT token_id FROM second), overlap => '1 second');
SELECT (pat_validate((SELECT token FROM second), ARRAY[]::text[])).status AS during_overlap;
SELECT pat_flush_usage() >= 0 AS flushed;
SELECT kind, token_name FROM pg_temp.take();
SELECT pg_sleep(1.1);
SELECT (pat_validate((SELECT token FROM second), ARRAY[]::text[])).status AS after_overlap;
SELECT pat_flush_usage() >= 0 AS flushed;
SELECT kind, token_name FROM pg_temp.take();
-- A token revoked without rotation is not reuse.
SELECT pat_revoke((SELECT token_id FROM prefixed));
SELECT (pat_validate((SELECT token FROM prefixed), ARRAY[]::text[])).status;
SELECT pat_flush_usage() >= 0 AS flushed;
SELECT kind, token_name FROM pg_temp.take();

-- Not in a token context: these serve every user ----------------------------------------
BEGIN;
SELECT pat_authenticate((SELECT token FROM third), ARRAY[]::text[]) IS NOT NULL AS authenticated;
SELECT * FROM pat_take_notices();
ROLLBACK;
BEGIN;
SELECT pat_authenticate((SELECT token FROM third), ARRAY[]::text[]) IS NOT NULL AS authenticated;
SELECT pat_queue_notices();
ROLLBACK;
BEGIN;
SELECT pat_authenticate((SELECT token FROM third), ARRAY[]::text[]) IS NOT NULL AS authenticated;
SELECT pat_report_leaked(ARRAY[(SELECT token FROM third)]);
ROLLBACK;

-- Profiles: scanner may only report leaks; application takes notices; admin does both ------
CREATE ROLE life_scanner;
CREATE ROLE life_app;
CREATE ROLE life_admin;
SELECT pat_grant_profile('life_scanner', 'scanner');
SELECT pat_grant_profile('life_app', 'application');
SELECT pat_grant_profile('life_admin', 'admin');
SELECT r.rolname, f.fn, has_function_privilege(r.rolname, f.fn, 'EXECUTE') AS may
FROM (VALUES ('life_scanner'), ('life_app'), ('life_admin')) r(rolname),
     (VALUES ('pat_report_leaked(text[], text)'), ('pat_take_notices(integer)'),
             ('pat_queue_notices()'), ('pat_scanner_rules(text)'),
             ('pat_validate(text, text[], inet, text)')) f(fn)
ORDER BY 1, 2;
SET ROLE life_scanner;
SELECT pat_report_leaked(ARRAY['pat_nothing']) AS revoked;
SELECT * FROM pat_take_notices();
RESET ROLE;
SELECT pat_grant_profile('life_scanner', 'auditor');
DROP OWNED BY life_scanner, life_app, life_admin;
DROP ROLE life_scanner, life_app, life_admin;

-- pat.max_inactivity: an interval, superuser-only; the worker applies it (TAP 013) -------
SET pat.max_inactivity = '90 days';
SHOW pat.max_inactivity;
SET pat.max_inactivity = '-1 day';
SET pat.max_inactivity = 'soon';
RESET pat.max_inactivity;
CREATE ROLE life_user;
SET ROLE life_user;
SET pat.max_inactivity = '1 day';
RESET ROLE;
DROP ROLE life_user;

DELETE FROM pat.notices WHERE user_id = 'life-u';
