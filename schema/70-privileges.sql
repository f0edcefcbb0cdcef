
-- Privileges ================================================================================
-- Nothing is granted to PUBLIC. A database role gets API functions through a grant profile
-- (pat_grant_profile(); see the README).

-- The grant profiles: the one list of the API ---------------------------------------------------
-- Which grant profile first gets each API function. Each profile includes the ones before it
-- (validator < application < application_role_admin < admin); scanner and organization_admin
-- (who may issue organizations' tokens) stand apart, and admin includes them. An update script
-- adds the rows of the functions it adds. The check below refuses to install when this list and the API functions in 40-functions.sql disagree.
CREATE TABLE pat.profile_functions (
    function_signature text PRIMARY KEY,  -- in @extschema@, as GRANT ... ON FUNCTION spells it
    least_profile      text NOT NULL
                       CHECK (least_profile IN ('scanner', 'organization_admin', 'validator',
                                                'application', 'application_role_admin',
                                                'admin'))
);
COMMENT ON TABLE pat.profile_functions IS
    'which grant profile first gets each API function: validator < application < application_role_admin < admin, each including the ones before; scanner and organization_admin stand apart, and admin includes them';
INSERT INTO pat.profile_functions (function_signature, least_profile) VALUES
    -- Scopes and roles
    ('pat_define_scope(text, text)', 'admin'),
    ('pat_define_role(text, text[], boolean)', 'admin'),
    ('pat_grant_role(text, text)', 'application_role_admin'),
    ('pat_revoke_role(text, text)', 'application_role_admin'),
    ('pat_grantable_scopes(text)', 'application'),
    -- Tokens
    ('pat_create(text, text, text[], text, cidr[], jsonb, jsonb)', 'application'),
    ('pat_create(text, text, text[], interval, cidr[], jsonb, jsonb)', 'application'),
    ('pat_create(text, text, text[], timestamptz, cidr[], jsonb, jsonb)', 'application'),
    ('pat_validate(text, text[], inet, text)', 'validator'),
    ('pat_authenticate(text, text[], inet)', 'validator'),
    ('pat_validate(varchar, text[], inet, text)', 'validator'),
    ('pat_authenticate(varchar, text[], inet)', 'validator'),
    ('pat_current_user()', 'validator'),
    ('pat_current_token_id()', 'validator'),
    ('pat_current_token_name()', 'validator'),
    ('pat_has_scope(text)', 'validator'),
    ('pat_require_scope(text)', 'validator'),
    ('pat_has_scope(varchar)', 'validator'),
    ('pat_require_scope(varchar)', 'validator'),
    ('pat_update(uuid, text, text[], cidr[], jsonb, jsonb)', 'application'),
    ('pat_suspend(uuid)', 'application'),
    ('pat_resume(uuid)', 'application'),
    ('pat_revoke(uuid)', 'application'),
    ('pat_revoke_all(text)', 'application'),
    ('pat_list(text)', 'application'),
    ('pat_delegate(text, text[], text)', 'application'),
    ('pat_create_org_token(text, text, text[], text)', 'organization_admin'),
    ('pat_current_token_type()', 'validator'),
    -- Rotation
    ('pat_rotate(uuid, text, interval)', 'application'),
    ('pat_rotate(uuid, interval, interval)', 'application'),
    ('pat_rotate(uuid, timestamptz, interval)', 'application'),
    ('pat_rotated_from(uuid)', 'application'),
    -- The token context
    ('pat_current_scopes()', 'validator'),
    ('pat_current_expires_at()', 'validator'),
    ('pat_clear()', 'validator'),
    ('pat_has_scope(text, text)', 'validator'),
    ('pat_current_resources(text)', 'validator'),
    ('pat_current_metadata()', 'validator'),
    -- Recent activity
    ('pat_token_activity(uuid, integer)', 'application'),
    -- Digest key fingerprints
    ('pat_key_status()', 'admin'),
    -- Usage
    ('pat_flush_usage()', 'admin'),
    ('pat_merge_usage(uuid[], timestamptz[], uuid[], date[], text[], bigint[])', 'admin'),
    ('pat_merge_addresses(uuid[], inet[], timestamptz[], boolean)', 'admin'),
    ('pat_usage(uuid, date)', 'application'),
    -- Rate limits and credits
    ('pat_set_rate_limit(uuid, integer, interval)', 'application'),
    ('pat_set_user_rate_limit(text, integer, interval)', 'application'),
    ('pat_set_credits(uuid, bigint, bigint, interval)', 'application'),
    ('pat_limits(uuid)', 'application'),
    -- Notices
    ('pat_queue_notices()', 'application'),
    ('pat_take_notices(integer)', 'application'),
    -- Leak reports
    ('pat_report_leaked(text[], text)', 'scanner'),
    ('pat_scanner_rules(text)', 'application'),
    -- The audit log
    ('pat_set_actor(text)', 'application'),
    ('pat_current_actor()', 'application'),
    ('pat_audit()', 'admin'),
    ('pat_audit_purge(interval)', 'admin'),
    ('pat_audit_table(regclass, boolean, text[])', 'admin'),
    ('pat_audit_table_off(regclass)', 'admin'),
    ('pat_audit_verify()', 'admin'),
    ('pat_audit_link()', 'admin'),
    -- Diagnostics
    ('pat_token_cache_stats()', 'admin');

CREATE FUNCTION @extschema@.pat_grant_profile(grantee regrole, profile text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    profiles CONSTANT text[] := ARRAY['validator', 'application', 'application_role_admin',
                                      'admin'];
    -- Profiles that include no other and that only admin includes.
    apart CONSTANT text[] := ARRAY['scanner', 'organization_admin'];
    -- The schema's name as an identifier, quoted where it needs to be.
    api CONSTANT text := '@extschema@'::pg_catalog.regnamespace::text;
    rank integer;
    fn text;
BEGIN
    PERFORM pat.require_not_null(grantee, 'grantee');
    PERFORM pat.require_not_null(profile, 'profile');
    rank := array_position(profiles, profile);
    IF rank IS NULL AND profile <> ALL (apart) THEN
        RAISE EXCEPTION 'unknown grant profile "%"', profile
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Profiles: validator, application, application_role_admin, admin, scanner, organization_admin.';
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA %s TO %s', api, grantee);
    FOR fn IN
        SELECT p.function_signature FROM pat.profile_functions p
        WHERE CASE WHEN profile = ANY (apart) THEN p.least_profile = profile
                   WHEN p.least_profile = ANY (apart) THEN profile = 'admin'
                   ELSE array_position(profiles, p.least_profile) <= rank END
        ORDER BY p.function_signature
    LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s.%s TO %s', api, fn, grantee);
    END LOOP;
    IF profile = 'admin' THEN
        -- Read-only access to the tables, for investigations; digests are not secrets.
        EXECUTE format('GRANT USAGE ON SCHEMA pat TO %s', grantee);
        EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA pat TO %s', grantee);
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.pat_grant_profile(regrole, text) IS
    'grant a database role one of the profiles validator, application, application_role_admin, admin, scanner (only pat_report_leaked) or organization_admin (only pat_create_org_token)';

-- The list and the API agree: every row names a function of pg_pat in @extschema@, and every
-- such function but pat_grant_profile() (which no profile gets) has a row.
DO $$
DECLARE
    -- CREATE EXTENSION puts the schema name in already quoted where it needs quotes.
    api CONSTANT regnamespace := '@extschema@'::pg_catalog.regnamespace;
    disagreement text;
BEGIN
    WITH members AS (
        SELECT p.oid, p.pronamespace FROM pg_catalog.pg_depend d
        JOIN pg_catalog.pg_proc p ON p.oid OPERATOR(pg_catalog.=) d.objid
        WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
          AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass
          AND d.refobjid OPERATOR(pg_catalog.=)
              (SELECT e.oid FROM pg_catalog.pg_extension e WHERE e.extname OPERATOR(pg_catalog.=) 'pg_pat')
          AND d.deptype OPERATOR(pg_catalog.=) 'e'),
    listed AS (
        SELECT f.function_signature,
               pg_catalog.to_regprocedure('@extschema@.' OPERATOR(pg_catalog.||)
                                          f.function_signature) AS oid
        FROM pat.profile_functions f)
    SELECT pg_catalog.string_agg(x.problem, '; ' ORDER BY x.problem) INTO disagreement
    FROM (SELECT pg_catalog.format('%s names no function of pg_pat', l.function_signature)
                     AS problem
          FROM listed l
          WHERE NOT EXISTS (SELECT FROM members m
                            WHERE m.oid OPERATOR(pg_catalog.=) l.oid
                              AND m.pronamespace OPERATOR(pg_catalog.=) api)
          UNION ALL
          SELECT pg_catalog.format('%s has no grant profile', m.oid::pg_catalog.regprocedure)
          FROM members m
          WHERE m.pronamespace OPERATOR(pg_catalog.=) api
            AND m.oid OPERATOR(pg_catalog.<>)
                '@extschema@.pat_grant_profile(pg_catalog.regrole, pg_catalog.text)'
                    ::pg_catalog.regprocedure
            AND NOT EXISTS (SELECT FROM listed l WHERE l.oid OPERATOR(pg_catalog.=) m.oid)) AS x;
    IF disagreement IS NOT NULL THEN
        RAISE EXCEPTION 'pat.profile_functions and the API functions disagree: %', disagreement;
    END IF;
END
$$;

-- Nothing for PUBLIC --------------------------------------------------------------------------

REVOKE ALL ON SCHEMA pat FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA pat FROM PUBLIC;
REVOKE ALL ON SEQUENCE pat.audit_batch_seq FROM PUBLIC;
-- A caller of pat_validate needs no right on its row type: only making objects of it does.
REVOKE ALL ON TYPE pat.validation FROM PUBLIC;
-- Every function of pg_pat, in either schema: the API's reach a role only through a grant
-- profile, the helpers and trigger functions in schema pat no one but their owner.
DO $$
DECLARE
    fn regprocedure;
BEGIN
    FOR fn IN
        SELECT d.objid::pg_catalog.regprocedure FROM pg_catalog.pg_depend d
        WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
          AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass
          AND d.refobjid OPERATOR(pg_catalog.=)
              (SELECT e.oid FROM pg_catalog.pg_extension e WHERE e.extname OPERATOR(pg_catalog.=) 'pg_pat')
          AND d.deptype OPERATOR(pg_catalog.=) 'e'
        ORDER BY d.objid
    LOOP
        EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', fn);
    END LOOP;
END
$$;

SELECT pat.warn_if_schema_writable('@extschema@');
