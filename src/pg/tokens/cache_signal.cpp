// Sending cache signals; see cache_signal.hpp.
#include "pg/tokens/cache_signal.hpp"

#include "core/cache_signal.hpp"
#include "pg/bridge/compat.hpp"
#include "pg/bridge/spi_support.hpp"
#include "pg/tokens/cache_generations.hpp"

namespace pat::pg {

namespace {

// PostgreSQL keeps a transaction's invalidations in a list it searches for duplicates, and a
// backend that falls too far behind the queue resets all its caches: past this many signals in
// one transaction (a bulk revoke, a mass grant), one signal for everything is cheaper.
constexpr int kMaxSignalsPerTransaction = 1000;

LocalTransactionId counted_transaction = InvalidLocalTransactionId;
int signals_in_transaction = 0;
// The slot of each kind signalled last: a bulk change to one user's tokens signals the user's
// slot with each row (between the rows' own), which PostgreSQL keeps once, so a repeat is sent
// but not counted again.
std::uint32_t last_counted_slot[pat::kSignalKinds];

void send_signal(std::uint32_t slot) {
    if (compat::local_transaction_id() != counted_transaction) {
        counted_transaction = compat::local_transaction_id();
        signals_in_transaction = 0;
        for (std::uint32_t &last : last_counted_slot) {
            last = pat::kSignalSlots;
        }
    }
    std::uint32_t &last = last_counted_slot[slot / pat::kSignalStripes];
    bool repeat = slot == last;
    last = slot;
    // Counted even if a subtransaction that sent some aborts: erring towards everything is safe.
    if (!repeat && ++signals_in_transaction > kMaxSignalsPerTransaction) {
        signal_everything_changed();
        return;
    }
    // The shared cache's words, raised around this transaction's commit; the invalidation
    // feeds the caches of a standby's backends, where no commit of ours happens.
    note_change(slot);
    // CacheInvalidateRelcache reads only the relation's oid and whether it is shared; the
    // receiving backends find no relcache entry under the oid and pass it to the callbacks.
    FormData_pg_class form = {};
    form.relisshared = false;
    RelationData relation = {};
    relation.rd_id = pat::signal_id(slot);
    relation.rd_rel = &form;
    CacheInvalidateRelcache(&relation);
}

}  // namespace

void signal_token_changed(const bytea *digest) {
    auto *bytes = reinterpret_cast<const unsigned char *>(VARDATA_ANY(digest));
    send_signal(pat::signal_slot(pat::SignalKind::token,
                                 pat::token_stripe(bytes, VARSIZE_ANY_EXHDR(digest))));
}

void signal_user_changed(const text *user_id) {
    std::string_view id(VARDATA_ANY(user_id), VARSIZE_ANY_EXHDR(user_id));
    send_signal(pat::signal_slot(pat::SignalKind::user, pat::user_stripe(id)));
}

void signal_everything_changed() {
    note_change(everything_slot());
    CacheInvalidateRelcacheByRelid(tokens_relation());
}

}  // namespace pat::pg
