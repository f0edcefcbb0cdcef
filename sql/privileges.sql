--
-- Privileges: after CREATE EXTENSION, PUBLIC may execute none of the functions and read none
-- of the tables; pat_grant_profile hands out exactly one profile's rights. Every error is
-- followed by \echo :SQLSTATE. Owner names are never printed (they depend on the installation).
--
\set SHOW_CONTEXT never

CREATE ROLE regress_pat_nobody NOLOGIN;

-- Every function of the extension: nobody but its owner may execute it. A NULL ACL would mean
-- PUBLIC may, so the default ACL stands in for it in the check.
CREATE TEMP VIEW pat_functions AS
SELECT p.oid, p.oid::regprocedure AS function, p.prosecdef, p.proconfig, p.proowner,
       coalesce(p.proacl, acldefault('f'::"char", p.proowner)) AS acl
FROM pg_proc p
JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pg_pat';
SELECT function, prosecdef AS security_definer,
       has_function_privilege('public', oid, 'EXECUTE') AS public_may_execute,
       has_function_privilege('regress_pat_nobody', oid, 'EXECUTE') AS nobody_may_execute
FROM pat_functions ORDER BY function::text COLLATE "C";
SELECT count(*) AS acl_entries_for_public FROM pat_functions f, aclexplode(f.acl) a
WHERE a.grantee = 0;
SELECT count(*) AS acl_entries_for_others FROM pat_functions f, aclexplode(f.acl) a
WHERE a.grantee <> f.proowner;
-- Every SECURITY DEFINER function pins its search_path.
SELECT function FROM pat_functions
WHERE prosecdef AND NOT coalesce('search_path=pg_catalog, pg_temp' = ANY (proconfig), false);

-- Every table (and any other relation) of the extension: no privilege for anyone but the owner.
CREATE TEMP VIEW pat_relations AS
SELECT c.oid, c.oid::regclass AS relation, c.relkind, c.relowner,
       coalesce(c.relacl, acldefault(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char",
                                     c.relowner)) AS acl
FROM pg_class c
JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pg_pat';
SELECT relation, relkind,
       has_table_privilege('public', oid,
                           'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
           AS public_any,
       has_any_column_privilege('public', oid, 'SELECT, INSERT, UPDATE, REFERENCES')
           AS public_any_column,
       has_table_privilege('regress_pat_nobody', oid,
                           'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
           AS nobody_any
FROM pat_relations ORDER BY relation::text COLLATE "C";
SELECT count(*) AS acl_entries_for_public FROM pat_relations r, aclexplode(r.acl) a
WHERE a.grantee = 0;
SELECT count(*) AS acl_entries_for_others FROM pat_relations r, aclexplode(r.acl) a
WHERE a.grantee <> r.relowner;
-- Nor on the schema pat, nor on any column.
SELECT has_schema_privilege('public', 'pat', 'USAGE') AS public_usage,
       has_schema_privilege('public', 'pat', 'CREATE') AS public_create,
       has_schema_privilege('regress_pat_nobody', 'pat', 'USAGE') AS nobody_usage;
SELECT count(*) AS column_grants FROM pg_attribute a JOIN pat_relations r ON r.oid = a.attrelid
WHERE a.attacl IS NOT NULL;
-- Nor on a type of pg_pat's own (pat_validate's row), which PostgreSQL would let PUBLIC use.
-- (Not a table's row type or an array type, which some majors list as the extension's too.)
SELECT t.typname, has_type_privilege('public', t.oid, 'USAGE') AS public_usage
FROM pg_type t JOIN pg_depend d ON d.classid = 'pg_type'::regclass AND d.objid = t.oid
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pg_pat' AND d.deptype = 'e'
WHERE t.typcategory <> 'A'
  AND (t.typrelid = 0 OR (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c')
ORDER BY 1;

-- A role without grants: 42501 for the functions and the tables.
SET ROLE regress_pat_nobody;
SELECT * FROM pat_validate('pat_x');
\echo :SQLSTATE
SELECT pat_authenticate('pat_x');
\echo :SQLSTATE
SELECT pat_current_user();
\echo :SQLSTATE
SELECT pat_has_scope('catalog:read');
\echo :SQLSTATE
SELECT * FROM pat_create('someone', 'x', '{}', '1 day');
\echo :SQLSTATE
SELECT * FROM pat_list('someone');
\echo :SQLSTATE
SELECT pat_define_scope('catalog:read');
\echo :SQLSTATE
SELECT pat_grant_role('someone', 'admin');
\echo :SQLSTATE
SELECT pat_grant_profile('regress_pat_nobody', 'admin');
\echo :SQLSTATE
SELECT * FROM pat.tokens;
\echo :SQLSTATE
SELECT * FROM pat.scopes;
\echo :SQLSTATE
SELECT pat.is_valid_scope_name('catalog:read');
\echo :SQLSTATE
RESET ROLE;

-- Data for the profiles below.
SELECT pat_define_scope('catalog:read', 'Read the software catalog');
SELECT pat_define_role('pr_reader', '{catalog:read}');
SELECT pat_grant_role('pr-alice', 'pr_reader');
SELECT token AS tok, token_id AS tok_id
FROM pat_create('pr-alice', 'alice', '{catalog:read}', '1 day') \gset
SELECT token AS bob_tok FROM pat_create('pr-bob', 'bob', '{}', '1 day') \gset

-- pat_grant_profile: each profile's functions, and nothing else.
CREATE ROLE regress_pat_validator NOLOGIN;
CREATE ROLE regress_pat_application NOLOGIN;
CREATE ROLE regress_pat_role_admin NOLOGIN;
CREATE ROLE regress_pat_admin NOLOGIN;
SELECT pat_grant_profile('regress_pat_validator', 'validator');
SELECT pat_grant_profile('regress_pat_application', 'application');
SELECT pat_grant_profile('regress_pat_role_admin', 'application_role_admin');
SELECT pat_grant_profile('regress_pat_admin', 'admin');
-- Granting a profile twice changes nothing.
SELECT pat_grant_profile('regress_pat_validator', 'validator');
SELECT function,
       has_function_privilege('regress_pat_validator', oid, 'EXECUTE') AS validator,
       has_function_privilege('regress_pat_application', oid, 'EXECUTE') AS application,
       has_function_privilege('regress_pat_role_admin', oid, 'EXECUTE') AS role_admin,
       has_function_privilege('regress_pat_admin', oid, 'EXECUTE') AS admin
FROM pat_functions ORDER BY function::text COLLATE "C";
SELECT relation,
       has_table_privilege('regress_pat_validator', oid, 'SELECT') AS validator,
       has_table_privilege('regress_pat_application', oid, 'SELECT') AS application,
       has_table_privilege('regress_pat_role_admin', oid, 'SELECT') AS role_admin,
       has_table_privilege('regress_pat_admin', oid, 'SELECT') AS admin_select,
       has_table_privilege('regress_pat_admin', oid, 'INSERT, UPDATE, DELETE, TRUNCATE')
           AS admin_writes
FROM pat_relations ORDER BY relation::text COLLATE "C";
SELECT r AS profile_role, has_schema_privilege(r, 'pat', 'USAGE') AS pat_usage
FROM unnest(ARRAY['regress_pat_validator', 'regress_pat_application', 'regress_pat_role_admin',
                  'regress_pat_admin']) AS r;
-- Errors: unknown profile 22023, NULLs 22004, unknown role 42704.
SELECT pat_grant_profile('regress_pat_nobody', 'superuser');
\echo :SQLSTATE
SELECT pat_grant_profile('regress_pat_nobody', NULL);
\echo :SQLSTATE
SELECT pat_grant_profile(NULL, 'validator');
\echo :SQLSTATE
SELECT pat_grant_profile('regress_pat_no_such_role', 'validator');
\echo :SQLSTATE
SELECT count(*) AS nobody_may_execute FROM pat_functions
WHERE has_function_privilege('regress_pat_nobody', oid, 'EXECUTE');

-- The validator checks tokens (and records their use) without reading any table.
SET ROLE regress_pat_validator;
SELECT valid, status, user_id, token_name, scopes FROM pat_validate(:'tok', '{catalog:read}');
SELECT valid, status FROM pat_validate('garbage');
BEGIN;
SELECT pat_authenticate(:'tok', '{catalog:read}') AS user_id;
SELECT pat_current_user(), pat_current_token_name(), pat_has_scope('catalog:read') AS has_read;
SELECT pat_require_scope('catalog:read');
COMMIT;
SELECT * FROM pat.tokens;
\echo :SQLSTATE
SELECT * FROM pat_create('pr-alice', 'x', '{}', '1 day');
\echo :SQLSTATE
SELECT * FROM pat_list('pr-alice');
\echo :SQLSTATE
RESET ROLE;
SELECT last_used_at IS NOT NULL AS use_recorded
FROM pat_list('pr-alice') WHERE token_id = :'tok_id';

-- The application manages tokens through the API, not the tables.
SET ROLE regress_pat_application;
SELECT * FROM pat_grantable_scopes('pr-alice');
SELECT token AS app_tok, token_id AS app_id
FROM pat_create('pr-alice', 'made by the app', '{catalog:read}', '7 days') \gset
SELECT status FROM pat_validate(:'app_tok');
SELECT pat_update(:'app_id', 'renamed by the app');
SELECT name, status FROM pat_list('pr-alice') ORDER BY name;
SELECT pat_revoke(:'app_id') AS revoked;
SELECT pat_revoke_all('pr-nobody') AS revoked_count;
SELECT pat_grant_role('pr-bob', 'pr_reader');
\echo :SQLSTATE
SELECT pat_define_scope('app:scope');
\echo :SQLSTATE
SELECT * FROM pat.tokens;
\echo :SQLSTATE
RESET ROLE;
-- application_role_admin may also grant and revoke roles, not define them.
SET ROLE regress_pat_role_admin;
SELECT pat_grant_role('pr-bob', 'pr_reader') AS granted;
SELECT pat_revoke_role('pr-bob', 'pr_reader') AS revoked;
SELECT pat_define_role('pr_other', '{}');
\echo :SQLSTATE
RESET ROLE;
-- The admin may do everything and read every row of the tables, for investigations.
SET ROLE regress_pat_admin;
SELECT pat_define_scope('admin:scope', 'defined by the admin role');
SELECT pat_define_role('pr_admin_made', '{admin:scope}');
SELECT scope FROM pat.scopes ORDER BY scope COLLATE "C";
SELECT role FROM pat.roles ORDER BY role COLLATE "C";
SELECT user_id, name FROM pat.tokens ORDER BY name;
RESET ROLE;
-- An application role given direct access to pat.tokens: row-level security limits it to the
-- rows of the user its transaction authenticated as, for reads and writes.
GRANT USAGE ON SCHEMA pat TO regress_pat_application;
GRANT SELECT, UPDATE (name) ON pat.tokens TO regress_pat_application;
SET ROLE regress_pat_application;
SELECT count(*) AS visible_tokens FROM pat.tokens;
BEGIN;
SELECT pat_authenticate(:'tok') AS user_id;
SELECT user_id, name FROM pat.tokens ORDER BY name;
UPDATE pat.tokens SET name = name || ' (edited)';
COMMIT;
BEGIN;
SELECT pat_authenticate(:'bob_tok') AS user_id;
SELECT user_id, name FROM pat.tokens ORDER BY name;
COMMIT;
RESET ROLE;
SET ROLE regress_pat_admin;
INSERT INTO pat.scopes (scope) VALUES ('admin:insert');
\echo :SQLSTATE
UPDATE pat.tokens SET name = 'x';
\echo :SQLSTATE
DELETE FROM pat.tokens;
\echo :SQLSTATE
RESET ROLE;
SELECT user_id, name FROM pat.tokens ORDER BY name;

-- Clean up: leave the database as CREATE EXTENSION left it.
DROP OWNED BY regress_pat_nobody, regress_pat_validator, regress_pat_application,
              regress_pat_role_admin, regress_pat_admin;
DROP ROLE regress_pat_nobody, regress_pat_validator, regress_pat_application,
          regress_pat_role_admin, regress_pat_admin;
SELECT count(*) AS grants_left FROM pat_functions f, aclexplode(f.acl) a
WHERE a.grantee <> f.proowner;
SET client_min_messages = warning;
TRUNCATE pat.tokens, pat.user_roles, pat.role_scopes, pat.roles, pat.scopes CASCADE;
RESET client_min_messages;
