-- pg_pat's install script for the current version, built by `make` from schema/*.sql, which it
-- concatenates in name order: edit those files, never the built extension/pg_pat--<version>.sql.
-- It makes the same objects as pg_pat--1.0.sql followed by every update script
-- (test/t/004_upgrade.pl compares the two); what each version added, and why, is in its
-- pg_pat--<from>--<to>.sql and in CHANGELOG.md.
--
-- The parts, each stating its objects as they are now:
--   10-schema.sql      schema pat and the preload check
--   20-helpers.sql     internal functions in schema pat (never granted)
--   30-tables.sql      tables, sequences, indexes, what pg_dump keeps
--   40-functions.sql   the API: functions in the extension's schema (@extschema@)
--   50-triggers.sql    trigger functions, triggers, the event trigger
--   60-policies.sql    row level security on pat.tokens
--   70-privileges.sql  the grant profiles (the one list of API functions) and PUBLIC's revokes
--
-- API functions live in the extension's schema (@extschema@); tables and helpers in schema pat.
-- Nothing is granted to PUBLIC. The API functions are C functions that read and write the
-- tables as their owner, with no name resolved through the caller's search_path.

\echo Use "CREATE EXTENSION pg_pat" to load this file. \quit

CREATE SCHEMA pat;
COMMENT ON SCHEMA pat IS 'pg_pat internals: tokens, scopes, roles; no access for PUBLIC';

-- pg_pat must be preloaded (shared_preload_libraries): this fails here, with a hint, otherwise.
CREATE FUNCTION pat.require_preloaded() RETURNS void
    AS 'MODULE_PATHNAME', 'pat_require_preloaded'
    LANGUAGE C STRICT;
SELECT pat.require_preloaded();

-- Internal helpers ==========================================================================
-- Functions in schema pat that the tables, triggers and API functions call. Only the owner may
-- execute them (70-privileges.sql). The PL/pgSQL ones run under the search_path the calling API
-- function pinned, and schema-qualify what they touch, so they carry no SET clause of their own
-- (a SET clause makes every call save and restore the setting).

-- Tokens, scopes and expiry -----------------------------------------------------------------

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

-- Digest keys -------------------------------------------------------------------------------

CREATE FUNCTION pat.configured_key_ids() RETURNS text[]
AS 'MODULE_PATHNAME', 'pat_configured_key_ids'
LANGUAGE C STABLE;

-- The token context ---------------------------------------------------------------------------

-- pat_usage in a token context: the user's own tokens only, as pat_token_activity.
CREATE FUNCTION pat.require_own_token(token_id uuid) RETURNS void
AS 'MODULE_PATHNAME', 'pat_require_own_token'
LANGUAGE C STABLE;

-- Usage: what shared memory holds, not yet written out ----------------------------------------

CREATE FUNCTION pat.pending_last_use(token_id uuid) RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'pat_pending_last_use'
    LANGUAGE C VOLATILE STRICT;

CREATE FUNCTION pat.pending_checks(token_id uuid, since date,
                                   OUT day date, OUT outcome text, OUT checks bigint)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'pat_pending_checks'
    LANGUAGE C VOLATILE;

-- Called by pat_merge_usage() with the tokens whose checks answered revoked or expired.
CREATE FUNCTION pat.record_reuse_after_rotation(token_ids uuid[]) RETURNS integer
AS 'MODULE_PATHNAME', 'pat_record_reuse_after_rotation'
LANGUAGE C VOLATILE STRICT;

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

-- The audit hash chain ------------------------------------------------------------------------

-- The hash of one audit row: SHA-256 of prev_hash followed by the UTF-8 text of a JSON array of
-- the row's other columns (occurred_at as epoch seconds with microseconds), that is
--   sha256(coalesce(prev_hash, '') || convert_to(jsonb_build_array(seq, extract(epoch from
--          occurred_at), user_id, token_id, token_name, actor, action, table_name, old_data,
--          new_data, db_role, session_role, txid)::text, 'UTF8'))
-- and, for a row whose text is not UTF-8 (bytes a SQL_ASCII database holds, a character with
-- no UTF-8 equivalent), of prev_hash, one 0xFF byte and the text's bytes as stored. Every part
-- is independent of session settings. In C, which writes the text straight into the hash: no
-- row is ever held whole, so none is too large or too odd to link or verify.
CREATE FUNCTION pat.audit_hash(prev_hash bytea, seq bigint, occurred_at timestamptz,
                               user_id text, token_id uuid, token_name text, actor text,
                               action text, table_name text, old_data jsonb, new_data jsonb,
                               db_role text, session_role text, txid bigint)
RETURNS bytea
AS 'MODULE_PATHNAME', 'pat_audit_hash'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION pat.audit_hash(bytea, bigint, timestamptz, text, uuid, text, text, text, text,
                                   jsonb, jsonb, text, text, bigint) IS
    'row_hash of an audit row: sha256(prev_hash || its columns as canonical JSON text, as UTF-8; 0xff and the text as stored when it is not UTF-8)';

-- The schema the API is in --------------------------------------------------------------------

-- Whoever can create objects in the schema pg_pat's functions live in can add an overload that
-- a client then calls instead (pat_authenticate(varchar, varchar[]) for a driver binding those
-- types; pg_pat ships the varchar overloads drivers bind by default). Warns, naming them, when
-- any role but a superuser can; every later update script calls it again.
CREATE FUNCTION pat.warn_if_schema_writable(schema regnamespace) RETURNS boolean
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

-- Tables ====================================================================================
-- pg_dump keeps the rows of every table marked with pg_extension_config_dump (in this order);
-- the others are recreated by CREATE EXTENSION.

-- Scopes, roles and tokens ------------------------------------------------------------------

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
    user_id      text NOT NULL,  -- checked by pat.tokens_before_insert()
    name         text NOT NULL,
    scopes       text[] NOT NULL,
    digest       bytea NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    expires_at   timestamptz,
    revoked_at   timestamptz,
    key_id       text,
    rotated_from uuid,
    parent_id    uuid,
    ancestors    uuid[],
    created_by   text,
    token_type   text NOT NULL DEFAULT 'personal'
                 CHECK (token_type IN ('personal', 'organization')),
    has_children boolean NOT NULL DEFAULT false,
    networks     cidr[],
    resources    jsonb,
    metadata     jsonb,
    suspended_at timestamptz
);
COMMENT ON COLUMN pat.tokens.digest IS 'SHA-256 of the token; the token itself is stored nowhere';
COMMENT ON COLUMN pat.tokens.key_id IS
    'fingerprint of the digest key the token was made under (pat_key_status()): "sha256" for no key, else the first 8 bytes of HMAC-SHA-256(key, ''pg_pat key id'') in hex; NULL for a token made before 1.6';
COMMENT ON COLUMN pat.tokens.rotated_from IS
    'the token this one was rotated from (pat_rotate); NULL for a first token';
COMMENT ON COLUMN pat.tokens.parent_id IS
    'the token that minted this one with pat_delegate(); NULL for a token made otherwise';
COMMENT ON COLUMN pat.tokens.ancestors IS
    'the delegation chain above this token, root first, parent last; NULL for a root token. A token is valid only while each of them is: a check that reads the row reads them too, and a change to a token with children drops its user''s cached tokens, so no descendant row is written when an ancestor falls';
COMMENT ON COLUMN pat.tokens.created_by IS
    'who made the token: token:<token_id>:<user_id> (the authenticated token), actor:<pat_set_actor()>, or role:<database role>';
COMMENT ON COLUMN pat.tokens.has_children IS
    'set (never cleared) when pat_delegate() first mints from the token: a change to such a token drops its user''s cached tokens, so its descendants answer for it at their next check; a change to any other token drops only its own';
COMMENT ON COLUMN pat.tokens.token_type IS
    'personal: user_id is a person; organization: user_id is an account id (pat_create_org_token), which no role grant, role loss or pat_revoke_all(user) reaches';
COMMENT ON COLUMN pat.tokens.networks IS
    'the networks the token works from (NULL: any); a check from elsewhere, or from an unknown address, answers forbidden_network';
COMMENT ON COLUMN pat.tokens.resources IS
    'per scope, the resource ids the scope covers ({"notes:write": ["42"]}); a scope not named covers every resource';
COMMENT ON COLUMN pat.tokens.metadata IS
    'the application''s own data about the token, returned by pat_validate and pat_current_metadata(); never the secret';
COMMENT ON COLUMN pat.tokens.suspended_at IS
    'when pat_suspend() switched the token off (NULL: not suspended); checks answer suspended until pat_resume(), and the expiry never moves';
CREATE INDEX tokens_user_id_idx ON pat.tokens (user_id);
-- pat_token_activity reads a token's descendants' rows.
-- Delegated tokens only: a root token (most of them) costs no index entry when it is made.
CREATE INDEX tokens_ancestors_idx ON pat.tokens USING gin (ancestors) WHERE ancestors IS NOT NULL;
-- pat_revoke counts the live descendants that fall with a token by walking down from it, one
-- level at a time, in this index alone: what it reads is in the entries (a child's own state,
-- and whether it has children to walk into), so where the table is vacuumed no row is read.
-- Delegated tokens only, as above.
CREATE INDEX tokens_parent_id_idx ON pat.tokens (parent_id)
    INCLUDE (token_id, has_children, revoked_at, expires_at) WHERE parent_id IS NOT NULL;
-- pat_key_status() and the check's survey skip through it, one descent per distinct key.
CREATE INDEX tokens_key_id_idx ON pat.tokens (key_id);
-- The expiry notices read the tokens expiring soon; reuse detection and the notices look for a
-- token's successor.
CREATE INDEX tokens_expires_at_idx ON pat.tokens (expires_at);
CREATE INDEX tokens_rotated_from_idx ON pat.tokens (rotated_from);
-- A token's first check in a backend probes this index: one bucket page instead of a B-tree
-- descent. (The unique B-tree on digest stays: hash indexes cannot enforce uniqueness.)
CREATE INDEX tokens_digest_hash_idx ON pat.tokens USING hash (digest);

-- pat.max_active_tokens_per_user: a creation for a user first inserts or updates the user's
-- row here, then counts the user's active tokens. Creations for one user so wait for each
-- other, and under REPEATABLE READ or SERIALIZABLE a creation whose snapshot misses another's
-- fails with 40001 (the row was updated after the snapshot) instead of counting without it.
-- Only the owner may lock a row (no role can hold up a user's creations), and no data is
-- dumped: the rows hold nothing but the lock.
CREATE TABLE pat.user_token_locks (
    user_id    text PRIMARY KEY,
    counted_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE pat.user_token_locks IS
    'one row per user whose tokens were counted for pat.max_active_tokens_per_user: creations for the user lock it';

-- When each token was last used, apart from the token row: a validation that records a use
-- locks only this row, so it never holds up a revoke or an edit of the token.
CREATE TABLE pat.token_usage (
    token_id     uuid PRIMARY KEY REFERENCES pat.tokens ON DELETE CASCADE,
    last_used_at timestamptz
);
COMMENT ON TABLE pat.token_usage IS
    'last valid use per token, written by pg_pat''s background worker (never by a check)';
-- Usage rows are made by the first write of a token's usage (pat_merge_usage upserts them), not
-- at creation: a token never used has none, and pat_create checks no foreign key for it.

-- The last client addresses each token was used from (pat_validate's and pat_authenticate's
-- client_addr, valid checks only), apart from the token row as its last use is: a check notes
-- them in shared memory and the usage flush writes them here (pat_merge_addresses), keeping the
-- newest 5 per token. pat.client_addresses = off records none.
CREATE TABLE pat.token_addresses (
    token_id      uuid REFERENCES pat.tokens ON DELETE CASCADE,
    address       inet,
    first_seen_at timestamptz NOT NULL,
    last_used_at  timestamptz NOT NULL,
    PRIMARY KEY (token_id, address)
);
COMMENT ON TABLE pat.token_addresses IS
    'the newest 5 distinct client addresses per token with their first and last use, written by pg_pat''s background worker (never by a check); personal data, off with pat.client_addresses';

SELECT pg_catalog.pg_extension_config_dump('pat.scopes', '');
SELECT pg_catalog.pg_extension_config_dump('pat.roles', '');
SELECT pg_catalog.pg_extension_config_dump('pat.role_scopes', '');
SELECT pg_catalog.pg_extension_config_dump('pat.user_roles', '');
SELECT pg_catalog.pg_extension_config_dump('pat.tokens', '');
SELECT pg_catalog.pg_extension_config_dump('pat.token_usage', '');
SELECT pg_catalog.pg_extension_config_dump('pat.token_addresses', '');

-- Rate limits and credit budgets --------------------------------------------------------------
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

-- The audit log -----------------------------------------------------------------------------
-- Token lifecycle rows (triggers on pat.tokens) and the row changes of tables audited with
-- pat_audit(), hash-chained; see docs/audit.md.

CREATE TABLE pat.audit_log (
    seq          bigint PRIMARY KEY,
    occurred_at  timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    user_id      text,
    token_id     uuid,
    token_name   text,
    actor        text,
    action       text NOT NULL,
    table_name   text,
    old_data     jsonb,
    new_data     jsonb,
    db_role      text NOT NULL,
    session_role text NOT NULL,
    txid         bigint NOT NULL,
    prev_hash    bytea,
    row_hash     bytea NOT NULL
);
COMMENT ON TABLE pat.audit_log IS
    'append-only audit log: token lifecycle, role and scope changes and audited row changes, hash-chained in seq order';
COMMENT ON COLUMN pat.audit_log.seq IS
    'position in the hash chain: gapless, in link order (each transaction''s rows together, in order)';
COMMENT ON COLUMN pat.audit_log.occurred_at IS 'when the row was written (clock_timestamp())';
-- No CHECK constraint: pg_pat's writer puts rows straight into the heap, where no constraint
-- is checked; the C writers only ever write the actions below.
COMMENT ON COLUMN pat.audit_log.action IS
    'created, renamed, scopes_changed, expiry_changed, restrictions_changed, suspended, resumed, revoked, deleted, rotated, reuse_after_rotation, revoked_leaked, revoked_inactive (token lifecycle); role_granted, role_revoked, role_defined, scope_defined; insert, update, delete, truncate (pat_audit); audit_trigger_disabled, audit_trigger_dropped, audit_trigger_replaced, audit_partition_detached; audit_purged';
COMMENT ON COLUMN pat.audit_log.user_id IS
    'the token''s user: for row changes the authenticated token, for lifecycle rows the token changed';
COMMENT ON COLUMN pat.audit_log.actor IS
    'who acted for the user: pat_set_actor(), else the authenticated user when not user_id';
COMMENT ON COLUMN pat.audit_log.table_name IS
    'schema-qualified, quoted as format(''%I.%I''); the root table for a partition';
COMMENT ON COLUMN pat.audit_log.db_role IS
    'the SQL role that ran it (SET ROLE applies, SECURITY DEFINER functions do not)';
COMMENT ON COLUMN pat.audit_log.session_role IS 'session_user';
COMMENT ON COLUMN pat.audit_log.txid IS 'txid_current() of the writing transaction';
COMMENT ON COLUMN pat.audit_log.prev_hash IS 'row_hash of the previous row; NULL for the first';
COMMENT ON COLUMN pat.audit_log.row_hash IS 'pat.audit_hash() of this row';

-- "What did token X do between issue and revoke": token_id = X ORDER BY occurred_at.
CREATE INDEX audit_log_token_idx ON pat.audit_log (token_id, occurred_at);
-- "Which tokens of user U touched table T": row changes only, lifecycle rows have no table.
CREATE INDEX audit_log_user_table_idx ON pat.audit_log (user_id, table_name, token_id)
    WHERE table_name IS NOT NULL;
-- Time windows over the whole log; tiny, since occurred_at grows with seq.
CREATE INDEX audit_log_occurred_at_idx ON pat.audit_log USING brin (occurred_at);

-- The row the linker locks while it links (pg_pat's worker, pat_audit_link, pat_audit_purge).
-- It is only ever locked, never updated, so a REPEATABLE READ or SERIALIZABLE transaction that
-- waited for it does not fail with a serialization error; the chain's tail is read from
-- pat.audit_log itself.
CREATE TABLE pat.audit_chain_head (
    id boolean PRIMARY KEY DEFAULT true CHECK (id)
);
COMMENT ON TABLE pat.audit_chain_head IS
    'one row, locked by the linker (pg_pat''s worker, pat_audit_link, pat_audit_purge) while it links: serializes the hash chain';
INSERT INTO pat.audit_chain_head DEFAULT VALUES;

-- The head of the chain as the linker last linked it: seq and row_hash of the last row, written
-- in the same transaction (by pg_pat's linker only, no trigger fired). pat_audit_verify() checks
-- the log against it, so rows deleted from the tail are found. No row until the first link.
CREATE TABLE pat.audit_head (
    seq      bigint NOT NULL,
    row_hash bytea NOT NULL
);
COMMENT ON TABLE pat.audit_head IS
    'the chain''s head (seq, row_hash of its last row) as pg_pat''s linker last linked it, in the same transaction: pat_audit_verify() finds a deleted tail against it';

-- pg_dump keeps the log and its anchored head; the chain head is recreated by CREATE EXTENSION
-- and holds no data.
SELECT pg_catalog.pg_extension_config_dump('pat.audit_log', '');
SELECT pg_catalog.pg_extension_config_dump('pat.audit_head', '');

-- Every audit row is appended here by its transaction, without any shared lock, and moved into
-- pat.audit_log, linked, after commit (see docs/audit.md). batch: one per transaction, drawn at
-- its first row; ordinal: the row's place in its transaction. No index: the linker reads the
-- whole table, which holds a delay's worth of rows.
CREATE SEQUENCE pat.audit_batch_seq;
COMMENT ON SEQUENCE pat.audit_batch_seq IS
    'one number per transaction with audit rows, drawn at its first row: the link order';
CREATE TABLE pat.audit_pending (
    batch        bigint NOT NULL,
    ordinal      integer NOT NULL,
    occurred_at  timestamptz NOT NULL,
    user_id      text,
    token_id     uuid,
    token_name   text,
    actor        text,
    action       text NOT NULL,
    table_name   text,
    old_data     jsonb,
    new_data     jsonb,
    db_role      text NOT NULL,
    session_role text NOT NULL,
    txid         bigint NOT NULL
);
COMMENT ON TABLE pat.audit_pending IS
    'audit rows committed but not yet linked into pat.audit_log (by pg_pat''s worker, within pat.audit_link_delay)';
-- pg_dump keeps rows not yet linked and the batch numbers; a restore links them.
SELECT pg_catalog.pg_extension_config_dump('pat.audit_pending', '');
SELECT pg_catalog.pg_extension_config_dump('pat.audit_batch_seq', '');

-- Usage -------------------------------------------------------------------------------------
-- Checks count usage in shared memory; pg_pat's background worker writes it out.

-- Checks per token, UTC day and outcome. token_id NULL: checks that named no stored token
-- (malformed, not_found), and checks of tokens that did not fit in shared memory.
CREATE TABLE pat.token_checks (
    token_id uuid REFERENCES pat.tokens ON DELETE CASCADE,
    day      date NOT NULL,
    outcome  text NOT NULL
             CHECK (outcome IN ('valid', 'insufficient_scope', 'expired', 'revoked',
                                'not_found', 'malformed', 'suspended', 'forbidden_network',
                                'rate_limited', 'usage_exceeded')),
    checks   bigint NOT NULL CHECK (checks > 0),
    CONSTRAINT token_checks_key UNIQUE NULLS NOT DISTINCT (token_id, day, outcome)
);
COMMENT ON TABLE pat.token_checks IS
    'checks per token, UTC day and outcome, written by pg_pat''s background worker';
SELECT pg_catalog.pg_extension_config_dump('pat.token_checks', '');

-- Notices: an outbox --------------------------------------------------------------------------
-- One row per token and kind, queued in the transaction that makes it due (a revocation) or
-- by pg_pat's background worker (expiry); a mailer takes them with pat_take_notices() in its
-- own transaction, so a notice is delivered once, or, when the mailer rolls back, again.

CREATE TABLE pat.notices (
    notice_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind       text NOT NULL
               CHECK (kind IN ('expires_in_60_days', 'expires_in_30_days', 'expires_in_7_days',
                               'expires_in_1_day', 'expired', 'revoked_leaked',
                               'revoked_inactive', 'reuse_after_rotation', 'suspended',
                               'resumed', 'new_address')),
    user_id    text NOT NULL,
    token_id   uuid NOT NULL,  -- no foreign key: a notice outlives a deleted token
    token_name text NOT NULL,
    due_at     timestamptz NOT NULL,
    details    jsonb NOT NULL DEFAULT '{}',
    queued_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    taken_at   timestamptz,
    CONSTRAINT notices_token_kind_key UNIQUE (token_id, kind)
);
COMMENT ON TABLE pat.notices IS
    'notices to token owners (expiry, leak, inactivity, reuse after rotation, suspension, use from a new address), one per token and kind; pat_take_notices() hands each out once (a suspension or resumption queues its kind again; a new address queues new_address again, its details.addresses listing each address not yet handed out)';
COMMENT ON COLUMN pat.notices.due_at IS
    'when the notice became due: the threshold crossed (expires_at - 7 days, ...) or the event';
-- pat_take_notices() reads the oldest untaken notices; taken ones leave the index.
CREATE INDEX notices_untaken_idx ON pat.notices (notice_id) WHERE taken_at IS NULL;
SELECT pg_catalog.pg_extension_config_dump('pat.notices', '');
SELECT pg_catalog.pg_extension_config_dump('pat.notices_notice_id_seq', '');

-- Token prefixes ----------------------------------------------------------------------------

-- Every prefix tokens were issued under, for pat_scanner_rules(); pat_create adds the current
-- one when it first issues under it.
CREATE TABLE pat.token_prefixes (
    prefix        text PRIMARY KEY CHECK (pg_catalog.length(prefix) <= 64),
    first_used_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE pat.token_prefixes IS
    'prefixes tokens were issued under (pat.token_prefix), for pat_scanner_rules()';
SELECT pg_catalog.pg_extension_config_dump('pat.token_prefixes', '');

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

CREATE FUNCTION @extschema@.pat_validate(token text, required_scopes text[] DEFAULT '{}',
    client_addr inet DEFAULT NULL, resource text DEFAULT NULL,
    OUT valid boolean, OUT status text, OUT token_id uuid, OUT user_id text,
    OUT token_name text, OUT scopes text[], OUT expires_at timestamptz, OUT token_type text,
    OUT metadata jsonb, OUT retry_after interval, OUT remaining bigint)
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
    client_addr inet DEFAULT NULL, resource text DEFAULT NULL,
    OUT valid boolean, OUT status text, OUT token_id uuid, OUT user_id text,
    OUT token_name text, OUT scopes text[], OUT expires_at timestamptz, OUT token_type text,
    OUT metadata jsonb, OUT retry_after interval, OUT remaining bigint)
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

-- Triggers ==================================================================================
-- The trigger functions (in schema pat, never granted) and the triggers that call them. Most are
-- ENABLE ALWAYS: session_replication_role = replica (a superuser's, or logical replication's
-- apply) skips ordinary triggers, and must not skip these.

-- pat.tokens: the table refuses what the API refuses -------------------------------------------

-- The C guards apply the API's rules to every INSERT and UPDATE (see src/pg/tokens/tokens_trigger.cpp):
-- user id and name as the API checks them, new scopes as pat_create and pat_update check them,
-- and for any role but a superuser restoring a dump, no revoked or back-dated row and an expiry
-- the API would accept. Expirations only shorten, revocations are final, identity columns never
-- change.
CREATE FUNCTION pat.tokens_before_insert() RETURNS trigger
    AS 'MODULE_PATHNAME', 'pat_tokens_before_insert'
    LANGUAGE C;
CREATE FUNCTION pat.tokens_before_update() RETURNS trigger
    AS 'MODULE_PATHNAME', 'pat_tokens_before_update'
    LANGUAGE C;

CREATE TRIGGER tokens_before_insert BEFORE INSERT ON pat.tokens
    FOR EACH ROW EXECUTE FUNCTION pat.tokens_before_insert();
CREATE TRIGGER tokens_before_update BEFORE UPDATE ON pat.tokens
    FOR EACH ROW EXECUTE FUNCTION pat.tokens_before_update();
ALTER TABLE pat.tokens ENABLE ALWAYS TRIGGER tokens_before_insert;
ALTER TABLE pat.tokens ENABLE ALWAYS TRIGGER tokens_before_update;
-- A token's row is the record of its revocation: deleted, its digest could be inserted again
-- with a fresh expiry. Only the table's owner (or a superuser) deletes or truncates token rows.
CREATE FUNCTION pat.tokens_before_delete() RETURNS trigger
    AS 'MODULE_PATHNAME', 'pat_tokens_before_delete'
    LANGUAGE C;
CREATE TRIGGER tokens_before_delete BEFORE DELETE ON pat.tokens
    FOR EACH ROW EXECUTE FUNCTION pat.tokens_before_delete();
CREATE TRIGGER tokens_before_truncate BEFORE TRUNCATE ON pat.tokens
    FOR EACH STATEMENT EXECUTE FUNCTION pat.tokens_before_delete();
ALTER TABLE pat.tokens ENABLE ALWAYS TRIGGER tokens_before_delete;
ALTER TABLE pat.tokens ENABLE ALWAYS TRIGGER tokens_before_truncate;

-- pat.tokens: lifecycle audit rows ------------------------------------------------------------

-- The lifecycle rows are written by a C trigger, without a PL/pgSQL call and an executor per row;
-- it checks its conditions itself (a WHEN clause is parsed again by every statement's executor).
CREATE FUNCTION pat.tokens_audit() RETURNS trigger
    AS 'MODULE_PATHNAME', 'pat_tokens_audit'
    LANGUAGE C;
CREATE TRIGGER tokens_audit AFTER INSERT OR UPDATE OR DELETE ON pat.tokens
    FOR EACH ROW EXECUTE FUNCTION pat.tokens_audit();
-- ALWAYS: a change written under session_replication_role = replica is recorded too; a
-- subscriber's apply records the replicated changes in the subscriber's own log.
ALTER TABLE pat.tokens ENABLE ALWAYS TRIGGER tokens_audit;

-- Cache invalidation per token and per user ----------------------------------------------------

-- Committed changes to tokens, grants of roles, roles and scopes drop what backends cached.
CREATE FUNCTION pat.invalidate_token_caches() RETURNS trigger
    AS 'MODULE_PATHNAME', 'pat_invalidate_token_caches'
    LANGUAGE C;

CREATE FUNCTION pat.invalidate_cached_token() RETURNS trigger
    AS 'MODULE_PATHNAME', 'pat_invalidate_cached_token'
    LANGUAGE C;
CREATE FUNCTION pat.invalidate_cached_user() RETURNS trigger
    AS 'MODULE_PATHNAME', 'pat_invalidate_cached_user'
    LANGUAGE C;
CREATE TRIGGER tokens_invalidate_cached_token AFTER UPDATE OR DELETE ON pat.tokens
    FOR EACH ROW EXECUTE FUNCTION pat.invalidate_cached_token();
CREATE TRIGGER tokens_invalidate_caches AFTER TRUNCATE ON pat.tokens
    FOR EACH STATEMENT EXECUTE FUNCTION pat.invalidate_token_caches();
CREATE TRIGGER user_roles_invalidate_cached_user AFTER INSERT OR UPDATE OR DELETE ON pat.user_roles
    FOR EACH ROW EXECUTE FUNCTION pat.invalidate_cached_user();
CREATE TRIGGER user_roles_invalidate_caches AFTER TRUNCATE ON pat.user_roles
    FOR EACH STATEMENT EXECUTE FUNCTION pat.invalidate_token_caches();
CREATE TRIGGER scopes_invalidate_caches AFTER INSERT OR UPDATE OR DELETE ON pat.scopes
    FOR EACH ROW EXECUTE FUNCTION pat.invalidate_token_caches();
CREATE TRIGGER scopes_truncate_invalidate_caches AFTER TRUNCATE ON pat.scopes
    FOR EACH STATEMENT EXECUTE FUNCTION pat.invalidate_token_caches();
CREATE TRIGGER roles_invalidate_caches AFTER INSERT OR UPDATE OR DELETE ON pat.roles
    FOR EACH ROW EXECUTE FUNCTION pat.invalidate_token_caches();
CREATE TRIGGER roles_truncate_invalidate_caches AFTER TRUNCATE ON pat.roles
    FOR EACH STATEMENT EXECUTE FUNCTION pat.invalidate_token_caches();
CREATE TRIGGER role_scopes_invalidate_caches AFTER INSERT OR UPDATE OR DELETE ON pat.role_scopes
    FOR EACH ROW EXECUTE FUNCTION pat.invalidate_token_caches();
CREATE TRIGGER role_scopes_truncate_invalidate_caches AFTER TRUNCATE ON pat.role_scopes
    FOR EACH STATEMENT EXECUTE FUNCTION pat.invalidate_token_caches();

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

ALTER TABLE pat.tokens ENABLE ALWAYS TRIGGER tokens_invalidate_cached_token;
ALTER TABLE pat.token_limits ENABLE ALWAYS TRIGGER token_limits_invalidate_cached_user;
ALTER TABLE pat.token_limits ENABLE ALWAYS TRIGGER token_limits_invalidate_caches;
ALTER TABLE pat.user_rate_limits ENABLE ALWAYS TRIGGER user_rate_limits_invalidate_cached_user;
ALTER TABLE pat.user_rate_limits ENABLE ALWAYS TRIGGER user_rate_limits_invalidate_caches;
ALTER TABLE pat.tokens ENABLE ALWAYS TRIGGER tokens_invalidate_caches;
ALTER TABLE pat.user_roles ENABLE ALWAYS TRIGGER user_roles_invalidate_cached_user;
ALTER TABLE pat.user_roles ENABLE ALWAYS TRIGGER user_roles_invalidate_caches;
ALTER TABLE pat.scopes ENABLE ALWAYS TRIGGER scopes_invalidate_caches;
ALTER TABLE pat.scopes ENABLE ALWAYS TRIGGER scopes_truncate_invalidate_caches;
ALTER TABLE pat.roles ENABLE ALWAYS TRIGGER roles_invalidate_caches;
ALTER TABLE pat.roles ENABLE ALWAYS TRIGGER roles_truncate_invalidate_caches;
ALTER TABLE pat.role_scopes ENABLE ALWAYS TRIGGER role_scopes_invalidate_caches;
ALTER TABLE pat.role_scopes ENABLE ALWAYS TRIGGER role_scopes_truncate_invalidate_caches;

-- The audit log: append-only ----------------------------------------------------------------------

-- BEFORE INSERT OR UPDATE OR DELETE (row) and BEFORE TRUNCATE (statement) on pat.audit_log
-- and pat.audit_pending: pg_pat's writer and linker fire no trigger; everyone else's change is
-- refused but the deletes pat_audit_purge() runs and a superuser's COPY (pg_restore).
CREATE FUNCTION pat.audit_log_append_only() RETURNS trigger
AS 'MODULE_PATHNAME', 'pat_audit_log_append_only'
LANGUAGE C;
CREATE TRIGGER audit_log_append_only BEFORE INSERT OR UPDATE OR DELETE ON pat.audit_log
    FOR EACH ROW EXECUTE FUNCTION pat.audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON pat.audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION pat.audit_log_append_only();
ALTER TABLE pat.audit_log ENABLE ALWAYS TRIGGER audit_log_append_only;
ALTER TABLE pat.audit_log ENABLE ALWAYS TRIGGER audit_log_no_truncate;
-- The anchored head: written by the linker only (a superuser's COPY, as pg_restore loads it, is
-- let in).
CREATE TRIGGER audit_head_linker_only BEFORE INSERT OR UPDATE OR DELETE ON pat.audit_head
    FOR EACH ROW EXECUTE FUNCTION pat.audit_log_append_only();
CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON pat.audit_head
    FOR EACH STATEMENT EXECUTE FUNCTION pat.audit_log_append_only();
ALTER TABLE pat.audit_head ENABLE ALWAYS TRIGGER audit_head_linker_only;
ALTER TABLE pat.audit_head ENABLE ALWAYS TRIGGER audit_head_no_truncate;

-- pg_pat's writer and linker fire no trigger; everyone else's INSERT, UPDATE, DELETE and
-- TRUNCATE is refused (a superuser's COPY, as pg_restore runs it, is let in).
CREATE TRIGGER audit_pending_append_only BEFORE INSERT OR UPDATE OR DELETE ON pat.audit_pending
    FOR EACH ROW EXECUTE FUNCTION pat.audit_log_append_only();
CREATE TRIGGER audit_pending_no_truncate BEFORE TRUNCATE ON pat.audit_pending
    FOR EACH STATEMENT EXECUTE FUNCTION pat.audit_log_append_only();
ALTER TABLE pat.audit_pending ENABLE ALWAYS TRIGGER audit_pending_append_only;
ALTER TABLE pat.audit_pending ENABLE ALWAYS TRIGGER audit_pending_no_truncate;

-- Disabling or dropping a pat_audit() trigger is recorded -----------------------------------------

CREATE FUNCTION pat.audit_trigger_changes() RETURNS event_trigger
AS 'MODULE_PATHNAME', 'pat_audit_trigger_changes'
LANGUAGE C;
CREATE EVENT TRIGGER pat_audit_trigger_changes ON ddl_command_start
    WHEN TAG IN ('ALTER TABLE', 'DROP TRIGGER', 'DROP TABLE')
    EXECUTE FUNCTION pat.audit_trigger_changes();
COMMENT ON EVENT TRIGGER pat_audit_trigger_changes IS
    'records a pat_audit() trigger being disabled or dropped, with the role that does it';
-- ALWAYS: in replica mode too, where disabling a pat_audit() trigger matters as much.
ALTER EVENT TRIGGER pat_audit_trigger_changes ENABLE ALWAYS;

-- Row level security on pat.tokens ==========================================================
-- An application role given direct access to pat.tokens sees and edits only the rows of the
-- user its transaction authenticated as (pat_authenticate). The API functions run as the
-- table owner, to whom the policies do not apply.
ALTER TABLE pat.tokens ENABLE ROW LEVEL SECURITY;
CREATE POLICY tokens_readable_by_authenticated_user ON pat.tokens FOR SELECT
    USING (user_id OPERATOR(pg_catalog.=) @extschema@.pat_current_user());
CREATE POLICY tokens_editable_by_authenticated_user ON pat.tokens FOR UPDATE
    USING (user_id OPERATOR(pg_catalog.=) @extschema@.pat_current_user());
-- Whoever may define roles (the admin profile) may read every token row, for investigations.
CREATE POLICY tokens_readable_by_admins ON pat.tokens FOR SELECT
    USING (pg_catalog.has_function_privilege(
        '@extschema@.pat_define_role(pg_catalog.text, pg_catalog.text[], pg_catalog.bool)'
            ::pg_catalog.regprocedure,
        'EXECUTE'));

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
