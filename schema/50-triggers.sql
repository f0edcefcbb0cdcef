
-- Triggers ==================================================================================
-- The trigger functions (in schema pat, never granted) and the triggers that call them. Most are
-- ENABLE ALWAYS: session_replication_role = replica (a superuser's, or logical replication's
-- apply) skips ordinary triggers, and must not skip these.

-- pat.tokens: the table refuses what the API refuses -------------------------------------------

-- The C guards apply the API's rules to every INSERT and UPDATE (see src/pg/tokens/tokens_trigger.cpp):
-- user id and name as the API checks them, new scopes as pat_create and pat_update check them,
-- and for any role but a superuser restoring a dump, no revoked or back-dated row and an expiry
-- the API would accept. Expirations only shorten, revocations are final, identity columns never
-- change.
CREATE FUNCTION pat.tokens_before_insert() RETURNS trigger
    AS 'MODULE_PATHNAME', 'pat_tokens_before_insert'
    LANGUAGE C;
CREATE FUNCTION pat.tokens_before_update() RETURNS trigger
    AS 'MODULE_PATHNAME', 'pat_tokens_before_update'
    LANGUAGE C;

CREATE TRIGGER tokens_before_insert BEFORE INSERT ON pat.tokens
    FOR EACH ROW EXECUTE FUNCTION pat.tokens_before_insert();
CREATE TRIGGER tokens_before_update BEFORE UPDATE ON pat.tokens
    FOR EACH ROW EXECUTE FUNCTION pat.tokens_before_update();
ALTER TABLE pat.tokens ENABLE ALWAYS TRIGGER tokens_before_insert;
ALTER TABLE pat.tokens ENABLE ALWAYS TRIGGER tokens_before_update;
-- A token's row is the record of its revocation: deleted, its digest could be inserted again
-- with a fresh expiry. Only the table's owner (or a superuser) deletes or truncates token rows.
CREATE FUNCTION pat.tokens_before_delete() RETURNS trigger
    AS 'MODULE_PATHNAME', 'pat_tokens_before_delete'
    LANGUAGE C;
CREATE TRIGGER tokens_before_delete BEFORE DELETE ON pat.tokens
    FOR EACH ROW EXECUTE FUNCTION pat.tokens_before_delete();
CREATE TRIGGER tokens_before_truncate BEFORE TRUNCATE ON pat.tokens
    FOR EACH STATEMENT EXECUTE FUNCTION pat.tokens_before_delete();
ALTER TABLE pat.tokens ENABLE ALWAYS TRIGGER tokens_before_delete;
ALTER TABLE pat.tokens ENABLE ALWAYS TRIGGER tokens_before_truncate;

-- pat.tokens: lifecycle audit rows ------------------------------------------------------------

-- The lifecycle rows are written by a C trigger, without a PL/pgSQL call and an executor per row;
-- it checks its conditions itself (a WHEN clause is parsed again by every statement's executor).
CREATE FUNCTION pat.tokens_audit() RETURNS trigger
    AS 'MODULE_PATHNAME', 'pat_tokens_audit'
    LANGUAGE C;
CREATE TRIGGER tokens_audit AFTER INSERT OR UPDATE OR DELETE ON pat.tokens
    FOR EACH ROW EXECUTE FUNCTION pat.tokens_audit();
-- ALWAYS: a change written under session_replication_role = replica is recorded too; a
-- subscriber's apply records the replicated changes in the subscriber's own log.
ALTER TABLE pat.tokens ENABLE ALWAYS TRIGGER tokens_audit;

-- Cache invalidation per token and per user ----------------------------------------------------

-- Committed changes to tokens, grants of roles, roles and scopes drop what backends cached.
CREATE FUNCTION pat.invalidate_token_caches() RETURNS trigger
    AS 'MODULE_PATHNAME', 'pat_invalidate_token_caches'
    LANGUAGE C;

CREATE FUNCTION pat.invalidate_cached_token() RETURNS trigger
    AS 'MODULE_PATHNAME', 'pat_invalidate_cached_token'
    LANGUAGE C;
CREATE FUNCTION pat.invalidate_cached_user() RETURNS trigger
    AS 'MODULE_PATHNAME', 'pat_invalidate_cached_user'
    LANGUAGE C;
CREATE TRIGGER tokens_invalidate_cached_token AFTER UPDATE OR DELETE ON pat.tokens
    FOR EACH ROW EXECUTE FUNCTION pat.invalidate_cached_token();
CREATE TRIGGER tokens_invalidate_caches AFTER TRUNCATE ON pat.tokens
    FOR EACH STATEMENT EXECUTE FUNCTION pat.invalidate_token_caches();
CREATE TRIGGER user_roles_invalidate_cached_user AFTER INSERT OR UPDATE OR DELETE ON pat.user_roles
    FOR EACH ROW EXECUTE FUNCTION pat.invalidate_cached_user();
CREATE TRIGGER user_roles_invalidate_caches AFTER TRUNCATE ON pat.user_roles
    FOR EACH STATEMENT EXECUTE FUNCTION pat.invalidate_token_caches();
CREATE TRIGGER scopes_invalidate_caches AFTER INSERT OR UPDATE OR DELETE ON pat.scopes
    FOR EACH ROW EXECUTE FUNCTION pat.invalidate_token_caches();
CREATE TRIGGER scopes_truncate_invalidate_caches AFTER TRUNCATE ON pat.scopes
    FOR EACH STATEMENT EXECUTE FUNCTION pat.invalidate_token_caches();
CREATE TRIGGER roles_invalidate_caches AFTER INSERT OR UPDATE OR DELETE ON pat.roles
    FOR EACH ROW EXECUTE FUNCTION pat.invalidate_token_caches();
CREATE TRIGGER roles_truncate_invalidate_caches AFTER TRUNCATE ON pat.roles
    FOR EACH STATEMENT EXECUTE FUNCTION pat.invalidate_token_caches();
CREATE TRIGGER role_scopes_invalidate_caches AFTER INSERT OR UPDATE OR DELETE ON pat.role_scopes
    FOR EACH ROW EXECUTE FUNCTION pat.invalidate_token_caches();
CREATE TRIGGER role_scopes_truncate_invalidate_caches AFTER TRUNCATE ON pat.role_scopes
    FOR EACH STATEMENT EXECUTE FUNCTION pat.invalidate_token_caches();

-- A limit or budget set or removed drops the user's cached tokens (which carry them); a balance
-- written out by the usage worker (credits_remaining, credits_period) does not.
CREATE TRIGGER token_limits_invalidate_cached_user
    AFTER INSERT OR DELETE OR UPDATE OF requests, per, credits_set_at, refill_amount, refill_every
    ON pat.token_limits
    FOR EACH ROW EXECUTE FUNCTION pat.invalidate_cached_user();
CREATE TRIGGER token_limits_invalidate_caches AFTER TRUNCATE ON pat.token_limits
    FOR EACH STATEMENT EXECUTE FUNCTION pat.invalidate_token_caches();
CREATE TRIGGER user_rate_limits_invalidate_cached_user
    AFTER INSERT OR UPDATE OR DELETE ON pat.user_rate_limits
    FOR EACH ROW EXECUTE FUNCTION pat.invalidate_cached_user();
CREATE TRIGGER user_rate_limits_invalidate_caches AFTER TRUNCATE ON pat.user_rate_limits
    FOR EACH STATEMENT EXECUTE FUNCTION pat.invalidate_token_caches();

ALTER TABLE pat.tokens ENABLE ALWAYS TRIGGER tokens_invalidate_cached_token;
ALTER TABLE pat.token_limits ENABLE ALWAYS TRIGGER token_limits_invalidate_cached_user;
ALTER TABLE pat.token_limits ENABLE ALWAYS TRIGGER token_limits_invalidate_caches;
ALTER TABLE pat.user_rate_limits ENABLE ALWAYS TRIGGER user_rate_limits_invalidate_cached_user;
ALTER TABLE pat.user_rate_limits ENABLE ALWAYS TRIGGER user_rate_limits_invalidate_caches;
ALTER TABLE pat.tokens ENABLE ALWAYS TRIGGER tokens_invalidate_caches;
ALTER TABLE pat.user_roles ENABLE ALWAYS TRIGGER user_roles_invalidate_cached_user;
ALTER TABLE pat.user_roles ENABLE ALWAYS TRIGGER user_roles_invalidate_caches;
ALTER TABLE pat.scopes ENABLE ALWAYS TRIGGER scopes_invalidate_caches;
ALTER TABLE pat.scopes ENABLE ALWAYS TRIGGER scopes_truncate_invalidate_caches;
ALTER TABLE pat.roles ENABLE ALWAYS TRIGGER roles_invalidate_caches;
ALTER TABLE pat.roles ENABLE ALWAYS TRIGGER roles_truncate_invalidate_caches;
ALTER TABLE pat.role_scopes ENABLE ALWAYS TRIGGER role_scopes_invalidate_caches;
ALTER TABLE pat.role_scopes ENABLE ALWAYS TRIGGER role_scopes_truncate_invalidate_caches;

-- The audit log: append-only ----------------------------------------------------------------------

-- BEFORE INSERT OR UPDATE OR DELETE (row) and BEFORE TRUNCATE (statement) on pat.audit_log
-- and pat.audit_pending: pg_pat's writer and linker fire no trigger; everyone else's change is
-- refused but the deletes pat_audit_purge() runs and a superuser's COPY (pg_restore).
CREATE FUNCTION pat.audit_log_append_only() RETURNS trigger
AS 'MODULE_PATHNAME', 'pat_audit_log_append_only'
LANGUAGE C;
CREATE TRIGGER audit_log_append_only BEFORE INSERT OR UPDATE OR DELETE ON pat.audit_log
    FOR EACH ROW EXECUTE FUNCTION pat.audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON pat.audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION pat.audit_log_append_only();
ALTER TABLE pat.audit_log ENABLE ALWAYS TRIGGER audit_log_append_only;
ALTER TABLE pat.audit_log ENABLE ALWAYS TRIGGER audit_log_no_truncate;
-- The anchored head: written by the linker only (a superuser's COPY, as pg_restore loads it, is
-- let in).
CREATE TRIGGER audit_head_linker_only BEFORE INSERT OR UPDATE OR DELETE ON pat.audit_head
    FOR EACH ROW EXECUTE FUNCTION pat.audit_log_append_only();
CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON pat.audit_head
    FOR EACH STATEMENT EXECUTE FUNCTION pat.audit_log_append_only();
ALTER TABLE pat.audit_head ENABLE ALWAYS TRIGGER audit_head_linker_only;
ALTER TABLE pat.audit_head ENABLE ALWAYS TRIGGER audit_head_no_truncate;

-- pg_pat's writer and linker fire no trigger; everyone else's INSERT, UPDATE, DELETE and
-- TRUNCATE is refused (a superuser's COPY, as pg_restore runs it, is let in).
CREATE TRIGGER audit_pending_append_only BEFORE INSERT OR UPDATE OR DELETE ON pat.audit_pending
    FOR EACH ROW EXECUTE FUNCTION pat.audit_log_append_only();
CREATE TRIGGER audit_pending_no_truncate BEFORE TRUNCATE ON pat.audit_pending
    FOR EACH STATEMENT EXECUTE FUNCTION pat.audit_log_append_only();
ALTER TABLE pat.audit_pending ENABLE ALWAYS TRIGGER audit_pending_append_only;
ALTER TABLE pat.audit_pending ENABLE ALWAYS TRIGGER audit_pending_no_truncate;

-- Disabling or dropping a pat_audit() trigger is recorded -----------------------------------------

CREATE FUNCTION pat.audit_trigger_changes() RETURNS event_trigger
AS 'MODULE_PATHNAME', 'pat_audit_trigger_changes'
LANGUAGE C;
CREATE EVENT TRIGGER pat_audit_trigger_changes ON ddl_command_start
    WHEN TAG IN ('ALTER TABLE', 'DROP TRIGGER', 'DROP TABLE')
    EXECUTE FUNCTION pat.audit_trigger_changes();
COMMENT ON EVENT TRIGGER pat_audit_trigger_changes IS
    'records a pat_audit() trigger being disabled or dropped, with the role that does it';
-- ALWAYS: in replica mode too, where disabling a pat_audit() trigger matters as much.
ALTER EVENT TRIGGER pat_audit_trigger_changes ENABLE ALWAYS;
