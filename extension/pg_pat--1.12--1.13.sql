-- pg_pat 1.13: each token's last client addresses, written by the usage flush, shown by pat_list
-- and pat_token_activity, and a new_address notice for an address a token never used (issue 27).

\echo Use "ALTER EXTENSION pg_pat UPDATE TO '1.13'" to load this file. \quit

SELECT pat.require_preloaded();
