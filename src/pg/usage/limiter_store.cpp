// The shared-memory limiter; see limiter_store.hpp.
//
// A partitioned dynahash with one LWLock per partition, as the usage store: a check locks the
// partitions of its token's and its user's entries (in partition order, so two checks never wait
// for each other in a cycle) for the few hundred nanoseconds a decision takes. Checks of
// different tokens rarely meet; checks of one token queue on its partition's lock, which is held
// for no longer than the decision.
#include "pg/usage/limiter_store.hpp"

#include <cstdio>

#include "pg/bridge/shared_memory.hpp"
#include "pg/settings.hpp"

namespace pat::pg {

namespace {

constexpr int kPartitions = 16;  // a power of two, as dynahash requires
constexpr const char *kTrancheName = "pg_pat limiter";
// A check that found the store full sweeps it for entries it can forget at most this often;
// in between, such checks are refused at once rather than each scanning the whole store.
constexpr int64 kSweepEveryMicros = 10 * 1000;
// What a check refused for want of room is told to wait: the next sweep (or the usage worker
// writing balances out) may make room by then.
constexpr int64 kFullRetryMicros = 1000 * 1000;
// At a clean shutdown the postmaster saves every entry (as the usage store saves usage), so a
// clean restart forgets no window and no unwritten spending; only a crash does.
#define PAT_LIMITER_FILE PGSTAT_STAT_PERMANENT_DIRECTORY "/pg_pat_limiter.stat"
constexpr const char *kSaveFile = PAT_LIMITER_FILE;
constexpr const char *kSaveTempFile = PAT_LIMITER_FILE ".tmp";
constexpr uint32 kSaveMagic = 0x5041544d;  // "PATM"
constexpr uint32 kSaveVersion = 1;

enum class EntryKind : uint8 { token = 1, user = 2 };

struct LimiterKey {
    Oid database;
    EntryKind kind;
    // token: its id; user: 128 bits of hash of the user id. Two users whose ids hash alike share
    // one window: stricter, never looser.
    pg_uuid_t id;
};

struct LimiterEntry {
    LimiterKey key;  // the hash key: must stay first
    // The rate limit the state was computed for (requests 0: none).
    pat::RateLimit limit;
    pat::RateState rate;
    // The budget (token entries only).
    bool has_credits;
    int64 credits_version;
    pat::CreditPlan plan;
    pat::CreditBalance balance;
    int64 unwritten;  // spent since the last write was taken
    int64 writing;    // spent, taken by a write that has not committed yet
};

struct LimiterShared {
    LWLockPadded *locks;
    pg_atomic_uint32 entries;
    pg_atomic_uint64 full_refusals;
    pg_atomic_uint64 last_sweep;  // TimestampTz as uint64
};

LimiterShared *shared = nullptr;
HTAB *limiter_table = nullptr;

long capacity() {
    return rate_limit_max_entries();
}

LWLock *partition_lock(uint32 hash) {
    return &shared->locks[hash % kPartitions].lock;
}

LimiterKey token_key(const pg_uuid_t &token_id) {
    LimiterKey key;
    memset(&key, 0, sizeof(key));
    key.database = MyDatabaseId;
    key.kind = EntryKind::token;
    key.id = token_id;
    return key;
}

LimiterKey user_key(const char *user_id, int length) {
    LimiterKey key;
    memset(&key, 0, sizeof(key));
    key.database = MyDatabaseId;
    key.kind = EntryKind::user;
    uint64 halves[2] = {
        hash_bytes_extended(reinterpret_cast<const unsigned char *>(user_id), length, 0),
        hash_bytes_extended(reinterpret_cast<const unsigned char *>(user_id), length, 1)};
    static_assert(sizeof(halves) == sizeof(key.id.data));
    memcpy(key.id.data, halves, sizeof(halves));
    return key;
}

// Whether forgetting entry lets no check through that it would refuse: its bucket is full
// again and its balance is all written out.
bool forgettable(const LimiterEntry &entry, int64 now) {
    bool rate_idle =
        entry.limit.requests == 0 || pat::rate_state_idle(entry.limit, entry.rate, now);
    bool credits_written = !entry.has_credits || (entry.unwritten == 0 && entry.writing == 0);
    return rate_idle && credits_written;
}

// Under the key's partition lock: its entry, made fresh if needed; nullptr when the store is
// full.
LimiterEntry *find_or_make(const LimiterKey &key, uint32 hash) {
    auto *entry = static_cast<LimiterEntry *>(
        hash_search_with_hash_value(limiter_table, &key, hash, HASH_FIND, nullptr));
    if (entry != nullptr) {
        return entry;
    }
    if (pg_atomic_read_u32(&shared->entries) >= uint32(capacity())) {
        return nullptr;
    }
    bool found = false;
    entry = static_cast<LimiterEntry *>(
        hash_search_with_hash_value(limiter_table, &key, hash, HASH_ENTER_NULL, &found));
    if (entry == nullptr) {
        return nullptr;
    }
    pg_atomic_add_fetch_u32(&shared->entries, 1);
    entry->limit = pat::RateLimit{};
    entry->rate = pat::RateState{};
    entry->has_credits = false;
    entry->credits_version = 0;
    entry->plan = pat::CreditPlan{};
    entry->balance = pat::CreditBalance{};
    entry->unwritten = 0;
    entry->writing = 0;
    return entry;
}

// Brings entry's limit to limit: a different limit starts from a fresh state.
void adopt_limit(LimiterEntry *entry, const std::optional<pat::RateLimit> &limit) {
    pat::RateLimit wanted = limit.value_or(pat::RateLimit{});
    if (entry->limit.requests != wanted.requests || entry->limit.per != wanted.per) {
        entry->limit = wanted;
        entry->rate = pat::RateState{};
    }
}

// Brings entry's budget to the stored one: a new version starts from the stored balance.
void adopt_credits(LimiterEntry *entry, const std::optional<StoredCredits> &credits) {
    if (!credits) {
        entry->has_credits = false;
        entry->unwritten = 0;
        entry->writing = 0;
        return;
    }
    if (!entry->has_credits || entry->credits_version != credits->version) {
        entry->has_credits = true;
        entry->credits_version = credits->version;
        entry->plan = credits->plan;
        entry->balance = credits->balance;
        entry->unwritten = 0;
        entry->writing = 0;
    }
}

// Forgets every entry that can be forgotten, at most once per kSweepEveryMicros; whether it
// swept.
bool sweep(int64 now) {
    uint64 last = pg_atomic_read_u64(&shared->last_sweep);
    if (static_cast<int64>(last) > now - kSweepEveryMicros ||
        !pg_atomic_compare_exchange_u64(&shared->last_sweep, &last, static_cast<uint64>(now))) {
        return false;
    }
    for (int i = 0; i < kPartitions; ++i) {
        LWLockAcquire(&shared->locks[i].lock, LW_EXCLUSIVE);
    }
    HASH_SEQ_STATUS scan;
    hash_seq_init(&scan, limiter_table);
    while (auto *entry = static_cast<LimiterEntry *>(hash_seq_search(&scan))) {
        if (forgettable(*entry, now)) {
            hash_search(limiter_table, &entry->key, HASH_REMOVE, nullptr);
            pg_atomic_sub_fetch_u32(&shared->entries, 1);
        }
    }
    for (int i = kPartitions - 1; i >= 0; --i) {
        LWLockRelease(&shared->locks[i].lock);
    }
    return true;
}

// The locks of up to two partitions, taken in partition order, each once.
class PartitionLocks {
  public:
    PartitionLocks(uint32 first_hash, std::optional<uint32> second_hash) {
        int a = first_hash % kPartitions;
        int b = second_hash ? int(*second_hash % kPartitions) : a;
        count_ = a == b ? 1 : 2;
        indexes_[0] = std::min(a, b);
        indexes_[1] = std::max(a, b);
        for (int i = 0; i < count_; ++i) {
            LWLockAcquire(&shared->locks[indexes_[i]].lock, LW_EXCLUSIVE);
        }
    }
    ~PartitionLocks() {
        for (int i = count_ - 1; i >= 0; --i) {
            LWLockRelease(&shared->locks[indexes_[i]].lock);
        }
    }
    PartitionLocks(const PartitionLocks &) = delete;
    PartitionLocks &operator=(const PartitionLocks &) = delete;

  private:
    int indexes_[2] = {0, 0};
    int count_ = 0;
};

// One attempt at deciding; false when an entry could not be made (outcome untouched).
bool try_enforce(const LimitsToEnforce &limits, int64 now, LimitOutcome *outcome) {
    bool token_entry_needed = limits.token_limit.has_value() || limits.credits.has_value();
    bool user_entry_needed = limits.user_limit.has_value();
    LimiterKey tkey = token_key(limits.token_id);
    uint32 thash = get_hash_value(limiter_table, &tkey);
    std::optional<LimiterKey> ukey;
    std::optional<uint32> uhash;
    if (user_entry_needed) {
        ukey = user_key(limits.user_id, limits.user_id_length);
        uhash = get_hash_value(limiter_table, &*ukey);
    }
    // LWLockAcquire only errors when too many locks are held (never with two), so the C++
    // object's destructor is not skipped by a longjmp.
    PartitionLocks locks(token_entry_needed ? thash : *uhash, uhash);
    LimiterEntry *token = nullptr;
    LimiterEntry *user = nullptr;
    if (token_entry_needed && (token = find_or_make(tkey, thash)) == nullptr) {
        return false;
    }
    if (user_entry_needed && (user = find_or_make(*ukey, *uhash)) == nullptr) {
        return false;
    }
    if (token != nullptr && limits.credits && !limits.balance_known &&
        (!token->has_credits || token->credits_version != limits.credits->version)) {
        outcome->verdict = LimitVerdict::balance_needed;
        return true;
    }
    pat::RateDecision token_rate;
    token_rate.allowed = true;
    if (token != nullptr) {
        adopt_limit(token, limits.token_limit);
        adopt_credits(token, limits.credits);
        if (limits.token_limit) {
            token_rate = pat::decide_rate(token->limit, token->rate, now);
        }
    }
    pat::RateDecision user_rate;
    user_rate.allowed = true;
    if (user != nullptr) {
        adopt_limit(user, limits.user_limit);
        user_rate = pat::decide_rate(user->limit, user->rate, now);
    }
    if (!token_rate.allowed || !user_rate.allowed) {
        outcome->verdict = LimitVerdict::rate_limited;
        outcome->retry_after = std::max(token_rate.retry_after, user_rate.retry_after);
    } else {
        if (token != nullptr && limits.token_limit) {
            token->rate = token_rate.next;
        }
        if (user != nullptr) {
            user->rate = user_rate.next;
        }
        outcome->verdict = LimitVerdict::allowed;
    }
    if (token != nullptr && token->has_credits) {
        if (outcome->verdict == LimitVerdict::allowed) {
            if (pat::spend_credit(token->plan, &token->balance, now)) {
                ++token->unwritten;
            } else {
                outcome->verdict = LimitVerdict::usage_exceeded;
            }
        } else {
            token->balance = pat::balance_at(token->plan, token->balance, now);
        }
        outcome->remaining = token->balance.remaining;
    }
    return true;
}

// Postmaster, at a clean shutdown: saves every entry. Nothing else runs then.
void save_entries(int code, Datum) {
    if (code != 0 || shared == nullptr) {
        return;  // a crash: shared memory may not be sound
    }
    FILE *file = AllocateFile(kSaveTempFile, PG_BINARY_W);
    if (file == nullptr) {
        ereport(LOG, (errcode_for_file_access(),
                      errmsg("pg_pat could not write limiter file \"%s\": %m", kSaveTempFile)));
        return;
    }
    uint32 header[4] = {kSaveMagic, kSaveVersion, uint32(hash_get_num_entries(limiter_table)),
                        uint32(sizeof(LimiterEntry))};
    bool ok = fwrite(header, sizeof(header), 1, file) == 1;
    HASH_SEQ_STATUS scan;
    hash_seq_init(&scan, limiter_table);
    while (auto *entry = static_cast<LimiterEntry *>(hash_seq_search(&scan))) {
        LimiterEntry saved = *entry;
        saved.unwritten += saved.writing;  // a write that never committed
        saved.writing = 0;
        ok = ok && fwrite(&saved, sizeof(saved), 1, file) == 1;
    }
    ok = FreeFile(file) == 0 && ok;
    if (!ok || rename(kSaveTempFile, kSaveFile) != 0) {
        ereport(LOG, (errcode_for_file_access(),
                      errmsg("pg_pat could not write limiter file \"%s\": %m", kSaveFile)));
        unlink(kSaveTempFile);
    }
}

// Postmaster, at start: loads what the last clean shutdown saved, then removes the file so a
// later crash cannot load it twice (a crash restarts from the balances written out).
void load_saved() {
    FILE *file = AllocateFile(kSaveFile, PG_BINARY_R);
    if (file == nullptr) {
        return;
    }
    uint32 header[4] = {};
    if (fread(header, sizeof(header), 1, file) == 1 && header[0] == kSaveMagic &&
        header[1] == kSaveVersion && header[3] == sizeof(LimiterEntry)) {
        LimiterEntry saved;
        for (uint32 i = 0; i < header[2] && fread(&saved, sizeof(saved), 1, file) == 1; ++i) {
            uint32 hash = get_hash_value(limiter_table, &saved.key);
            LimiterEntry *entry = find_or_make(saved.key, hash);
            if (entry == nullptr) {
                ereport(LOG, (errmsg("pg_pat could not load all saved limiter state: "
                                     "pat.rate_limit_max_entries is smaller than before")));
                break;
            }
            *entry = saved;
        }
    } else {
        ereport(LOG, (errmsg("pg_pat ignored limiter file \"%s\": not written by this version",
                             kSaveFile)));
    }
    FreeFile(file);
    unlink(kSaveFile);
}

void request_table() {
    RequestAddinShmemSpace(hash_estimate_size(capacity(), sizeof(LimiterEntry)));
    RequestNamedLWLockTranche(kTrancheName, kPartitions);
}

void attach_store(void *header, bool first) {
    shared = static_cast<LimiterShared *>(header);
    if (first) {
        shared->locks = GetNamedLWLockTranche(kTrancheName);
        pg_atomic_init_u32(&shared->entries, 0);
        pg_atomic_init_u64(&shared->full_refusals, 0);
        pg_atomic_init_u64(&shared->last_sweep, static_cast<uint64>(PG_INT64_MIN));
    }
    HASHCTL control = {};
    control.keysize = sizeof(LimiterKey);
    control.entrysize = sizeof(LimiterEntry);
    control.num_partitions = kPartitions;
    limiter_table = ShmemInitHash("pg_pat limiter table", capacity(), capacity(), &control,
                                  HASH_ELEM | HASH_BLOBS | HASH_PARTITION | HASH_FIXED_SIZE);
    // As the usage store: nothing under pg_upgrade, where the file stays for the new cluster.
    if (!IsUnderPostmaster && !IsBinaryUpgrade) {
        on_shmem_exit(save_entries, 0);
        if (first) {
            load_saved();
        }
    }
}

void forget(const LimiterKey &key) {
    uint32 hash = get_hash_value(limiter_table, &key);
    LWLock *lock = partition_lock(hash);
    LWLockAcquire(lock, LW_EXCLUSIVE);
    if (hash_search_with_hash_value(limiter_table, &key, hash, HASH_REMOVE, nullptr) != nullptr) {
        pg_atomic_sub_fetch_u32(&shared->entries, 1);
    }
    LWLockRelease(lock);
}

}  // namespace

void setup_limiter_store() {
    add_shared_part({sizeof(LimiterShared), request_table, attach_store});
}

LimitOutcome enforce_limits(const LimitsToEnforce &limits, TimestampTz now) {
    LimitOutcome outcome;
    if (limiter_table == nullptr ||
        (!limits.token_limit && !limits.user_limit && !limits.credits)) {
        return outcome;
    }
    if (try_enforce(limits, now, &outcome)) {
        return outcome;
    }
    if (sweep(now) && try_enforce(limits, now, &outcome)) {
        return outcome;
    }
    // Fail closed: a limited token is never let through unlimited.
    pg_atomic_fetch_add_u64(&shared->full_refusals, 1);
    wake_launcher();
    outcome.verdict = LimitVerdict::rate_limited;
    outcome.retry_after = kFullRetryMicros;
    return outcome;
}

std::optional<std::int64_t> current_credits(const pg_uuid_t &token_id, const StoredCredits &stored,
                                            TimestampTz now) {
    if (limiter_table == nullptr) {
        return std::nullopt;
    }
    LimiterKey key = token_key(token_id);
    uint32 hash = get_hash_value(limiter_table, &key);
    LWLock *lock = partition_lock(hash);
    LWLockAcquire(lock, LW_SHARED);
    auto *entry = static_cast<LimiterEntry *>(
        hash_search_with_hash_value(limiter_table, &key, hash, HASH_FIND, nullptr));
    std::optional<std::int64_t> remaining;
    if (entry != nullptr && entry->has_credits && entry->credits_version == stored.version) {
        remaining = pat::balance_at(entry->plan, entry->balance, now).remaining;
    }
    LWLockRelease(lock);
    return remaining;
}

void forget_token_limits(const pg_uuid_t &token_id) {
    if (limiter_table != nullptr) {
        forget(token_key(token_id));
    }
}

void forget_user_limit(const char *user_id, int user_id_length) {
    if (limiter_table != nullptr) {
        forget(user_key(user_id, user_id_length));
    }
}

int take_unwritten_credits(UnwrittenCredits *out, int max) {
    int n = 0;
    for (int i = 0; i < kPartitions; ++i) {
        LWLockAcquire(&shared->locks[i].lock, LW_EXCLUSIVE);
    }
    HASH_SEQ_STATUS scan;
    hash_seq_init(&scan, limiter_table);
    while (auto *entry = static_cast<LimiterEntry *>(hash_seq_search(&scan))) {
        if (entry->key.database != MyDatabaseId || entry->key.kind != EntryKind::token ||
            !entry->has_credits || entry->unwritten == 0 || n == max) {
            continue;
        }
        out[n].token_id = entry->key.id;
        out[n].version = entry->credits_version;
        out[n].balance = entry->balance;
        out[n].spent = entry->unwritten;
        entry->writing += entry->unwritten;
        entry->unwritten = 0;
        ++n;
    }
    for (int i = kPartitions - 1; i >= 0; --i) {
        LWLockRelease(&shared->locks[i].lock);
    }
    return n;
}

void finish_credit_write(const UnwrittenCredits *credits, int count, bool committed) {
    for (int i = 0; i < count; ++i) {
        LimiterKey key = token_key(credits[i].token_id);
        uint32 hash = get_hash_value(limiter_table, &key);
        LWLock *lock = partition_lock(hash);
        LWLockAcquire(lock, LW_EXCLUSIVE);
        auto *entry = static_cast<LimiterEntry *>(
            hash_search_with_hash_value(limiter_table, &key, hash, HASH_FIND, nullptr));
        if (entry != nullptr && entry->has_credits &&
            entry->credits_version == credits[i].version) {
            entry->writing = std::max<int64>(0, entry->writing - credits[i].spent);
            if (!committed) {
                entry->unwritten += credits[i].spent;
            }
        }
        LWLockRelease(lock);
    }
}

uint64 take_limiter_full_refusals() {
    return pg_atomic_exchange_u64(&shared->full_refusals, 0);
}

LimiterStats limiter_stats() {
    LimiterStats stats{0, capacity()};
    if (shared != nullptr) {
        stats.entries = pg_atomic_read_u32(&shared->entries);
    }
    return stats;
}

}  // namespace pat::pg
