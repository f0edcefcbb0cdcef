
-- The API ===================================================================================
-- Functions in the extension's schema. Which grant profile gets each one is listed once, in
-- pat.profile_functions (70-privileges.sql); every function here must have its row there.

-- Scopes and roles ----------------------------------------------------------------------------

CREATE FUNCTION @extschema@.pat_define_scope(scope text, description text DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'pat_define_scope'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pat_define_scope(text, text) IS
    'define a scope, or update its description (NULL keeps the old one)';

CREATE FUNCTION @extschema@.pat_define_role(role text, scopes text[],
                                            all_scopes boolean DEFAULT false)
RETURNS void
AS 'MODULE_PATHNAME', 'pat_define_role'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pat_define_role(text, text[], boolean) IS
    'create or replace a role: the scopes it allows, or all_scopes for every defined scope';

CREATE FUNCTION @extschema@.pat_grant_role(user_id text, role text) RETURNS boolean
AS 'MODULE_PATHNAME', 'pat_grant_role'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pat_grant_role(text, text) IS
    'grant a role to a user; false if the user already held it';

CREATE FUNCTION @extschema@.pat_revoke_role(user_id text, role text) RETURNS boolean
AS 'MODULE_PATHNAME', 'pat_revoke_role'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pat_revoke_role(text, text) IS
    'take a role from a user: its scopes leave every token of the user at once';

CREATE FUNCTION @extschema@.pat_grantable_scopes(user_id text) RETURNS SETOF text
AS 'MODULE_PATHNAME', 'pat_grantable_scopes'
LANGUAGE C STABLE;
COMMENT ON FUNCTION @extschema@.pat_grantable_scopes(text) IS
    'the scopes a token creation form may offer this user';

-- Tokens ------------------------------------------------------------------------------------

CREATE FUNCTION @extschema@.pat_create(user_id text, name text, scopes text[],
                                       expires text, networks cidr[] DEFAULT NULL,
                                       resources jsonb DEFAULT NULL, metadata jsonb DEFAULT NULL)
RETURNS TABLE (token_id uuid, token text, expires_at timestamptz)
AS 'MODULE_PATHNAME', 'pat_create_text'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pat_create(text, text, text[], text, cidr[], jsonb, jsonb) IS
    'issue a token; expires: ''30 days'' or any positive interval, a future date, or ''never''; networks: where it works from (at most 64); resources: per scope, the resource ids it covers (at most 32 scopes of 100 ids); metadata: the application''s (at most 2048 bytes); in a token context no wider than the authenticated token''s';

CREATE FUNCTION @extschema@.pat_create(user_id text, name text, scopes text[],
                                       expires interval, networks cidr[] DEFAULT NULL,
                                       resources jsonb DEFAULT NULL, metadata jsonb DEFAULT NULL)
RETURNS TABLE (token_id uuid, token text, expires_at timestamptz)
AS 'MODULE_PATHNAME', 'pat_create_interval'
LANGUAGE C VOLATILE;

CREATE FUNCTION @extschema@.pat_create(user_id text, name text, scopes text[],
                                       expires timestamptz, networks cidr[] DEFAULT NULL,
                                       resources jsonb DEFAULT NULL, metadata jsonb DEFAULT NULL)
RETURNS TABLE (token_id uuid, token text, expires_at timestamptz)
AS 'MODULE_PATHNAME', 'pat_create_timestamptz'
LANGUAGE C VOLATILE;

-- pat_validate's row is a named type rather than OUT parameters: PostgreSQL builds the row type
-- of a function with OUT parameters from pg_proc at the start of every statement that calls it
-- in FROM, a type lookup per column, while a named type's comes from the type cache. Measured
-- over the wire with 8 pooled connections, that is about 7% of a check's transaction.
CREATE TYPE pat.validation AS (
    valid boolean,
    status text,
    token_id uuid,
    user_id text,
    token_name text,
    scopes text[],
    expires_at timestamptz,
    token_type text,
    metadata jsonb,
    retry_after interval,
    remaining bigint
);
COMMENT ON TYPE pat.validation IS 'the row pat_validate returns';

CREATE FUNCTION @extschema@.pat_validate(token text, required_scopes text[] DEFAULT '{}',
    client_addr inet DEFAULT NULL, resource text DEFAULT NULL)
RETURNS pat.validation
AS 'MODULE_PATHNAME', 'pat_validate'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pat_validate(text, text[], inet, text) IS
    'check a bearer token: one row with status valid, malformed, not_found, expired, revoked, suspended, forbidden_network (client_addr outside the token''s networks, or NULL for a token with networks) or insufficient_scope (also for a resource the scope is not bound to), and for an otherwise valid token rate_limited (retry_after: when it could pass) or usage_exceeded (its credits spent); token_type personal, or organization when user_id is an account id; the token''s metadata; remaining: its credits left (NULL without a budget)';

CREATE FUNCTION @extschema@.pat_authenticate(token text, required_scopes text[] DEFAULT '{}',
                                             client_addr inet DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'pat_authenticate'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pat_authenticate(text, text[], inet) IS
    'check a bearer token or raise (28000; 42501 for a missing scope or an address outside the token''s networks; PT429 over its rate limit, with Retry-After in the detail; PT402 with its credits spent); sets the token context for this transaction; client_addr: the HTTP client''s address, or inet_client_addr() for a direct connection';

-- The same functions for a client that binds strings as varchar (JDBC's default): with these
-- exact matches here, an overload taking varchar in another schema later on the search_path
-- cannot take the call (and the token) instead.
CREATE FUNCTION @extschema@.pat_validate(token varchar, required_scopes text[] DEFAULT '{}',
    client_addr inet DEFAULT NULL, resource text DEFAULT NULL)
RETURNS pat.validation
AS 'MODULE_PATHNAME', 'pat_validate'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pat_validate(varchar, text[], inet, text) IS
    'pat_validate(text, text[], inet, text) for clients binding varchar';

CREATE FUNCTION @extschema@.pat_authenticate(token varchar, required_scopes text[] DEFAULT '{}',
                                             client_addr inet DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'pat_authenticate'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pat_authenticate(varchar, text[], inet) IS
    'pat_authenticate(text, text[], inet) for clients binding varchar';

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

-- Also for varchar: an application's scope check must not be taken over either.
CREATE FUNCTION @extschema@.pat_has_scope(scope varchar) RETURNS boolean
AS 'MODULE_PATHNAME', 'pat_has_scope'
LANGUAGE C STABLE PARALLEL RESTRICTED;

CREATE FUNCTION @extschema@.pat_require_scope(scope varchar) RETURNS void
AS 'MODULE_PATHNAME', 'pat_require_scope'
LANGUAGE C STABLE PARALLEL RESTRICTED;

CREATE FUNCTION @extschema@.pat_update(token_id uuid, name text DEFAULT NULL,
                                       scopes text[] DEFAULT NULL, networks cidr[] DEFAULT NULL,
                                       resources jsonb DEFAULT NULL, metadata jsonb DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'pat_update'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pat_update(uuid, text, text[], cidr[], jsonb, jsonb) IS
    'rename a token, replace its scopes, networks, resources or metadata (NULL: unchanged; ''{}'' clears networks, resources or metadata; the rules of pat_create); never its expiry';

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

CREATE FUNCTION @extschema@.pat_revoke(token_id uuid) RETURNS boolean
AS 'MODULE_PATHNAME', 'pat_revoke'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pat_revoke(uuid) IS
    'revoke a token at commit; false if it already was revoked';

CREATE FUNCTION @extschema@.pat_revoke_all(user_id text) RETURNS integer
AS 'MODULE_PATHNAME', 'pat_revoke_all'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pat_revoke_all(text) IS
    'revoke every active token of a user (offboarding); returns how many';

CREATE FUNCTION @extschema@.pat_list(user_id text)
RETURNS TABLE (token_id uuid, name text, scopes text[], created_at timestamptz,
               expires_at timestamptz, last_used_at timestamptz, revoked_at timestamptz,
               status text, token_type text, parent_id uuid, created_by text,
               networks cidr[], resources jsonb, metadata jsonb, suspended boolean,
               last_addresses inet[])
AS 'MODULE_PATHNAME', 'pat_list'
LANGUAGE C STABLE;
COMMENT ON FUNCTION @extschema@.pat_list(text) IS
    'a user''s tokens with their status (active, expired, revoked: a token whose ancestor fell is revoked or expired with it), type, parent and creator, limits and suspension, and last client addresses (newest first, as the usage flush wrote them; NULL: none); never a digest or secret';

-- Organization tokens -------------------------------------------------------------------------

CREATE FUNCTION @extschema@.pat_create_org_token(account_id text, name text, scopes text[],
                                                 expires text)
RETURNS TABLE (token_id uuid, token text, expires_at timestamptz)
AS 'MODULE_PATHNAME', 'pat_create_org_token'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pat_create_org_token(text, text, text[], text) IS
    'issue a token of an organization''s account (token_type organization; account_id is returned as user_id): any defined scope, untouched by any user''s role loss or pat_revoke_all; never inside a token context';

CREATE FUNCTION @extschema@.pat_current_token_type() RETURNS text
AS 'MODULE_PATHNAME', 'pat_current_token_type'
LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.pat_current_token_type() IS
    'the authenticated token''s type: personal or organization (pat_current_user() is then an account id); NULL outside a token context';

-- Delegation ----------------------------------------------------------------------------------

CREATE FUNCTION @extschema@.pat_delegate(name text, scopes text[], expires text DEFAULT NULL)
RETURNS TABLE (token_id uuid, token text, expires_at timestamptz)
AS 'MODULE_PATHNAME', 'pat_delegate'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pat_delegate(text, text[], text) IS
    'inside a token context whose token holds pat.delegate_scope: a child token of the same user, with scopes it holds, living no longer than it and pat.max_delegated_lifetime (NULL: as long as allowed); it falls with its parent';

-- Rotation ------------------------------------------------------------------------------------

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

-- The token context ---------------------------------------------------------------------------

CREATE FUNCTION @extschema@.pat_current_scopes() RETURNS text[]
AS 'MODULE_PATHNAME', 'pat_current_scopes'
LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.pat_current_scopes() IS
    'the effective scopes of the transaction''s token, sorted; NULL without one';

CREATE FUNCTION @extschema@.pat_current_expires_at() RETURNS timestamptz
AS 'MODULE_PATHNAME', 'pat_current_expires_at'
LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.pat_current_expires_at() IS
    'when the transaction''s token expires; NULL without one, or for a token that never expires';

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

CREATE FUNCTION @extschema@.pat_clear() RETURNS boolean
AS 'MODULE_PATHNAME', 'pat_clear'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.pat_clear() IS
    'end the transaction''s token context now; whether there was one';

-- Recent activity -----------------------------------------------------------------------------

CREATE FUNCTION @extschema@.pat_token_activity(token_id uuid, max integer DEFAULT 50)
RETURNS TABLE (occurred_at timestamptz, action text, table_name text, actor text,
               client_address inet)
AS 'MODULE_PATHNAME', 'pat_token_activity'
LANGUAGE C STABLE;
COMMENT ON FUNCTION @extschema@.pat_token_activity(uuid, integer) IS
    'one token''s audit rows and its delegated descendants'', and its last uses from each of its last client addresses (action used, with client_address), newest first (at most max, 1 to 1000): when, what, which table, who (naming the delegated token that acted); in a token context only the user''s own tokens';

-- Digest key fingerprints ---------------------------------------------------------------------

CREATE FUNCTION @extschema@.pat_key_status(OUT key_id text, OUT tokens bigint,
                                           OUT active_tokens bigint, OUT configured boolean,
                                           OUT current boolean)
RETURNS SETOF record
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH configured AS (
        SELECT k.key_id, k.position
        FROM unnest(pat.configured_key_ids()) WITH ORDINALITY AS k(key_id, position)
    ), used AS (
        SELECT t.key_id, count(*) AS tokens,
               count(*) FILTER (WHERE t.revoked_at IS NULL
                                  AND (t.expires_at IS NULL OR t.expires_at > now()))
                   AS active_tokens
        FROM pat.tokens t
        GROUP BY t.key_id
    )
    SELECT COALESCE(u.key_id, c.key_id), COALESCE(u.tokens, 0), COALESCE(u.active_tokens, 0),
           CASE WHEN c.key_id IS NOT NULL THEN true WHEN u.key_id IS NOT NULL THEN false END,
           COALESCE(c.position = 1, false)
    FROM used u FULL JOIN configured c ON c.key_id = u.key_id
    ORDER BY c.position NULLS LAST, u.key_id NULLS LAST
$$;
COMMENT ON FUNCTION @extschema@.pat_key_status() IS
    'each digest key fingerprint with its tokens and active tokens, whether this server has the key (NULL: tokens made before 1.6, key not recorded), and the current one';

-- Usage ---------------------------------------------------------------------------------------

CREATE FUNCTION @extschema@.pat_flush_usage() RETURNS integer
    AS 'MODULE_PATHNAME', 'pat_flush_usage'
    LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pat_flush_usage() IS
    'write this database''s pending usage now (the worker does it every pat.usage_flush_interval); how many tokens';

-- The one place usage reaches the tables: from this node's worker, from pat_flush_usage(), and
-- from a standby's worker over libpq. Last use only moves forward; counts add up. Tokens deleted
-- meanwhile are skipped. Returns how many tokens it wrote.
--
-- Times are bounded, since what is written decides pat.max_inactivity and reuse notices. A
-- standby's clock may run ahead of this one, and uses made after this transaction began reach
-- it, so 5 minutes past now() are taken as they are; a later use (even 'infinity', which would
-- exempt a token from inactivity for ever) is recorded as now(), and a later check day as
-- today (UTC). A use from more than 5 minutes before its token was created, or a check more
-- than a day before, cannot have happened and is skipped. Both with a LOG line, never an
-- error: a batch refused for one row would be retried, and refused, for ever, losing every use
-- in it. A refused check (revoked, expired) counts as reuse after rotation only if its day is
-- not before the day the token stopped working.
CREATE FUNCTION @extschema@.pat_merge_usage(
    used_token_ids uuid[], used_at timestamptz[],
    checked_token_ids uuid[], checked_days date[], checked_outcomes text[],
    checked_counts bigint[])
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    skew CONSTANT interval := '5 minutes';
    latest CONSTANT timestamptz := now() OPERATOR(pg_catalog.+) skew;
    today CONSTANT date := (now() AT TIME ZONE 'UTC')::date;
    latest_day CONSTANT date := (latest AT TIME ZONE 'UTC')::date;
    clamped_uses bigint;
    skipped_uses bigint;
    clamped_checks bigint;
    skipped_checks bigint;
    written integer;
BEGIN
    IF used_token_ids IS NULL OR used_at IS NULL OR checked_token_ids IS NULL
       OR checked_days IS NULL OR checked_outcomes IS NULL OR checked_counts IS NULL THEN
        RAISE EXCEPTION 'usage arrays must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF cardinality(used_token_ids) <> cardinality(used_at)
       OR cardinality(checked_token_ids) <> cardinality(checked_days)
       OR cardinality(checked_token_ids) <> cardinality(checked_outcomes)
       OR cardinality(checked_token_ids) <> cardinality(checked_counts) THEN
        RAISE EXCEPTION 'usage arrays must have matching lengths'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    WITH sent AS (
        SELECT m.token_id, m.used_at AS sent_at,
               CASE WHEN m.used_at OPERATOR(pg_catalog.>) latest THEN now()
                    ELSE m.used_at END AS bounded_at
        FROM unnest(used_token_ids, used_at) AS m(token_id, used_at)
        WHERE m.used_at IS NOT NULL),
    judged AS (
        -- bounded_at is at most latest: adding the skew cannot leave the range.
        SELECT s.token_id, s.sent_at, s.bounded_at,
               s.bounded_at OPERATOR(pg_catalog.+) skew
                   OPERATOR(pg_catalog.>=) t.created_at AS plausible
        FROM sent s JOIN pat.tokens t ON t.token_id OPERATOR(pg_catalog.=) s.token_id),
    merged AS (
        INSERT INTO pat.token_usage AS u (token_id, last_used_at)
        SELECT j.token_id, max(j.bounded_at) FROM judged j WHERE j.plausible
        GROUP BY j.token_id
        ON CONFLICT (token_id) DO UPDATE SET last_used_at = excluded.last_used_at
        WHERE u.last_used_at IS NULL
           OR u.last_used_at OPERATOR(pg_catalog.<) excluded.last_used_at
        RETURNING 1)
    SELECT count(*) FILTER (WHERE j.sent_at OPERATOR(pg_catalog.>) latest),
           count(*) FILTER (WHERE NOT j.plausible)
    INTO clamped_uses, skipped_uses
    FROM judged j;

    WITH sent AS (
        SELECT m.token_id, m.outcome, m.checks, m.day AS sent_day,
               CASE WHEN m.day OPERATOR(pg_catalog.>) latest_day THEN today
                    ELSE m.day END AS bounded_day
        FROM unnest(checked_token_ids, checked_days, checked_outcomes, checked_counts)
             AS m(token_id, day, outcome, checks)
        WHERE m.checks OPERATOR(pg_catalog.>) 0),
    judged AS (
        -- bounded_day is at most latest_day: adding a day cannot leave the range. A check
        -- counted for the whole database (token_id NULL) has no creation to be after.
        SELECT s.*,
               s.bounded_day IS NOT NULL
               AND s.bounded_day OPERATOR(pg_catalog.>) '-infinity'::date
               AND (s.token_id IS NULL
                    OR s.bounded_day OPERATOR(pg_catalog.+) 1
                       OPERATOR(pg_catalog.>=) (t.created_at AT TIME ZONE 'UTC')::date)
                   AS plausible
        FROM sent s LEFT JOIN pat.tokens t ON t.token_id OPERATOR(pg_catalog.=) s.token_id
        WHERE s.token_id IS NULL OR t.token_id IS NOT NULL),
    merged AS (
        INSERT INTO pat.token_checks AS c (token_id, day, outcome, checks)
        SELECT j.token_id, j.bounded_day, j.outcome, sum(j.checks)::bigint
        FROM judged j WHERE j.plausible
        GROUP BY j.token_id, j.bounded_day, j.outcome
        ON CONFLICT ON CONSTRAINT token_checks_key
        DO UPDATE SET checks = c.checks OPERATOR(pg_catalog.+) excluded.checks
        RETURNING 1)
    SELECT count(*) FILTER (WHERE j.sent_day OPERATOR(pg_catalog.>) latest_day),
           count(*) FILTER (WHERE NOT j.plausible)
    INTO clamped_checks, skipped_checks
    FROM judged j;

    IF clamped_uses OPERATOR(pg_catalog.>) 0 OR skipped_uses OPERATOR(pg_catalog.>) 0
       OR clamped_checks OPERATOR(pg_catalog.>) 0 OR skipped_checks OPERATOR(pg_catalog.>) 0 THEN
        RAISE LOG 'pg_pat: pat_merge_usage recorded % uses and % check days later than now() + 5 minutes as now, and skipped % uses and % checks from before their token existed',
            clamped_uses, clamped_checks, skipped_uses, skipped_checks;
    END IF;

    -- Checks refused with a token that has a successor: reuse after rotation (1.8), if made
    -- no earlier than the day the token stopped working.
    PERFORM pat.record_reuse_after_rotation(array_agg(DISTINCT n.token_id))
    FROM unnest(checked_token_ids, checked_days, checked_outcomes, checked_counts)
         AS n(token_id, day, outcome, checks)
    JOIN pat.tokens t ON t.token_id OPERATOR(pg_catalog.=) n.token_id
    WHERE n.checks OPERATOR(pg_catalog.>) 0
      AND n.day OPERATOR(pg_catalog.<=) latest_day
      AND CASE n.outcome
          WHEN 'revoked' THEN t.revoked_at IS NOT NULL
              AND LEAST(n.day, latest_day) OPERATOR(pg_catalog.+) 1
                  OPERATOR(pg_catalog.>=) (t.revoked_at AT TIME ZONE 'UTC')::date
          WHEN 'expired' THEN t.expires_at OPERATOR(pg_catalog.<=) now()
              AND LEAST(n.day, latest_day) OPERATOR(pg_catalog.+) 1
                  OPERATOR(pg_catalog.>=) (t.expires_at AT TIME ZONE 'UTC')::date
          ELSE false END
    HAVING count(*) OPERATOR(pg_catalog.>) 0;

    SELECT count(DISTINCT t.token_id) INTO written
    FROM pat.tokens t
    WHERE t.token_id OPERATOR(pg_catalog.=) ANY (used_token_ids || checked_token_ids);
    RETURN written;
END
$$;
COMMENT ON FUNCTION @extschema@.pat_merge_usage(uuid[], timestamptz[], uuid[], date[], text[],
                                                 bigint[]) IS
    'internal: merge a batch of usage (pg_pat''s worker, and standbys over libpq as a role with the admin profile); last uses after now() + 5 minutes are recorded as now(), uses and checks from before their token existed are skipped';

-- The usage flush's client addresses, in the same statement as pat_merge_usage(): from this
-- node's worker, from pat_flush_usage(), and from a standby's worker over libpq. Each
-- (token, address) keeps its first and latest use; each token keeps its newest 5 addresses.
-- With notify, an address not in the table before for the token or the token it was rotated
-- from (never used, or used so long ago that 5 newer ones pushed it out) queues a new_address
-- notice for the token's owner: one per token,
-- queued again as new ones come, details.addresses listing those not yet handed out (a notice
-- taken and a newer address: a new list), and NOTIFY pat_notices. Times are bounded as in
-- pat_merge_usage(); deleted tokens are skipped. Returns how many addresses were new.
CREATE FUNCTION @extschema@.pat_merge_addresses(token_ids uuid[], addresses inet[],
                                                used_at timestamptz[], notify boolean)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    skew CONSTANT interval := '5 minutes';
    latest CONSTANT timestamptz := now() OPERATOR(pg_catalog.+) skew;
    kept CONSTANT integer := 5;
    new_addresses integer;
    noticed integer;
BEGIN
    IF token_ids IS NULL OR addresses IS NULL OR used_at IS NULL OR notify IS NULL THEN
        RAISE EXCEPTION 'address arrays must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF cardinality(token_ids) <> cardinality(addresses)
       OR cardinality(token_ids) <> cardinality(used_at) THEN
        RAISE EXCEPTION 'address arrays must have matching lengths'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    WITH sent AS (
        -- A host's address: a prefix given with it is not kept.
        SELECT m.token_id,
               pg_catalog.set_masklen(m.address,
                                      CASE pg_catalog.family(m.address) WHEN 4 THEN 32
                                      ELSE 128 END) AS address,
               pg_catalog.max(CASE WHEN m.used_at OPERATOR(pg_catalog.>) latest THEN now()
                                   ELSE m.used_at END) AS used_at
        FROM unnest(token_ids, addresses, used_at) AS m(token_id, address, used_at)
        WHERE m.token_id IS NOT NULL AND m.address IS NOT NULL AND m.used_at IS NOT NULL
        GROUP BY 1, 2),
    judged AS (
        -- Known to the token, or to the token it was rotated from: a successor used where its
        -- predecessor was is not news.
        SELECT s.token_id, s.address, s.used_at, t.user_id, t.name,
               NOT EXISTS (SELECT FROM pat.token_addresses a
                           WHERE a.token_id OPERATOR(pg_catalog.=)
                                 ANY (ARRAY[s.token_id, t.rotated_from])
                             AND a.address OPERATOR(pg_catalog.=) s.address) AS new
        FROM sent s JOIN pat.tokens t ON t.token_id OPERATOR(pg_catalog.=) s.token_id
        WHERE s.used_at OPERATOR(pg_catalog.+) skew OPERATOR(pg_catalog.>=) t.created_at),
    merged AS (
        INSERT INTO pat.token_addresses AS a (token_id, address, first_seen_at, last_used_at)
        SELECT j.token_id, j.address, j.used_at, j.used_at FROM judged j
        ON CONFLICT (token_id, address) DO UPDATE
        SET last_used_at = GREATEST(a.last_used_at, excluded.last_used_at),
            first_seen_at = LEAST(a.first_seen_at, excluded.first_seen_at)
        RETURNING 1),
    queued AS (
        INSERT INTO pat.notices AS n (kind, user_id, token_id, token_name, due_at, details)
        SELECT 'new_address', j.user_id, j.token_id, j.name, pg_catalog.min(j.used_at),
               pg_catalog.jsonb_build_object(
                   'addresses', pg_catalog.jsonb_agg(pg_catalog.host(j.address)
                                                     ORDER BY j.used_at, j.address))
        FROM judged j WHERE notify AND j.new
        GROUP BY j.token_id, j.user_id, j.name
        ON CONFLICT ON CONSTRAINT notices_token_kind_key DO UPDATE
        SET token_name = excluded.token_name,
            details = CASE WHEN n.taken_at IS NULL
                           THEN pg_catalog.jsonb_build_object(
                                    'addresses', COALESCE(n.details OPERATOR(pg_catalog.->) 'addresses',
                                                          '[]'::jsonb)
                                                 OPERATOR(pg_catalog.||)
                                                 (excluded.details OPERATOR(pg_catalog.->) 'addresses'))
                           ELSE excluded.details END,
            due_at = CASE WHEN n.taken_at IS NULL THEN n.due_at ELSE excluded.due_at END,
            queued_at = now(), taken_at = NULL
        RETURNING 1)
    SELECT (SELECT pg_catalog.count(*) FROM judged j WHERE j.new),
           (SELECT pg_catalog.count(*) FROM queued)
    INTO new_addresses, noticed;

    -- The newest 5 per token (the latest use first, then the address, so a tie is decided
    -- the same way every time).
    DELETE FROM pat.token_addresses a
    USING (SELECT r.token_id, r.address
           FROM (SELECT x.token_id, x.address,
                        pg_catalog.row_number() OVER (PARTITION BY x.token_id
                                                      ORDER BY x.last_used_at DESC, x.address)
                            AS rank
                 FROM pat.token_addresses x
                 WHERE x.token_id OPERATOR(pg_catalog.=) ANY (token_ids)) r
           WHERE r.rank OPERATOR(pg_catalog.>) kept) gone
    WHERE a.token_id OPERATOR(pg_catalog.=) gone.token_id
      AND a.address OPERATOR(pg_catalog.=) gone.address;

    IF noticed OPERATOR(pg_catalog.>) 0 THEN
        PERFORM pg_catalog.pg_notify('pat_notices', '');
    END IF;
    RETURN new_addresses;
END
$$;
COMMENT ON FUNCTION @extschema@.pat_merge_addresses(uuid[], inet[], timestamptz[], boolean) IS
    'internal: merge a batch of client addresses (pg_pat''s worker, and standbys over libpq as a role with the admin profile), keeping each token''s newest 5; with notify, a new_address notice for each address not kept before';

CREATE FUNCTION @extschema@.pat_usage(token_id uuid, since date DEFAULT CURRENT_DATE - 30)
RETURNS TABLE (day date, outcome text, checks bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pat.require_not_null(token_id, 'token_id');
    PERFORM pat.require_not_null(since, 'since');
    PERFORM pat.require_own_token(token_id);  -- in a token context: own tokens only (1.6)
    IF NOT EXISTS (SELECT FROM pat.tokens t
                   WHERE t.token_id OPERATOR(pg_catalog.=) pat_usage.token_id) THEN
        RAISE EXCEPTION 'token % does not exist', token_id USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY
    SELECT u.day, u.outcome, sum(u.checks)::bigint
    FROM (SELECT c.day, c.outcome, c.checks FROM pat.token_checks c
          WHERE c.token_id OPERATOR(pg_catalog.=) pat_usage.token_id
            AND c.day OPERATOR(pg_catalog.>=) since
          UNION ALL
          SELECT p.day, p.outcome, p.checks FROM pat.pending_checks(token_id, since) p) u
    GROUP BY u.day, u.outcome
    ORDER BY u.day, u.outcome;
END
$$;
COMMENT ON FUNCTION @extschema@.pat_usage(uuid, date) IS
    'checks of a token per UTC day and outcome since a day, including what is not written out yet';

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

-- Notices -------------------------------------------------------------------------------------

CREATE FUNCTION @extschema@.pat_queue_notices() RETURNS integer
AS 'MODULE_PATHNAME', 'pat_queue_notices'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pat_queue_notices() IS
    'queue the expiry notices due now (pg_pat''s worker does it every pat.lifecycle_interval); how many';

CREATE FUNCTION @extschema@.pat_take_notices(max integer DEFAULT 100)
RETURNS TABLE (notice_id bigint, kind text, user_id text, token_id uuid, token_name text,
               due_at timestamptz, details jsonb)
AS 'MODULE_PATHNAME', 'pat_take_notices'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pat_take_notices(integer) IS
    'take up to max (1 to 1000) untaken notices, oldest first, marking them taken: once each, even with concurrent takers; a rollback leaves them for the next';

-- Leak reports --------------------------------------------------------------------------------

CREATE FUNCTION @extschema@.pat_report_leaked(tokens text[], source text DEFAULT NULL)
RETURNS integer
AS 'MODULE_PATHNAME', 'pat_report_leaked'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pat_report_leaked(text[], text) IS
    'revoke every listed token that is stored and active (at most 1000), with audit action revoked_leaked and a notice to each owner; how many; the rest is skipped';

CREATE FUNCTION @extschema@.pat_scanner_rules(format text DEFAULT 'regex') RETURNS text
AS 'MODULE_PATHNAME', 'pat_scanner_rules'
LANGUAGE C STABLE;
COMMENT ON FUNCTION @extschema@.pat_scanner_rules(text) IS
    'the pattern of tokens under the current and former prefixes: regex (POSIX) or gitleaks (a TOML rule)';

-- The audit log -------------------------------------------------------------------------------

CREATE FUNCTION @extschema@.pat_set_actor(actor text) RETURNS void
AS 'MODULE_PATHNAME', 'pat_set_actor'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pat_set_actor(text) IS
    'who acts in this transaction (an admin for a user, a support agent): recorded as the actor of every audit row until the transaction ends; NULL clears';

CREATE FUNCTION @extschema@.pat_current_actor() RETURNS text
AS 'MODULE_PATHNAME', 'pat_current_actor'
LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.pat_current_actor() IS
    'the actor pat_set_actor() set in this transaction, NULL without one';

CREATE FUNCTION @extschema@.pat_audit() RETURNS trigger
AS 'MODULE_PATHNAME', 'pat_audit'
LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pat_audit() IS
    'AFTER INSERT OR UPDATE OR DELETE FOR EACH ROW and AFTER TRUNCATE FOR EACH STATEMENT trigger: records changes made with a token; arguments ''always'' and ''exclude=<column>''';

CREATE FUNCTION @extschema@.pat_audit_purge(older_than interval) RETURNS bigint
AS 'MODULE_PATHNAME', 'pat_audit_purge'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pat_audit_purge(interval) IS
    'delete the audit rows older than now() - older_than (the oldest part of the chain); recorded as an audit_purged row; returns how many';

-- Attaching pat_audit() --------------------------------------------------------------------

-- Attaches (or replaces) the triggers pat_audit (row changes) and pat_audit_truncate (TRUNCATE,
-- one row per statement) on a table. SECURITY INVOKER on purpose: the caller needs the TRIGGER
-- privilege on the table and EXECUTE on pat_audit(), as CREATE TRIGGER itself requires; it
-- needs nothing in schema pat.
CREATE FUNCTION @extschema@.pat_audit_table(target regclass,
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
COMMENT ON FUNCTION @extschema@.pat_audit_table(regclass, boolean, text[]) IS
    'audit a table with pat_audit(): row changes and TRUNCATE made with a token (or all, with record_without_token), leaving out the exclude columns';
CREATE FUNCTION @extschema@.pat_audit_table_off(target regclass) RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF target IS NULL THEN
        RAISE EXCEPTION 'target must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_trigger t
                   WHERE t.tgrelid OPERATOR(pg_catalog.=) target
                     AND t.tgname OPERATOR(pg_catalog.=) 'pat_audit'
                     AND t.tgparentid OPERATOR(pg_catalog.=) 0) THEN
        RETURN false;
    END IF;
    EXECUTE format('DROP TRIGGER pat_audit ON %s', target);
    EXECUTE format('DROP TRIGGER IF EXISTS pat_audit_truncate ON %s', target);
    RETURN true;
END
$$;
COMMENT ON FUNCTION @extschema@.pat_audit_table_off(regclass) IS
    'stop auditing a table (drop its pat_audit triggers); false if it had none';

-- Verification ------------------------------------------------------------------------------

CREATE FUNCTION @extschema@.pat_audit_verify()
RETURNS TABLE (ok boolean, checked bigint, first_broken_seq bigint, detail text,
               row_count bigint, head_seq bigint, head_hash text, unlinked bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    first_seq bigint := 1;
    anchor bytea;
    purge record;
    broken record;
    head record;
    anchored record;
    at_anchor bytea;
    total bigint;
    waiting bigint;
BEGIN
    -- After a purge the chain starts where the latest audit_purged row says, at its anchor.
    SELECT l.seq, (l.new_data ->> 'through_seq')::bigint AS through_seq,
           decode(l.new_data ->> 'anchor', 'hex') AS anchor
    INTO purge
    FROM pat.audit_log l
    WHERE l.action = 'audit_purged'
    ORDER BY l.seq DESC
    LIMIT 1;
    IF FOUND THEN
        first_seq := purge.through_seq + 1;
        anchor := purge.anchor;
    END IF;

    -- Each row is checked against its predecessor (or, for the first, the purge anchor); the
    -- first problem in seq order is reported, a gap before a bad row it precedes.
    SELECT c.at_seq, c.problem INTO broken
    FROM (SELECT l.seq, l.prev_hash, l.row_hash,
                 COALESCE(lag(l.seq) OVER w + 1, first_seq) AS expected_seq,
                 CASE WHEN lag(l.seq) OVER w IS NULL THEN anchor
                      ELSE lag(l.row_hash) OVER w END AS expected_prev,
                 pat.audit_hash(l.prev_hash, l.seq, l.occurred_at, l.user_id, l.token_id,
                                l.token_name, l.actor, l.action, l.table_name, l.old_data,
                                l.new_data, l.db_role, l.session_role, l.txid) AS recomputed
          FROM pat.audit_log l
          WINDOW w AS (ORDER BY l.seq)) AS r
    CROSS JOIN LATERAL (
        SELECT 1 AS rank, r.expected_seq AS at_seq,
               format('rows %s to %s are missing', r.expected_seq, r.seq - 1) AS problem
        WHERE r.seq > r.expected_seq
        UNION ALL
        SELECT 2, r.seq, format('row %s is out of sequence', r.seq)
        WHERE r.seq < r.expected_seq
        UNION ALL
        SELECT 3, r.seq, format('row %s was modified', r.seq)
        WHERE r.row_hash IS DISTINCT FROM r.recomputed
        UNION ALL
        SELECT 4, r.seq, format('row %s does not link to row %s', r.seq, r.seq - 1)
        WHERE r.prev_hash IS DISTINCT FROM r.expected_prev
    ) AS c
    ORDER BY c.at_seq, c.rank
    LIMIT 1;

    -- The head, to be anchored outside the database, and what still waits for the linker.
    SELECT l.seq, l.row_hash, encode(l.row_hash, 'hex') AS hash INTO head
    FROM pat.audit_log l ORDER BY l.seq DESC LIMIT 1;

    -- The log must end at the head the linker anchored when it last linked: rows deleted from
    -- the tail leave it short, rows added past it were not linked by pg_pat.
    SELECT h.seq, h.row_hash INTO anchored FROM pat.audit_head h;
    IF broken IS NULL AND FOUND THEN
        SELECT l.row_hash INTO at_anchor FROM pat.audit_log l WHERE l.seq = anchored.seq;
        IF head.seq IS NULL OR head.seq < anchored.seq THEN
            SELECT COALESCE(head.seq + 1, first_seq) AS at_seq,
                   format('rows %s to %s are missing: the log ends before its anchored head',
                          COALESCE(head.seq + 1, first_seq), anchored.seq) AS problem
            INTO broken;
        ELSIF at_anchor IS DISTINCT FROM anchored.row_hash THEN
            SELECT anchored.seq AS at_seq,
                   format('row %s is not the anchored head', anchored.seq) AS problem
            INTO broken;
        ELSIF head.seq > anchored.seq THEN
            SELECT anchored.seq + 1 AS at_seq,
                   format('rows %s to %s are past the anchored head', anchored.seq + 1, head.seq)
                       AS problem
            INTO broken;
        END IF;
    END IF;
    SELECT count(*) INTO total FROM pat.audit_log;
    SELECT count(*) INTO waiting FROM pat.audit_pending;

    IF broken IS NULL THEN
        RETURN QUERY SELECT true, total, NULL::bigint, NULL::text, total, head.seq, head.hash,
                            waiting;
    ELSE
        RETURN QUERY
        SELECT false, (SELECT count(*) FROM pat.audit_log l WHERE l.seq < broken.at_seq),
               broken.at_seq, broken.problem, total, head.seq, head.hash, waiting;
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.pat_audit_verify() IS
    'walk the audit hash chain in seq order: ok, rows checked, the first broken seq with what is wrong (an edit, a gap, a bad link, a tail missing or added against the head the linker anchored in pat.audit_head); the row count and head (seq, hex row_hash) to anchor outside the database; rows not yet linked';

-- Linking -----------------------------------------------------------------------------------

CREATE FUNCTION @extschema@.pat_audit_link() RETURNS bigint
AS 'MODULE_PATHNAME', 'pat_audit_link'
LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION @extschema@.pat_audit_link() IS
    'link the committed audit rows into the hash chain now (pg_pat''s worker does it within pat.audit_link_delay of each commit); how many';

-- Diagnostics ---------------------------------------------------------------------------------

CREATE FUNCTION @extschema@.pat_token_cache_stats(
    OUT tokens bigint, OUT bytes bigint, OUT capacity bigint, OUT hits bigint,
    OUT misses bigint, OUT evictions bigint, OUT invalidations bigint,
    OUT backend_tokens bigint, OUT backend_users bigint, OUT backend_bytes bigint,
    OUT backend_hits bigint, OUT backend_misses bigint, OUT backend_resets bigint,
    OUT last_check_missed boolean)
    AS 'MODULE_PATHNAME', 'pat_token_cache_stats'
    LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pat_token_cache_stats() IS
    'the server''s shared token cache (entries, bytes, capacity, hits, misses, evictions, entries found invalidated by committed changes) and this backend''s own (entries, users, bytes, hits, misses, times dropped whole, whether its last lookup read the tables)';
