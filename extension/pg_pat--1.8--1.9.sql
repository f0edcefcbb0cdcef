-- pg_pat 1.9: trust off the happy path (issue 22).

\echo Use "ALTER EXTENSION pg_pat UPDATE TO '1.9'" to load this file. \quit

SELECT pat.require_preloaded();
