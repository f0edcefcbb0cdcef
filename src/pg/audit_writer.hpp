// Appending to pat.audit_log: the one place audit rows are written and hashed.
//
// A transaction's first append locks the single row of pat.audit_chain_head until the
// transaction ends and reads the chain's last row with a snapshot taken after the lock; each
// append inserts the next row with seq = last seq + 1, prev_hash = the last row_hash and
// row_hash = what pat.audit_hash(...) gives for the new row (computed in C, the same jsonb
// values), and remembers it as the tail for the next append. Holding the lock to commit makes
// seq gapless and the chain order the commit order; it also means that a second transaction
// writing audit rows waits for the first to end.
//
// Rows go straight into the heap and indexes, as COPY puts them, with the log kept open for the
// rest of the transaction; through the executor only if a DBA changed the log's columns,
// constraints, rules or insert triggers. The lock and tail queries run as the owner of
// pat.audit_log (callers need no privilege on it) under a pinned search path.
#pragma once

#include "pg/postgres.hpp"
#include "pg/spi_support.hpp"

namespace pat::pg {

// One audit row's own columns; the writer adds seq, occurred_at, db_role, session_role, txid and
// the hashes. Pointers are palloc'd values; nullptr stands for SQL NULL.
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

// Appends entry to the chain and returns its seq. Plain PostgreSQL code in the sense of
// guard.hpp: it may ereport, so C++ frames owning objects call it through call_pg. Callers
// first call register_audit_callbacks().
int64 append_audit_entry(const AuditEntry &entry);

// Takes the chain lock (the row of pat.audit_chain_head) for the rest of the transaction,
// unless the transaction holds it already. Must run inside SPI_connect, as the owner of
// pat.audit_log; may ereport.
void lock_audit_chain();

// Installs the hook that closes the log the writer keeps open within a transaction before
// any utility statement; called from _PG_init.
void setup_audit_writer();

// The oid of pat.audit_log, whose owner does the SPI work of an append or a purge
// (begin_owner_spi() in spi_support.hpp); 42P01 with a hint when missing.
Oid audit_log_relation();

}  // namespace pat::pg
