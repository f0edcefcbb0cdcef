-- pg_pat 1.9: trust off the happy path (issue 22).

\echo Use "ALTER EXTENSION pg_pat UPDATE TO '1.9'" to load this file. \quit

SELECT pat.require_preloaded();

-- Only the owner deletes or truncates token rows (issue 22 item 6b) ===========================
-- A token's row is the record of its revocation: a role with DELETE and INSERT (past row
-- security) could delete a revoked token's row and insert its digest again with a fresh
-- expiry, and the token validated again. pat.tokens_before_delete() refuses DELETE and
-- TRUNCATE to every role but the table's owner (its members and superusers included), whatever
-- session_replication_role says. pg_pat itself deletes no token row. (Item 2, the scope rules
-- of pat_create and pat_update in pat.tokens_before_insert() and pat.tokens_before_update(), is
-- in the library: those functions keep their names.)
CREATE FUNCTION pat.tokens_before_delete() RETURNS trigger
    AS 'MODULE_PATHNAME', 'pat_tokens_before_delete'
    LANGUAGE C;
CREATE TRIGGER tokens_before_delete BEFORE DELETE ON pat.tokens
    FOR EACH ROW EXECUTE FUNCTION pat.tokens_before_delete();
CREATE TRIGGER tokens_before_truncate BEFORE TRUNCATE ON pat.tokens
    FOR EACH STATEMENT EXECUTE FUNCTION pat.tokens_before_delete();
ALTER TABLE pat.tokens ENABLE ALWAYS TRIGGER tokens_before_delete;
ALTER TABLE pat.tokens ENABLE ALWAYS TRIGGER tokens_before_truncate;
REVOKE ALL ON FUNCTION pat.tokens_before_delete() FROM PUBLIC;

-- varchar overloads of the functions applications pass tokens and scopes to (issue 22 item 15) ====
-- A client binding strings as varchar (JDBC's default) calls an exact match in any schema on
-- its search_path before pg_pat's text functions, so an overload in a schema a role can write
-- to (public) took its tokens. With exact matches in pg_pat's schema, such an overload later on
-- the search_path no longer wins.
CREATE FUNCTION @extschema@.pat_validate(token varchar, required_scopes text[] DEFAULT '{}',
    OUT valid boolean, OUT status text, OUT token_id uuid, OUT user_id text,
    OUT token_name text, OUT scopes text[], OUT expires_at timestamptz)
AS 'MODULE_PATHNAME', 'pat_validate'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pat_validate(varchar, text[]) IS
    'pat_validate(text, text[]) for clients binding varchar';

CREATE FUNCTION @extschema@.pat_authenticate(token varchar, required_scopes text[] DEFAULT '{}')
RETURNS text
AS 'MODULE_PATHNAME', 'pat_authenticate'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pat_authenticate(varchar, text[]) IS
    'pat_authenticate(text, text[]) for clients binding varchar';

CREATE FUNCTION @extschema@.pat_has_scope(scope varchar) RETURNS boolean
AS 'MODULE_PATHNAME', 'pat_has_scope'
LANGUAGE C STABLE PARALLEL RESTRICTED;

CREATE FUNCTION @extschema@.pat_require_scope(scope varchar) RETURNS void
AS 'MODULE_PATHNAME', 'pat_require_scope'
LANGUAGE C STABLE PARALLEL RESTRICTED;

INSERT INTO pat.profile_functions (function_signature, least_profile) VALUES
    ('pat_validate(varchar, text[])', 'validator'),
    ('pat_authenticate(varchar, text[])', 'validator'),
    ('pat_has_scope(varchar)', 'validator'),
    ('pat_require_scope(varchar)', 'validator');
REVOKE ALL ON FUNCTION
    @extschema@.pat_validate(varchar, text[]),
    @extschema@.pat_authenticate(varchar, text[]),
    @extschema@.pat_has_scope(varchar),
    @extschema@.pat_require_scope(varchar)
FROM PUBLIC;

-- Whoever may run the text function may run its varchar twin: a client binding varchar now
-- calls the twin, and must not lose access with the update.
DO $$
DECLARE
    grant_to record;
BEGIN
    FOR grant_to IN
        SELECT f.new_function, pg_catalog.quote_ident(r.rolname) AS grantee
        FROM (VALUES
                ('pat_validate(text, text[])', 'pat_validate(varchar, text[])'),
                ('pat_authenticate(text, text[])', 'pat_authenticate(varchar, text[])'),
                ('pat_has_scope(text)', 'pat_has_scope(varchar)'),
                ('pat_require_scope(text)', 'pat_require_scope(varchar)'))
             AS f(text_function, new_function),
             pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a, pg_catalog.pg_roles r
        WHERE p.oid = pg_catalog.to_regprocedure('@extschema@.' || f.text_function)
          AND a.privilege_type = 'EXECUTE' AND r.oid = a.grantee AND a.grantee <> p.proowner
        ORDER BY 1, 2
    LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %I.%s TO %s', '@extschema@',
                                  grant_to.new_function, grant_to.grantee);
    END LOOP;
END
$$;

-- The warning about a writable API schema names an overload pg_pat does not ship itself.
CREATE OR REPLACE FUNCTION pat.warn_if_schema_writable(schema regnamespace) RETURNS boolean
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    writers text;
BEGIN
    IF EXISTS (SELECT FROM pg_namespace n, aclexplode(n.nspacl) a
               WHERE n.oid = schema AND a.grantee = 0 AND a.privilege_type = 'CREATE') THEN
        writers := 'PUBLIC';
    ELSE
        SELECT string_agg(quote_ident(r.rolname), ', ' ORDER BY r.rolname) INTO writers
        FROM pg_roles r
        WHERE NOT r.rolsuper AND r.oid >= 16384  -- not predefined roles: their members count
          AND has_schema_privilege(r.oid, schema, 'CREATE');
    END IF;
    IF writers IS NULL THEN
        RETURN false;
    END IF;
    RAISE WARNING 'roles other than superusers can create objects in schema %, where pg_pat''s functions are: %',
                  schema, writers
        USING DETAIL = 'Such a role can add an overload, e.g. pat_authenticate(varchar, '
                       'varchar[]), that clients binding those types call instead.',
              HINT = 'Install pg_pat in a schema only superusers can create in: CREATE SCHEMA '
                     'pat_api; CREATE EXTENSION pg_pat SCHEMA pat_api; or REVOKE CREATE ON '
                     'SCHEMA ' || schema || ' from those roles.';
    RETURN true;
END
$$;
