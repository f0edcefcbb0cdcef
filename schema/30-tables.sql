
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
