--
-- Digest key fingerprints: every token records the fingerprint of the key it was made
-- under (pat.tokens.key_id), pat_key_status() lists them with their token counts and whether
-- this server has the key, and a recorded fingerprint never changes. Without pat.digest_key
-- (as in these tests) the fingerprint is "sha256". TAP test 010 covers keys, a standby without
-- the key and the WARNING. Tokens, ids and timestamps are never printed. Every error is
-- followed by \echo :SQLSTATE.
--
\set SHOW_CONTEXT never

-- No scope is defined here: tests after this one (one_rule) count every defined scope.
-- Counts are taken before and after, as other tests share the database.
SELECT coalesce(sum(tokens) FILTER (WHERE key_id = 'sha256'), 0) AS sha_tokens,
       coalesce(sum(active_tokens) FILTER (WHERE key_id = 'sha256'), 0) AS sha_active,
       coalesce(sum(tokens) FILTER (WHERE key_id IS NULL), 0) AS unknown_tokens,
       coalesce(sum(active_tokens) FILTER (WHERE key_id IS NULL), 0) AS unknown_active
FROM pat_key_status() \gset
SELECT token_id AS ks_id FROM pat_create('ks-alice', 'laptop', '{}', '30 days') \gset
SELECT key_id FROM pat.tokens WHERE token_id = :'ks_id';
SELECT pat.configured_key_ids();

-- A token stored without key_id (made under a schema without the column; here loaded by a
-- superuser) has no fingerprint; it
-- is counted under NULL, and whether this server has its key is unknown (NULL). The configured
-- keys come first, the current one first of all.
INSERT INTO pat.tokens (user_id, name, scopes, digest)
VALUES ('ks-alice', 'from 1.5', '{}', '\x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff');
SELECT key_id, tokens - CASE WHEN key_id IS NULL THEN :unknown_tokens ELSE :sha_tokens END AS new_tokens,
       active_tokens - CASE WHEN key_id IS NULL THEN :unknown_active ELSE :sha_active END AS new_active,
       configured, current
FROM pat_key_status();
-- A revoked token is counted in tokens, not in active_tokens.
SELECT pat_revoke(:'ks_id');
SELECT tokens - :sha_tokens AS new_tokens, active_tokens - :sha_active AS new_active
FROM pat_key_status() WHERE key_id = 'sha256';

-- A missing fingerprint may be filled in (a DBA who knows the key); a recorded one never changes.
UPDATE pat.tokens SET key_id = 'sha256' WHERE name = 'from 1.5' AND user_id = 'ks-alice';
SELECT count(*) AS unknown_left FROM pat.tokens WHERE key_id IS NULL AND user_id = 'ks-alice';
UPDATE pat.tokens SET key_id = '0123456789abcdef' WHERE token_id = :'ks_id';
\echo :SQLSTATE
UPDATE pat.tokens SET key_id = NULL WHERE token_id = :'ks_id';
\echo :SQLSTATE

-- pat_key_status is the admin profile's; an application role may not run it.
CREATE ROLE ks_app;
SELECT pat_grant_profile('ks_app', 'application');
SET ROLE ks_app;
SELECT * FROM pat_key_status();
\echo :SQLSTATE
SELECT pat.configured_key_ids();
\echo :SQLSTATE
RESET ROLE;
DROP OWNED BY ks_app;
DROP ROLE ks_app;
