-- pg_pat 1.0: personal access tokens kept inside PostgreSQL.
--
-- API functions live in the extension's schema (@extschema@); tables and helpers in schema pat.
-- Nothing is granted to PUBLIC. Management functions are SECURITY DEFINER with a pinned
-- search_path; pat_validate and pat_authenticate are C functions that read the tables as their
-- owner without any name lookup, so no search_path can reach them.

\echo Use "CREATE EXTENSION pg_pat" to load this file. \quit

CREATE SCHEMA pat;
COMMENT ON SCHEMA pat IS 'pg_pat internals: tokens, scopes, roles; no access for PUBLIC';
REVOKE ALL ON SCHEMA pat FROM PUBLIC;

-- C helpers ---------------------------------------------------------------------------------

CREATE FUNCTION pat.is_valid_scope_name(scope text) RETURNS boolean
    AS 'MODULE_PATHNAME', 'pat_is_valid_scope_name'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION pat.new_token(OUT token text, OUT digest bytea)
    AS 'MODULE_PATHNAME', 'pat_new_token'
    LANGUAGE C VOLATILE;

CREATE FUNCTION pat.expiry_from_text(expires text) RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'pat_expiry_from_text'
    LANGUAGE C STABLE;

CREATE FUNCTION pat.expiry_from_interval(expires interval) RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'pat_expiry_from_interval'
    LANGUAGE C STABLE;

CREATE FUNCTION pat.expiry_from_timestamptz(expires timestamptz) RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'pat_expiry_from_timestamptz'
    LANGUAGE C STABLE;

CREATE FUNCTION pat.tokens_before_update() RETURNS trigger
    AS 'MODULE_PATHNAME', 'pat_tokens_before_update'
    LANGUAGE C;

CREATE FUNCTION pat.invalidate_token_caches() RETURNS trigger
    AS 'MODULE_PATHNAME', 'pat_invalidate_token_caches'
    LANGUAGE C;

-- Tables ------------------------------------------------------------------------------------

CREATE TABLE pat.scopes (
    scope       text PRIMARY KEY CHECK (pat.is_valid_scope_name(scope)),
    description text,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now()
);

CREATE TABLE pat.roles (
    role       text PRIMARY KEY
               CHECK (pg_catalog.length(role) BETWEEN 1 AND 100
                      AND role OPERATOR(pg_catalog.!~) '[[:cntrl:]]'),
    all_scopes boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON COLUMN pat.roles.all_scopes IS 'workspace admin: may grant every defined scope';

CREATE TABLE pat.role_scopes (
    role  text NOT NULL REFERENCES pat.roles ON DELETE CASCADE,
    scope text NOT NULL REFERENCES pat.scopes,
    PRIMARY KEY (role, scope)
);

CREATE TABLE pat.user_roles (
    user_id    text NOT NULL CHECK (pg_catalog.length(user_id) BETWEEN 1 AND 255),
    role       text NOT NULL REFERENCES pat.roles ON DELETE CASCADE,
    granted_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (user_id, role)
);

CREATE TABLE pat.tokens (
    token_id     uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
    user_id      text NOT NULL CHECK (pg_catalog.length(user_id) BETWEEN 1 AND 255),
    name         text NOT NULL CHECK (pg_catalog.length(name) BETWEEN 1 AND 255),
    scopes       text[] NOT NULL,
    digest       bytea NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    expires_at   timestamptz,
    revoked_at   timestamptz
);
COMMENT ON COLUMN pat.tokens.digest IS 'SHA-256 of the token; the token itself is stored nowhere';
CREATE INDEX tokens_user_id_idx ON pat.tokens (user_id);

-- When each token was last used, apart from the token row: a validation that records a use
-- locks only this row, so it never holds up a revoke or an edit of the token.
CREATE TABLE pat.token_usage (
    token_id     uuid PRIMARY KEY REFERENCES pat.tokens ON DELETE CASCADE,
    last_used_at timestamptz
);

-- Expirations only shorten, revocations are final, identity columns never change.
CREATE TRIGGER tokens_before_update BEFORE UPDATE ON pat.tokens
    FOR EACH ROW EXECUTE FUNCTION pat.tokens_before_update();

-- Every backend caches validated tokens; these make any committed change reach every cache.
CREATE TRIGGER tokens_invalidate_caches AFTER DELETE OR TRUNCATE ON pat.tokens
    FOR EACH STATEMENT EXECUTE FUNCTION pat.invalidate_token_caches();
CREATE TRIGGER scopes_invalidate_caches AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON pat.scopes
    FOR EACH STATEMENT EXECUTE FUNCTION pat.invalidate_token_caches();
CREATE TRIGGER roles_invalidate_caches AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON pat.roles
    FOR EACH STATEMENT EXECUTE FUNCTION pat.invalidate_token_caches();
CREATE TRIGGER role_scopes_invalidate_caches
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON pat.role_scopes
    FOR EACH STATEMENT EXECUTE FUNCTION pat.invalidate_token_caches();
CREATE TRIGGER user_roles_invalidate_caches
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON pat.user_roles
    FOR EACH STATEMENT EXECUTE FUNCTION pat.invalidate_token_caches();

SELECT pg_catalog.pg_extension_config_dump('pat.scopes', '');
SELECT pg_catalog.pg_extension_config_dump('pat.roles', '');
SELECT pg_catalog.pg_extension_config_dump('pat.role_scopes', '');
SELECT pg_catalog.pg_extension_config_dump('pat.user_roles', '');
SELECT pg_catalog.pg_extension_config_dump('pat.tokens', '');
SELECT pg_catalog.pg_extension_config_dump('pat.token_usage', '');

-- Internal helpers --------------------------------------------------------------------------
-- Only the owner may execute these; they run under the search_path the calling API function
-- pinned, and schema-qualify what they touch, so they carry no SET clause of their own (a SET
-- clause makes every call save and restore the setting).

-- Raises 22004 when value is NULL: bad input is an error, never a silent no-op.
CREATE FUNCTION pat.require_not_null(value anyelement, what text) RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
    IF value IS NULL THEN
        RAISE EXCEPTION '% must not be null', what USING ERRCODE = 'null_value_not_allowed';
    END IF;
END
$$;

-- A user id: non-blank, at most 255 characters.
CREATE FUNCTION pat.check_user_id(user_id text) RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
    PERFORM pat.require_not_null(user_id, 'user_id');
    IF btrim(user_id) = '' OR length(user_id) > 255 THEN
        RAISE EXCEPTION 'user_id must be 1 to 255 characters and not blank'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;

-- A token name: non-blank, at most 255 characters.
CREATE FUNCTION pat.check_token_name(name text) RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
    PERFORM pat.require_not_null(name, 'token name');
    IF btrim(name) = '' THEN
        RAISE EXCEPTION 'token name must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF length(name) > 255 THEN
        RAISE EXCEPTION 'token name is longer than 255 characters'
            USING ERRCODE = 'string_data_right_truncation';
    END IF;
END
$$;

-- The scopes a user's roles allow now, sorted.
CREATE FUNCTION pat.grantable_scopes(user_id text) RETURNS text[]
LANGUAGE sql STABLE
AS $$
    SELECT coalesce(array_agg(s.scope ORDER BY s.scope COLLATE "C"), '{}')
    FROM pat.scopes s
    WHERE EXISTS (SELECT 1
                  FROM pat.user_roles ur JOIN pat.roles r ON r.role OPERATOR(pg_catalog.=) ur.role
                  WHERE ur.user_id OPERATOR(pg_catalog.=) $1
                    AND (r.all_scopes
                         OR EXISTS (SELECT 1 FROM pat.role_scopes rs
                                    WHERE rs.role OPERATOR(pg_catalog.=) r.role
                                      AND rs.scope OPERATOR(pg_catalog.=) s.scope)))
$$;

-- Checks requested scopes for a user and returns them sorted and without duplicates:
-- 22004 for NULLs, 22023 for an undefined scope, 42501 for one the user's roles don't allow.
CREATE FUNCTION pat.checked_scopes(user_id text, scopes text[]) RETURNS text[]
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    wanted text[];
    undefined text[];
    allowed text[];
    refused text[];
BEGIN
    PERFORM pat.require_not_null(scopes, 'scopes');
    IF array_position(scopes, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'scopes must not contain null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT coalesce(array_agg(w ORDER BY w COLLATE "C"), '{}') INTO wanted
    FROM (SELECT DISTINCT w FROM unnest(scopes) AS w) AS distinct_scopes;

    SELECT array_agg(w ORDER BY w COLLATE "C") INTO undefined
    FROM unnest(wanted) AS w
    WHERE NOT EXISTS (SELECT 1 FROM pat.scopes s WHERE s.scope OPERATOR(pg_catalog.=) w);
    IF undefined IS NOT NULL THEN
        RAISE EXCEPTION 'scope "%" is not defined', undefined[1]
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Define it first with pat_define_scope().';
    END IF;

    allowed := pat.grantable_scopes(user_id);
    SELECT array_agg(w ORDER BY w COLLATE "C") INTO refused
    FROM unnest(wanted) AS w
    WHERE NOT w OPERATOR(pg_catalog.=) ANY (allowed);
    IF refused IS NOT NULL THEN
        RAISE EXCEPTION 'the roles of user "%" do not allow scope "%"', user_id, refused[1]
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = format('Grantable scopes: %s.',
                                  coalesce(nullif(array_to_string(allowed, ', '), ''), 'none'));
    END IF;
    RETURN wanted;
END
$$;

-- Inserts a token whose expiry has already been resolved and checked.
CREATE FUNCTION pat.create_token(user_id text, name text, scopes text[],
                                 resolved_expiry timestamptz,
                                 OUT token_id uuid, OUT token text, OUT expires_at timestamptz)
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    checked text[];
    fresh record;
BEGIN
    PERFORM pat.check_user_id(create_token.user_id);
    PERFORM pat.check_token_name(create_token.name);
    checked := pat.checked_scopes(create_token.user_id, create_token.scopes);
    fresh := pat.new_token();
    INSERT INTO pat.tokens AS t (user_id, name, scopes, digest, expires_at)
    VALUES (create_token.user_id, create_token.name, checked, fresh.digest, resolved_expiry)
    RETURNING t.token_id, t.expires_at INTO create_token.token_id, create_token.expires_at;
    INSERT INTO pat.token_usage (token_id) VALUES (create_token.token_id);
    token := fresh.token;
END
$$;

-- A token row locked for an edit; 22004 for NULL, 22023 when it does not exist.
CREATE FUNCTION pat.lock_token(token_id uuid) RETURNS pat.tokens
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    found_row pat.tokens;
BEGIN
    PERFORM pat.require_not_null(token_id, 'token_id');
    SELECT * INTO found_row FROM pat.tokens t
    WHERE t.token_id OPERATOR(pg_catalog.=) lock_token.token_id
    FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'token % does not exist', token_id USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN found_row;
END
$$;

-- Scopes and roles --------------------------------------------------------------------------

CREATE FUNCTION @extschema@.pat_define_scope(scope text, description text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pat.require_not_null(scope, 'scope');
    IF NOT pat.is_valid_scope_name(scope) THEN
        RAISE EXCEPTION 'invalid scope name "%"', left(scope, 100)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A scope is segments joined by ":", each of ASCII letters, digits, '
                         '"_", "-" or ".", at most 100 characters, e.g. "catalog:read".';
    END IF;
    INSERT INTO pat.scopes AS s (scope, description)
    VALUES (pat_define_scope.scope, pat_define_scope.description)
    ON CONFLICT ON CONSTRAINT scopes_pkey
    DO UPDATE SET description = coalesce(EXCLUDED.description, s.description);
END
$$;
COMMENT ON FUNCTION @extschema@.pat_define_scope(text, text) IS
    'define a scope, or update its description (NULL keeps the old one)';

CREATE FUNCTION @extschema@.pat_define_role(role text, scopes text[],
                                            all_scopes boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    undefined text;
BEGIN
    PERFORM pat.require_not_null(role, 'role');
    PERFORM pat.require_not_null(scopes, 'scopes');
    PERFORM pat.require_not_null(all_scopes, 'all_scopes');
    IF btrim(role) = '' OR length(role) > 100 OR role ~ '[[:cntrl:]]' THEN
        RAISE EXCEPTION 'role must be 1 to 100 characters, not blank, without control characters'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF array_position(scopes, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'scopes must not contain null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT w INTO undefined FROM unnest(scopes) AS w
    WHERE NOT EXISTS (SELECT 1 FROM pat.scopes s WHERE s.scope OPERATOR(pg_catalog.=) w)
    ORDER BY w COLLATE "C" LIMIT 1;
    IF undefined IS NOT NULL THEN
        RAISE EXCEPTION 'scope "%" is not defined', undefined
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Define it first with pat_define_scope().';
    END IF;

    INSERT INTO pat.roles AS r (role, all_scopes)
    VALUES (pat_define_role.role, pat_define_role.all_scopes)
    ON CONFLICT ON CONSTRAINT roles_pkey DO UPDATE SET all_scopes = EXCLUDED.all_scopes;
    DELETE FROM pat.role_scopes rs WHERE rs.role OPERATOR(pg_catalog.=) pat_define_role.role;
    INSERT INTO pat.role_scopes (role, scope)
    SELECT DISTINCT pat_define_role.role, w FROM unnest(scopes) AS w;
END
$$;
COMMENT ON FUNCTION @extschema@.pat_define_role(text, text[], boolean) IS
    'create or replace a role: the scopes it allows, or all_scopes for every defined scope';

-- Raises 22023 for a role that is not defined.
CREATE FUNCTION pat.require_role(role text) RETURNS void
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    PERFORM pat.require_not_null(role, 'role');
    IF NOT EXISTS (SELECT 1 FROM pat.roles r WHERE r.role OPERATOR(pg_catalog.=) require_role.role)
    THEN
        RAISE EXCEPTION 'role "%" is not defined', left(role, 100)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Define it first with pat_define_role().';
    END IF;
END
$$;

CREATE FUNCTION @extschema@.pat_grant_role(user_id text, role text) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pat.check_user_id(user_id);
    PERFORM pat.require_role(role);
    INSERT INTO pat.user_roles (user_id, role) VALUES (pat_grant_role.user_id, pat_grant_role.role)
    ON CONFLICT ON CONSTRAINT user_roles_pkey DO NOTHING;
    RETURN FOUND;
END
$$;
COMMENT ON FUNCTION @extschema@.pat_grant_role(text, text) IS
    'grant a role to a user; false if the user already held it';

CREATE FUNCTION @extschema@.pat_revoke_role(user_id text, role text) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pat.check_user_id(user_id);
    PERFORM pat.require_role(role);
    DELETE FROM pat.user_roles ur
    WHERE ur.user_id OPERATOR(pg_catalog.=) pat_revoke_role.user_id
      AND ur.role OPERATOR(pg_catalog.=) pat_revoke_role.role;
    RETURN FOUND;
END
$$;
COMMENT ON FUNCTION @extschema@.pat_revoke_role(text, text) IS
    'take a role from a user: its scopes leave every token of the user at once';

CREATE FUNCTION @extschema@.pat_grantable_scopes(user_id text) RETURNS SETOF text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pat.check_user_id(user_id);
    RETURN QUERY SELECT unnest(pat.grantable_scopes(user_id));
END
$$;
COMMENT ON FUNCTION @extschema@.pat_grantable_scopes(text) IS
    'the scopes a token creation form may offer this user';

-- Tokens ------------------------------------------------------------------------------------

CREATE FUNCTION @extschema@.pat_create(user_id text, name text, scopes text[], expires text)
RETURNS TABLE (token_id uuid, token text, expires_at timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pat.require_not_null(expires, 'expires');
    RETURN QUERY SELECT * FROM pat.create_token($1, $2, $3, pat.expiry_from_text($4));
END
$$;
COMMENT ON FUNCTION @extschema@.pat_create(text, text, text[], text) IS
    'issue a token; expires: ''30 days'' or any positive interval, a future date, or ''never''';

CREATE FUNCTION @extschema@.pat_create(user_id text, name text, scopes text[], expires interval)
RETURNS TABLE (token_id uuid, token text, expires_at timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pat.require_not_null(expires, 'expires');
    RETURN QUERY SELECT * FROM pat.create_token($1, $2, $3, pat.expiry_from_interval($4));
END
$$;

CREATE FUNCTION @extschema@.pat_create(user_id text, name text, scopes text[],
                                       expires timestamptz)
RETURNS TABLE (token_id uuid, token text, expires_at timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pat.require_not_null(expires, 'expires');
    RETURN QUERY SELECT * FROM pat.create_token($1, $2, $3, pat.expiry_from_timestamptz($4));
END
$$;

CREATE FUNCTION @extschema@.pat_validate(token text, required_scopes text[] DEFAULT '{}',
    OUT valid boolean, OUT status text, OUT token_id uuid, OUT user_id text,
    OUT token_name text, OUT scopes text[], OUT expires_at timestamptz)
AS 'MODULE_PATHNAME', 'pat_validate'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pat_validate(text, text[]) IS
    'check a bearer token: one row with status valid, malformed, not_found, expired, revoked or insufficient_scope';

CREATE FUNCTION @extschema@.pat_authenticate(token text, required_scopes text[] DEFAULT '{}')
RETURNS text
AS 'MODULE_PATHNAME', 'pat_authenticate'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pat_authenticate(text, text[]) IS
    'check a bearer token or raise (28000, 42501); sets the token context for this transaction';

CREATE FUNCTION @extschema@.pat_current_user() RETURNS text
AS 'MODULE_PATHNAME', 'pat_current_user'
LANGUAGE C STABLE PARALLEL RESTRICTED;

CREATE FUNCTION @extschema@.pat_current_token_id() RETURNS uuid
AS 'MODULE_PATHNAME', 'pat_current_token_id'
LANGUAGE C STABLE PARALLEL RESTRICTED;

CREATE FUNCTION @extschema@.pat_current_token_name() RETURNS text
AS 'MODULE_PATHNAME', 'pat_current_token_name'
LANGUAGE C STABLE PARALLEL RESTRICTED;

CREATE FUNCTION @extschema@.pat_has_scope(scope text) RETURNS boolean
AS 'MODULE_PATHNAME', 'pat_has_scope'
LANGUAGE C STABLE PARALLEL RESTRICTED;

CREATE FUNCTION @extschema@.pat_require_scope(scope text) RETURNS void
AS 'MODULE_PATHNAME', 'pat_require_scope'
LANGUAGE C STABLE PARALLEL RESTRICTED;

CREATE FUNCTION @extschema@.pat_update(token_id uuid, name text DEFAULT NULL,
                                       scopes text[] DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    target pat.tokens;
BEGIN
    target := pat.lock_token(token_id);
    IF target.revoked_at IS NOT NULL THEN
        RAISE EXCEPTION 'token % is revoked and cannot be edited', token_id
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF name IS NOT NULL THEN
        PERFORM pat.check_token_name(name);
        target.name := name;
    END IF;
    IF scopes IS NOT NULL THEN
        target.scopes := pat.checked_scopes(target.user_id, scopes);
    END IF;
    UPDATE pat.tokens t SET name = target.name, scopes = target.scopes
    WHERE t.token_id OPERATOR(pg_catalog.=) pat_update.token_id
      AND (t.name, t.scopes) IS DISTINCT FROM (target.name, target.scopes);
END
$$;
COMMENT ON FUNCTION @extschema@.pat_update(uuid, text, text[]) IS
    'rename a token and/or replace its scopes (same role rules as pat_create); never its expiry';

CREATE FUNCTION @extschema@.pat_revoke(token_id uuid) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    target pat.tokens;
BEGIN
    target := pat.lock_token(token_id);
    IF target.revoked_at IS NOT NULL THEN
        RETURN false;
    END IF;
    UPDATE pat.tokens t SET revoked_at = now()
    WHERE t.token_id OPERATOR(pg_catalog.=) pat_revoke.token_id;
    RETURN true;
END
$$;
COMMENT ON FUNCTION @extschema@.pat_revoke(uuid) IS
    'revoke a token at commit; false if it already was revoked';

CREATE FUNCTION @extschema@.pat_revoke_all(user_id text) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    revoked integer;
BEGIN
    PERFORM pat.check_user_id(user_id);
    UPDATE pat.tokens t SET revoked_at = now()
    WHERE t.user_id OPERATOR(pg_catalog.=) pat_revoke_all.user_id AND t.revoked_at IS NULL;
    GET DIAGNOSTICS revoked = ROW_COUNT;
    RETURN revoked;
END
$$;
COMMENT ON FUNCTION @extschema@.pat_revoke_all(text) IS
    'revoke every active token of a user (offboarding); returns how many';

CREATE FUNCTION @extschema@.pat_list(user_id text)
RETURNS TABLE (token_id uuid, name text, scopes text[], created_at timestamptz,
               expires_at timestamptz, last_used_at timestamptz, revoked_at timestamptz,
               status text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pat.check_user_id(user_id);
    RETURN QUERY
    SELECT t.token_id, t.name, t.scopes, t.created_at, t.expires_at, u.last_used_at,
           t.revoked_at,
           CASE WHEN t.revoked_at IS NOT NULL THEN 'revoked'
                WHEN t.expires_at OPERATOR(pg_catalog.<=) now() THEN 'expired'
                ELSE 'active' END
    FROM pat.tokens t
    LEFT JOIN pat.token_usage u ON u.token_id OPERATOR(pg_catalog.=) t.token_id
    WHERE t.user_id OPERATOR(pg_catalog.=) pat_list.user_id
    ORDER BY t.created_at DESC, t.token_id;
END
$$;
COMMENT ON FUNCTION @extschema@.pat_list(text) IS
    'a user''s tokens with their status (active, expired, revoked); never a digest or secret';

-- An application role given direct access to pat.tokens sees and edits only the rows of the
-- user its transaction authenticated as (pat_authenticate). The API functions run as the
-- table owner, to whom the policy does not apply.
ALTER TABLE pat.tokens ENABLE ROW LEVEL SECURITY;
CREATE POLICY tokens_of_authenticated_user ON pat.tokens
    USING (user_id OPERATOR(pg_catalog.=) @extschema@.pat_current_user());
-- Whoever may define roles (the admin profile) may read every token row, for investigations.
CREATE POLICY tokens_readable_by_admins ON pat.tokens FOR SELECT
    USING (pg_catalog.has_function_privilege(
        '@extschema@.pat_define_role(pg_catalog.text, pg_catalog.text[], pg_catalog.bool)'
            ::pg_catalog.regprocedure,
        'EXECUTE'));

-- Which grant profile first gets each API function; each profile includes the ones before it
-- (validator < application < application_role_admin < admin). Upgrade scripts add their rows.
CREATE TABLE pat.profile_functions (
    function_signature text PRIMARY KEY,  -- in @extschema@, as GRANT ... ON FUNCTION spells it
    least_profile      text NOT NULL
                       CHECK (least_profile IN ('validator', 'application',
                                                'application_role_admin', 'admin'))
);
INSERT INTO pat.profile_functions (function_signature, least_profile) VALUES
    ('pat_validate(text, text[])', 'validator'),
    ('pat_authenticate(text, text[])', 'validator'),
    ('pat_current_user()', 'validator'),
    ('pat_current_token_id()', 'validator'),
    ('pat_current_token_name()', 'validator'),
    ('pat_has_scope(text)', 'validator'),
    ('pat_require_scope(text)', 'validator'),
    ('pat_grantable_scopes(text)', 'application'),
    ('pat_create(text, text, text[], text)', 'application'),
    ('pat_create(text, text, text[], interval)', 'application'),
    ('pat_create(text, text, text[], timestamptz)', 'application'),
    ('pat_update(uuid, text, text[])', 'application'),
    ('pat_revoke(uuid)', 'application'),
    ('pat_revoke_all(text)', 'application'),
    ('pat_list(text)', 'application'),
    ('pat_grant_role(text, text)', 'application_role_admin'),
    ('pat_revoke_role(text, text)', 'application_role_admin'),
    ('pat_define_scope(text, text)', 'admin'),
    ('pat_define_role(text, text[], boolean)', 'admin');

CREATE FUNCTION @extschema@.pat_grant_profile(grantee regrole, profile text) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    profiles CONSTANT text[] := ARRAY['validator', 'application', 'application_role_admin',
                                      'admin'];
    rank integer;
    fn text;
BEGIN
    PERFORM pat.require_not_null(grantee, 'grantee');
    PERFORM pat.require_not_null(profile, 'profile');
    rank := array_position(profiles, profile);
    IF rank IS NULL THEN
        RAISE EXCEPTION 'unknown grant profile "%"', profile
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Profiles: validator, application, application_role_admin, admin.';
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO %s', '@extschema@', grantee);
    FOR fn IN
        SELECT p.function_signature FROM pat.profile_functions p
        WHERE array_position(profiles, p.least_profile) <= rank
        ORDER BY p.function_signature
    LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION %I.%s TO %s', '@extschema@', fn, grantee);
    END LOOP;
    IF profile = 'admin' THEN
        -- Read-only access to the tables, for investigations; digests are not secrets.
        EXECUTE format('GRANT USAGE ON SCHEMA pat TO %s', grantee);
        EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA pat TO %s', grantee);
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.pat_grant_profile(regrole, text) IS
    'grant a database role one of the profiles validator, application, application_role_admin, admin';

-- Privileges: nothing for PUBLIC. See the README for the grant profiles.
REVOKE ALL ON ALL TABLES IN SCHEMA pat FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA pat FROM PUBLIC;
REVOKE ALL ON FUNCTION
    @extschema@.pat_define_scope(text, text),
    @extschema@.pat_define_role(text, text[], boolean),
    @extschema@.pat_grant_role(text, text),
    @extschema@.pat_revoke_role(text, text),
    @extschema@.pat_grantable_scopes(text),
    @extschema@.pat_create(text, text, text[], text),
    @extschema@.pat_create(text, text, text[], interval),
    @extschema@.pat_create(text, text, text[], timestamptz),
    @extschema@.pat_validate(text, text[]),
    @extschema@.pat_authenticate(text, text[]),
    @extschema@.pat_current_user(),
    @extschema@.pat_current_token_id(),
    @extschema@.pat_current_token_name(),
    @extschema@.pat_has_scope(text),
    @extschema@.pat_require_scope(text),
    @extschema@.pat_update(uuid, text, text[]),
    @extschema@.pat_revoke(uuid),
    @extschema@.pat_revoke_all(text),
    @extschema@.pat_list(text),
    @extschema@.pat_grant_profile(regrole, text)
FROM PUBLIC;
