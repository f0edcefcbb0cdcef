--
-- pat_authenticate() outside a transaction block warns that the token context ends with the
-- statement, once per session: a service calling it in autocommit would otherwise write one
-- WARNING line to the server log per request. Tokens are never printed.
--
\set SHOW_CONTEXT never

SELECT pat_define_scope('tl_notes:read');
SELECT pat_define_role('tl_member', '{tl_notes:read}');
SELECT pat_grant_role('tl-alice', 'tl_member');
SELECT token AS tok FROM pat_create('tl-alice', 'service', '{tl_notes:read}', '7 days') \gset

-- Inside a transaction block, no warning.
BEGIN;
SELECT pat_authenticate(:'tok') AS user_id;
COMMIT;
-- A failed call outside one sets no context: no warning, and the session's one is still due.
SELECT pat_authenticate('garbage');
\echo :SQLSTATE

-- Three calls outside a transaction block: exactly one WARNING, the first.
SELECT pat_authenticate(:'tok') AS user_id;
SELECT pat_authenticate(:'tok') AS user_id;
SELECT pat_authenticate(:'tok', '{tl_notes:read}') AS user_id;

-- A new session warns again, once.
\c
SELECT pat_authenticate(:'tok') AS user_id;
SELECT pat_authenticate(:'tok') AS user_id;
