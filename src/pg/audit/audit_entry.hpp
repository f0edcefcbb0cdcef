// What one audit row says, as its writers hand it over: the transaction state fills in who it
// is about (audit_state.hpp), the writer appends it (audit_writer.hpp).
#pragma once

#include "pg/bridge/postgres.hpp"

namespace pat::pg {

// One audit row's own columns; the writer adds occurred_at, db_role, session_role and txid, the
// linker seq and the hashes. Pointers are palloc'd values; nullptr stands for SQL NULL.
struct AuditEntry {
    const char *action = nullptr;
    text *table_name = nullptr;
    text *user_id = nullptr;
    pg_uuid_t *token_id = nullptr;
    text *token_name = nullptr;
    text *actor = nullptr;
    Jsonb *old_data = nullptr;
    Jsonb *new_data = nullptr;
};

}  // namespace pat::pg
