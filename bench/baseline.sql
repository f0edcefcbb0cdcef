-- bench/baseline.sql: the token check a team writes today without pg_pat, in PL/pgSQL with
-- pgcrypto. bench/run measures pg_pat against it; it is written the way a competent team would
-- write it, not as a strawman:
--   * only the SHA-256 digest of a token is stored, under a unique index;
--   * one query fetches the token row and the scopes the user's roles allow now (effective
--     scopes = their intersection with the token's), instead of one query per check;
--   * a cheap shape check (length, prefix, alphabet) rejects garbage before any hashing or
--     table access;
--   * the last-used write is throttled to one per token per minute, and the UPDATE is only
--     issued when the row just read says it is due (no UPDATE statement on the hot path);
--   * SECURITY DEFINER with a pinned search_path, so a service role needs EXECUTE only (the
--     documented safe pattern for SECURITY DEFINER; pg_pat's C function reads its tables as
--     their owner too).
-- Simplifications that favour the baseline: no "all scopes" admin roles, no HMAC key, no
-- token checksum, no scope-name validation.
--
-- Row shape of baseline.validate is the one of pat_validate:
--   (valid, status, token_id, user_id, token_name, scopes, expires_at)
-- status: valid, malformed, not_found, expired, revoked, insufficient_scope (revoked wins over
-- expired, expired over a missing scope).
--
-- Load with: psql -v ON_ERROR_STOP=1 -f bench/baseline.sql (needs pgcrypto, which ships with
-- Debian's postgresql-15).

CREATE EXTENSION IF NOT EXISTS pgcrypto;

CREATE SCHEMA baseline;
REVOKE ALL ON SCHEMA baseline FROM PUBLIC;

-- Which scopes each role allows.
CREATE TABLE baseline.role_scopes (
    role  text NOT NULL,
    scope text NOT NULL,
    PRIMARY KEY (role, scope)
);

-- Which roles each user holds.
CREATE TABLE baseline.user_roles (
    user_id text NOT NULL,
    role    text NOT NULL,
    PRIMARY KEY (user_id, role)
);

-- Tokens: the same columns and indexes as pg_pat's pat.tokens, so inserts cost the same.
CREATE TABLE baseline.tokens (
    token_id     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      text NOT NULL,
    name         text NOT NULL,
    scopes       text[] NOT NULL,
    digest       bytea NOT NULL UNIQUE,          -- sha256(token); the token is stored nowhere
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz,                    -- NULL: never expires
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX tokens_user_id_idx ON baseline.tokens (user_id);

-- Define (or replace) a role as a set of scopes.
CREATE FUNCTION baseline.define_role(p_role text, p_scopes text[]) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM baseline.role_scopes rs WHERE rs.role = p_role;
    INSERT INTO baseline.role_scopes (role, scope)
    SELECT DISTINCT p_role, s FROM unnest(p_scopes) AS s;
END
$$;

CREATE FUNCTION baseline.grant_role(p_user_id text, p_role text) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    INSERT INTO baseline.user_roles (user_id, role) VALUES (p_user_id, p_role)
    ON CONFLICT DO NOTHING;
    RETURN FOUND;
END
$$;

-- Issue a token: 'bpat_' + 32 base64url characters (24 random bytes, 192 bits). Requested
-- scopes must all be allowed by the user's roles. p_expires NULL: never expires.
CREATE FUNCTION baseline.create_token(p_user_id text, p_name text, p_scopes text[],
                                      p_expires interval,
                                      OUT token_id uuid, OUT token text,
                                      OUT expires_at timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    refused text;
BEGIN
    IF p_user_id IS NULL OR p_name IS NULL OR p_scopes IS NULL THEN
        RAISE EXCEPTION 'user, name and scopes must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF btrim(p_user_id) = '' OR length(p_user_id) > 255
       OR btrim(p_name) = '' OR length(p_name) > 255 THEN
        RAISE EXCEPTION 'user and name must be 1 to 255 characters'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_expires IS NOT NULL AND p_expires <= interval '0' THEN
        RAISE EXCEPTION 'expiry must be in the future' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT coalesce(s, 'NULL') INTO refused
    FROM unnest(p_scopes) AS s
    WHERE s IS NULL
       OR NOT EXISTS (SELECT 1
                      FROM baseline.user_roles ur
                      JOIN baseline.role_scopes rs ON rs.role = ur.role
                      WHERE ur.user_id = p_user_id AND rs.scope = s)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'the roles of user "%" do not allow scope "%"', p_user_id, refused
            USING ERRCODE = 'insufficient_privilege';
    END IF;

    token := 'bpat_' || translate(encode(gen_random_bytes(24), 'base64'), '+/', '-_');
    INSERT INTO baseline.tokens AS t (user_id, name, scopes, digest, expires_at)
    VALUES (p_user_id, p_name,
            ARRAY(SELECT DISTINCT s FROM unnest(p_scopes) AS s ORDER BY 1),
            digest(token, 'sha256'),
            now() + p_expires)
    RETURNING t.token_id, t.expires_at INTO create_token.token_id, create_token.expires_at;
END
$$;

-- Check a bearer token: exactly one row, never an error for a bad token.
CREATE FUNCTION baseline.validate(p_token text, p_required text[] DEFAULT '{}',
                                  OUT valid boolean, OUT status text, OUT token_id uuid,
                                  OUT user_id text, OUT token_name text, OUT scopes text[],
                                  OUT expires_at timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    v_revoked     boolean;
    v_last_used   timestamptz;
    v_scopes      text[];
    v_role_scopes text[];
    v_scope       text;
BEGIN
    valid := false;
    -- Shape check first: garbage costs neither a hash nor an index probe. (The length test
    -- plus '+' is much cheaper in PostgreSQL's regex engine than '{32}'.)
    IF p_token IS NULL OR length(p_token) <> 37 OR p_token !~ '^bpat_[A-Za-z0-9_-]+$' THEN
        status := 'malformed';
        RETURN;
    END IF;

    -- One unique-index probe, which also fetches what the user's roles allow now.
    SELECT t.token_id, t.user_id, t.name, t.expires_at, t.revoked_at IS NOT NULL,
           t.last_used_at, t.scopes,
           ARRAY(SELECT rs.scope
                 FROM baseline.user_roles ur
                 JOIN baseline.role_scopes rs ON rs.role = ur.role
                 WHERE ur.user_id = t.user_id)
    INTO validate.token_id, validate.user_id, validate.token_name, validate.expires_at,
         v_revoked, v_last_used, v_scopes, v_role_scopes
    FROM baseline.tokens t
    WHERE t.digest = digest(p_token, 'sha256');
    IF NOT FOUND THEN
        status := 'not_found';
        RETURN;
    END IF;

    -- Effective scopes: the token's (stored sorted) that a role still allows.
    scopes := '{}';
    FOREACH v_scope IN ARRAY v_scopes LOOP
        IF v_scope = ANY (v_role_scopes) THEN
            scopes := scopes || v_scope;
        END IF;
    END LOOP;

    IF v_revoked THEN
        status := 'revoked';
    ELSIF validate.expires_at IS NOT NULL AND validate.expires_at <= now() THEN
        status := 'expired';
    ELSIF p_required IS NULL OR NOT (p_required <@ scopes) THEN
        -- <@ never matches a NULL element: asking for NULL fails closed.
        status := 'insufficient_scope';
    ELSE
        status := 'valid';
        valid := true;
        -- Throttled last-used write: at most one per token per minute, and no UPDATE
        -- statement at all unless the row just read says one is due.
        IF v_last_used IS NULL OR v_last_used < now() - interval '1 minute' THEN
            UPDATE baseline.tokens t SET last_used_at = now()
            WHERE t.token_id = validate.token_id
              AND (t.last_used_at IS NULL OR t.last_used_at < now() - interval '1 minute');
        END IF;
    END IF;
END
$$;

-- Revoke a token; false if it already was revoked (or does not exist).
CREATE FUNCTION baseline.revoke_token(p_token_id uuid) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE baseline.tokens t SET revoked_at = now()
    WHERE t.token_id = p_token_id AND t.revoked_at IS NULL;
    RETURN FOUND;
END
$$;

REVOKE ALL ON ALL TABLES IN SCHEMA baseline FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA baseline FROM PUBLIC;
