-- pg_pat 1.9: trust off the happy path (issue 22).

\echo Use "ALTER EXTENSION pg_pat UPDATE TO '1.9'" to load this file. \quit

SELECT pat.require_preloaded();

-- Expiries a restore can read (issue 22 item 3) ====
-- pat_rotate could carry a lifetime past the last valid timestamptz; such a value is written
-- by pg_dump as text COPY refuses, so the restore of pat.tokens would fail. It is brought back
-- to the last valid time (shortening an expiry is allowed and audited); +infinity, which the
-- API reads as never, is stored as never.
UPDATE pat.tokens SET expires_at = '294276-12-31 23:59:59.999999+00'
 WHERE expires_at OPERATOR(pg_catalog.>) '294276-12-31 23:59:59.999999+00'
   AND expires_at OPERATOR(pg_catalog.<>) 'infinity';
UPDATE pat.tokens SET expires_at = NULL
 WHERE expires_at OPERATOR(pg_catalog.=) 'infinity';
