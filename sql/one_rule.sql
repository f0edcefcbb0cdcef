--
-- One home per rule: pat_grantable_scopes, pat_list and pat_validate read the same rules
-- (src/core/policy.hpp, status.hpp) with the same clock, so for the same token at the same
-- instant they agree: about what a user's roles allow (an all-scopes role allows every
-- defined scope, and only those), and about whether a token has expired, even inside one
-- long transaction.
--
\set SHOW_CONTEXT never
SELECT pat_define_scope('or:read');
SELECT pat_define_scope('or:write');
SELECT pat_define_scope('or:admin');
SELECT pat_define_role('or_member', '{or:read}');
SELECT pat_define_role('or_admin', '{}', all_scopes => true);
SELECT pat_grant_role('or-root', 'or_admin');
SELECT pat_grant_role('or-member', 'or_member');
SELECT token AS root_tok, token_id AS root_id
FROM pat_create('or-root', 'root', '{or:read,or:write,or:admin}', '30 days') \gset

-- A scope removed from pat.scopes behind the API's back (no role names it) is grantable to no
-- one, all-scopes roles included, and no token holds it any more.
DELETE FROM pat.scopes WHERE scope = 'or:admin';
SELECT array_agg(s ORDER BY s COLLATE "C") AS grantable FROM pat_grantable_scopes('or-root') s;
SELECT status, scopes FROM pat_validate(:'root_tok');
SELECT status, scopes FROM pat_validate(:'root_tok', '{or:admin}');
SELECT * FROM pat_create('or-root', 'x', '{or:admin}', '1 day');
\echo :SQLSTATE
-- What pat_validate reports as a token's scopes is what the form would offer for it.
SELECT v.scopes = ARRAY(SELECT s FROM pat_grantable_scopes('or-root') s
                        WHERE s = ANY (t.scopes) ORDER BY s COLLATE "C") AS same_scopes
FROM pat.tokens t, pat_validate(:'root_tok') v WHERE t.token_id = :'root_id';

-- A member's token: the effective scopes shrink with the role, in validation and in the form.
SELECT token AS member_tok FROM pat_create('or-member', 'member', '{or:read}', '30 days') \gset
SELECT pat_define_role('or_member', '{or:write}');
SELECT array_agg(s) AS grantable FROM pat_grantable_scopes('or-member') s;
SELECT status, scopes FROM pat_validate(:'member_tok');

-- Expiry inside one transaction: the token expires after the transaction began and before
-- the statement that asks; pat_list and pat_validate agree that it has expired.
SELECT token AS short_tok, token_id AS short_id
FROM pat_create('or-member', 'short', '{}', '30 days') \gset
BEGIN;
SELECT pg_sleep(0.05);
UPDATE pat.tokens SET expires_at = clock_timestamp() WHERE token_id = :'short_id';
SELECT pg_sleep(0.05);
SELECT (SELECT status FROM pat_list('or-member') WHERE token_id = :'short_id') AS listed,
       (SELECT status FROM pat_validate(:'short_tok')) AS validated,
       (SELECT expires_at > now() FROM pat.tokens WHERE token_id = :'short_id')
           AS expires_after_transaction_start;
COMMIT;

-- Clean up.
SET client_min_messages = warning;
TRUNCATE pat.tokens, pat.user_roles, pat.role_scopes, pat.roles, pat.scopes CASCADE;
RESET client_min_messages;
