-- pg_pat 1.7: rotation and a cap on active tokens (issue 13, first part).
--
-- pat_rotate() issues a successor with the same user, name and scopes (checked like
-- pat_create) and revokes the old token at once, or lets both work for an overlap; the
-- successor records its predecessor (pat.tokens.rotated_from, pat_rotated_from()) and the old
-- token's audit rows gain action "rotated", naming it. pat.max_active_tokens_per_user caps the
-- active tokens a user may hold (54000).

\echo Use "ALTER EXTENSION pg_pat UPDATE TO '1.7'" to load this file. \quit

SELECT pat.require_preloaded();

ALTER TABLE pat.tokens ADD COLUMN rotated_from uuid;
COMMENT ON COLUMN pat.tokens.rotated_from IS
    'the token this one was rotated from (pat_rotate); NULL for a first token';

COMMENT ON COLUMN pat.audit_log.action IS
    'created, renamed, scopes_changed, expiry_changed, revoked, deleted, rotated (token lifecycle); role_granted, role_revoked, role_defined, scope_defined; insert, update, delete, truncate (pat_audit); audit_trigger_disabled, audit_trigger_dropped; audit_purged';

-- Rotation ==================================================================================

CREATE FUNCTION @extschema@.pat_rotate(token_id uuid, expires text DEFAULT NULL,
                                       overlap interval DEFAULT '0')
RETURNS TABLE (token_id uuid, token text, expires_at timestamptz)
AS 'MODULE_PATHNAME', 'pat_rotate_text'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pat_rotate(uuid, text, interval) IS
    'issue a successor with the same user, name and scopes; expires NULL keeps the lifetime; the old token is revoked at once, or after overlap (never later than it expires)';

CREATE FUNCTION @extschema@.pat_rotate(token_id uuid, expires interval,
                                       overlap interval DEFAULT '0')
RETURNS TABLE (token_id uuid, token text, expires_at timestamptz)
AS 'MODULE_PATHNAME', 'pat_rotate_interval'
LANGUAGE C VOLATILE;

CREATE FUNCTION @extschema@.pat_rotate(token_id uuid, expires timestamptz,
                                       overlap interval DEFAULT '0')
RETURNS TABLE (token_id uuid, token text, expires_at timestamptz)
AS 'MODULE_PATHNAME', 'pat_rotate_timestamptz'
LANGUAGE C VOLATILE;

CREATE FUNCTION @extschema@.pat_rotated_from(token_id uuid) RETURNS uuid
AS 'MODULE_PATHNAME', 'pat_rotated_from'
LANGUAGE C STABLE;
COMMENT ON FUNCTION @extschema@.pat_rotated_from(uuid) IS
    'the token this one was rotated from; NULL for a first token';

-- Profiles and privileges ===================================================================

INSERT INTO pat.profile_functions (function_signature, least_profile) VALUES
    ('pat_rotate(uuid, text, interval)', 'application'),
    ('pat_rotate(uuid, interval, interval)', 'application'),
    ('pat_rotate(uuid, timestamptz, interval)', 'application'),
    ('pat_rotated_from(uuid)', 'application');
REVOKE ALL ON FUNCTION
    @extschema@.pat_rotate(uuid, text, interval),
    @extschema@.pat_rotate(uuid, interval, interval),
    @extschema@.pat_rotate(uuid, timestamptz, interval),
    @extschema@.pat_rotated_from(uuid)
FROM PUBLIC;

-- Roles already holding the application profile (whoever can run its pat_list) get them.
DO $$
DECLARE
    grant_to record;
BEGIN
    FOR grant_to IN
        SELECT f.new_function, pg_catalog.quote_ident(r.rolname) AS grantee
        FROM (VALUES
                ('pat_list(text)', 'pat_rotate(uuid, text, interval)'),
                ('pat_list(text)', 'pat_rotate(uuid, interval, interval)'),
                ('pat_list(text)', 'pat_rotate(uuid, timestamptz, interval)'),
                ('pat_list(text)', 'pat_rotated_from(uuid)'))
             AS f(profile_function, new_function),
             pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a, pg_catalog.pg_roles r
        WHERE p.oid = pg_catalog.to_regprocedure('@extschema@.' || f.profile_function)
          AND a.privilege_type = 'EXECUTE' AND r.oid = a.grantee AND a.grantee <> p.proowner
        ORDER BY 1, 2
    LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %I.%s TO %s', '@extschema@',
                                  grant_to.new_function, grant_to.grantee);
    END LOOP;
END
$$;

SELECT pat.warn_if_schema_writable('@extschema@');
