--
-- pat_merge_usage() (the admin profile's; pg_pat's worker and a standby's forwarding role call
-- it) bounds what it records: a last use after now() + 5 minutes (a clock ahead, or a forgery
-- such as 'infinity', which would exempt a token from pat.max_inactivity for ever) is recorded
-- as now(), a later check day as today; uses and checks from before the token existed are
-- skipped. Neither refuses the batch, whose other rows are written. A refused check counts as
-- reuse after rotation only if its day is not before the token stopped working.
--
\set SHOW_CONTEXT never
SELECT pat_define_scope('mu:read');
SELECT pat_define_role('mu_reader', '{mu:read}');
SELECT pat_grant_role('mu-alice', 'mu_reader');
SELECT token_id AS a_id FROM pat_create('mu-alice', 'a', '{mu:read}', '30 days') \gset
SELECT token_id AS b_id FROM pat_create('mu-alice', 'b', '{mu:read}', '30 days') \gset
SELECT token_id AS c_id FROM pat_create('mu-alice', 'c', '{mu:read}', '30 days') \gset
SELECT (now() AT TIME ZONE 'UTC')::date AS today \gset

-- 'infinity' and a far future are recorded as now(); a use from before the token existed (or
-- '-infinity') is skipped; the rest of the batch is written all the same.
BEGIN;
SET LOCAL client_min_messages = log;  -- the LOG line says what was bounded
SELECT pat_merge_usage(ARRAY[:'a_id', :'b_id', :'c_id', :'c_id']::uuid[],
                       ARRAY['infinity', '3000-01-01', '-infinity', '2000-01-01']::timestamptz[],
                       '{}', '{}', '{}', '{}') AS tokens_written;
RESET client_min_messages;
SELECT name, last_used_at = now() AS now, last_used_at IS NULL AS never
FROM pat.tokens t LEFT JOIN pat.token_usage u USING (token_id)
WHERE t.user_id = 'mu-alice' ORDER BY name;
-- A use within 5 minutes ahead is taken as it is (a standby's clock may run a little ahead).
SELECT pat_merge_usage(ARRAY[:'c_id']::uuid[], ARRAY[now() + interval '2 minutes'],
                       '{}', '{}', '{}', '{}') AS tokens_written;
SELECT last_used_at = now() + interval '2 minutes' AS as_sent
FROM pat.token_usage WHERE token_id = :'c_id';
COMMIT;

-- Check days: 'infinity' and a far future count as today, a day before the token existed
-- (or '-infinity') is skipped.
SET client_min_messages = log;
SELECT pat_merge_usage('{}', '{}',
                       ARRAY[:'a_id', :'a_id', :'a_id', :'a_id', NULL]::uuid[],
                       ARRAY['infinity', '3000-01-01', '2000-01-01', '-infinity', '-infinity']::date[],
                       '{valid,valid,valid,valid,malformed}', '{1,2,4,8,16}') AS tokens_written;
RESET client_min_messages;
SELECT day = :'today' AS today, outcome, checks
FROM pat.token_checks WHERE token_id = :'a_id' ORDER BY checks;
SELECT count(*) AS minus_infinity_rows FROM pat.token_checks WHERE day = '-infinity';

-- Reuse after rotation: a revoked check of a rotated token dated before its rotation is no
-- reuse; one dated today is.
SELECT token_id AS r_new_id FROM pat_rotate(:'b_id') \gset
SELECT pat_merge_usage('{}', '{}', ARRAY[:'b_id']::uuid[], '{2000-01-01}', '{revoked}', '{1}')
    AS tokens_written;
SELECT count(*) AS reuse_notices FROM pat.notices
WHERE token_id = :'b_id' AND kind = 'reuse_after_rotation';
-- An expired check of a token that has not expired is no reuse either.
SELECT token_id AS r2_new_id FROM pat_rotate(:'c_id', '30 days', '1 day') \gset
SELECT pat_merge_usage('{}', '{}', ARRAY[:'c_id']::uuid[], ARRAY[:'today']::date[], '{expired}',
                       '{1}') AS tokens_written;
SELECT count(*) AS reuse_notices FROM pat.notices
WHERE token_id = :'c_id' AND kind = 'reuse_after_rotation';
SELECT pat_merge_usage('{}', '{}', ARRAY[:'b_id']::uuid[], ARRAY[:'today']::date[], '{revoked}',
                       '{1}') AS tokens_written;
SELECT count(*) AS reuse_notices FROM pat.notices
WHERE token_id = :'b_id' AND kind = 'reuse_after_rotation';

-- Who may call it: the admin profile (a standby's forwarding role), not an application.
CREATE ROLE regress_mu_app;
SELECT pat_grant_profile('regress_mu_app', 'application');
SET ROLE regress_mu_app;
SELECT pat_merge_usage('{}', '{}', '{}', '{}', '{}', '{}');
\echo :SQLSTATE
RESET ROLE;
CREATE ROLE regress_mu_admin;
SELECT pat_grant_profile('regress_mu_admin', 'admin');
SET ROLE regress_mu_admin;
SELECT pat_merge_usage('{}', '{}', '{}', '{}', '{}', '{}') AS tokens_written;
RESET ROLE;

SET client_min_messages = warning;
DROP OWNED BY regress_mu_app, regress_mu_admin;
DROP ROLE regress_mu_app, regress_mu_admin;
TRUNCATE pat.tokens, pat.user_roles, pat.role_scopes, pat.roles, pat.scopes CASCADE;
DELETE FROM pat.token_checks;
RESET client_min_messages;
