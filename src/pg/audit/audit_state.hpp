// What the audit log needs to know about the current transaction besides its token context:
// the actor the application named, whether it holds the chain lock, and whether
// pat_audit_purge() is deleting rows right now.
// Both live in backend memory, never in a setting a client could SET, and end with the
// transaction (or the subtransaction that set them).
#pragma once

#include "pg/audit/audit_entry.hpp"
#include "pg/bridge/postgres.hpp"

#include <optional>
#include <string>

namespace pat::pg {

// Registers the transaction callbacks that end this state, once per backend (on first use
// rather than in _PG_init: a backend that never audits pays nothing). Call before any of the
// functions below that change state. Throws PgError when out of memory.
void register_audit_callbacks();

// Makes actor (nullopt: none) the actor of the current transaction, until it ends or the
// subtransaction that set it aborts (which brings back the actor from before).
void set_audit_actor(std::optional<std::string> actor);

// The current transaction's actor, nullptr when none was set.
const std::string *current_audit_actor();

// The actor to record for an audit row about user_id (nullptr: no user), palloc'd: the one
// pat_set_actor() named, else for a delegated token its chain ("<user>: <root token> > ... >
// <acting token>", read from pat.tokens), else the authenticated token's user when that is
// someone else, else nullptr. Throws PgError.
text *audit_actor_for(const text *user_id);

// The authenticated token's user, id and name into entry (none outside a token context).
void attribute_to_token_context(AuditEntry &entry);

// Whether this transaction still holds the chain lock (the row lock on pat.audit_chain_head),
// so that its next append need not ask for it again.
bool audit_chain_locked();

// Notes that the chain lock was just taken; it is held until the transaction ends or the
// subtransaction that took it aborts. Plain C: never errors.
void note_audit_chain_locked();

// The chain's last row as this transaction knows it while it holds the chain lock: nobody else
// can append meanwhile, so after its first append a transaction need not read the tail again.
// hash is in TopTransactionContext (nullptr: the chain is empty).
struct ChainTail {
    int64 seq;
    bytea *hash;
};

// The known tail, nullptr when it must be read from pat.audit_log (first append of the
// transaction, or after a subtransaction rolled back, taking its appends with it).
const ChainTail *known_audit_chain_tail();

// Records the tail after an append; hash (not toasted, 4-byte header, or nullptr) is copied.
void set_known_audit_chain_tail(int64 seq, const bytea *hash);

// While alive, pat.audit_log's append-only trigger lets rows with seq <= through_seq be
// deleted. Only pat_audit_purge() creates one, around its DELETE.
class PurgePermission {
  public:
    explicit PurgePermission(int64 through_seq);
    ~PurgePermission();
    PurgePermission(const PurgePermission &) = delete;
    PurgePermission &operator=(const PurgePermission &) = delete;
};

// Whether the running purge may delete the row at seq.
bool purge_allows_delete(int64 seq);

}  // namespace pat::pg
