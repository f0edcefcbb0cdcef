--
-- Scopes and roles: pat_define_scope, pat_define_role, pat_grant_role, pat_revoke_role and
-- pat_grantable_scopes. Every error is followed by \echo :SQLSTATE, which shows its SQLSTATE.
--
\set SHOW_CONTEXT never

-- Scope names: segments of ASCII letters, digits, '_', '-', '.' joined by ':', at most 100.
SELECT pat_define_scope('catalog:read', 'Read the software catalog');
SELECT pat_define_scope('catalog:write', 'Edit the software catalog');
SELECT pat_define_scope('scorecards:write');
SELECT pat_define_scope('workflowRuns:writeEvents', 'Post workflow run events');
SELECT pat_define_scope('A.b-c_9:x.Y-z_0:deep', 'every allowed character, three segments');
SELECT pat_define_scope('admin', 'a single segment');
SELECT pat_define_scope(repeat('s', 49) || ':' || repeat('t', 50), 'exactly 100 characters');
SELECT scope, description FROM pat.scopes ORDER BY scope COLLATE "C";

-- Invalid names: 22023, nothing stored.
SELECT pat_define_scope('');
\echo :SQLSTATE
SELECT pat_define_scope(':read');
\echo :SQLSTATE
SELECT pat_define_scope('catalog:');
\echo :SQLSTATE
SELECT pat_define_scope('catalog::read');
\echo :SQLSTATE
SELECT pat_define_scope('catalog read');
\echo :SQLSTATE
SELECT pat_define_scope(' catalog:read');
\echo :SQLSTATE
SELECT pat_define_scope('catalog/read');
\echo :SQLSTATE
SELECT pat_define_scope('catalog:*');
\echo :SQLSTATE
SELECT pat_define_scope('catálogo:read');
\echo :SQLSTATE
SELECT pat_define_scope(E'catalog:read\n');
\echo :SQLSTATE
SELECT pat_define_scope(repeat('s', 50) || ':' || repeat('t', 50));
\echo :SQLSTATE
SELECT pat_define_scope(NULL);
\echo :SQLSTATE
SELECT pat_define_scope(NULL, 'no name');
\echo :SQLSTATE
SELECT count(*) AS scopes FROM pat.scopes;
-- The grammar is also the table's CHECK: not even a direct INSERT can store a bad name.
INSERT INTO pat.scopes (scope, created_at) VALUES ('bad scope', '2026-01-01 00:00:00+00');
\echo :SQLSTATE

-- Redefining updates the description; a NULL description keeps the old one.
SELECT pat_define_scope('catalog:read', 'Read catalog entities');
SELECT pat_define_scope('catalog:read');
SELECT pat_define_scope('catalog:read', NULL);
SELECT description FROM pat.scopes WHERE scope = 'catalog:read';
SELECT pat_define_scope('scorecards:write', 'Edit scorecards');
SELECT description FROM pat.scopes WHERE scope = 'scorecards:write';
SELECT count(*) AS scopes FROM pat.scopes;

-- Roles: create or replace.
SELECT pat_define_role('sr_viewer', '{catalog:read}');
SELECT pat_define_role('sr_editor', ARRAY['catalog:read', 'catalog:write', 'catalog:write']);
SELECT pat_define_role('sr_scorer', '{scorecards:write}', false);
SELECT pat_define_role('sr_empty', '{}');
SELECT pat_define_role('sr_admin', '{}', true);
SELECT pat_define_role(repeat('r', 100), '{admin}');
SELECT r.role, r.all_scopes,
       ARRAY(SELECT rs.scope FROM pat.role_scopes rs WHERE rs.role = r.role
             ORDER BY rs.scope COLLATE "C") AS scopes
FROM pat.roles r WHERE r.role LIKE 'sr\_%' ORDER BY r.role COLLATE "C";
SELECT count(*) FROM pat.roles WHERE role = repeat('r', 100);

-- Role errors: undefined scope 22023, NULLs 22004, bad role name 22023; nothing changes.
SELECT pat_define_role('sr_viewer', '{catalog:read,nope:read}');
\echo :SQLSTATE
SELECT pat_define_role('sr_broken', '{bad scope}');
\echo :SQLSTATE
SELECT pat_define_role('sr_viewer', ARRAY['catalog:read', NULL]);
\echo :SQLSTATE
SELECT pat_define_role(NULL, '{catalog:read}');
\echo :SQLSTATE
SELECT pat_define_role('sr_viewer', NULL);
\echo :SQLSTATE
SELECT pat_define_role('sr_viewer', '{catalog:read}', NULL);
\echo :SQLSTATE
SELECT pat_define_role('', '{catalog:read}');
\echo :SQLSTATE
SELECT pat_define_role('   ', '{catalog:read}');
\echo :SQLSTATE
SELECT pat_define_role(E'sr_tab\there', '{catalog:read}');
\echo :SQLSTATE
SELECT pat_define_role(repeat('r', 101), '{catalog:read}');
\echo :SQLSTATE
SELECT r.role, ARRAY(SELECT rs.scope FROM pat.role_scopes rs WHERE rs.role = r.role
                     ORDER BY rs.scope COLLATE "C") AS scopes
FROM pat.roles r WHERE r.role = 'sr_viewer';
SELECT count(*) AS roles FROM pat.roles;

-- pat_grant_role / pat_revoke_role return whether anything changed.
SELECT pat_grant_role('sr-alice', 'sr_viewer') AS granted;
SELECT pat_grant_role('sr-alice', 'sr_viewer') AS granted_again;
SELECT pat_grant_role('sr-alice', 'sr_scorer') AS granted;
SELECT pat_grant_role('sr-bob', 'sr_editor') AS granted;
SELECT pat_grant_role('sr-bob', 'sr_viewer') AS granted;
SELECT pat_grant_role('sr-root', 'sr_admin') AS granted;
SELECT pat_grant_role(repeat('u', 255), 'sr_viewer') AS granted;
SELECT user_id, role FROM pat.user_roles WHERE role LIKE 'sr\_%' AND length(user_id) < 255
ORDER BY user_id, role COLLATE "C";

-- Grant errors: unknown role 22023, NULLs 22004, bad user id 22023.
SELECT pat_grant_role('sr-alice', 'sr_nope');
\echo :SQLSTATE
SELECT pat_grant_role('sr-alice', NULL);
\echo :SQLSTATE
SELECT pat_grant_role(NULL, 'sr_viewer');
\echo :SQLSTATE
SELECT pat_grant_role('', 'sr_viewer');
\echo :SQLSTATE
SELECT pat_grant_role('  ', 'sr_viewer');
\echo :SQLSTATE
SELECT pat_grant_role(repeat('u', 256), 'sr_viewer');
\echo :SQLSTATE

-- pat_grantable_scopes: exactly what a creation form may offer; the union of the roles.
SELECT * FROM pat_grantable_scopes('sr-alice') AS s ORDER BY s COLLATE "C";
SELECT * FROM pat_grantable_scopes('sr-bob') AS s ORDER BY s COLLATE "C";
SELECT * FROM pat_grantable_scopes('sr-nobody') AS s;
SELECT * FROM pat_grantable_scopes(repeat('u', 255)) AS s;
-- all_scopes: every defined scope, also scopes defined after the role and the grant.
SELECT array_agg(s ORDER BY s COLLATE "C") = (SELECT array_agg(scope ORDER BY scope COLLATE "C")
                                              FROM pat.scopes) AS every_scope
FROM pat_grantable_scopes('sr-root') AS s;
SELECT pat_define_scope('billing:read', 'defined after the all_scopes grant');
SELECT 'billing:read' IN (SELECT * FROM pat_grantable_scopes('sr-root')) AS root_gets_new_scope;
SELECT 'billing:read' IN (SELECT * FROM pat_grantable_scopes('sr-bob')) AS bob_gets_new_scope;
SELECT count(*) = (SELECT count(*) FROM pat.scopes) AS every_scope
FROM pat_grantable_scopes('sr-root');
-- An empty role adds nothing.
SELECT pat_grant_role('sr-nobody', 'sr_empty') AS granted;
SELECT count(*) FROM pat_grantable_scopes('sr-nobody');
SELECT pat_grantable_scopes(NULL);
\echo :SQLSTATE
SELECT pat_grantable_scopes('');
\echo :SQLSTATE

-- Replacing a role changes what its holders may grant at once.
SELECT pat_define_role('sr_viewer', '{catalog:read,workflowRuns:writeEvents}');
SELECT * FROM pat_grantable_scopes('sr-alice') AS s ORDER BY s COLLATE "C";
SELECT pat_define_role('sr_viewer', '{catalog:read}');
SELECT * FROM pat_grantable_scopes('sr-alice') AS s ORDER BY s COLLATE "C";
-- Turning all_scopes off leaves only the listed scopes.
SELECT pat_define_role('sr_admin', '{admin}', false);
SELECT * FROM pat_grantable_scopes('sr-root') AS s;
SELECT pat_define_role('sr_admin', '{}', true);
SELECT count(*) = (SELECT count(*) FROM pat.scopes) AS every_scope
FROM pat_grantable_scopes('sr-root');

-- pat_revoke_role: true when the user held the role, false otherwise; the union shrinks.
SELECT pat_revoke_role('sr-bob', 'sr_editor') AS revoked;
SELECT pat_revoke_role('sr-bob', 'sr_editor') AS revoked_again;
SELECT pat_revoke_role('sr-bob', 'sr_scorer') AS never_held;
SELECT * FROM pat_grantable_scopes('sr-bob') AS s ORDER BY s COLLATE "C";
SELECT pat_revoke_role('sr-bob', 'sr_viewer') AS revoked;
SELECT count(*) FROM pat_grantable_scopes('sr-bob');
SELECT pat_revoke_role('sr-bob', 'sr_nope');
\echo :SQLSTATE
SELECT pat_revoke_role('sr-bob', NULL);
\echo :SQLSTATE
SELECT pat_revoke_role(NULL, 'sr_viewer');
\echo :SQLSTATE
SELECT pat_revoke_role('', 'sr_viewer');
\echo :SQLSTATE

-- Clean up: leave the tables as CREATE EXTENSION left them.
SET client_min_messages = warning;
TRUNCATE pat.tokens, pat.user_roles, pat.role_scopes, pat.roles, pat.scopes CASCADE;
RESET client_min_messages;
