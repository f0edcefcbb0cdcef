// The hash of an audit row (pat.audit_hash(), used by the linker and by pat_audit_verify()) and
// the size of the JSON text its old_data and new_data print as.
//
// The hashed text is what jsonb_build_array(seq, EXTRACT(EPOCH FROM occurred_at), user_id,
// token_id, token_name, actor, action, table_name, old_data, new_data, db_role, session_role,
// txid)::text gives, written piece by piece straight into the hash (pat::AuditRowDigest): no
// row, however large, is ever held whole, and no content can make the hash fail. It is hashed as
// UTF-8 when it is UTF-8 (converted from the database encoding where that is not UTF8), and
// otherwise as 0xFF followed by its bytes as stored (core/digest.hpp), so every row linked
// before this rule (which hashed the UTF-8 text, or failed) keeps its hash.
#pragma once

#include "pg/bridge/postgres.hpp"

namespace pat::pg {

// An audit row's hashed columns; pointers are detoasted values (text may have a short header),
// nullptr for SQL NULL.
struct AuditRowColumns {
    const bytea *prev_hash = nullptr;
    const int64 *seq = nullptr;
    const TimestampTz *occurred_at = nullptr;
    const text *user_id = nullptr;
    const pg_uuid_t *token_id = nullptr;
    const text *token_name = nullptr;
    const text *actor = nullptr;
    const text *action = nullptr;
    const text *table_name = nullptr;
    Jsonb *old_data = nullptr;
    Jsonb *new_data = nullptr;
    const text *db_role = nullptr;
    const text *session_role = nullptr;
    const int64 *txid = nullptr;
};

// row_hash of row (palloc'd, 32 bytes). It raises no error because of what the row holds.
bytea *audit_row_hash(const AuditRowColumns &row);

// Raises 54000 (core's check_audit_data_text) when value, column of an audit row, would print as
// more JSON text than an audit row may hold. Cheap for small values.
void check_audit_data(const char *column, Jsonb *value);

}  // namespace pat::pg
