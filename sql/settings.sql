--
-- The pat.* settings: pat.token_prefix (what new tokens start with; old tokens keep working)
-- and pat.max_lifetime (a policy on new tokens' expiry); both superuser-only. Tokens, ids and
-- timestamps are never printed. Every error is followed by \echo :SQLSTATE.
--
\set SHOW_CONTEXT never
-- The settings exist once the module is loaded.
LOAD 'pg_pat';

SELECT pat_define_scope('catalog:read', 'Read the software catalog');
SELECT pat_define_role('se_reader', '{catalog:read}');
SELECT pat_grant_role('se-alice', 'se_reader');

SHOW pat.token_prefix;
SHOW pat.max_lifetime;
SELECT name, setting, context, vartype FROM pg_settings
WHERE name IN ('pat.token_prefix', 'pat.max_lifetime') ORDER BY name;

-- pat.token_prefix: new tokens start with it; tokens issued under another prefix still validate.
SELECT token AS pat_tok FROM pat_create('se-alice', 'default prefix', '{catalog:read}',
                                        '1 day') \gset
SET pat.token_prefix = 'acme_';
SHOW pat.token_prefix;
SELECT token AS acme_tok FROM pat_create('se-alice', 'acme prefix', '{catalog:read}',
                                         '1 day') \gset
SELECT :'acme_tok' ~ '^acme_[0-9A-Za-z]{36}$' AS acme_format;
SELECT valid, status FROM pat_validate(:'acme_tok');
SELECT valid, status FROM pat_validate(:'pat_tok');
-- The prefix is covered by the checksum: swapping it makes the token malformed.
SELECT valid, status FROM pat_validate('pat_' || substr(:'acme_tok', 6));
SELECT valid, status FROM pat_validate('acme_' || substr(:'pat_tok', 5));
-- Other valid prefixes: letters, digits, '_' and '-', up to 64 characters, or none at all.
SET pat.token_prefix = 'ghp-2024_';
SELECT token AS dash_tok FROM pat_create('se-alice', 'dash prefix', '{}', '1 day') \gset
SELECT :'dash_tok' ~ '^ghp-2024_[0-9A-Za-z]{36}$' AS dash_format;
SELECT status FROM pat_validate(:'dash_tok');
SELECT set_config('pat.token_prefix', repeat('p', 64), false) = repeat('p', 64) AS set_64;
SELECT token AS long_tok FROM pat_create('se-alice', 'long prefix', '{}', '1 day') \gset
SELECT length(:'long_tok') AS token_length, left(:'long_tok', 64) = repeat('p', 64) AS prefixed;
SELECT status FROM pat_validate(:'long_tok');
SET pat.token_prefix = '';
SELECT token AS bare_tok FROM pat_create('se-alice', 'no prefix', '{}', '1 day') \gset
SELECT :'bare_tok' ~ '^[0-9A-Za-z]{36}$' AS bare_format;
SELECT status FROM pat_validate(:'bare_tok');
-- Bad prefixes are refused (22023) and the setting keeps its value.
SET pat.token_prefix = 'acme pat_';
\echo :SQLSTATE
SET pat.token_prefix = 'acme:';
\echo :SQLSTATE
SET pat.token_prefix = 'pät_';
\echo :SQLSTATE
SELECT set_config('pat.token_prefix', repeat('p', 65), false);
\echo :SQLSTATE
SHOW pat.token_prefix;
-- Back to the default: every token made above still validates.
RESET pat.token_prefix;
SHOW pat.token_prefix;
SELECT token ~ '^pat_[0-9A-Za-z]{36}$' AS default_format
FROM pat_create('se-alice', 'default again', '{}', '1 day');
SELECT t AS token_kind, v.status
FROM (VALUES ('pat_', :'pat_tok'), ('acme_', :'acme_tok'), ('ghp-2024_', :'dash_tok'),
             ('64 x p', :'long_tok'), ('none', :'bare_tok')) AS k(t, tok),
     LATERAL pat_validate(k.tok) AS v;
-- SET LOCAL lasts for the transaction only.
BEGIN;
SET LOCAL pat.token_prefix = 'tx_';
SELECT token ~ '^tx_' AS local_prefix FROM pat_create('se-alice', 'local', '{}', '1 day');
COMMIT;
SHOW pat.token_prefix;

-- pat.max_lifetime: when set, 'never' and anything beyond it are refused (22023).
SET pat.max_lifetime = '90 days';
SHOW pat.max_lifetime;
SELECT c.expires_at = now() + interval '90 days' AS exactly_the_limit
FROM pat_create('se-alice', 'at the limit', '{}', '90 days') AS c;
SELECT count(*) FROM pat_create('se-alice', 'within', '{}', '30 days');
SELECT count(*) FROM pat_create('se-alice', 'within, ISO', '{}', 'P60D');
SELECT count(*) FROM pat_create('se-alice', 'within, interval', '{}', interval '89 days');
SELECT count(*) FROM pat_create('se-alice', 'within, timestamptz', '{}',
                                now() + interval '10 days');
SELECT to_char(now() + interval '10 days', 'YYYY-MM-DD') AS soon \gset
SELECT count(*) FROM pat_create('se-alice', 'within, a date', '{}', :'soon');
SELECT * FROM pat_create('se-alice', 'x', '{}', 'never');
\echo :SQLSTATE
SELECT * FROM pat_create('se-alice', 'x', '{}', 'infinity');
\echo :SQLSTATE
SELECT * FROM pat_create('se-alice', 'x', '{}', 'infinity'::timestamptz);
\echo :SQLSTATE
SELECT * FROM pat_create('se-alice', 'x', '{}', '91 days');
\echo :SQLSTATE
SELECT * FROM pat_create('se-alice', 'x', '{}', '90 days 1 second');
\echo :SQLSTATE
SELECT * FROM pat_create('se-alice', 'x', '{}', '1 year');
\echo :SQLSTATE
SELECT * FROM pat_create('se-alice', 'x', '{}', interval '1 year');
\echo :SQLSTATE
SELECT * FROM pat_create('se-alice', 'x', '{}', now() + interval '100 days');
\echo :SQLSTATE
SELECT * FROM pat_create('se-alice', 'x', '{}', '2099-03-01');
\echo :SQLSTATE
-- Past expiries are still refused for being past.
SELECT * FROM pat_create('se-alice', 'x', '{}', '-1 day');
\echo :SQLSTATE
SELECT count(*) AS refused_rows FROM pat.tokens WHERE name = 'x';
-- The policy is for new tokens: one made before it keeps its expiry and stays valid.
RESET pat.max_lifetime;
SELECT token AS forever_tok FROM pat_create('se-alice', 'forever', '{}', 'never') \gset
SET pat.max_lifetime = '90 days';
SELECT status, expires_at FROM pat_validate(:'forever_tok');
-- Other spellings of a lifetime.
SET pat.max_lifetime = '1 hour';
SELECT count(*) FROM pat_create('se-alice', 'an hour', '{}', '59 minutes');
SELECT * FROM pat_create('se-alice', 'x', '{}', '61 minutes');
\echo :SQLSTATE
SET pat.max_lifetime = 'P1M';
SHOW pat.max_lifetime;
SELECT count(*) FROM pat_create('se-alice', 'a month', '{}', '1 mon');
SELECT * FROM pat_create('se-alice', 'x', '{}', '1 mon 1 day');
\echo :SQLSTATE
-- Invalid lifetimes are refused (22023) and the setting keeps its value.
SET pat.max_lifetime = 'garbage';
\echo :SQLSTATE
SET pat.max_lifetime = '0';
\echo :SQLSTATE
SET pat.max_lifetime = '0 days';
\echo :SQLSTATE
SET pat.max_lifetime = '-1 day';
\echo :SQLSTATE
SET pat.max_lifetime = '1 mon -1 day';
\echo :SQLSTATE
SET pat.max_lifetime = 'never';
\echo :SQLSTATE
SET pat.max_lifetime = '2027-03-01';
\echo :SQLSTATE
SELECT set_config('pat.max_lifetime', 'P' || repeat('0', 252) || '1D' || 'garbage', false);
\echo :SQLSTATE
SHOW pat.max_lifetime;
-- Empty means no limit, as does RESET.
SET pat.max_lifetime = '';
SELECT count(*) FROM pat_create('se-alice', 'unlimited', '{}', 'never');
SET pat.max_lifetime = '7 days';
RESET pat.max_lifetime;
SHOW pat.max_lifetime;
SELECT count(*) FROM pat_create('se-alice', 'unlimited again', '{}', '10 years');
-- SET LOCAL lasts for the transaction only.
BEGIN;
SET LOCAL pat.max_lifetime = '1 day';
SELECT * FROM pat_create('se-alice', 'x', '{}', 'never');
\echo :SQLSTATE
ROLLBACK;
SELECT count(*) FROM pat_create('se-alice', 'after the transaction', '{}', 'never');

-- Other names under pat. are reserved: a typo is an error, not a silent new setting.
SET pat.max_lifetme = '90 days';
\echo :SQLSTATE
SET pat.prefix = 'acme_';
\echo :SQLSTATE

-- Only a superuser may set them: an application role cannot lift a policy (42501).
SET pat.max_lifetime = '90 days';
CREATE ROLE regress_pat_app NOLOGIN;
GRANT EXECUTE ON FUNCTION pat_create(text, text, text[], text, cidr[], jsonb, jsonb) TO regress_pat_app;
SET ROLE regress_pat_app;
SHOW pat.max_lifetime;
SHOW pat.token_prefix;
SET pat.max_lifetime = '';
\echo :SQLSTATE
RESET pat.max_lifetime;
\echo :SQLSTATE
SET pat.max_lifetime = '100 years';
\echo :SQLSTATE
SELECT set_config('pat.max_lifetime', '', false);
\echo :SQLSTATE
BEGIN;
SET LOCAL pat.max_lifetime = '';
\echo :SQLSTATE
ROLLBACK;
SET pat.token_prefix = 'evil_';
\echo :SQLSTATE
SELECT set_config('pat.token_prefix', 'evil_', true);
\echo :SQLSTATE
-- ...nor in a function's SET clause.
CREATE FUNCTION pg_temp.regress_lift() RETURNS int LANGUAGE sql
    SET pat.max_lifetime = '' AS 'SELECT 1';
\echo :SQLSTATE
-- The policy still holds for it.
SHOW pat.max_lifetime;
SELECT * FROM pat_create('se-alice', 'x', '{}', 'never');
\echo :SQLSTATE
SELECT count(*) FROM pat_create('se-alice', 'app, within policy', '{}', '30 days');
RESET ROLE;
-- Nor can a role setting made by the role itself (ALTER ROLE ... SET needs superuser here).
SET ROLE regress_pat_app;
ALTER ROLE regress_pat_app SET pat.max_lifetime = '';
\echo :SQLSTATE
RESET ROLE;

-- Nor by setting them in a session before the module is loaded: when it loads, a value the
-- role had no right to set is dropped (with a WARNING, hidden here because a server that
-- preloads the module refuses the SET itself), and the database's policy holds.
DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET pat.max_lifetime = %L', current_database(),
                           '90 days'); END $$;
\c -
SET ROLE regress_pat_app;
SET client_min_messages = error;
DO $$
BEGIN
    SET pat.max_lifetime = '';
    SET pat.token_prefix = 'evil_';
EXCEPTION WHEN insufficient_privilege THEN NULL;
END
$$;
SELECT * FROM pat_create('se-alice', 'x', '{}', 'never');
\echo :SQLSTATE
SELECT token ~ '^pat_' AS default_prefix FROM pat_create('se-alice', 'early', '{}', '1 day');
RESET client_min_messages;
SHOW pat.max_lifetime;
SHOW pat.token_prefix;
RESET ROLE;
DO $$ BEGIN EXECUTE format('ALTER DATABASE %I RESET pat.max_lifetime', current_database()); END $$;

-- pat.token_cache_size: superuser-only too; with the cache off, checks work the same.
SHOW pat.token_cache_size;
SET pat.token_cache_size = 0;
SELECT status FROM pat_validate(:'pat_tok');
SELECT status FROM pat_validate(:'pat_tok', '{nope:nope}');
SET pat.token_cache_size = -1;
\echo :SQLSTATE
RESET pat.token_cache_size;
SET ROLE regress_pat_app;
SET pat.token_cache_size = 0;
\echo :SQLSTATE
RESET ROLE;

-- pat.digest_key, the server's key for token digests, comes from postgresql.conf only, and
-- only a superuser may read it.
SET pat.digest_key = 'a key of thirty-two characters..';
\echo :SQLSTATE
SELECT count(*) AS listed FROM pg_settings WHERE name LIKE 'pat.digest%';
-- The refusals are PostgreSQL's, worded differently by each major: their SQLSTATE says enough.
SET ROLE regress_pat_app;
\set VERBOSITY sqlstate
SHOW pat.digest_key;
\echo :SQLSTATE
SELECT current_setting('pat.digest_key');
\echo :SQLSTATE
SHOW pat.digest_previous_keys;
\echo :SQLSTATE
\set VERBOSITY default
RESET ROLE;

-- Clean up: leave the database as CREATE EXTENSION left it.
RESET pat.max_lifetime;
RESET pat.token_prefix;
DROP OWNED BY regress_pat_app;
DROP ROLE regress_pat_app;
SET client_min_messages = warning;
TRUNCATE pat.tokens, pat.user_roles, pat.role_scopes, pat.roles, pat.scopes CASCADE;
RESET client_min_messages;
