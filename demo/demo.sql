-- pg_pat demo: personal access tokens scoped by role-granted scopes.
-- Run with: psql -v ON_ERROR_STOP=1 -X -f demo/demo.sql   (scripts/demo does it)
\set QUIET on
\pset footer off

\echo '== 1. Install the extension'
CREATE EXTENSION pg_pat;
\echo

\echo '== 2. Define the scopes a token may carry'
-- (MATERIALIZED CTEs make sure every call runs; we only show a count.)
WITH defined AS MATERIALIZED (
    SELECT pat_define_scope(s, d)
    FROM (VALUES ('catalog:read',             'Read the software catalog'),
                  ('catalog:write',            'Modify catalog entities'),
                  ('scorecards:write',         'Edit scorecards'),
                  ('workflowRuns:writeEvents', 'Post workflow run events'),
                  ('tokens:manage',            'Manage one''s own tokens with a token')) AS v(s, d))
SELECT count(*) AS scopes_defined FROM defined;

\echo '== 3. Define roles as bundles of scopes (workspace_admin gets every scope)'
WITH defined AS MATERIALIZED (
    SELECT pat_define_role('member',          '{catalog:read}')
    UNION ALL SELECT pat_define_role('scorecard_admin', '{catalog:read,scorecards:write,tokens:manage}')
    UNION ALL SELECT pat_define_role('workspace_admin', '{}', all_scopes => true))
SELECT count(*) AS roles_defined FROM defined;

\echo '== 4. Grant alice the member and scorecard_admin roles'
WITH granted AS MATERIALIZED (
    SELECT pat_grant_role('alice', 'member')
    UNION ALL SELECT pat_grant_role('alice', 'scorecard_admin'))
SELECT count(*) AS roles_granted FROM granted;

\echo '== 5. Scopes alice may put on her tokens'
SELECT * FROM pat_grantable_scopes('alice') AS scope ORDER BY 1;

\echo '== 6. alice creates a token (catalog:read + scorecards:write, 30 days)'
\echo '      The secret is shown only once; we keep it in psql variables via \\gset.'
SELECT token_id, token, expires_at
FROM pat_create('alice', 'ci-pipeline', '{catalog:read,scorecards:write}', '30 days') \gset
SELECT :'token_id'::uuid AS token_id,
       left(:'token', 10) || '...' AS token_prefix,
       :'expires_at'::timestamptz > now() + interval '29 days' AS expires_in_30_days;

\echo '== 7. Validate it for an API call that needs catalog:read -> valid'
SELECT valid, status, user_id, token_name, scopes
FROM pat_validate(:'token', '{catalog:read}');

\echo '== 8. Validate it for an API call that needs catalog:write -> insufficient_scope'
SELECT valid, status, user_id, token_name, scopes
FROM pat_validate(:'token', '{catalog:write}');

\echo '== 9. alice cannot mint a token with a scope her roles do not grant (SQLSTATE 42501)'
-- The error is caught in a helper so the demo keeps going (and prints in order).
CREATE FUNCTION pg_temp.try_create(scopes text[]) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pat_create('alice', 'sneaky', scopes, '30 days');
    RETURN 'unexpected: token created';
EXCEPTION WHEN insufficient_privilege THEN
    RETURN format('refused: %s (SQLSTATE %s)', SQLERRM, SQLSTATE);
END
$$;
SELECT pg_temp.try_create('{catalog:write}') AS outcome;

\echo '== 10. alice lists her tokens (no secrets, just metadata)'
SELECT name, scopes, expires_at > now() AS not_expired, last_used_at IS NOT NULL AS used, status
FROM pat_list('alice');

\echo '== 11. Inside a token context (a CLI holding tokens:manage): its scopes and expiry, and'
\echo '      it manages only alice''s own tokens, never with more scopes or a longer life'
SELECT token AS cli_token, token_id AS cli_id
FROM pat_create('alice', 'cli', '{catalog:read,tokens:manage}', '7 days') \gset
CREATE FUNCTION pg_temp.try(statement text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE statement;
    RETURN 'done';
EXCEPTION WHEN insufficient_privilege THEN
    RETURN format('refused: %s', SQLERRM);
END
$$;
BEGIN;
SELECT pat_authenticate(:'cli_token') AS user_id, pat_current_scopes() AS scopes,
       pat_current_expires_at() < now() + interval '8 days' AS expires_within_8_days;
SELECT pg_temp.try($$SELECT pat_list('bob')$$) AS list_bobs_tokens;
SELECT pg_temp.try($$SELECT pat_create('alice', 'wider', '{catalog:read,scorecards:write}', '1 day')$$)
       AS create_wider;
SELECT pg_temp.try($$SELECT pat_create('alice', 'longer', '{catalog:read}', '30 days')$$)
       AS create_longer;
SELECT pg_temp.try($$SELECT pat_create('alice', 'narrower', '{catalog:read}', '1 day')$$)
       AS create_narrower;
COMMIT;

\echo '== 12. Revoke the token'
SELECT pat_revoke(:'token_id') AS revoked;

\echo '== 13. The revoked token no longer validates -> revoked'
SELECT valid, status FROM pat_validate(:'token', '{catalog:read}');

\echo '== 14. Garbage is rejected without a lookup -> malformed'
SELECT valid, status FROM pat_validate('hello');

\echo '== 15. Usage of the token: counted in shared memory by each check (no check wrote anything),'
\echo '==     written out by pg_pat''s background worker, or now by pat_flush_usage()'
SELECT pat_flush_usage() IS NOT NULL AS flushed;
SELECT outcome, checks FROM pat_usage(:'token_id') ORDER BY outcome;

\echo '== 16. Which digest key each token was made under, and whether this server has it'
SELECT key_id, tokens, active_tokens, configured, current FROM pat_key_status();

\echo '== 17. Rotate the CLI token (both work for an hour); a leaked token is reported by a scanner'
SELECT token_id AS rotated_id, token AS rotated_token FROM pat_rotate(:'cli_id', overlap => '1 hour') \gset
SELECT pat_rotated_from(:'rotated_id') = :'cli_id' AS names_predecessor;
SELECT pat_scanner_rules() AS scanner_regex;
SELECT pat_report_leaked(ARRAY[:'rotated_token', 'pat_not_a_token'], 'https://example.com/paste/1')
       AS revoked_as_leaked;

\echo '== 18. Notices to owners, taken once by a mailer (LISTEN pat_notices tells it when)'
SELECT pat_queue_notices() >= 0 AS queued;
SELECT kind, user_id, token_name, details FROM pat_take_notices() ORDER BY notice_id;

\echo '== Done.'

