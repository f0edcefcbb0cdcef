// The audit actor, the chain lock and tail, and the purge permission: transaction-local
// backend state.
#include "pg/audit/audit_state.hpp"

#include <utility>

#include "core/subtransaction_scoped.hpp"
#include "pg/bridge/convert.hpp"
#include "pg/bridge/guard.hpp"
#include "pg/tokens/api_support.hpp"
#include "pg/tokens/token_context.hpp"
#include "pg/bridge/spi_support.hpp"

namespace pat::pg {

namespace {

// The actor follows savepoints as the token context does: a rollback restores the one before.
pat::SubtransactionScoped<std::string> scoped_actor;

// The subtransaction that took the chain lock (its abort releases the lock); invalid when the
// transaction does not hold it.
SubTransactionId chain_locked_in = InvalidSubTransactionId;

// The chain tail this transaction appended last; valid only while tail_known.
ChainTail tail = {0, nullptr};
bool tail_known = false;

// The seq through which pat_audit_purge() may delete; -1 when no purge is running.
int64 purge_through = -1;

bool callbacks_registered = false;

void on_transaction_event(XactEvent event, void *) {
    if (ends_transaction(event)) {
        scoped_actor.end_transaction();
        chain_locked_in = InvalidSubTransactionId;
        tail_known = false;
        purge_through = -1;
    }
}

void on_subtransaction_event(SubXactEvent event, SubTransactionId subxact, SubTransactionId parent,
                             void *) {
    if (event == SUBXACT_EVENT_ABORT_SUB && subxact == chain_locked_in) {
        chain_locked_in = InvalidSubTransactionId;
    } else if (event == SUBXACT_EVENT_COMMIT_SUB && subxact == chain_locked_in) {
        chain_locked_in = parent;
    }
    if (event == SUBXACT_EVENT_ABORT_SUB) {
        tail_known = false;
        purge_through = -1;
        scoped_actor.abort(subxact);
    } else if (event == SUBXACT_EVENT_COMMIT_SUB) {
        scoped_actor.commit(subxact, parent);
    }
}

}  // namespace

void register_audit_callbacks() {
    if (callbacks_registered) {
        return;
    }
    call_pg([] {
        RegisterXactCallback(on_transaction_event, nullptr);
        RegisterSubXactCallback(on_subtransaction_event, nullptr);
    });
    callbacks_registered = true;
}

namespace {

// The names of a delegated token's chain, root first, down to it; "(deleted)" for an ancestor
// whose row is gone.
const char kChainNames[] =
    "SELECT pg_catalog.string_agg(COALESCE(a.name, '(deleted)'), ' > ' ORDER BY u.ord)"
    " FROM pat.tokens t CROSS JOIN LATERAL pg_catalog.unnest("
    "   pg_catalog.array_append(t.ancestors, t.token_id)) WITH ORDINALITY AS u(id, ord)"
    " LEFT JOIN pat.tokens a ON a.token_id OPERATOR(pg_catalog.=) u.id"
    " WHERE t.token_id OPERATOR(pg_catalog.=) $1";
KeptPlan chain_names_plan = {kChainNames, 1, {UUIDOID}};

// "<user>: <root> > ... > <acting token>" for the delegated token of context, or nullptr when
// its row is gone. Read when a row is written, never when a token is checked.
text *delegation_chain(const TokenContext &context) {
    pg_uuid_t token_id = context.token_id;
    text *names = with_owner_spi([&]() -> text * {
        Datum values[1] = {UUIDPGetDatum(&token_id)};
        if (run_kept_plan(chain_names_plan, values, nullptr, true, SPI_OK_SELECT) != 1) {
            return nullptr;
        }
        bool is_null = false;
        Datum chain = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &is_null);
        return is_null ? nullptr : reinterpret_cast<text *>(SPI_datumTransfer(chain, false, -1));
    });
    if (names == nullptr) {
        return nullptr;
    }
    return make_text(context.user_id + ": " + std::string(text_view(names)));
}

}  // namespace

text *audit_actor_for(const text *user_id) {
    if (const std::string *actor = current_audit_actor()) {
        return make_text(*actor);
    }
    const TokenContext *context = current_token_context();
    // A delegated token acts for its user through its chain: the row names it.
    if (context != nullptr && context->delegated) {
        if (text *chain = delegation_chain(*context)) {
            return chain;
        }
    }
    if (context != nullptr && (user_id == nullptr || text_view(user_id) != context->user_id)) {
        return make_text(context->user_id);
    }
    return nullptr;
}

void attribute_to_token_context(AuditEntry &entry) {
    const TokenContext *context = current_token_context();
    if (context == nullptr) {
        return;
    }
    entry.user_id = cstring_to_text_with_len(context->user_id.data(),
                                             static_cast<int>(context->user_id.size()));
    entry.token_name = cstring_to_text_with_len(context->token_name.data(),
                                                static_cast<int>(context->token_name.size()));
    entry.token_id = static_cast<pg_uuid_t *>(palloc(sizeof(pg_uuid_t)));
    *entry.token_id = context->token_id;
}

void set_audit_actor(std::optional<std::string> actor) {
    register_audit_callbacks();
    SubTransactionId subxact = GetCurrentSubTransactionId();  // reads a field: cannot raise
    BackendAllocations kept;
    if (actor) {
        scoped_actor.set(subxact, std::move(*actor));
    } else {
        scoped_actor.reset(subxact);
    }
}

const std::string *current_audit_actor() {
    return scoped_actor.current();
}

bool audit_chain_locked() {
    return chain_locked_in != InvalidSubTransactionId;
}

void note_audit_chain_locked() {
    chain_locked_in = GetCurrentSubTransactionId();
}

const ChainTail *known_audit_chain_tail() {
    return tail_known && audit_chain_locked() ? &tail : nullptr;
}

void set_known_audit_chain_tail(int64 seq, const bytea *hash) {
    bytea *copy = nullptr;
    if (hash != nullptr) {
        copy = static_cast<bytea *>(MemoryContextAlloc(TopTransactionContext, VARSIZE(hash)));
        memcpy(copy, hash, VARSIZE(hash));
    }
    // The previous copy belongs to this transaction only while tail_known.
    if (tail_known && tail.hash != nullptr) {
        pfree(tail.hash);
    }
    tail = ChainTail{seq, copy};
    tail_known = true;
}

PurgePermission::PurgePermission(int64 through_seq) {
    register_audit_callbacks();
    purge_through = through_seq;
}

PurgePermission::~PurgePermission() {
    purge_through = -1;
}

bool purge_allows_delete(int64 seq) {
    return purge_through >= 0 && seq <= purge_through;
}

}  // namespace pat::pg
