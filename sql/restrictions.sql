--
-- Tokens that carry their own limits: networks (forbidden_network), resources bound per scope,
-- suspension (suspended) and metadata, enforced by the check and seen by the next check after
-- commit; the caps and hostile input. Tokens and ids are never printed.
--
\set SHOW_CONTEXT never
\set VERBOSITY default

SELECT pat_define_scope('notes:read'), pat_define_scope('notes:write'),
       pat_define_scope('tokens:manage');
SELECT pat_define_role('re_writer', '{notes:read,notes:write,tokens:manage}');
SELECT pat_grant_role('re-alice', 're_writer');

-- Networks ----------------------------------------------------------------------------------
SELECT token AS ci, token_id AS ci_id
FROM pat_create('re-alice', 'ci', '{notes:read}', '30 days',
                networks => '{10.1.0.0/16, 2001:db8::/32}') \gset
SELECT r.label, v.valid, v.status
FROM (VALUES (1, 'inside the IPv4 network', '10.1.200.3'::inet),
             (2, 'outside it', '10.2.0.1'),
             (3, 'inside the IPv6 network', '2001:db8::77'),
             (4, 'outside it', '2001:db9::1'),
             (5, 'IPv4-mapped IPv6, inside', '::ffff:10.1.2.3'),
             (6, 'IPv4-mapped IPv6, outside', '::ffff:10.2.2.3'),
             (7, 'unknown (NULL)', NULL),
             (8, 'a prefix given with the address is ignored', '10.1.2.3/8')) AS r(n, label, addr),
     LATERAL pat_validate(:'ci', '{notes:read}', r.addr) AS v
ORDER BY r.n;
-- Two arguments: no address, so a token with networks is refused.
SELECT valid, status, token_name FROM pat_validate(:'ci', '{notes:read}');
-- forbidden_network comes before insufficient_scope: the wrong network learns nothing more.
SELECT valid, status FROM pat_validate(:'ci', '{notes:write}', '192.0.2.1');
SELECT valid, status FROM pat_validate(:'ci', '{notes:write}', '10.1.0.1');
-- A malformed address is the caller's error, before any check.
SELECT valid, status FROM pat_validate('pat_x', '{notes:read}', 'not an address');
-- pat_authenticate raises 42501, as for a missing scope, with its own message.
BEGIN;
SELECT pat_authenticate(:'ci', '{notes:read}', '192.0.2.1');
\echo :SQLSTATE
ROLLBACK;
BEGIN;
SELECT pat_authenticate(:'ci', '{notes:read}');
\echo :SQLSTATE
ROLLBACK;
BEGIN;
SELECT pat_authenticate(:'ci', '{notes:read}', '10.1.0.9') = 're-alice' AS authenticated;
COMMIT;
-- /0 and /32, /128.
SELECT token AS any4 FROM pat_create('re-alice', 'any v4', '{notes:read}', '30 days',
                                     networks => '{0.0.0.0/0}') \gset
SELECT token AS one FROM pat_create('re-alice', 'one host', '{notes:read}', '30 days',
                                    networks => '{192.0.2.7/32, 2001:db8::7/128}') \gset
SELECT (SELECT status FROM pat_validate(:'any4', '{}', '203.0.113.9')) AS any_v4,
       (SELECT status FROM pat_validate(:'any4', '{}', '2001:db8::1')) AS any_v4_from_v6,
       (SELECT status FROM pat_validate(:'one', '{}', '192.0.2.7')) AS host,
       (SELECT status FROM pat_validate(:'one', '{}', '192.0.2.8')) AS other_host,
       (SELECT status FROM pat_validate(:'one', '{}', '2001:db8::7')) AS host6,
       (SELECT status FROM pat_validate(:'one', '{}', '2001:db8::8')) AS other_host6;
-- A token without networks ignores the address.
SELECT token AS free, token_id AS free_id
FROM pat_create('re-alice', 'free', '{notes:read}', '30 days') \gset
SELECT valid, status, metadata FROM pat_validate(:'free', '{notes:read}', '198.51.100.1');
-- The change is seen by the very next check: narrowing, then clearing.
SELECT valid, status FROM pat_validate(:'free', '{}', '198.51.100.1');
SELECT pat_update(:'free_id', networks => '{192.0.2.0/24}');
SELECT valid, status FROM pat_validate(:'free', '{}', '198.51.100.1');
SELECT pat_update(:'free_id', networks => '{}');
SELECT valid, status FROM pat_validate(:'free', '{}', '198.51.100.1');
SELECT networks FROM pat_list('re-alice') WHERE name = 'ci';

-- The caps: 10,000 networks get a clear limit error (54000); other tokens are untouched.
SELECT token_id FROM pat_create('re-alice', 'too many', '{notes:read}', '30 days',
    networks => (SELECT array_agg(('10.' || (i / 256) || '.' || (i % 256) || '.0/24')::cidr)
                 FROM generate_series(1, 10000) i));
\echo :SQLSTATE
SELECT pat_update(:'ci_id', networks => (SELECT array_agg(('10.0.' || i || '.0/24')::cidr)
                                         FROM generate_series(0, 64) i));
\echo :SQLSTATE
SELECT token_id IS NOT NULL AS at_the_cap
FROM pat_create('re-alice', 'sixty-four', '{notes:read}', '30 days',
    networks => (SELECT array_agg(('10.0.' || i || '.0/24')::cidr) FROM generate_series(0, 63) i));
SELECT valid, status FROM pat_validate(:'ci', '{notes:read}', '10.1.0.1');

-- Resources ---------------------------------------------------------------------------------
SELECT token AS agent, token_id AS agent_id
FROM pat_create('re-alice', 'agent', '{notes:read,notes:write}', '30 days',
                resources => '{"notes:write": ["42", 43]}') \gset
SELECT resources FROM pat_list('re-alice') WHERE name = 'agent';
SELECT r.label, v.valid, v.status
FROM (VALUES (1, 'bound scope, its resource', '{notes:write}'::text[], '42'),
             (2, 'a number id, as text', '{notes:write}', '43'),
             (3, 'bound scope, another resource', '{notes:write}', '44'),
             (4, 'unbound scope: every resource', '{notes:read}', '44'),
             (5, 'both scopes', '{notes:read,notes:write}', '44'),
             (6, 'no resource asked', '{notes:write}', NULL)) AS r(n, label, required, resource),
     LATERAL pat_validate(:'agent', r.required, NULL, r.resource) AS v
ORDER BY r.n;
-- In the token context: pat_has_scope(scope, resource) for RLS, pat_current_resources(scope).
BEGIN;
SELECT pat_authenticate(:'agent') = 're-alice' AS authenticated;
SELECT pat_has_scope('notes:write', '42') AS write_42, pat_has_scope('notes:write', '44') AS write_44,
       pat_has_scope('notes:read', '44') AS read_44, pat_has_scope('notes:write', NULL) AS write_null,
       pat_has_scope('notes:admin', '42') AS not_held;
SELECT pat_current_resources('notes:write') AS write, pat_current_resources('notes:read') AS read;
COMMIT;
SELECT pat_has_scope('notes:write', '42') AS outside_context,
       pat_current_resources('notes:write') AS no_resources;
-- Hostile input: the wrong shape (22023), a scope the token does not hold, too many ids (54000).
SELECT pat_update(:'agent_id', resources => '["42"]');
\echo :SQLSTATE
SELECT pat_update(:'agent_id', resources => '{"notes:write": "42"}');
\echo :SQLSTATE
SELECT pat_update(:'agent_id', resources => '{"notes:write": []}');
\echo :SQLSTATE
SELECT pat_update(:'agent_id', resources => '{"notes:write": [{"id": 1}]}');
\echo :SQLSTATE
SELECT pat_update(:'agent_id', resources => '{"notes:admin": ["1"]}');
\echo :SQLSTATE
SELECT pat_update(:'agent_id', resources => jsonb_build_object('notes:write',
    (SELECT jsonb_agg(i::text) FROM generate_series(1, 10000) i)));
\echo :SQLSTATE
SELECT valid, status FROM pat_validate(:'agent', '{notes:write}', NULL, '42');
-- Narrowed and widened again: seen by the next check.
SELECT pat_update(:'agent_id', resources => '{"notes:write": ["43"]}');
SELECT valid, status FROM pat_validate(:'agent', '{notes:write}', NULL, '42');
SELECT pat_update(:'agent_id', resources => '{}');
SELECT valid, status FROM pat_validate(:'agent', '{notes:write}', NULL, '42');

-- Made in a token context: never wider than the authenticated token, which it inherits from.
SELECT token AS manager FROM pat_create('re-alice', 'manager', '{notes:write,tokens:manage}',
    '30 days', networks => '{10.0.0.0/8}', resources => '{"notes:write": ["7", "8"]}') \gset
BEGIN;
SELECT pat_authenticate(:'manager', '{}', '10.0.0.1') IS NOT NULL AS authenticated;
SELECT token AS inherited FROM pat_create('re-alice', 'inherited', '{notes:write}', '1 day') \gset
COMMIT;
BEGIN;
SELECT pat_authenticate(:'manager', '{}', '10.0.0.1') IS NOT NULL AS authenticated;
SELECT token_id FROM pat_create('re-alice', 'wider net', '{notes:write}', '1 day',
                                networks => '{192.0.2.0/24}');
ROLLBACK;
BEGIN;
SELECT pat_authenticate(:'manager', '{}', '10.0.0.1') IS NOT NULL AS authenticated;
SELECT token_id FROM pat_create('re-alice', 'other resource', '{notes:write}', '1 day',
                                resources => '{"notes:write": ["9"]}');
ROLLBACK;
BEGIN;
SELECT pat_authenticate(:'manager', '{}', '10.0.0.1') IS NOT NULL AS authenticated;
SELECT token AS narrower FROM pat_create('re-alice', 'narrower', '{notes:write}', '1 day',
    networks => '{10.9.0.0/16}', resources => '{"notes:write": ["8"]}') \gset
COMMIT;
SELECT name, networks, resources FROM pat_list('re-alice')
WHERE name IN ('inherited', 'narrower') ORDER BY name;
SELECT (SELECT status FROM pat_validate(:'narrower', '{notes:write}', '10.9.1.1', '8')) AS own,
       (SELECT status FROM pat_validate(:'narrower', '{notes:write}', '10.8.1.1', '8')) AS other_net,
       (SELECT status FROM pat_validate(:'narrower', '{notes:write}', '10.9.1.1', '7')) AS other_id;

-- Metadata ----------------------------------------------------------------------------------
SELECT token AS tagged, token_id AS tagged_id
FROM pat_create('re-alice', 'tagged', '{notes:read}', '30 days',
                metadata => '{"ci_job": 1234, "repo": "acme/app"}') \gset
SELECT valid, status, metadata FROM pat_validate(:'tagged', '{notes:read}');
-- Returned only with a valid answer.
SELECT valid, status, metadata FROM pat_validate(:'tagged', '{notes:write}');
BEGIN;
SELECT pat_authenticate(:'tagged') IS NOT NULL AS authenticated;
SELECT pat_current_metadata() AS metadata;
COMMIT;
SELECT pat_current_metadata() AS outside_context;
SELECT pat_update(:'tagged_id', metadata => '{"ci_job": 1235}');
SELECT metadata FROM pat_validate(:'tagged');
-- '{}' clears it; too big is refused (54000).
SELECT pat_update(:'tagged_id', metadata => '{}');
SELECT metadata FROM pat_validate(:'tagged');
SELECT pat_update(:'tagged_id', metadata => jsonb_build_object('blob', repeat('x', 3000)));
\echo :SQLSTATE
-- Never a secret: a token in the metadata is refused (22023).
SELECT pat_update(:'tagged_id', metadata => jsonb_build_object('copy', :'ci'));
\echo :SQLSTATE
SELECT token_id FROM pat_create('re-alice', 'leaky', '{notes:read}', '1 day',
                                metadata => jsonb_build_array(1, jsonb_build_object(:'ci', 2)));
\echo :SQLSTATE

-- Suspension --------------------------------------------------------------------------------
SELECT token AS paused, token_id AS paused_id, expires_at AS paused_expiry
FROM pat_create('re-alice', 'paused', '{notes:read}', '30 days') \gset
SELECT valid, status FROM pat_validate(:'paused');
SELECT pat_suspend(:'paused_id') AS suspended, pat_suspend(:'paused_id') AS again;
SELECT valid, status, token_name FROM pat_validate(:'paused');
BEGIN;
SELECT pat_authenticate(:'paused');
ROLLBACK;
SELECT name, status, suspended FROM pat_list('re-alice') WHERE name = 'paused';
SELECT pat_resume(:'paused_id') AS resumed, pat_resume(:'paused_id') AS again;
-- Resuming never moves the expiry.
SELECT valid, status, expires_at = :'paused_expiry' AS same_expiry FROM pat_validate(:'paused');
-- Audited, and the owner notified of each.
SELECT action, new_data ? 'suspended_at' AS new_at, old_data ? 'suspended_at' AS old_at
FROM pat.audit_pending WHERE token_id = :'paused_id' ORDER BY batch, ordinal;
SELECT kind, token_name FROM pat.notices WHERE token_id = :'paused_id' ORDER BY kind;
-- Suspension travels with rotation, and so do the limits.
SELECT pat_suspend(:'paused_id');
SELECT pat_update(:'paused_id', networks => '{10.5.0.0/16}', metadata => '{"k": 1}');
SELECT token AS rotated FROM pat_rotate(:'paused_id') \gset
SELECT valid, status FROM pat_validate(:'rotated', '{}', '10.5.0.1');
SELECT name, networks, metadata, suspended, status FROM pat_list('re-alice')
WHERE name = 'paused' ORDER BY created_at;
-- A revoked token is neither suspended nor resumed; an unknown one does not exist.
SELECT token_id AS rotated_id FROM pat_list('re-alice') WHERE name = 'paused' AND status = 'active' \gset
SELECT pat_revoke(:'rotated_id');
\set VERBOSITY sqlstate
SELECT pat_resume(:'rotated_id');
\set VERBOSITY default
SELECT pat_suspend('00000000-0000-0000-0000-000000000000');
SELECT pat_suspend(NULL);

-- Usage counts the new outcomes.
SELECT pat_flush_usage() >= 0 AS flushed;
SELECT outcome, sum(checks) > 0 AS counted FROM pat.token_checks
WHERE outcome IN ('suspended', 'forbidden_network') GROUP BY outcome ORDER BY outcome;
