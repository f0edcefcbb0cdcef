--
-- The token context follows subtransactions: a savepoint rolled back, or a PL/pgSQL exception
-- block that catches an error, brings back exactly the context (or its absence) that held when
-- it began, whatever happened inside (pat_authenticate() with the same or another token,
-- pat_clear()), at any depth; a released savepoint hands what it did to its parent. The audit
-- actor (pat_set_actor) follows them the same way. Tokens and ids are never printed.
--
\set SHOW_CONTEXT never

SELECT pat_define_scope('tc_notes:read'), pat_define_scope('tc_notes:write'),
       pat_define_scope('tokens:manage');
SELECT pat_define_role('tc_member', '{tc_notes:read,tc_notes:write,tokens:manage}');
SELECT pat_grant_role('tc-alice', 'tc_member'), pat_grant_role('tc-bob', 'tc_member');

-- alice's read-only agent token, her managing CLI token, and bob's token.
SELECT token AS agent FROM pat_create('tc-alice', 'agent', '{tc_notes:read}', '7 days') \gset
SELECT token AS cli FROM pat_create('tc-alice', 'cli', '{tc_notes:read,tokens:manage}', '7 days') \gset
SELECT token AS bob_tok FROM pat_create('tc-bob', 'bob cli', '{tc_notes:read}', '7 days') \gset

-- What the transaction acts as right now.
CREATE FUNCTION pg_temp.ctx() RETURNS text LANGUAGE sql AS
$$SELECT coalesce(pat_current_user() || ' / ' || pat_current_token_name(), 'no context')$$;

-- The attack: re-authenticating with the same read-only token in a savepoint and rolling it
-- back must leave the read-only context, not the unrestricted back end.
BEGIN;
SELECT pat_authenticate(:'agent') AS user_id;
SAVEPOINT s;
SELECT pat_authenticate(:'agent') AS user_id;
ROLLBACK TO SAVEPOINT s;
SELECT pg_temp.ctx();
SELECT token_id IS NOT NULL AS minted
FROM pat_create('tc-bob', 'stolen', '{tc_notes:read,tokens:manage}', 'never');
\echo :SQLSTATE
ROLLBACK;
SELECT count(*) AS stolen_tokens FROM pat.tokens WHERE name = 'stolen';

-- The same through a PL/pgSQL exception block.
SET regress.agent = :'agent';
BEGIN;
SELECT pat_authenticate(:'agent') AS user_id;
DO $$
BEGIN
    BEGIN
        PERFORM pat_authenticate(current_setting('regress.agent'));
        RAISE EXCEPTION 'undo';
    EXCEPTION WHEN raise_exception THEN
        RAISE NOTICE 'after the block: %', pg_temp.ctx();
    END;
END
$$;
SELECT pg_temp.ctx();
SELECT token_id IS NOT NULL AS minted
FROM pat_create('tc-bob', 'stolen', '{tc_notes:read,tokens:manage}', 'never');
\echo :SQLSTATE
ROLLBACK;
SELECT count(*) AS stolen_tokens FROM pat.tokens WHERE name = 'stolen';

-- Another token in the savepoint: rolled back, the first one is back.
BEGIN;
SELECT pat_authenticate(:'agent') AS user_id;
SAVEPOINT s;
SELECT pat_authenticate(:'bob_tok') AS user_id;
SELECT pg_temp.ctx();
ROLLBACK TO SAVEPOINT s;
SELECT pg_temp.ctx();
-- The savepoint is set again by ROLLBACK TO: rolling it back again gives the same.
SELECT pat_authenticate(:'cli') AS user_id;
ROLLBACK TO SAVEPOINT s;
SELECT pg_temp.ctx(), pat_has_scope('tokens:manage') AS can_manage;
COMMIT;

-- pat_clear() in a savepoint: rolled back, the context is back; released, it stays cleared.
BEGIN;
SELECT pat_authenticate(:'agent') AS user_id;
SAVEPOINT s;
SELECT pat_clear() AS cleared;
SELECT pg_temp.ctx();
ROLLBACK TO SAVEPOINT s;
SELECT pg_temp.ctx();
SELECT pat_clear() AS cleared;
RELEASE SAVEPOINT s;
SELECT pg_temp.ctx();
COMMIT;

-- No context before the savepoint: none after it is rolled back.
BEGIN;
SAVEPOINT s;
SELECT pat_authenticate(:'agent') AS user_id;
ROLLBACK TO SAVEPOINT s;
SELECT pg_temp.ctx();
COMMIT;

-- Nested savepoints, each rolled back to the context that held when it began.
BEGIN;
SELECT pat_authenticate(:'agent') AS user_id;
SAVEPOINT s1;
SELECT pat_authenticate(:'bob_tok') AS user_id;
SAVEPOINT s2;
SELECT pat_authenticate(:'cli') AS user_id;
SAVEPOINT s3;
SELECT pat_clear() AS cleared;
SELECT pg_temp.ctx();
ROLLBACK TO SAVEPOINT s3;
SELECT pg_temp.ctx();
ROLLBACK TO SAVEPOINT s2;
SELECT pg_temp.ctx();
ROLLBACK TO SAVEPOINT s1;
SELECT pg_temp.ctx();
COMMIT;

-- A savepoint that changed nothing, rolled back inside one that did, changes nothing.
BEGIN;
SELECT pat_authenticate(:'agent') AS user_id;
SAVEPOINT s1;
SELECT pat_authenticate(:'bob_tok') AS user_id;
SAVEPOINT s2;
SELECT 1 / 0;
\echo :SQLSTATE
ROLLBACK TO SAVEPOINT s2;
SELECT pg_temp.ctx();
ROLLBACK TO SAVEPOINT s1;
SELECT pg_temp.ctx();
COMMIT;

-- RELEASE hands the inner change to the parent, replacing the parent's own; rolling back the
-- parent then restores what held before the parent.
BEGIN;
SELECT pat_authenticate(:'agent') AS user_id;
SAVEPOINT s1;
SELECT pat_authenticate(:'bob_tok') AS user_id;
SAVEPOINT s2;
SELECT pat_authenticate(:'cli') AS user_id;
RELEASE SAVEPOINT s2;
SELECT pg_temp.ctx();
ROLLBACK TO SAVEPOINT s1;
SELECT pg_temp.ctx();
-- Released into a savepoint that changed nothing: rolling back an outer one still restores.
SAVEPOINT s2;
SAVEPOINT s3;
SELECT pat_clear() AS cleared;
RELEASE SAVEPOINT s3;
SELECT pg_temp.ctx();
ROLLBACK TO SAVEPOINT s1;
SELECT pg_temp.ctx();
-- Released up to the top level, a change lasts until the transaction ends.
SAVEPOINT s4;
SELECT pat_authenticate(:'bob_tok') AS user_id;
RELEASE SAVEPOINT s4;
SAVEPOINT s5;
ROLLBACK TO SAVEPOINT s5;
SELECT pg_temp.ctx();
COMMIT;
SELECT pg_temp.ctx();

-- Nested exception blocks: each restores what held when it began.
SET regress.bob_tok = :'bob_tok';
SET regress.cli = :'cli';
BEGIN;
SELECT pat_authenticate(:'agent') AS user_id;
DO $$
BEGIN
    BEGIN
        PERFORM pat_authenticate(current_setting('regress.bob_tok'));
        BEGIN
            PERFORM pat_clear();
            BEGIN
                PERFORM pat_authenticate(current_setting('regress.cli'));
                RAISE EXCEPTION 'undo the cli token';
            EXCEPTION WHEN raise_exception THEN
                RAISE NOTICE 'innermost block undone: %', pg_temp.ctx();
            END;
            RAISE EXCEPTION 'undo the clear';
        EXCEPTION WHEN raise_exception THEN
            RAISE NOTICE 'middle block undone: %', pg_temp.ctx();
        END;
        -- A block that ends without an error keeps what it did.
        BEGIN
            PERFORM pat_authenticate(current_setting('regress.cli'));
        EXCEPTION WHEN others THEN
            RAISE NOTICE 'not reached';
        END;
        RAISE NOTICE 'block ended normally: %', pg_temp.ctx();
        RAISE EXCEPTION 'undo the bob token';
    EXCEPTION WHEN raise_exception THEN
        RAISE NOTICE 'outer block undone: %', pg_temp.ctx();
    END;
END
$$;
SELECT pg_temp.ctx();
COMMIT;

-- The audit actor follows savepoints the same way.
BEGIN;
SELECT pat_set_actor('tc_first');
SAVEPOINT s1;
SELECT pat_set_actor('tc_second');
SAVEPOINT s2;
SELECT pat_set_actor(NULL);
RELEASE SAVEPOINT s2;
SELECT pat_current_actor() IS NULL AS no_actor;
ROLLBACK TO SAVEPOINT s1;
SELECT pat_current_actor();
SAVEPOINT s3;
SAVEPOINT s4;
SELECT pat_set_actor('tc_third');
RELEASE SAVEPOINT s4;
SELECT pat_current_actor();
ROLLBACK TO SAVEPOINT s3;
SELECT pat_current_actor();
COMMIT;
SELECT pat_current_actor() IS NULL AS no_actor;
