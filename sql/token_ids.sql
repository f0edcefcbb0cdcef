--
-- Token ids are version 7 UUIDs (RFC 9562): the creation time in milliseconds, then random
-- bits. Ids made later sort later, so new index entries go to a few recent pages.
--
SELECT pat_define_scope('ti:read');
CREATE TEMP TABLE ids AS SELECT 1 AS n, token_id FROM pat_create('ti-alice', 'first', '{}', '1 day');
SELECT pg_sleep(0.01);
INSERT INTO ids SELECT 2, token_id FROM pat_create('ti-alice', 'second', '{}', '1 day');
SELECT pg_sleep(0.01);
INSERT INTO ids SELECT 3, token_id FROM pat_create('ti-alice', 'third', '{}', '1 day');
SELECT count(*) FILTER (WHERE substr(token_id::text, 15, 1) = '7') AS version_7,
       count(*) FILTER (WHERE substr(token_id::text, 20, 1) IN ('8', '9', 'a', 'b')) AS rfc_variant,
       array_agg(n ORDER BY token_id) AS in_id_order
FROM ids;
-- The first 48 bits are the creation time, to the millisecond.
SELECT bool_and(abs(('x' || substr(replace(i.token_id::text, '-', ''), 1, 12))::bit(48)::bigint
                    - floor(extract(epoch FROM t.created_at) * 1000)::bigint) < 1000)
           AS time_prefix
FROM ids i JOIN pat.tokens t USING (token_id);

SET client_min_messages = warning;
TRUNCATE pat.tokens, pat.user_roles, pat.role_scopes, pat.roles, pat.scopes CASCADE;
RESET client_min_messages;
