
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
