-- Hostile and bad input: every API function gets NULLs, empty strings, huge values, quotes,
-- semicolons, newlines, unicode and control characters. Each answers with its defined result
-- or a clear error with a proper SQLSTATE; the backend stays up and no row is corrupted.
\set SHOW_CONTEXT never
\set VERBOSITY terse
CREATE FUNCTION pg_temp.outcome(statement text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE statement;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || left(SQLERRM, 90);
END
$$;

SELECT pat_define_scope('hostile:read');
SELECT pat_define_role('hostile_role', '{hostile:read}');
SELECT pat_grant_role('hostile_user', 'hostile_role');
CREATE TEMP TABLE hostile_token AS
    SELECT * FROM pat_create('hostile_user', 'good', '{hostile:read}', '30 days');

-- NULL in each argument of each function.
SELECT s AS statement, pg_temp.outcome(s) AS outcome FROM unnest(ARRAY[
    'SELECT pat_define_scope(NULL)',
    'SELECT pat_define_role(NULL, ''{}'')',
    'SELECT pat_define_role(''r'', NULL)',
    'SELECT pat_define_role(''r'', ''{}'', NULL)',
    'SELECT pat_define_role(''r'', ARRAY[NULL::text])',
    'SELECT pat_grant_role(NULL, ''hostile_role'')',
    'SELECT pat_grant_role(''u'', NULL)',
    'SELECT pat_revoke_role(NULL, ''hostile_role'')',
    'SELECT pat_revoke_role(''u'', NULL)',
    'SELECT pat_grantable_scopes(NULL)',
    'SELECT pat_create(NULL, ''n'', ''{}'', ''1 day'')',
    'SELECT pat_create(''hostile_user'', NULL, ''{}'', ''1 day'')',
    'SELECT pat_create(''hostile_user'', ''n'', NULL, ''1 day'')',
    'SELECT pat_create(''hostile_user'', ''n'', ARRAY[NULL::text], ''1 day'')',
    'SELECT pat_create(''hostile_user'', ''n'', ''{}'', NULL::text)',
    'SELECT pat_create(''hostile_user'', ''n'', ''{}'', NULL::interval)',
    'SELECT pat_create(''hostile_user'', ''n'', ''{}'', NULL::timestamptz)',
    'SELECT pat_update(NULL)',
    'SELECT pat_revoke(NULL)',
    'SELECT pat_revoke_all(NULL)',
    'SELECT pat_list(NULL)',
    'SELECT pat_authenticate(NULL)',
    'SELECT pat_require_scope(NULL)',
    'SELECT pat_grant_profile(NULL, ''validator'')'
]) AS s;
SELECT valid, status FROM pat_validate(NULL);
SELECT valid, status FROM pat_validate(NULL, NULL);
SELECT v.valid, v.status FROM hostile_token t, pat_validate(t.token, NULL) v;
SELECT v.valid, v.status FROM hostile_token t, pat_validate(t.token, ARRAY[NULL::text]) v;
SELECT pat_has_scope(NULL);

-- Empty strings.
SELECT s AS statement, pg_temp.outcome(s) AS outcome FROM unnest(ARRAY[
    'SELECT pat_define_scope('''')',
    'SELECT pat_define_role('''', ''{}'')',
    'SELECT pat_define_role(''r'', ARRAY[''''])',
    'SELECT pat_grant_role('''', ''hostile_role'')',
    'SELECT pat_grant_role(''u'', '''')',
    'SELECT pat_create('''', ''n'', ''{}'', ''1 day'')',
    'SELECT pat_create(''hostile_user'', '''', ''{}'', ''1 day'')',
    'SELECT pat_create(''hostile_user'', ''   '', ''{}'', ''1 day'')',
    'SELECT pat_create(''hostile_user'', ''n'', ARRAY[''''], ''1 day'')',
    'SELECT pat_create(''hostile_user'', ''n'', ''{}'', '''')',
    'SELECT pat_list('''')',
    'SELECT pat_authenticate('''')',
    'SELECT pat_grant_profile(''pg_monitor'', '''')'
]) AS s;
SELECT valid, status FROM pat_validate('');
SELECT valid, status FROM pat_validate('', '{}');

-- Huge values: a 1 MB token, a 1 MB name, a 1 MB scope, 10,000-element scope arrays.
SELECT valid, status FROM pat_validate(repeat('x', 1000000));
SELECT valid, status FROM pat_validate('pat_' || repeat('A', 1000000));
SELECT pg_temp.outcome('SELECT pat_authenticate(repeat(''x'', 1000000))');
SELECT pg_temp.outcome('SELECT pat_create(''hostile_user'', repeat(''n'', 1000000), ''{}'', ''1 day'')');
SELECT pg_temp.outcome('SELECT pat_define_scope(repeat(''s'', 1000000))');
SELECT pg_temp.outcome('SELECT pat_create(''hostile_user'', ''n'', ''{}'', repeat(''1 day '', 200000))');
-- A megabyte scope nobody defined is named in the error by its first 100 characters: the
-- message, and the server log line it becomes, stay short.
DO $$
BEGIN
    PERFORM pat_create('hostile_user', 'n', ARRAY[repeat('s', 1000000)], '1 day');
EXCEPTION WHEN invalid_parameter_value THEN
    RAISE NOTICE 'message of % characters: %...%', length(SQLERRM), left(SQLERRM, 10), right(SQLERRM, 20);
END
$$;
SELECT pg_temp.outcome(
    'SELECT pat_create(''hostile_user'', ''n'', array_fill(''hostile:read''::text, ARRAY[10000]), ''1 day'')');
SELECT pg_temp.outcome(
    'SELECT pat_create(''hostile_user'', ''n'', ARRAY(SELECT ''undefined:'' || g FROM generate_series(1, 10000) g), ''1 day'')');
SELECT pg_temp.outcome(
    'SELECT pat_define_role(''hostile_big'', ARRAY(SELECT ''undefined:'' || g FROM generate_series(1, 10000) g))');
SELECT v.valid, v.status
FROM hostile_token t, pat_validate(t.token, ARRAY(SELECT 'hostile:read' FROM generate_series(1, 10000))) v;
SELECT v.valid, v.status
FROM hostile_token t, pat_validate(t.token, ARRAY(SELECT 'x:' || g FROM generate_series(1, 10000) g)) v;
SELECT v.valid, v.status FROM hostile_token t, pat_validate(t.token, ARRAY[['hostile:read']]) v;

-- Names with quotes, semicolons, newlines, unicode and control characters are data, not code.
CREATE TEMP TABLE hostile_names (name text);
INSERT INTO hostile_names VALUES
    ('Robert''); DROP TABLE pat.tokens; --'),
    (E'two\nlines'),
    ('"double" and \backslash'),
    ('日本語のトークン 🔑'),
    (E'tab\there'),
    ('$$ dollar $$ quoted $$');
SELECT n.name = v.token_name AS name_kept, v.status
FROM hostile_names n,
     LATERAL pat_create('hostile_user', n.name, '{hostile:read}', '1 day') c,
     LATERAL pat_validate(c.token, '{hostile:read}') v
ORDER BY n.name COLLATE "C";
SELECT pg_temp.outcome(format('SELECT pat_create(%L, %L, %L, %L)',
                              'hostile_user', E'nul\x01ctl', '{}', '1 day'));
SELECT pg_temp.outcome(format('SELECT pat_define_role(%L, %L)', E'bad\nrole', '{}'));
SELECT pg_temp.outcome(format('SELECT pat_grant_role(%L, %L)', 'Robert''); DROP TABLE x; --', 'hostile_role'));
SELECT pat_revoke_role('Robert''); DROP TABLE x; --', 'hostile_role');
SELECT count(*) AS tokens_table_still_there FROM pat.tokens WHERE user_id = 'hostile_user';

-- Out-of-grammar scopes.
SELECT s AS scope, pg_temp.outcome(format('SELECT pat_define_scope(%L)', s)) AS outcome
FROM unnest(ARRAY['a::b', ':a', 'a:', 'a b', 'a;b', 'ａ:b', E'a\nb', 'a/b', 'a*', repeat('a', 101)]) AS s;
SELECT count(*) AS invalid_scopes_stored FROM pat.scopes WHERE NOT pat.is_valid_scope_name(scope);

-- Absurd expiries.
SELECT e AS expires, pg_temp.outcome(format('SELECT pat_create(%L, %L, %L, %L)',
                                            'hostile_user', 'e', '{}', e)) AS outcome
FROM unnest(ARRAY['-infinity', 'epoch', '1970-01-01', '0', '-5 days', '100000000 years',
                  '294277-01-01', '5874897-12-31', 'now', 'today', 'P-1D', 'P1D;DROP',
                  '1 day''); DROP TABLE pat.tokens; --', E'1 day\n', 'NaN', 'forever']) AS e;
SELECT pg_temp.outcome('SELECT pat_create(''hostile_user'', ''e'', ''{}'', interval ''-1 second'')');
SELECT pg_temp.outcome('SELECT pat_create(''hostile_user'', ''e'', ''{}'', interval ''178000000 years'')');
SELECT pg_temp.outcome('SELECT pat_create(''hostile_user'', ''e'', ''{}'', ''-infinity''::timestamptz)');

-- Garbage tokens of every shape are malformed, never an error.
SELECT t AS token_shape, v.valid, v.status
FROM unnest(ARRAY['pat_', 'Bearer pat_x', E'pat_\n', 'pat_' || repeat('0', 36),
                  'pat_' || repeat('é', 36), ' pat_' || repeat('A', 36), '%', '''; --']) AS t,
     LATERAL pat_validate(t) v;

-- Nothing above left a broken row behind.
SELECT count(*) AS bad_rows FROM pat.tokens
WHERE length(name) NOT BETWEEN 1 AND 255 OR length(digest) <> 32;
SELECT status, count(*) FROM pat_list('hostile_user') GROUP BY status ORDER BY status;

-- Clean up.
SELECT pat_revoke_all('hostile_user') > 0 AS revoked;
DELETE FROM pat.tokens WHERE user_id = 'hostile_user';
DELETE FROM pat.user_roles WHERE user_id = 'hostile_user';
DELETE FROM pat.role_scopes WHERE role = 'hostile_role';
DELETE FROM pat.roles WHERE role = 'hostile_role';
DELETE FROM pat.scopes WHERE scope = 'hostile:read';
