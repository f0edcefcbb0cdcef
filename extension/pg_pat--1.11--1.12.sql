-- pg_pat 1.12: pat_revoke's descendant count through an index of parent links (issue 26), and
-- tokens that carry their own limits (issue 27): networks, resources, suspension and metadata,
-- enforced by the check.

\echo Use "ALTER EXTENSION pg_pat UPDATE TO '1.12'" to load this file. \quit

SELECT pat.require_preloaded();

-- pat_revoke's count of the descendants that fall with a token (issue 26) ======================
-- pat_revoke counts the live descendants that fall with a token by walking down from it, one
-- level at a time, in this index alone: what it reads is in the entries (a child's own state,
-- and whether it has children to walk into), so where the table is vacuumed no row is read.
-- Delegated tokens only: a root token (most of them) costs no index entry when it is made.
CREATE INDEX tokens_parent_id_idx ON pat.tokens (parent_id)
    INCLUDE (token_id, has_children, revoked_at, expires_at) WHERE parent_id IS NOT NULL;

-- An API schema whose name needs quotes ======================================================
-- pat_grant_profile and pat_audit_table named the schema with %I around a name that CREATE
-- EXTENSION had quoted already: a schema such as "Tokens API" got quoted twice.
CREATE OR REPLACE FUNCTION @extschema@.pat_grant_profile(grantee regrole, profile text)
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

CREATE OR REPLACE FUNCTION @extschema@.pat_audit_table(target regclass,
                                            record_without_token boolean DEFAULT false,
                                            exclude text[] DEFAULT '{}')
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    -- The schema's name as an identifier, quoted where it needs to be.
    api CONSTANT text := '@extschema@'::pg_catalog.regnamespace::text;
    missing text;
    args text;
BEGIN
    IF target IS NULL OR record_without_token IS NULL OR exclude IS NULL
       OR array_position(exclude, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'pat_audit_table() arguments must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_class c
                   WHERE c.oid OPERATOR(pg_catalog.=) target AND c.relkind IN ('r', 'p', 'f')) THEN
        RAISE EXCEPTION '"%" is not a table', target USING ERRCODE = 'wrong_object_type';
    END IF;
    SELECT e INTO missing FROM unnest(exclude) AS e
    WHERE NOT EXISTS (SELECT 1 FROM pg_attribute a
                      WHERE a.attrelid OPERATOR(pg_catalog.=) target
                        AND a.attname OPERATOR(pg_catalog.=) e
                        AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped)
    LIMIT 1;
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'column "%" of "%" does not exist', missing, target
            USING ERRCODE = 'undefined_column';
    END IF;
    -- One trigger argument per excluded column, each a quoted literal.
    SELECT string_agg(quote_literal(a), ', ' ORDER BY a OPERATOR(pg_catalog.<>) 'always', a)
    INTO args
    FROM (SELECT 'always' AS a WHERE record_without_token
          UNION
          SELECT 'exclude=' OPERATOR(pg_catalog.||) e FROM unnest(exclude) AS e) AS trigger_args;
    -- target::text is quoted and, with this search_path, schema-qualified.
    EXECUTE format('CREATE OR REPLACE TRIGGER pat_audit AFTER INSERT OR UPDATE OR DELETE ON %s'
                   ' FOR EACH ROW EXECUTE FUNCTION %s.pat_audit(%s)',
                   target, api, coalesce(args, ''));
    EXECUTE format('CREATE OR REPLACE TRIGGER pat_audit_truncate AFTER TRUNCATE ON %s'
                   ' FOR EACH STATEMENT EXECUTE FUNCTION %s.pat_audit(%s)',
                   target, api, coalesce(args, ''));
END
$$;

-- pat.tokens: a token's own limits ==============================================================
-- All NULL by default: no table rewrite, and a token made before has no limits.
ALTER TABLE pat.tokens
    ADD COLUMN networks cidr[],
    ADD COLUMN resources jsonb,
    ADD COLUMN metadata jsonb,
    ADD COLUMN suspended_at timestamptz;
COMMENT ON COLUMN pat.tokens.networks IS
    'the networks the token works from (NULL: any); a check from elsewhere, or from an unknown address, answers forbidden_network';
COMMENT ON COLUMN pat.tokens.resources IS
    'per scope, the resource ids the scope covers ({"notes:write": ["42"]}); a scope not named covers every resource';
COMMENT ON COLUMN pat.tokens.metadata IS
    'the application''s own data about the token, returned by pat_validate and pat_current_metadata(); never the secret';
COMMENT ON COLUMN pat.tokens.suspended_at IS
    'when pat_suspend() switched the token off (NULL: not suspended); checks answer suspended until pat_resume(), and the expiry never moves';

-- Checks answered suspended or forbidden_network are counted like the others.
ALTER TABLE pat.token_checks
    DROP CONSTRAINT token_checks_outcome_check,
    ADD CONSTRAINT token_checks_outcome_check
        CHECK (outcome IN ('valid', 'insufficient_scope', 'expired', 'revoked',
                           'not_found', 'malformed', 'suspended', 'forbidden_network'));

-- A suspension and a resumption notify the token's owner; each queues its kind again.
ALTER TABLE pat.notices
    DROP CONSTRAINT notices_kind_check,
    ADD CONSTRAINT notices_kind_check
        CHECK (kind IN ('expires_in_60_days', 'expires_in_30_days', 'expires_in_7_days',
                        'expires_in_1_day', 'expired', 'revoked_leaked',
                        'revoked_inactive', 'reuse_after_rotation', 'suspended', 'resumed'));
COMMENT ON TABLE pat.notices IS
    'notices to token owners (expiry, leak, inactivity, reuse after rotation, suspension), one per token and kind; pat_take_notices() hands each out once (a suspension or resumption queues its kind again)';
COMMENT ON COLUMN pat.audit_log.action IS
    'created, renamed, scopes_changed, expiry_changed, restrictions_changed, suspended, resumed, revoked, deleted, rotated, reuse_after_rotation, revoked_leaked, revoked_inactive (token lifecycle); role_granted, role_revoked, role_defined, scope_defined; insert, update, delete, truncate (pat_audit); audit_trigger_disabled, audit_trigger_dropped, audit_trigger_replaced, audit_partition_detached; audit_purged';

-- pat_validate takes the client's address and a resource and returns metadata; pat_authenticate
-- takes the client's address; pat_create and pat_update take networks, resources and metadata;
-- pat_list shows them ============================================================================
-- Their arguments (and pat_validate's OUT columns) change, so they are dropped and created
-- again; whoever could run one keeps that right (a temporary table is no member of the
-- extension). A caller passing two arguments is answered as before.
CREATE TEMP TABLE pat_reshaped_grantees AS
SELECT f.old_signature, f.new_signature, pg_catalog.quote_ident(r.rolname) AS grantee
FROM (VALUES ('pat_validate(text, text[])', 'pat_validate(text, text[], inet, text)'),
             ('pat_validate(varchar, text[])', 'pat_validate(varchar, text[], inet, text)'),
             ('pat_authenticate(text, text[])', 'pat_authenticate(text, text[], inet)'),
             ('pat_authenticate(varchar, text[])', 'pat_authenticate(varchar, text[], inet)'),
             ('pat_create(text, text, text[], text)',
              'pat_create(text, text, text[], text, cidr[], jsonb, jsonb)'),
             ('pat_create(text, text, text[], interval)',
              'pat_create(text, text, text[], interval, cidr[], jsonb, jsonb)'),
             ('pat_create(text, text, text[], timestamptz)',
              'pat_create(text, text, text[], timestamptz, cidr[], jsonb, jsonb)'),
             ('pat_update(uuid, text, text[])', 'pat_update(uuid, text, text[], cidr[], jsonb, jsonb)'),
             ('pat_list(text)', 'pat_list(text)'))
         AS f(old_signature, new_signature),
     pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a, pg_catalog.pg_roles r
WHERE p.oid = pg_catalog.to_regprocedure('@extschema@.' || f.old_signature)
  AND a.privilege_type = 'EXECUTE' AND r.oid = a.grantee AND a.grantee <> p.proowner;

DROP FUNCTION @extschema@.pat_validate(text, text[]);
CREATE FUNCTION @extschema@.pat_validate(token text, required_scopes text[] DEFAULT '{}',
    client_addr inet DEFAULT NULL, resource text DEFAULT NULL,
    OUT valid boolean, OUT status text, OUT token_id uuid, OUT user_id text,
    OUT token_name text, OUT scopes text[], OUT expires_at timestamptz, OUT token_type text,
    OUT metadata jsonb)
AS 'MODULE_PATHNAME', 'pat_validate'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pat_validate(text, text[], inet, text) IS
    'check a bearer token: one row with status valid, malformed, not_found, expired, revoked, suspended, forbidden_network (client_addr outside the token''s networks, or NULL for a token with networks) or insufficient_scope (also for a resource the scope is not bound to); token_type personal, or organization when user_id is an account id; the token''s metadata';

DROP FUNCTION @extschema@.pat_authenticate(text, text[]);
CREATE FUNCTION @extschema@.pat_authenticate(token text, required_scopes text[] DEFAULT '{}',
                                             client_addr inet DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'pat_authenticate'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pat_authenticate(text, text[], inet) IS
    'check a bearer token or raise (28000; 42501 for a missing scope or an address outside the token''s networks); sets the token context for this transaction; client_addr: the HTTP client''s address, or inet_client_addr() for a direct connection';

DROP FUNCTION @extschema@.pat_validate(varchar, text[]);
CREATE FUNCTION @extschema@.pat_validate(token varchar, required_scopes text[] DEFAULT '{}',
    client_addr inet DEFAULT NULL, resource text DEFAULT NULL,
    OUT valid boolean, OUT status text, OUT token_id uuid, OUT user_id text,
    OUT token_name text, OUT scopes text[], OUT expires_at timestamptz, OUT token_type text,
    OUT metadata jsonb)
AS 'MODULE_PATHNAME', 'pat_validate'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pat_validate(varchar, text[], inet, text) IS
    'pat_validate(text, text[], inet, text) for clients binding varchar';

DROP FUNCTION @extschema@.pat_authenticate(varchar, text[]);
CREATE FUNCTION @extschema@.pat_authenticate(token varchar, required_scopes text[] DEFAULT '{}',
                                             client_addr inet DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'pat_authenticate'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pat_authenticate(varchar, text[], inet) IS
    'pat_authenticate(text, text[], inet) for clients binding varchar';

REVOKE ALL ON FUNCTION @extschema@.pat_validate(text, text[], inet, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.pat_authenticate(text, text[], inet) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.pat_validate(varchar, text[], inet, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.pat_authenticate(varchar, text[], inet) FROM PUBLIC;

DROP FUNCTION @extschema@.pat_create(text, text, text[], text);
CREATE FUNCTION @extschema@.pat_create(user_id text, name text, scopes text[],
                                       expires text, networks cidr[] DEFAULT NULL,
                                       resources jsonb DEFAULT NULL, metadata jsonb DEFAULT NULL)
RETURNS TABLE (token_id uuid, token text, expires_at timestamptz)
AS 'MODULE_PATHNAME', 'pat_create_text'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pat_create(text, text, text[], text, cidr[], jsonb, jsonb) IS
    'issue a token; expires: ''30 days'' or any positive interval, a future date, or ''never''; networks: where it works from (at most 64); resources: per scope, the resource ids it covers (at most 32 scopes of 100 ids); metadata: the application''s (at most 2048 bytes); in a token context no wider than the authenticated token''s';

DROP FUNCTION @extschema@.pat_create(text, text, text[], interval);
CREATE FUNCTION @extschema@.pat_create(user_id text, name text, scopes text[],
                                       expires interval, networks cidr[] DEFAULT NULL,
                                       resources jsonb DEFAULT NULL, metadata jsonb DEFAULT NULL)
RETURNS TABLE (token_id uuid, token text, expires_at timestamptz)
AS 'MODULE_PATHNAME', 'pat_create_interval'
LANGUAGE C VOLATILE;

DROP FUNCTION @extschema@.pat_create(text, text, text[], timestamptz);
CREATE FUNCTION @extschema@.pat_create(user_id text, name text, scopes text[],
                                       expires timestamptz, networks cidr[] DEFAULT NULL,
                                       resources jsonb DEFAULT NULL, metadata jsonb DEFAULT NULL)
RETURNS TABLE (token_id uuid, token text, expires_at timestamptz)
AS 'MODULE_PATHNAME', 'pat_create_timestamptz'
LANGUAGE C VOLATILE;

DROP FUNCTION @extschema@.pat_update(uuid, text, text[]);
CREATE FUNCTION @extschema@.pat_update(token_id uuid, name text DEFAULT NULL,
                                       scopes text[] DEFAULT NULL, networks cidr[] DEFAULT NULL,
                                       resources jsonb DEFAULT NULL, metadata jsonb DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'pat_update'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pat_update(uuid, text, text[], cidr[], jsonb, jsonb) IS
    'rename a token, replace its scopes, networks, resources or metadata (NULL: unchanged; ''{}'' clears networks, resources or metadata; the rules of pat_create); never its expiry';

DROP FUNCTION @extschema@.pat_list(text);
CREATE FUNCTION @extschema@.pat_list(user_id text)
RETURNS TABLE (token_id uuid, name text, scopes text[], created_at timestamptz,
               expires_at timestamptz, last_used_at timestamptz, revoked_at timestamptz,
               status text, token_type text, parent_id uuid, created_by text,
               networks cidr[], resources jsonb, metadata jsonb, suspended boolean,
               last_addresses inet[])
AS 'MODULE_PATHNAME', 'pat_list'
LANGUAGE C STABLE;
COMMENT ON FUNCTION @extschema@.pat_list(text) IS
    'a user''s tokens with their status (active, expired, revoked: a token whose ancestor fell is revoked or expired with it), type, parent and creator, limits and suspension; never a digest or secret';

REVOKE ALL ON FUNCTION @extschema@.pat_create(text, text, text[], text, cidr[], jsonb, jsonb)
    FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.pat_create(text, text, text[], interval, cidr[], jsonb, jsonb)
    FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.pat_create(text, text, text[], timestamptz, cidr[], jsonb,
                                              jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.pat_update(uuid, text, text[], cidr[], jsonb, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.pat_list(text) FROM PUBLIC;

-- Suspension and the token context's limits =====================================================

CREATE FUNCTION @extschema@.pat_suspend(token_id uuid) RETURNS boolean
AS 'MODULE_PATHNAME', 'pat_suspend'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pat_suspend(uuid) IS
    'switch a token off at commit (checks answer suspended) without revoking it; false if it already was suspended; audited, and its owner notified';

CREATE FUNCTION @extschema@.pat_resume(token_id uuid) RETURNS boolean
AS 'MODULE_PATHNAME', 'pat_resume'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pat_resume(uuid) IS
    'switch a suspended token on again at commit; its expiry never moves; false if it was not suspended; audited, and its owner notified';

CREATE FUNCTION @extschema@.pat_has_scope(scope text, resource text) RETURNS boolean
AS 'MODULE_PATHNAME', 'pat_has_scope_on'
LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.pat_has_scope(text, text) IS
    'whether the transaction''s token holds scope and the scope covers resource (a scope bound to resources covers only those); for row-level security policies';

CREATE FUNCTION @extschema@.pat_current_resources(scope text) RETURNS text[]
AS 'MODULE_PATHNAME', 'pat_current_resources'
LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.pat_current_resources(text) IS
    'the resource ids the transaction''s token''s scope is bound to, sorted; NULL when it covers every resource (or is not held, or without a token)';

CREATE FUNCTION @extschema@.pat_current_metadata() RETURNS jsonb
AS 'MODULE_PATHNAME', 'pat_current_metadata'
LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.pat_current_metadata() IS
    'the transaction''s token''s metadata; NULL without a token or metadata';

REVOKE ALL ON FUNCTION @extschema@.pat_suspend(uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.pat_resume(uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.pat_has_scope(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.pat_current_resources(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.pat_current_metadata() FROM PUBLIC;

UPDATE pat.profile_functions f SET function_signature = g.new_signature
FROM (VALUES ('pat_validate(text, text[])', 'pat_validate(text, text[], inet, text)'),
             ('pat_validate(varchar, text[])', 'pat_validate(varchar, text[], inet, text)'),
             ('pat_authenticate(text, text[])', 'pat_authenticate(text, text[], inet)'),
             ('pat_authenticate(varchar, text[])', 'pat_authenticate(varchar, text[], inet)'),
             ('pat_create(text, text, text[], text)',
              'pat_create(text, text, text[], text, cidr[], jsonb, jsonb)'),
             ('pat_create(text, text, text[], interval)',
              'pat_create(text, text, text[], interval, cidr[], jsonb, jsonb)'),
             ('pat_create(text, text, text[], timestamptz)',
              'pat_create(text, text, text[], timestamptz, cidr[], jsonb, jsonb)'),
             ('pat_update(uuid, text, text[])', 'pat_update(uuid, text, text[], cidr[], jsonb, jsonb)'))
         AS g(old_signature, new_signature)
WHERE f.function_signature = g.old_signature;
INSERT INTO pat.profile_functions (function_signature, least_profile) VALUES
    ('pat_suspend(uuid)', 'application'),
    ('pat_resume(uuid)', 'application'),
    ('pat_has_scope(text, text)', 'validator'),
    ('pat_current_resources(text)', 'validator'),
    ('pat_current_metadata()', 'validator');

-- Whoever could run a reshaped function keeps it. Roles that could run pat_list (the
-- application profile) get pat_suspend and pat_resume; those that could run pat_validate (the
-- validator profile) get the token context's limits, as pat_grant_profile would give them.
DO $$
DECLARE
    -- The schema's name as an identifier, quoted where it needs to be.
    api CONSTANT text := '@extschema@'::pg_catalog.regnamespace::text;
    granted record;
    fn text;
BEGIN
    FOR granted IN SELECT g.new_signature, g.grantee FROM pg_temp.pat_reshaped_grantees g
                   ORDER BY 1, 2 LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s.%s TO %s', api,
                                  granted.new_signature, granted.grantee);
        IF granted.new_signature = 'pat_list(text)' THEN
            FOREACH fn IN ARRAY ARRAY['pat_suspend(uuid)', 'pat_resume(uuid)'] LOOP
                EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s.%s TO %s', api,
                                          fn, granted.grantee);
            END LOOP;
        ELSIF granted.new_signature = 'pat_validate(text, text[], inet, text)' THEN
            FOREACH fn IN ARRAY ARRAY['pat_has_scope(text, text)', 'pat_current_resources(text)',
                                      'pat_current_metadata()'] LOOP
                EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s.%s TO %s', api,
                                          fn, granted.grantee);
            END LOOP;
        END IF;
    END LOOP;
END
$$;
DROP TABLE pg_temp.pat_reshaped_grantees;
