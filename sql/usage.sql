-- Usage: checks are counted in shared memory and written out by pat_flush_usage() (or the
-- worker, whose interval the test cluster sets to an hour so that only this test flushes).
-- pat_usage() shows written and pending counts alike; a flush that rolls back loses nothing.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
SELECT pat_define_scope('us:read');
SELECT pat_define_scope('us:write');
SELECT pat_define_role('us_reader', '{us:read}');
SELECT pat_grant_role('us-ann', 'us_reader');
RESET client_min_messages;
SELECT token AS a_tok, token_id AS a_id FROM pat_create('us-ann', 'a', '{us:read}', '1 day') \gset
SELECT token AS b_tok, token_id AS b_id FROM pat_create('us-ann', 'b', '{us:read}', '1 day') \gset
-- Whatever earlier tests left pending is written first.
SELECT pat_flush_usage() >= 0 AS drained;
SELECT coalesce(sum(checks), 0) AS malformed_before FROM pat.token_checks
WHERE token_id IS NULL AND outcome = 'malformed' \gset
SELECT coalesce(sum(checks), 0) AS not_found_before FROM pat.token_checks
WHERE token_id IS NULL AND outcome = 'not_found' \gset

CREATE FUNCTION pg_temp.check_times(tok text, scopes text[], n integer) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1..n LOOP
        PERFORM pat_validate(tok, scopes);
    END LOOP;
END
$$;
SELECT pg_temp.check_times(:'a_tok', '{us:read}', 5);
SELECT pg_temp.check_times(:'a_tok', '{us:write}', 2);
SELECT pg_temp.check_times(:'b_tok', '{}', 3);
SELECT pg_temp.check_times('pat_not-a-token', '{}', 4);
SELECT pg_temp.check_times('pat_' || repeat('x', 36), '{}', 0);
SELECT pg_temp.check_times(NULL, '{}', 1);
-- Well formed (valid checksum) but stored nowhere: a token made and deleted.
SELECT token AS gone_tok, token_id AS gone_id FROM pat_create('us-ann', 'gone', '{}', '1 day') \gset
DELETE FROM pat.tokens WHERE token_id = :'gone_id';
SELECT pg_temp.check_times(:'gone_tok', '{}', 2);

-- Pending counts show before anything is written, and nothing was written by the checks.
SELECT day = (now() AT TIME ZONE 'UTC')::date AS today, outcome, checks FROM pat_usage(:'a_id');
SELECT day = (now() AT TIME ZONE 'UTC')::date AS today, outcome, checks FROM pat_usage(:'b_id');
SELECT count(*) AS rows_for_a FROM pat.token_checks WHERE token_id = :'a_id';
SELECT last_used_at IS NOT NULL AS listed_as_used FROM pat_list('us-ann') WHERE token_id = :'a_id';
-- (A token's usage row is made by the first write of its usage.)
SELECT count(last_used_at) = 0 AS nothing_written FROM pat.token_usage WHERE token_id = :'a_id';

-- A flush that rolls back, whole or to a savepoint, puts the usage back.
BEGIN;
SELECT pat_flush_usage() AS tokens_written;
ROLLBACK;
SELECT day = (now() AT TIME ZONE 'UTC')::date AS today, outcome, checks FROM pat_usage(:'a_id');
BEGIN;
SAVEPOINT s;
SELECT pat_flush_usage() AS tokens_written;
ROLLBACK TO SAVEPOINT s;
COMMIT;
SELECT count(*) AS rows_for_a FROM pat.token_checks WHERE token_id = :'a_id';
-- One that fails (a read-only transaction) too.
BEGIN READ ONLY;
SELECT pat_flush_usage();
ROLLBACK;
SELECT day = (now() AT TIME ZONE 'UTC')::date AS today, outcome, checks FROM pat_usage(:'b_id');

-- Written once: the counts move to the tables, pat_usage shows the same, a second flush has
-- nothing left.
SELECT pat_flush_usage() AS tokens_written;
SELECT day = (now() AT TIME ZONE 'UTC')::date AS today, outcome, checks FROM pat_usage(:'a_id');
SELECT outcome, checks FROM pat.token_checks WHERE token_id = :'a_id' ORDER BY outcome;
SELECT last_used_at BETWEEN now() - interval '1 hour' AND clock_timestamp() AS written
FROM pat.token_usage WHERE token_id = :'a_id';
SELECT pat_flush_usage() AS tokens_written;
-- Checks that named no stored token are counted for the database; the deleted token's too.
SELECT sum(checks) - :malformed_before AS malformed_checks FROM pat.token_checks
WHERE token_id IS NULL AND outcome = 'malformed';
SELECT sum(checks) - :not_found_before AS not_found_checks FROM pat.token_checks
WHERE token_id IS NULL AND outcome = 'not_found';

-- More checks add up, pending and written together; a revoked token's checks are counted.
SELECT pg_temp.check_times(:'a_tok', '{us:read}', 2);
SELECT pat_revoke(:'b_id');
SELECT pg_temp.check_times(:'b_tok', '{}', 1);
SELECT day = (now() AT TIME ZONE 'UTC')::date AS today, outcome, checks FROM pat_usage(:'a_id');
SELECT day = (now() AT TIME ZONE 'UTC')::date AS today, outcome, checks FROM pat_usage(:'b_id');
SELECT pat_flush_usage() AS tokens_written;
SELECT day = (now() AT TIME ZONE 'UTC')::date AS today, outcome, checks FROM pat_usage(:'b_id');
-- pat_authenticate counts like pat_validate, refused checks included.
BEGIN;
SELECT pat_authenticate(:'a_tok', '{us:read}') = 'us-ann' AS authenticated;
COMMIT;
BEGIN;
SELECT pat_authenticate(:'a_tok', '{us:write}');
ROLLBACK;
SELECT day = (now() AT TIME ZONE 'UTC')::date AS today, outcome, checks FROM pat_usage(:'a_id');

-- Days: since filters, a future day gives nothing.
SELECT count(*) AS future_rows FROM pat_usage(:'a_id', CURRENT_DATE + 2);
SELECT count(*) > 0 AS default_window FROM pat_usage(:'a_id');

-- Bad input.
SELECT * FROM pat_usage(NULL);
SELECT * FROM pat_usage(:'a_id', NULL);
SELECT * FROM pat_usage('00000000-0000-0000-0000-000000000001');
SELECT pat_merge_usage(NULL, '{}', '{}', '{}', '{}', '{}');
SELECT pat_merge_usage('{}', '{}', '{}', '{2026-01-01}', '{}', '{}');
SELECT pat_merge_usage('{}', '{}', '{NULL}', '{2026-01-01}', '{bogus}', '{1}');
-- Tokens nobody stores are skipped, not an error.
SELECT pat_merge_usage('{00000000-0000-0000-0000-000000000002}', ARRAY[now()],
                       '{00000000-0000-0000-0000-000000000002}', ARRAY[CURRENT_DATE],
                       '{valid}', '{1}') AS tokens_written;

SET client_min_messages = warning;
TRUNCATE pat.tokens, pat.user_roles, pat.role_scopes, pat.roles, pat.scopes CASCADE;
DELETE FROM pat.token_checks;
RESET client_min_messages;
