// The shared generation words; see cache_generations.hpp.
#include "pg/tokens/cache_generations.hpp"

#include "core/cache_signal.hpp"
#include "pg/bridge/shared_memory.hpp"

namespace pat::pg {

namespace {

// Raising a word: one more change counted and one more commit under way; settling it moves the
// commit from the low half to the high half (the low half is at least one, so nothing borrows).
constexpr uint64 kRaise = (uint64{1} << 32) + 1;
constexpr uint64 kSettle = (uint64{1} << 32) - 1;
constexpr uint64 kChanged = uint64{1} << 32;
constexpr uint32 kEverythingSlot = pat::kSignalSlots;
// Past this many slots in one transaction, the change counts as one to everything (as
// cache_signal.cpp does with the signals themselves).
constexpr int kMaxPendingSlots = 1000;

struct GenerationsShared {
    pg_atomic_uint64 words[pat::kSignalSlots + 1];
    slock_t mutex;  // guards the prepared list
    // 1 until the prepared transactions an earlier run of the server left are listed.
    pg_atomic_uint32 prepared_unknown;
    pg_atomic_uint32 prepared_count;
    int prepared_capacity;
    TransactionId prepared[FLEXIBLE_ARRAY_MEMBER];  // prepared transactions that changed something
};

GenerationsShared *shared = nullptr;

uint32 pending_slots[kMaxPendingSlots];
int pending_count = 0;
bool pending_raised = false;

Size shared_size() {
    return add_size(offsetof(GenerationsShared, prepared),
                    mul_size(sizeof(TransactionId), max_prepared_xacts + 1));
}

void attach(void *header, bool first) {
    shared = static_cast<GenerationsShared *>(header);
    if (first) {
        for (auto &word : shared->words) {
            pg_atomic_init_u64(&word, 0);
        }
        SpinLockInit(&shared->mutex);
        pg_atomic_init_u32(&shared->prepared_unknown, max_prepared_xacts > 0 ? 1 : 0);
        pg_atomic_init_u32(&shared->prepared_count, 0);
        shared->prepared_capacity = max_prepared_xacts + 1;
    }
}

void add_to_all_pending(uint64 amount) {
    for (int i = 0; i < pending_count; ++i) {
        pg_atomic_fetch_add_u64(&shared->words[pending_slots[i]], amount);
    }
}

void forget_pending() {
    pending_count = 0;
    pending_raised = false;
}

// Removes prepared transactions no longer in progress from the list, each counted first as a
// change to everything: from then on their outcome is visible to every new snapshot.
void drop_finished_prepared() {
    TransactionId listed[64];
    int count = 0;
    int start = 0;
    do {
        SpinLockAcquire(&shared->mutex);
        int total = static_cast<int>(pg_atomic_read_u32(&shared->prepared_count));
        count = 0;
        for (int i = start; i < total && count < static_cast<int>(lengthof(listed)); ++i) {
            listed[count++] = shared->prepared[i];
        }
        SpinLockRelease(&shared->mutex);
        for (int i = 0; i < count; ++i) {
            if (TransactionIdIsInProgress(listed[i])) {
                continue;
            }
            pg_atomic_fetch_add_u64(&shared->words[kEverythingSlot], kChanged);
            SpinLockAcquire(&shared->mutex);
            uint32 total_now = pg_atomic_read_u32(&shared->prepared_count);
            for (uint32 j = 0; j < total_now; ++j) {
                if (shared->prepared[j] == listed[i]) {
                    shared->prepared[j] = shared->prepared[total_now - 1];
                    pg_atomic_write_u32(&shared->prepared_count, total_now - 1);
                    break;
                }
            }
            SpinLockRelease(&shared->mutex);
        }
        start += count;
    } while (count == static_cast<int>(lengthof(listed)));
}

// Lists xid as a prepared transaction that changed something (once).
void remember_prepared(TransactionId xid) {
    for (int attempt = 0; attempt < 2; ++attempt) {
        SpinLockAcquire(&shared->mutex);
        uint32 total = pg_atomic_read_u32(&shared->prepared_count);
        bool listed = false;
        for (uint32 i = 0; i < total && !listed; ++i) {
            listed = shared->prepared[i] == xid;
        }
        bool added = false;
        if (!listed && total < static_cast<uint32>(shared->prepared_capacity)) {
            shared->prepared[total] = xid;
            pg_atomic_write_u32(&shared->prepared_count, total + 1);
            added = true;
        }
        SpinLockRelease(&shared->mutex);
        if (listed || added) {
            return;
        }
        // At most max_prepared_transactions are prepared at once: the rest have finished.
        drop_finished_prepared();
    }
    elog(ERROR, "pg_pat's list of prepared transactions is full");
}

// Lists the prepared transactions an earlier run of the server left, any of which may have
// changed something (their changes are invisible until they commit).
void list_earlier_prepared() {
    if (SPI_connect() != SPI_OK_CONNECT) {
        elog(ERROR, "pg_pat could not connect to SPI");
    }
    if (SPI_execute("SELECT transaction FROM pg_catalog.pg_prepared_xacts", true, 0) !=
        SPI_OK_SELECT) {
        elog(ERROR, "pg_pat could not list the prepared transactions");
    }
    for (uint64 i = 0; i < SPI_processed; ++i) {
        bool is_null = false;
        Datum xid = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &is_null);
        if (!is_null) {
            remember_prepared(DatumGetTransactionId(xid));
        }
    }
    SPI_finish();
    pg_atomic_write_u32(&shared->prepared_unknown, 0);
}

void on_transaction_event(XactEvent event, void *) {
    if (shared == nullptr) {
        return;
    }
    switch (event) {
        case XACT_EVENT_PRE_COMMIT:
            // Before RecordTransactionCommit and ProcArrayEndTransaction: raised before visible.
            add_to_all_pending(kRaise);
            pending_raised = true;
            break;
        case XACT_EVENT_COMMIT:
        case XACT_EVENT_ABORT:
            // After ProcArrayEndTransaction: the change is visible (or, after an abort that
            // followed the raise, gone); either way entries read before the raise are old.
            if (pending_raised) {
                add_to_all_pending(kSettle);
            }
            forget_pending();
            break;
        case XACT_EVENT_PRE_PREPARE:
            if (pending_count > 0) {
                remember_prepared(GetTopTransactionId());
            }
            break;
        case XACT_EVENT_PREPARE:
            forget_pending();
            break;
        default:
            break;
    }
}

}  // namespace

uint32 everything_slot() {
    return kEverythingSlot;
}

bool shared_generations_usable() {
    return shared != nullptr && !RecoveryInProgress();
}

uint64 slot_word(uint32 slot) {
    pg_memory_barrier();
    return pg_atomic_read_u64(&shared->words[slot]);
}

void read_slot_words(const uint32 *slots, uint64 *words, int count) {
    pg_memory_barrier();
    for (int i = 0; i < count; ++i) {
        words[i] = pg_atomic_read_u64(&shared->words[slots[i]]);
    }
}

void note_change(uint32 slot) {
    if (pending_count > 0 && pending_slots[pending_count - 1] == slot) {
        return;
    }
    if (pending_count == kMaxPendingSlots) {
        if (pending_slots[kMaxPendingSlots - 1] == kEverythingSlot) {
            return;
        }
        slot = kEverythingSlot;
        --pending_count;
    }
    // Noted once raised would not be settled: only a callback at commit could get here, and
    // what it changes was visible to no one before.
    if (!pending_raised) {
        pending_slots[pending_count++] = slot;
    }
}

bool changes_pending() {
    return pending_count > 0;
}

void settle_prepared() {
    if (pg_atomic_read_u32(&shared->prepared_unknown) != 0) {
        list_earlier_prepared();
    }
    if (pg_atomic_read_u32(&shared->prepared_count) != 0) {
        drop_finished_prepared();
    }
}

void setup_cache_generations() {
    add_shared_part({shared_size(), nullptr, attach});
    RegisterXactCallback(on_transaction_event, nullptr);
}

}  // namespace pat::pg
