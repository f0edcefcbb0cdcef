// Appending to the audit log: the one place audit rows are written, linked and hashed.
//
// Writers never wait for each other. An append (a pat_audit() row, a token lifecycle row, a
// role change) inserts the row into pat.audit_pending, with no shared lock and no hash: the
// transaction's batch number (drawn from pat.audit_batch_seq at its first append) and the row's
// ordinal in the transaction. After commit the linker (pg_pat's background worker, or
// pat_audit_link(), or pat_audit_purge()) takes the chain lock (the row of
// pat.audit_chain_head, held by the linker only), reads the chain's tail, and moves every
// committed pending row, in (batch, ordinal) order, into pat.audit_log with seq = last seq + 1,
// prev_hash = the last row_hash and row_hash = pat.audit_hash(...) of the row (computed in C from
// the same jsonb values), deleting it from pat.audit_pending in the same transaction: a crash
// either links a committed row or leaves it pending for the next pass, never loses it.
//
// Rows go straight into the heaps and indexes, as COPY puts them, with the tables kept open for
// the rest of the transaction; the tables' columns can only change with pg_pat's own update
// scripts (audit_guard.cpp refuses ALTER TABLE on them).
#pragma once

#include "pg/audit/audit_entry.hpp"
#include "pg/bridge/postgres.hpp"
#include "pg/bridge/spi_support.hpp"

namespace pat::pg {

// Appends entry to pat.audit_pending, to be linked after commit, and returns 0. Where the
// schema has no pat.audit_pending (schema_since::kAuditPending), links it at once under the
// chain lock, held to commit, and returns its seq.
// Callers first call register_audit_callbacks().
int64 append_audit_entry(const AuditEntry &entry);

// Appends a row about one token (its lifecycle rows, rotated, revoked_leaked, ...), attributed to
// the token's user or pat_set_actor()'s actor (audit_actor_for). Pointers as in AuditEntry.
void append_token_audit(const char *action, text *user_id, pg_uuid_t *token_id, text *token_name,
                        Jsonb *old_data, Jsonb *new_data);

// Links every pending row this transaction can see committed (and its own) into the chain, in
// (batch, ordinal) order; returns how many (0 where the schema has no pat.audit_pending). Takes the
// chain lock for the rest of the transaction. Must run inside a transaction. With
// yielded (pg_pat's worker), the pass stops early, setting *yielded, when a DROP DATABASE or
// another command that needs the database to itself waits for the session to leave: the rows linked
// so far are kept, the rest stay pending.
int64 link_pending_rows(bool *yielded = nullptr);

// Takes the chain lock (the row of pat.audit_chain_head) for the rest of the transaction, unless
// the transaction holds it already. Must run inside SPI_connect, as the owner of pat.audit_log.
void lock_audit_chain();

// Closes the tables the writer keeps open within a transaction; audit_guard.cpp calls it before any
// utility statement (a relation this session holds open cannot be altered or dropped by it).
void close_kept_audit_tables();

// The oid of pat.audit_log, whose owner does the SPI work of linking or purging
// (begin_owner_spi() in spi_support.hpp); 42P01 with a hint when missing.
Oid audit_log_relation();

}  // namespace pat::pg
