-- pg_pat's install script for the current version, built by `make` from schema/*.sql, which it
-- concatenates in name order: edit those files, never the built extension/pg_pat--<version>.sql.
-- It makes the same objects as pg_pat--1.0.sql followed by every update script
-- (test/t/004_upgrade.pl compares the two); what each version added, and why, is in its
-- pg_pat--<from>--<to>.sql and in CHANGELOG.md.
--
-- The parts, each stating its objects as they are now:
--   10-schema.sql      schema pat and the preload check
--   20-helpers.sql     internal functions in schema pat (never granted)
--   30-tables.sql      tables, sequences, indexes, what pg_dump keeps
--   40-functions.sql   the API: functions in the extension's schema (@extschema@)
--   50-triggers.sql    trigger functions, triggers, the event trigger
--   60-policies.sql    row level security on pat.tokens
--   70-privileges.sql  the grant profiles (the one list of API functions) and PUBLIC's revokes
--
-- API functions live in the extension's schema (@extschema@); tables and helpers in schema pat.
-- Nothing is granted to PUBLIC. The API functions are C functions that read and write the
-- tables as their owner, with no name resolved through the caller's search_path.

\echo Use "CREATE EXTENSION pg_pat" to load this file. \quit

CREATE SCHEMA pat;
COMMENT ON SCHEMA pat IS 'pg_pat internals: tokens, scopes, roles; no access for PUBLIC';

-- pg_pat must be preloaded (shared_preload_libraries): this fails here, with a hint, otherwise.
CREATE FUNCTION pat.require_preloaded() RETURNS void
    AS 'MODULE_PATHNAME', 'pat_require_preloaded'
    LANGUAGE C STRICT;
SELECT pat.require_preloaded();
