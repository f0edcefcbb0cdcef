-- pg_pat 1.12: pat_revoke's descendant count through an index of parent links (issue 26),
-- tokens that carry their own limits (issue 27): networks, resources, suspension and metadata,
-- enforced by the check, and rate limits and credits per token (issue 28), enforced by the check
-- in shared memory.

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

-- Checks answered suspended, forbidden_network, rate_limited or usage_exceeded are counted like
-- the others.
ALTER TABLE pat.token_checks
    DROP CONSTRAINT token_checks_outcome_check,
    ADD CONSTRAINT token_checks_outcome_check
        CHECK (outcome IN ('valid', 'insufficient_scope', 'expired', 'revoked',
                           'not_found', 'malformed', 'suspended', 'forbidden_network',
                           'rate_limited', 'usage_exceeded'));

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
    OUT metadata jsonb, OUT retry_after interval, OUT remaining bigint)
AS 'MODULE_PATHNAME', 'pat_validate'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pat_validate(text, text[], inet, text) IS
    'check a bearer token: one row with status valid, malformed, not_found, expired, revoked, suspended, forbidden_network (client_addr outside the token''s networks, or NULL for a token with networks) or insufficient_scope (also for a resource the scope is not bound to), and for an otherwise valid token rate_limited (retry_after: when it could pass) or usage_exceeded (its credits spent); token_type personal, or organization when user_id is an account id; the token''s metadata; remaining: its credits left (NULL without a budget)';

DROP FUNCTION @extschema@.pat_authenticate(text, text[]);
CREATE FUNCTION @extschema@.pat_authenticate(token text, required_scopes text[] DEFAULT '{}',
                                             client_addr inet DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'pat_authenticate'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pat_authenticate(text, text[], inet) IS
    'check a bearer token or raise (28000; 42501 for a missing scope or an address outside the token''s networks; PT429 over its rate limit, with Retry-After in the detail; PT402 with its credits spent); sets the token context for this transaction; client_addr: the HTTP client''s address, or inet_client_addr() for a direct connection';

DROP FUNCTION @extschema@.pat_validate(varchar, text[]);
CREATE FUNCTION @extschema@.pat_validate(token varchar, required_scopes text[] DEFAULT '{}',
    client_addr inet DEFAULT NULL, resource text DEFAULT NULL,
    OUT valid boolean, OUT status text, OUT token_id uuid, OUT user_id text,
    OUT token_name text, OUT scopes text[], OUT expires_at timestamptz, OUT token_type text,
    OUT metadata jsonb, OUT retry_after interval, OUT remaining bigint)
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
-- Rate limits and credits (issue 28) =====

-- Their tables --------------------------------------------------------------
-- Apart from the token row: setting a limit is no edit of the token (no audit row, no guard),
-- and the usage worker writes balances here without touching pat.tokens. The check enforces
-- them in shared memory (src/pg/usage/limiter_store.hpp); a change to a limit or budget drops
-- the user's cached tokens (the trigger below), a balance written out does not.
CREATE TABLE pat.token_limits (
    token_id          uuid PRIMARY KEY REFERENCES pat.tokens ON DELETE CASCADE,
    user_id           text NOT NULL,  -- the token's, so a change can reach its cached copies
    requests          integer CHECK (requests >= 1),
    per               interval CHECK (per > '0' AND per <= '1000 years'),
    credits_set_at    timestamptz,    -- when the budget was set: its version and refill anchor
    credits_remaining bigint CHECK (credits_remaining >= 0),
    credits_period    bigint NOT NULL DEFAULT 0 CHECK (credits_period >= 0),
    refill_amount     bigint CHECK (refill_amount >= 0),
    refill_every      interval CHECK (refill_every > '0' AND refill_every <= '1000 years'),
    CONSTRAINT token_limits_rate_whole CHECK ((requests IS NULL) = (per IS NULL)),
    CONSTRAINT token_limits_credits_whole
        CHECK ((credits_set_at IS NULL) = (credits_remaining IS NULL)),
    CONSTRAINT token_limits_refill_whole CHECK ((refill_amount IS NULL) = (refill_every IS NULL)
                                                AND (refill_amount IS NULL
                                                     OR credits_set_at IS NOT NULL))
);
COMMENT ON TABLE pat.token_limits IS
    'a token''s rate limit (requests per interval) and credit budget; credits_remaining is the balance as last written out (in refill period credits_period since credits_set_at), the live one is in shared memory';

-- A user's rate limit across all of its tokens together.
CREATE TABLE pat.user_rate_limits (
    user_id  text PRIMARY KEY,
    requests integer NOT NULL CHECK (requests >= 1),
    per      interval NOT NULL CHECK (per > '0' AND per <= '1000 years')
);
COMMENT ON TABLE pat.user_rate_limits IS
    'a user''s rate limit across all of its tokens (requests per interval), enforced per server';

SELECT pg_catalog.pg_extension_config_dump('pat.token_limits', '');
SELECT pg_catalog.pg_extension_config_dump('pat.user_rate_limits', '');

-- Rate limits and credits: the argument rules (src/core/rate_limit.hpp) and the token context's
-- rule that a token never sets a limit looser than its own.

CREATE FUNCTION pat.require_rate_limit(requests integer, per interval) RETURNS void
AS 'MODULE_PATHNAME', 'pat_require_rate_limit'
LANGUAGE C IMMUTABLE;

CREATE FUNCTION pat.require_credits(remaining bigint, refill_amount bigint,
                                    refill_every interval) RETURNS void
AS 'MODULE_PATHNAME', 'pat_require_credits'
LANGUAGE C IMMUTABLE;

CREATE FUNCTION pat.require_no_looser_rate(requests integer, per interval) RETURNS void
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    own pat.token_limits;
BEGIN
    IF @extschema@.pat_current_token_id() IS NULL THEN
        RETURN;
    END IF;
    SELECT l.* INTO own FROM pat.token_limits l
    WHERE l.token_id OPERATOR(pg_catalog.=) @extschema@.pat_current_token_id();
    IF own.requests IS NULL THEN
        RETURN;
    END IF;
    -- Looser: no limit, a bigger burst, or a higher rate (requests / per).
    IF requests IS NULL OR requests OPERATOR(pg_catalog.>) own.requests
       OR (requests::numeric OPERATOR(pg_catalog.*) extract(epoch FROM own.per))
          OPERATOR(pg_catalog.>) (own.requests::numeric OPERATOR(pg_catalog.*) extract(epoch FROM per)) THEN
        RAISE EXCEPTION 'a token cannot set a rate limit looser than its own (% per %)',
            own.requests, own.per USING ERRCODE = 'insufficient_privilege';
    END IF;
END
$$;

CREATE FUNCTION pat.require_no_looser_credits(remaining bigint, refill_amount bigint,
                                              refill_every interval) RETURNS void
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    own pat.token_limits;
    own_remaining bigint;
BEGIN
    IF @extschema@.pat_current_token_id() IS NULL THEN
        RETURN;
    END IF;
    SELECT l.* INTO own FROM pat.token_limits l
    WHERE l.token_id OPERATOR(pg_catalog.=) @extschema@.pat_current_token_id();
    IF own.credits_set_at IS NULL THEN
        RETURN;
    END IF;
    own_remaining := pat.current_credits(own.token_id, own.credits_set_at, own.credits_remaining,
                                         own.credits_period, own.refill_amount,
                                         own.refill_every);
    -- Looser: no budget, more than it has left, or a refill it does not have or a larger one.
    IF remaining IS NULL OR remaining OPERATOR(pg_catalog.>) own_remaining
       OR (refill_amount IS NOT NULL
           AND (own.refill_amount IS NULL
                OR refill_amount OPERATOR(pg_catalog.>) own.refill_amount
                OR (refill_amount::numeric OPERATOR(pg_catalog.*) extract(epoch FROM own.refill_every))
                   OPERATOR(pg_catalog.>)
                   (own.refill_amount::numeric OPERATOR(pg_catalog.*) extract(epoch FROM refill_every)))) THEN
        RAISE EXCEPTION 'a token cannot give credits beyond its own (% left)', own_remaining
            USING ERRCODE = 'insufficient_privilege';
    END IF;
END
$$;

-- A token's balance now: what this server's shared memory spent of it, else the stored balance
-- with any refill due since (no write when a refill falls due).
CREATE FUNCTION pat.current_credits(token_id uuid, credits_set_at timestamptz,
                                    credits_remaining bigint, credits_period bigint,
                                    refill_amount bigint, refill_every interval) RETURNS bigint
AS 'MODULE_PATHNAME', 'pat_current_credits'
LANGUAGE C VOLATILE;

-- The refill period a budget set at set_at is in now (src/core/rate_limit.hpp).
CREATE FUNCTION pat.credit_period(set_at timestamptz, refill_every interval) RETURNS bigint
AS 'MODULE_PATHNAME', 'pat_credit_period'
LANGUAGE C VOLATILE;

-- When the next refill of a budget set at set_at falls due (NULL without a refill).
CREATE FUNCTION pat.next_refill_at(set_at timestamptz, refill_every interval) RETURNS timestamptz
AS 'MODULE_PATHNAME', 'pat_next_refill_at'
LANGUAGE C VOLATILE;

-- Rotation: the successor gets the token's rate limit and its budget with what is left of it
-- (same refill schedule); the predecessor keeps its rate limit but its budget ends (0 left, no
-- refill), so an overlap never spends one balance twice.
CREATE FUNCTION pat.carry_limits(old_id uuid, new_id uuid) RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    INSERT INTO pat.token_limits (token_id, user_id, requests, per, credits_set_at,
                                  credits_remaining, credits_period, refill_amount, refill_every)
    SELECT new_id, l.user_id, l.requests, l.per, l.credits_set_at,
           pat.current_credits(l.token_id, l.credits_set_at, l.credits_remaining,
                               l.credits_period, l.refill_amount, l.refill_every),
           CASE WHEN l.refill_every IS NULL THEN 0
                ELSE pat.credit_period(l.credits_set_at, l.refill_every) END,
           l.refill_amount, l.refill_every
    FROM pat.token_limits l WHERE l.token_id OPERATOR(pg_catalog.=) old_id;
    UPDATE pat.token_limits l
    SET credits_set_at = pg_catalog.clock_timestamp(), credits_remaining = 0,
        credits_period = 0, refill_amount = NULL, refill_every = NULL
    WHERE l.token_id OPERATOR(pg_catalog.=) old_id AND l.credits_set_at IS NOT NULL;
END
$$;

-- The usage worker writes balances with this (src/pg/usage/usage_flush.cpp): only a budget still
-- set as it was (credits_set_at), and never a higher balance than one already written for a
-- later refill period.
CREATE FUNCTION pat.write_credits(token_ids uuid[], set_at timestamptz[], remaining bigint[],
                                  periods bigint[]) RETURNS integer
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    written integer;
BEGIN
    UPDATE pat.token_limits l
    SET credits_remaining = w.remaining, credits_period = w.period
    FROM ROWS FROM (pg_catalog.unnest(token_ids), pg_catalog.unnest(set_at),
                    pg_catalog.unnest(remaining), pg_catalog.unnest(periods))
         AS w(token_id, set_at, remaining, period)
    WHERE l.token_id OPERATOR(pg_catalog.=) w.token_id
      AND l.credits_set_at OPERATOR(pg_catalog.=) w.set_at
      AND (l.credits_period OPERATOR(pg_catalog.<) w.period
           OR (l.credits_period OPERATOR(pg_catalog.=) w.period
               AND l.credits_remaining OPERATOR(pg_catalog.>=) w.remaining));
    GET DIAGNOSTICS written = ROW_COUNT;
    RETURN written;
END
$$;

-- Rate limits and credits ---------------------------------------------------------------------
-- Set here, enforced by the check in shared memory (per server), the balances written out with
-- usage. In a token context only the user's own tokens (and with the manage scope), and never
-- looser than the authenticating token's own limit or budget: a token cannot lift its limits
-- through another token of its user.

CREATE FUNCTION @extschema@.pat_set_rate_limit(token_id uuid, requests integer, per interval)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    owner text;
BEGIN
    PERFORM pat.require_not_null(token_id, 'token_id');
    PERFORM pat.require_own_token(token_id);
    PERFORM pat.require_rate_limit(requests, per);
    SELECT t.user_id INTO owner FROM pat.tokens t
    WHERE t.token_id OPERATOR(pg_catalog.=) pat_set_rate_limit.token_id
    FOR KEY SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'token % does not exist', token_id USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM pat.require_no_looser_rate(requests, per);
    IF requests IS NULL THEN
        UPDATE pat.token_limits l SET requests = NULL, per = NULL
        WHERE l.token_id OPERATOR(pg_catalog.=) pat_set_rate_limit.token_id;
        DELETE FROM pat.token_limits l
        WHERE l.token_id OPERATOR(pg_catalog.=) pat_set_rate_limit.token_id
          AND l.requests IS NULL AND l.credits_set_at IS NULL;
    ELSE
        INSERT INTO pat.token_limits AS l (token_id, user_id, requests, per)
        VALUES (token_id, owner, requests, per)
        ON CONFLICT ON CONSTRAINT token_limits_pkey
        DO UPDATE SET requests = excluded.requests, per = excluded.per;
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.pat_set_rate_limit(uuid, integer, interval) IS
    'limit a token to requests checks per interval (a burst of requests, refilled evenly), enforced by each server''s checks; NULL requests removes the limit';

CREATE FUNCTION @extschema@.pat_set_user_rate_limit(user_id text, requests integer, per interval)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pat.require_not_null(user_id, 'user_id');
    PERFORM pat.require_rate_limit(requests, per);
    IF @extschema@.pat_current_token_id() IS NOT NULL THEN
        -- A token may only tighten its own user's limit.
        PERFORM pat.require_own_token(@extschema@.pat_current_token_id());
        IF user_id OPERATOR(pg_catalog.<>) @extschema@.pat_current_user() THEN
            RAISE EXCEPTION 'a token may only set its own user''s rate limit'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        PERFORM pat.require_no_looser_rate(requests, per);
    END IF;
    IF requests IS NULL THEN
        DELETE FROM pat.user_rate_limits u
        WHERE u.user_id OPERATOR(pg_catalog.=) pat_set_user_rate_limit.user_id;
    ELSE
        INSERT INTO pat.user_rate_limits AS u (user_id, requests, per)
        VALUES (user_id, requests, per)
        ON CONFLICT ON CONSTRAINT user_rate_limits_pkey
        DO UPDATE SET requests = excluded.requests, per = excluded.per;
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.pat_set_user_rate_limit(text, integer, interval) IS
    'limit all of a user''s tokens together to requests checks per interval, on each server; NULL requests removes the limit';

CREATE FUNCTION @extschema@.pat_set_credits(token_id uuid, remaining bigint,
                                            refill_amount bigint DEFAULT NULL,
                                            refill_every interval DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    owner text;
BEGIN
    PERFORM pat.require_not_null(token_id, 'token_id');
    PERFORM pat.require_own_token(token_id);
    IF remaining IS NOT NULL THEN
        PERFORM pat.require_credits(remaining, refill_amount, refill_every);
    ELSIF refill_amount IS NOT NULL OR refill_every IS NOT NULL THEN
        RAISE EXCEPTION 'a refill needs a budget' USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Give remaining too, or NULL for all three to remove the budget.';
    END IF;
    SELECT t.user_id INTO owner FROM pat.tokens t
    WHERE t.token_id OPERATOR(pg_catalog.=) pat_set_credits.token_id
    FOR KEY SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'token % does not exist', token_id USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM pat.require_no_looser_credits(remaining, refill_amount, refill_every);
    IF remaining IS NULL THEN
        UPDATE pat.token_limits l
        SET credits_set_at = NULL, credits_remaining = NULL, credits_period = 0,
            refill_amount = NULL, refill_every = NULL
        WHERE l.token_id OPERATOR(pg_catalog.=) pat_set_credits.token_id;
        DELETE FROM pat.token_limits l
        WHERE l.token_id OPERATOR(pg_catalog.=) pat_set_credits.token_id
          AND l.requests IS NULL AND l.credits_set_at IS NULL;
    ELSE
        -- clock_timestamp(): two budgets set in one transaction are still told apart.
        INSERT INTO pat.token_limits AS l (token_id, user_id, credits_set_at, credits_remaining,
                                           credits_period, refill_amount, refill_every)
        VALUES (token_id, owner, pg_catalog.clock_timestamp(), remaining, 0, refill_amount,
                refill_every)
        ON CONFLICT ON CONSTRAINT token_limits_pkey
        DO UPDATE SET credits_set_at = excluded.credits_set_at,
                      credits_remaining = excluded.credits_remaining, credits_period = 0,
                      refill_amount = excluded.refill_amount,
                      refill_every = excluded.refill_every;
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.pat_set_credits(uuid, bigint, bigint, interval) IS
    'give a token a budget of remaining valid checks, optionally set back to refill_amount every refill_every from now; NULL remaining removes the budget';

CREATE FUNCTION @extschema@.pat_limits(token_id uuid,
    OUT requests integer, OUT per interval, OUT user_requests integer, OUT user_per interval,
    OUT remaining bigint, OUT refill_amount bigint, OUT refill_every interval,
    OUT next_refill_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    owner text;
BEGIN
    PERFORM pat.require_not_null(token_id, 'token_id');
    PERFORM pat.require_own_token(token_id);
    SELECT t.user_id INTO owner FROM pat.tokens t
    WHERE t.token_id OPERATOR(pg_catalog.=) pat_limits.token_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'token % does not exist', token_id USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT l.requests, l.per, l.refill_amount, l.refill_every,
           pat.current_credits(l.token_id, l.credits_set_at, l.credits_remaining,
                               l.credits_period, l.refill_amount, l.refill_every),
           pat.next_refill_at(l.credits_set_at, l.refill_every)
    INTO requests, per, refill_amount, refill_every, remaining, next_refill_at
    FROM pat.token_limits l WHERE l.token_id OPERATOR(pg_catalog.=) pat_limits.token_id;
    SELECT u.requests, u.per INTO user_requests, user_per
    FROM pat.user_rate_limits u WHERE u.user_id OPERATOR(pg_catalog.=) owner;
END
$$;
COMMENT ON FUNCTION @extschema@.pat_limits(uuid) IS
    'a token''s rate limit, its user''s, and its credits: remaining now (as this server''s shared memory has it) and the next refill';

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

ALTER TABLE pat.token_limits ENABLE ALWAYS TRIGGER token_limits_invalidate_cached_user;
ALTER TABLE pat.token_limits ENABLE ALWAYS TRIGGER token_limits_invalidate_caches;
ALTER TABLE pat.user_rate_limits ENABLE ALWAYS TRIGGER user_rate_limits_invalidate_cached_user;
ALTER TABLE pat.user_rate_limits ENABLE ALWAYS TRIGGER user_rate_limits_invalidate_caches;

REVOKE ALL ON TABLE pat.token_limits, pat.user_rate_limits FROM PUBLIC;
REVOKE ALL ON FUNCTION pat.require_rate_limit(integer, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION pat.require_credits(bigint, bigint, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION pat.require_no_looser_rate(integer, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION pat.require_no_looser_credits(bigint, bigint, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION pat.current_credits(uuid, timestamptz, bigint, bigint, bigint, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION pat.credit_period(timestamptz, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION pat.next_refill_at(timestamptz, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION pat.carry_limits(uuid, uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION pat.write_credits(uuid[], timestamptz[], bigint[], bigint[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.pat_set_rate_limit(uuid, integer, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.pat_set_user_rate_limit(text, integer, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.pat_set_credits(uuid, bigint, bigint, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.pat_limits(uuid) FROM PUBLIC;

INSERT INTO pat.profile_functions (function_signature, least_profile) VALUES
    ('pat_set_rate_limit(uuid, integer, interval)', 'application'),
    ('pat_set_user_rate_limit(text, integer, interval)', 'application'),
    ('pat_set_credits(uuid, bigint, bigint, interval)', 'application'),
    ('pat_limits(uuid)', 'application');
-- End of rate limits and credits (issue 28)
