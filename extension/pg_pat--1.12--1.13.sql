-- pg_pat 1.13: each token's last client addresses, written by the usage flush, shown by pat_list
-- and pat_token_activity, and a new_address notice for an address a token never used (issue 27).

\echo Use "ALTER EXTENSION pg_pat UPDATE TO '1.13'" to load this file. \quit

SELECT pat.require_preloaded();

-- Each token's last client addresses =========================================================
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
SELECT pg_catalog.pg_extension_config_dump('pat.token_addresses', '');
REVOKE ALL ON TABLE pat.token_addresses FROM PUBLIC;

-- A use from an address the token was not used from notifies its owner.
ALTER TABLE pat.notices
    DROP CONSTRAINT notices_kind_check,
    ADD CONSTRAINT notices_kind_check
        CHECK (kind IN ('expires_in_60_days', 'expires_in_30_days', 'expires_in_7_days',
                        'expires_in_1_day', 'expired', 'revoked_leaked',
                        'revoked_inactive', 'reuse_after_rotation', 'suspended', 'resumed',
                        'new_address'));
COMMENT ON TABLE pat.notices IS
    'notices to token owners (expiry, leak, inactivity, reuse after rotation, suspension, use from a new address), one per token and kind; pat_take_notices() hands each out once (a suspension or resumption queues its kind again; a new address queues new_address again, its details.addresses listing each address not yet handed out)';

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
REVOKE ALL ON FUNCTION @extschema@.pat_merge_addresses(uuid[], inet[], timestamptz[], boolean)
    FROM PUBLIC;
INSERT INTO pat.profile_functions (function_signature, least_profile) VALUES
    ('pat_merge_addresses(uuid[], inet[], timestamptz[], boolean)', 'admin');

-- pat_list's last_addresses now has them.
COMMENT ON FUNCTION @extschema@.pat_list(text) IS
    'a user''s tokens with their status (active, expired, revoked: a token whose ancestor fell is revoked or expired with it), type, parent and creator, limits and suspension, and last client addresses (newest first, as the usage flush wrote them; NULL: none); never a digest or secret';

-- pat_token_activity shows the last uses from each address (a column added at the end): its
-- result changes, so it is dropped and created again; whoever could run it keeps that right.
-- Whoever could write usage (pat_merge_usage: the admin profile, and a standby's forwarding
-- role) may write addresses too.
CREATE TEMP TABLE pat_reshaped_grantees AS
SELECT f.signature, f.new_signature, pg_catalog.quote_ident(r.rolname) AS grantee
FROM (VALUES ('pat_token_activity(uuid, integer)', 'pat_token_activity(uuid, integer)'),
             ('pat_merge_usage(uuid[], timestamptz[], uuid[], date[], text[], bigint[])',
              'pat_merge_addresses(uuid[], inet[], timestamptz[], boolean)'))
         AS f(signature, new_signature),
     pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a, pg_catalog.pg_roles r
WHERE p.oid = pg_catalog.to_regprocedure('@extschema@.' || f.signature)
  AND a.privilege_type = 'EXECUTE' AND r.oid = a.grantee AND a.grantee <> p.proowner;

DROP FUNCTION @extschema@.pat_token_activity(uuid, integer);
CREATE FUNCTION @extschema@.pat_token_activity(token_id uuid, max integer DEFAULT 50)
RETURNS TABLE (occurred_at timestamptz, action text, table_name text, actor text,
               client_address inet)
AS 'MODULE_PATHNAME', 'pat_token_activity'
LANGUAGE C STABLE;
COMMENT ON FUNCTION @extschema@.pat_token_activity(uuid, integer) IS
    'one token''s audit rows and its delegated descendants'', and its last uses from each of its last client addresses (action used, with client_address), newest first (at most max, 1 to 1000): when, what, which table, who (naming the delegated token that acted); in a token context only the user''s own tokens';
REVOKE ALL ON FUNCTION @extschema@.pat_token_activity(uuid, integer) FROM PUBLIC;

DO $$
DECLARE
    -- The schema's name as an identifier, quoted where it needs to be.
    api CONSTANT text := '@extschema@'::pg_catalog.regnamespace::text;
    granted record;
BEGIN
    FOR granted IN SELECT g.new_signature, g.grantee FROM pg_temp.pat_reshaped_grantees g
                   ORDER BY 1, 2 LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s.%s TO %s', api,
                                  granted.new_signature, granted.grantee);
    END LOOP;
END
$$;
DROP TABLE pg_temp.pat_reshaped_grantees;
