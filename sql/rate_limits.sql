--
-- Rate limits and credits (src/core/rate_limit.hpp, src/pg/usage/limiter_store.hpp): every
-- outcome and SQLSTATE, hostile arguments (zero, negative and huge limits, a microsecond, a
-- century, more than 1000 years), a user's limit across its tokens, the counts in pat_usage, and
-- the token context's rule (own tokens only, never looser than the authenticating token).
-- Limits here are per hour or longer, so no check depends on how fast the test runs. Tokens, ids
-- and timestamps are never printed.
--
\set SHOW_CONTEXT never

SELECT pat_define_scope('rl:read'), pat_define_scope('tokens:manage');
SELECT pat_define_role('rl_member', '{rl:read,tokens:manage}');
SELECT pat_grant_role('rl-alice', 'rl_member'), pat_grant_role('rl-bob', 'rl_member');
CREATE ROLE rl_app;
SELECT pat_grant_profile('rl_app', 'application');

SELECT token AS a1, token_id AS a1_id FROM pat_create('rl-alice', 'a1', '{rl:read}', '1 day') \gset
SELECT token AS a2, token_id AS a2_id FROM pat_create('rl-alice', 'a2', '{rl:read}', '1 day') \gset
SELECT token AS a3, token_id AS a3_id
FROM pat_create('rl-alice', 'a3', '{rl:read,tokens:manage}', '1 day') \gset
SELECT token AS b1, token_id AS b1_id FROM pat_create('rl-bob', 'b1', '{rl:read}', '1 day') \gset

SET ROLE rl_app;

-- A token's rate limit: a burst of `requests`, then one per `per`/`requests` -------------------
-- (Checks in a row: the token argument names the row, so each row makes its own call.)
-- Without a limit or budget both columns are NULL.
SELECT status, retry_after, remaining FROM pat_validate(:'a1');
SELECT pat_set_rate_limit(:'a1_id', 3, '1 hour');
SELECT status, retry_after IS NULL AS no_retry, remaining
FROM generate_series(1, 3) g, LATERAL pat_validate(:'a1' || repeat('', g));
-- The fourth is refused, and told to come back when one more fits: 20 minutes after the burst.
SELECT valid, status, retry_after > '19 minutes' AND retry_after <= '20 minutes' AS retry_in_20_min,
       remaining
FROM pat_validate(:'a1');
-- A refused check spends nothing, and a scope the token lacks is judged first.
SELECT status FROM pat_validate(:'a1', '{tokens:manage}');
-- pat_authenticate: its own SQLSTATE (PT429), with Retry-After in the detail.
\set VERBOSITY terse
SELECT pat_authenticate(:'a1');
\echo :SQLSTATE
\set VERBOSITY default
-- Removing the limit lets it through at once; setting one again starts a fresh window.
SELECT pat_set_rate_limit(:'a1_id', NULL, NULL);
SELECT status FROM pat_validate(:'a1');
SELECT pat_set_rate_limit(:'a1_id', 1, '100 years');
SELECT status FROM pat_validate(:'a1');
-- One per century: the next in (almost) a hundred years.
SELECT status, retry_after > '99 years' AS retry_in_a_century FROM pat_validate(:'a1');
-- A huge limit: INT32_MAX per microsecond lets everything through.
SELECT pat_set_rate_limit(:'a1_id', 2147483647, '1 microsecond');
SELECT count(*) FILTER (WHERE status = 'valid') AS valid FROM generate_series(1, 100) g,
       LATERAL pat_validate(:'a1' || repeat('', g));
SELECT pat_set_rate_limit(:'a1_id', NULL, NULL);

-- Hostile arguments ---------------------------------------------------------------------------
SELECT pat_set_rate_limit(:'a1_id', 0, '1 minute');
\echo :SQLSTATE
SELECT pat_set_rate_limit(:'a1_id', -5, '1 minute');
\echo :SQLSTATE
SELECT pat_set_rate_limit(:'a1_id', 10, '0');
\echo :SQLSTATE
SELECT pat_set_rate_limit(:'a1_id', 10, '-1 minute');
\echo :SQLSTATE
SELECT pat_set_rate_limit(:'a1_id', 10, '1000 years 1 day');
\echo :SQLSTATE
SELECT pat_set_rate_limit(:'a1_id', 10, '178000000 years');
\echo :SQLSTATE
SELECT pat_set_rate_limit(:'a1_id', 10, NULL);
\echo :SQLSTATE
SELECT pat_set_rate_limit(NULL, 10, '1 minute');
\echo :SQLSTATE
\set VERBOSITY sqlstate
SELECT pat_set_rate_limit('00000000-0000-0000-0000-000000000000', 10, '1 minute');
\set VERBOSITY default
SELECT pat_set_rate_limit(:'a1_id', 1, '1000 years');  -- the longest allowed
SELECT pat_set_rate_limit(:'a1_id', NULL, NULL);
SELECT pat_set_credits(:'a1_id', -1);
\echo :SQLSTATE
SELECT pat_set_credits(:'a1_id', 5, 10);
\echo :SQLSTATE
SELECT pat_set_credits(:'a1_id', 5, NULL, '1 day');
\echo :SQLSTATE
SELECT pat_set_credits(:'a1_id', 5, -1, '1 day');
\echo :SQLSTATE
SELECT pat_set_credits(:'a1_id', 5, 10, '0');
\echo :SQLSTATE
SELECT pat_set_credits(:'a1_id', 5, 10, '1001 years');
\echo :SQLSTATE
SELECT pat_set_credits(:'a1_id', NULL, 10, '1 day');
\echo :SQLSTATE
SELECT pat_set_user_rate_limit(NULL, 1, '1 hour');
\echo :SQLSTATE
SELECT pat_set_user_rate_limit('rl-alice', 0, '1 hour');
\echo :SQLSTATE
-- Nothing was set by the refused calls.
SELECT * FROM pat_limits(:'a1_id');

-- Credits -------------------------------------------------------------------------------------
SELECT pat_set_credits(:'a2_id', 2);
SELECT status, remaining FROM generate_series(1, 2) g, LATERAL pat_validate(:'a2' || repeat('', g));
SELECT valid, status, retry_after, remaining FROM pat_validate(:'a2');
-- A check refused for another reason spends no credit, and says what is left.
SELECT status, remaining FROM pat_validate(:'a2', '{tokens:manage}');
SELECT pat_authenticate(:'a2');
\echo :SQLSTATE
SELECT remaining, refill_amount, refill_every FROM pat_limits(:'a2_id');
-- A refill every microsecond: by the next check it is due, without any write.
SELECT pat_set_credits(:'a2_id', 0, 5, '1 microsecond');
SELECT status, remaining FROM pat_validate(:'a2');
-- A daily refill: spent now, refilled tomorrow.
SELECT pat_set_credits(:'a2_id', 1, 100, '1 day');
SELECT status, remaining FROM generate_series(1, 2) g, LATERAL pat_validate(:'a2' || repeat('', g));
SELECT remaining, next_refill_at > now() + '23 hours' AS refill_tomorrow FROM pat_limits(:'a2_id');
-- The biggest budget.
SELECT pat_set_credits(:'a2_id', 9223372036854775807);
SELECT status, remaining FROM pat_validate(:'a2');
-- Removing the budget.
SELECT pat_set_credits(:'a2_id', NULL);
SELECT status, remaining FROM pat_validate(:'a2');
-- A rate limit and credits together: a check refused by the limit spends no credit.
SELECT pat_set_rate_limit(:'a2_id', 1, '1 hour'), pat_set_credits(:'a2_id', 5);
SELECT status, remaining FROM generate_series(1, 2) g, LATERAL pat_validate(:'a2' || repeat('', g));
SELECT pat_set_rate_limit(:'a2_id', NULL, NULL), pat_set_credits(:'a2_id', NULL);

-- A user's limit, across all of its tokens ----------------------------------------------------
SELECT pat_set_user_rate_limit('rl-alice', 2, '1 hour');
SELECT status FROM pat_validate(:'a1');
SELECT status FROM pat_validate(:'a2');
SELECT status, retry_after > '29 minutes' AS retry_in_30_min FROM pat_validate(:'a1');
SELECT status FROM pat_validate(:'a2');
-- Another user's token is not held back.
SELECT status FROM pat_validate(:'b1');
SELECT user_requests, user_per FROM pat_limits(:'a1_id');
SELECT pat_set_user_rate_limit('rl-alice', NULL, NULL);
SELECT status FROM pat_validate(:'a1');

-- pat_usage counts the refused checks ---------------------------------------------------------
SELECT outcome, checks FROM pat_usage(:'a1_id') ORDER BY outcome;
SELECT outcome, checks FROM pat_usage(:'a2_id') ORDER BY outcome;

-- The token context: own tokens only, never looser than the authenticating token --------------
SELECT pat_set_rate_limit(:'a3_id', 10, '1 hour');
SELECT pat_set_credits(:'a3_id', 100, 100, '1 day');
BEGIN;
SELECT pat_authenticate(:'a3') AS user_id;
-- As strict or stricter: allowed.
SELECT pat_set_rate_limit(:'a1_id', 5, '1 hour');
SELECT pat_set_rate_limit(:'a1_id', 10, '2 hours');
SELECT pat_set_credits(:'a1_id', 10);
SELECT pat_set_credits(:'a1_id', 10, 50, '1 day');
-- Looser: a higher rate, a bigger burst, no limit, more credits, a bigger or quicker refill.
SAVEPOINT s;
SELECT pat_set_rate_limit(:'a1_id', 20, '1 hour');
\echo :SQLSTATE
ROLLBACK TO s;
SELECT pat_set_rate_limit(:'a1_id', 11, '10 hours');
\echo :SQLSTATE
ROLLBACK TO s;
SELECT pat_set_rate_limit(:'a1_id', NULL, NULL);
\echo :SQLSTATE
ROLLBACK TO s;
SELECT pat_set_credits(:'a1_id', 1000);
\echo :SQLSTATE
ROLLBACK TO s;
SELECT pat_set_credits(:'a1_id', NULL);
\echo :SQLSTATE
ROLLBACK TO s;
SELECT pat_set_credits(:'a1_id', 10, 100, '1 hour');
\echo :SQLSTATE
ROLLBACK TO s;
SELECT pat_set_user_rate_limit('rl-alice', 100, '1 hour');
\echo :SQLSTATE
ROLLBACK TO s;
SELECT pat_set_user_rate_limit('rl-alice', 5, '1 hour');
-- Another user's token or user: refused as for every management function.
SELECT pat_set_user_rate_limit('rl-bob', 1, '1 hour');
\echo :SQLSTATE
ROLLBACK TO s;
\set VERBOSITY sqlstate
SELECT pat_set_rate_limit(:'b1_id', 1, '1 hour');
ROLLBACK TO s;
SELECT pat_limits(:'b1_id');
\set VERBOSITY default
ROLLBACK;

-- Rotation carries a token's limits and what is left of its credits ----------------------------
RESET ROLE;
SELECT pat_set_rate_limit(:'b1_id', 7, '1 hour'), pat_set_credits(:'b1_id', 3, 30, '1 day');
SELECT status, remaining FROM pat_validate(:'b1');
SELECT token AS b2, token_id AS b2_id FROM pat_rotate(:'b1_id') \gset
SELECT requests, per, remaining, refill_amount, refill_every FROM pat_limits(:'b2_id');
SELECT status, remaining FROM pat_validate(:'b2');

