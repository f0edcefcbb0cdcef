-- pg_pat 1.9: trust off the happy path (issue 22).

\echo Use "ALTER EXTENSION pg_pat UPDATE TO '1.9'" to load this file. \quit

SELECT pat.require_preloaded();

-- An audit row that nothing can stop from linking (issue 22 item 5) ====
-- pat.audit_hash() is computed in C, as the linker computes it: the row's JSON text is written
-- straight into the hash, never held whole, and hashed as UTF-8 when it is UTF-8 (every row
-- linked so far keeps its hash), else as 0xFF and the bytes as stored.
CREATE OR REPLACE FUNCTION pat.audit_hash(prev_hash bytea, seq bigint, occurred_at timestamptz,
                                          user_id text, token_id uuid, token_name text,
                                          actor text, action text, table_name text,
                                          old_data jsonb, new_data jsonb, db_role text,
                                          session_role text, txid bigint)
RETURNS bytea
AS 'MODULE_PATHNAME', 'pat_audit_hash'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION pat.audit_hash(bytea, bigint, timestamptz, text, uuid, text, text, text, text,
                                   jsonb, jsonb, text, text, bigint) IS
    'row_hash of an audit row: sha256(prev_hash || its columns as canonical JSON text, as UTF-8; 0xff and the text as stored when it is not UTF-8)';
