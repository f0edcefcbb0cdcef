// The shared-memory usage table; see usage_store.hpp.
//
// A partitioned dynahash with one LWLock per partition, as PostgreSQL's lock manager does: a
// check locks one partition for a few hundred nanoseconds, so validating backends rarely meet.
// At a clean shutdown the postmaster saves pending entries to pg_stat/pg_pat_usage.stat and the
// next start loads them (as pg_stat_statements does), so only a crash loses usage: what was
// counted since the last flush.
#include "pg/usage/usage_store.hpp"

#include <cstdio>
#include <optional>

#include "pg/bridge/schema_version.hpp"
#include "pg/bridge/spi_support.hpp"
#include "pg/settings.hpp"
#include "pg/bridge/shared_memory.hpp"

namespace pat::pg {

namespace {

constexpr int kPartitions = 16;  // a power of two, as dynahash requires
constexpr const char *kTrancheName = "pg_pat usage";
// Entries kept beyond pat.usage_max_entries for database-wide counts, which are therefore
// always kept (up to this many database-days).
constexpr int kDatabaseWideReserve = 1024;
#define PAT_USAGE_FILE PGSTAT_STAT_PERMANENT_DIRECTORY "/pg_pat_usage.stat"
constexpr const char *kSaveFile = PAT_USAGE_FILE;
constexpr const char *kSaveTempFile = PAT_USAGE_FILE ".tmp";
constexpr uint32 kSaveMagic = 0x50415455;  // "PATU"
// Version 1 held entries with six outcomes; version 2 says how many each entry holds. Outcomes
// are only ever added at the end (usage.hpp), so a file with fewer loads into the first ones.
// Version 3 adds each entry's recent client addresses after its outcomes (how many per entry in
// the header); a file of version 1 or 2 loads with none.
constexpr uint32 kSaveVersion = 3;
constexpr uint32 kOutcomesOnlyVersion = 2;
constexpr uint32 kFirstOutcomeCount = 6;
// One address as saved: its last use, its family (4 or 6) and its 16 bytes.
constexpr size_t kSavedAddressSize = sizeof(int64) + 1 + 16;
constexpr int32 kNoPendingDay = PG_INT32_MAX;
constexpr int64 kNoLostUse = PG_INT64_MIN;
// After the entries, the save file holds the latest lost use (a file without it is read as
// having none).
constexpr uint32 kLostUseMagic = 0x5041544c;  // "PATL"

struct UsageShared {
    LWLockPadded *locks;
    pg_atomic_uint32 token_entries;  // entries that name a token
    pg_atomic_uint64 lost_checks;
    pg_atomic_uint64 unattributed_checks;  // of tokens, counted for their database: table full
    pg_atomic_uint64 latest_lost_use;      // TimestampTz as uint64; kNoLostUse when none
    pg_atomic_uint32 oldest_day;           // int32 day stored as uint32
    pg_atomic_uint32 flush_requested;      // 1 from a request to flush early until a round takes it
};

UsageShared *shared = nullptr;
HTAB *usage_table = nullptr;

long table_capacity() {
    return static_cast<long>(usage_max_entries()) + kDatabaseWideReserve;
}

LWLock *partition_lock(uint32 hash) {
    return &shared->locks[hash % kPartitions].lock;
}

void lock_all(LWLockMode mode) {
    for (int i = 0; i < kPartitions; ++i) {
        LWLockAcquire(&shared->locks[i].lock, mode);
    }
}

void unlock_all() {
    for (int i = kPartitions - 1; i >= 0; --i) {
        LWLockRelease(&shared->locks[i].lock);
    }
}

void wake_flusher() {
    pg_atomic_write_u32(&shared->flush_requested, 1);
    wake_launcher();
}

// Remembers that a valid check at used_at could be kept nowhere.
void raise_latest_lost_use(int64 used_at) {
    uint64 seen = pg_atomic_read_u64(&shared->latest_lost_use);
    while (used_at > static_cast<int64>(seen) &&
           !pg_atomic_compare_exchange_u64(&shared->latest_lost_use, &seen,
                                           static_cast<uint64>(used_at))) {
    }
}

void lower_oldest_day(int32 day) {
    uint32 seen = pg_atomic_read_u32(&shared->oldest_day);
    while (day < static_cast<int32>(seen) &&
           !pg_atomic_compare_exchange_u32(&shared->oldest_day, &seen, static_cast<uint32>(day))) {
    }
}

// Merges tally into key's entry, creating it if needed. A token's entry that does not fit goes
// to its database-wide entry; one that fits nowhere is counted as lost. locked: take the
// partition lock (false only while the postmaster loads the save file, alone).
void add(UsageKey key, const pat::UsageTally &tally, bool locked) {
    uint32 hash = get_hash_value(usage_table, &key);
    LWLock *lock = partition_lock(hash);
    if (locked) {
        LWLockAcquire(lock, LW_EXCLUSIVE);
    }
    auto *entry = static_cast<UsageEntry *>(
        hash_search_with_hash_value(usage_table, &key, hash, HASH_FIND, nullptr));
    bool names_token = !is_database_wide(key);
    bool full = false;
    if (entry == nullptr) {
        if (names_token &&
            pg_atomic_read_u32(&shared->token_entries) >= uint32(usage_max_entries())) {
            full = true;
        } else {
            bool found = false;
            entry = static_cast<UsageEntry *>(
                hash_search_with_hash_value(usage_table, &key, hash, HASH_ENTER_NULL, &found));
            if (entry != nullptr) {
                entry->tally = pat::UsageTally{};
                if (names_token) {
                    uint32 now_held = pg_atomic_add_fetch_u32(&shared->token_entries, 1);
                    // Three quarters full: ask for a flush before checks stop fitting.
                    if (locked && now_held == uint32(usage_max_entries()) * 3 / 4) {
                        wake_flusher();
                    }
                }
                lower_oldest_day(key.day);
            }
        }
    }
    if (entry != nullptr) {
        entry->tally.merge(tally);
    }
    if (locked) {
        LWLockRelease(lock);
    }
    if (entry != nullptr) {
        return;
    }
    if (full) {
        // Kept for the database, without the token: counted, not dropped. Its last use goes
        // with it, so pat.max_inactivity can tell that some token was used (inactivity.hpp).
        // The first such check since the last report asks for a flush, to make room.
        uint64 before = pg_atomic_fetch_add_u64(&shared->unattributed_checks, tally.total());
        if (locked && before == 0) {
            wake_flusher();
        }
        memset(&key.token_id, 0, sizeof(key.token_id));
        pat::UsageTally counted = tally;
        counted.addresses = {};  // a token's, not the database's
        add(key, counted, locked);
        return;
    }
    pg_atomic_fetch_add_u64(&shared->lost_checks, tally.total());
    if (tally.has_last_used()) {
        raise_latest_lost_use(tally.last_used);
    }
    if (locked) {
        wake_flusher();
    }
}

// One address slot in the save file's layout, whatever the struct's padding.
void save_address(const pat::RecentAddress &slot, char *saved) {
    memcpy(saved, &slot.last_used, sizeof(int64));
    saved[sizeof(int64)] = static_cast<char>(slot.address.family);
    memcpy(saved + sizeof(int64) + 1, slot.address.bytes, 16);
}

// Notes a saved address slot in tally; an empty or unknown one is skipped.
void load_address(const char *saved, pat::UsageTally *tally) {
    pat::RecentAddress slot;
    memcpy(&slot.last_used, saved, sizeof(int64));
    auto family = static_cast<uint8>(saved[sizeof(int64)]);
    if (slot.empty() || (family != 4 && family != 6)) {
        return;
    }
    slot.address.family = static_cast<pat::AddressFamily>(family);
    memcpy(slot.address.bytes, saved + sizeof(int64) + 1, 16);
    tally->note_address(slot.address, slot.last_used);
}

// Postmaster, at a clean shutdown: saves every pending entry. Nothing else runs then.
void save_pending(int code, Datum) {
    if (code != 0 || shared == nullptr) {
        return;  // a crash: shared memory may not be sound
    }
    FILE *file = AllocateFile(kSaveTempFile, PG_BINARY_W);
    if (file == nullptr) {
        ereport(LOG, (errcode_for_file_access(),
                      errmsg("pg_pat could not write usage file \"%s\": %m", kSaveTempFile)));
        return;
    }
    uint32 header[5] = {kSaveMagic, kSaveVersion, uint32(hash_get_num_entries(usage_table)),
                        uint32(pat::kOutcomeCount), uint32(pat::kRecentAddressCount)};
    bool ok = fwrite(header, sizeof(header), 1, file) == 1;
    HASH_SEQ_STATUS scan;
    hash_seq_init(&scan, usage_table);
    while (auto *entry = static_cast<UsageEntry *>(hash_seq_search(&scan))) {
        ok = ok && fwrite(&entry->key, sizeof(entry->key), 1, file) == 1 &&
             fwrite(&entry->tally.last_used, sizeof(entry->tally.last_used), 1, file) == 1 &&
             fwrite(entry->tally.checks.data(), sizeof(uint64), pat::kOutcomeCount, file) ==
                 size_t(pat::kOutcomeCount);
        for (const pat::RecentAddress &slot : entry->tally.addresses) {
            char saved[kSavedAddressSize];
            save_address(slot, saved);
            ok = ok && fwrite(saved, sizeof(saved), 1, file) == 1;
        }
    }
    int64 lost_use = static_cast<int64>(pg_atomic_read_u64(&shared->latest_lost_use));
    if (lost_use != kNoLostUse) {
        uint32 trailer = kLostUseMagic;
        ok = ok && fwrite(&trailer, sizeof(trailer), 1, file) == 1 &&
             fwrite(&lost_use, sizeof(lost_use), 1, file) == 1;
    }
    ok = FreeFile(file) == 0 && ok;
    if (!ok || rename(kSaveTempFile, kSaveFile) != 0) {
        ereport(LOG, (errcode_for_file_access(),
                      errmsg("pg_pat could not write usage file \"%s\": %m", kSaveFile)));
        unlink(kSaveTempFile);
    }
}

// Postmaster, at start: loads what the last clean shutdown saved, then removes the file so a
// later crash cannot load it twice.
void load_saved() {
    FILE *file = AllocateFile(kSaveFile, PG_BINARY_R);
    if (file == nullptr) {
        return;
    }
    // magic, version, entries, outcomes per entry, addresses per entry.
    uint32 header[5] = {};
    bool known = fread(header, sizeof(uint32), 3, file) == 3 && header[0] == kSaveMagic;
    if (known && header[1] == 1) {
        header[3] = kFirstOutcomeCount;
    } else if (known && header[1] == kOutcomesOnlyVersion) {
        known = fread(&header[3], sizeof(uint32), 1, file) == 1 &&
                header[3] <= uint32(pat::kOutcomeCount);
    } else if (known && header[1] == kSaveVersion) {
        known = fread(&header[3], sizeof(uint32), 2, file) == 2 &&
                header[3] <= uint32(pat::kOutcomeCount) && header[4] <= 64;
    } else {
        known = false;
    }
    if (known) {
        // Each entry as written: key, last use, then header[3] outcome counts (version 1 wrote
        // the whole struct, whose padding after the key is the same), then header[4] addresses.
        uint64 checks[pat::kOutcomeCount];
        UsageEntry entry;
        for (uint32 i = 0; i < header[2]; ++i) {
            entry.tally = pat::UsageTally{};
            if (fread(&entry.key, offsetof(UsageEntry, tally), 1, file) != 1 ||
                fread(&entry.tally.last_used, sizeof(int64), 1, file) != 1 ||
                fread(checks, sizeof(uint64), header[3], file) != header[3]) {
                break;
            }
            memcpy(entry.tally.checks.data(), checks, sizeof(uint64) * header[3]);
            bool whole = true;
            for (uint32 a = 0; a < header[4] && whole; ++a) {
                char saved[kSavedAddressSize];
                whole = fread(saved, sizeof(saved), 1, file) == 1;
                if (whole) {
                    load_address(saved, &entry.tally);
                }
            }
            if (!whole) {
                break;
            }
            add(entry.key, entry.tally, false);
        }
        uint32 trailer = 0;
        int64 lost_use = kNoLostUse;
        if (fread(&trailer, sizeof(trailer), 1, file) == 1 && trailer == kLostUseMagic &&
            fread(&lost_use, sizeof(lost_use), 1, file) == 1) {
            raise_latest_lost_use(lost_use);
        }
    } else {
        ereport(LOG, (errmsg("pg_pat ignored usage file \"%s\": not written by this version",
                             kSaveFile)));
    }
    FreeFile(file);
    unlink(kSaveFile);
}

// The table beside the segment, and the locks of its partitions.
void request_table() {
    RequestAddinShmemSpace(hash_estimate_size(table_capacity(), sizeof(UsageEntry)));
    RequestNamedLWLockTranche(kTrancheName, kPartitions);
}

void attach_store(void *header, bool first) {
    shared = static_cast<UsageShared *>(header);
    if (first) {
        shared->locks = GetNamedLWLockTranche(kTrancheName);
        pg_atomic_init_u32(&shared->token_entries, 0);
        pg_atomic_init_u64(&shared->lost_checks, 0);
        pg_atomic_init_u64(&shared->unattributed_checks, 0);
        pg_atomic_init_u64(&shared->latest_lost_use, static_cast<uint64>(kNoLostUse));
        pg_atomic_init_u32(&shared->oldest_day, static_cast<uint32>(kNoPendingDay));
        pg_atomic_init_u32(&shared->flush_requested, 0);
    }
    HASHCTL control = {};
    control.keysize = sizeof(UsageKey);
    control.entrysize = sizeof(UsageEntry);
    control.num_partitions = kPartitions;
    usage_table = ShmemInitHash("pg_pat usage table", table_capacity(), table_capacity(), &control,
                                HASH_ELEM | HASH_BLOBS | HASH_PARTITION | HASH_FIXED_SIZE);
    // Under pg_upgrade (binary-upgrade mode) nothing is counted or written out, and the file saved
    // at the last clean shutdown stays where it is, to be carried to the new cluster (README,
    // "Upgrading PostgreSQL itself").
    if (!IsUnderPostmaster && !IsBinaryUpgrade) {
        on_shmem_exit(save_pending, 0);
        if (first) {
            load_saved();
        }
    }
}

}  // namespace

bool is_database_wide(const UsageKey &key) {
    static const pg_uuid_t zero = {};
    return memcmp(&key.token_id, &zero, sizeof(zero)) == 0;
}

void setup_usage_store() {
    add_shared_part({sizeof(UsageShared), request_table, attach_store});
}

bool usage_kept_here() {
    return schema_has(pat::schema_since::kTokenChecks);
}

void count_check(const pg_uuid_t *token_id, pat::TokenStatus status, TimestampTz now,
                 const pat::IpAddress *address) {
    if (usage_table == nullptr) {
        return;  // only when not preloaded, and then no function runs
    }
    if (!usage_kept_here()) {
        return;  // it would stay in shared memory for good
    }
    UsageKey key = {};
    key.database = MyDatabaseId;
    key.day = pat::day_of(now);
    if (token_id != nullptr && pat::outcome_names_token(status)) {
        key.token_id = *token_id;
    }
    // An address is a token's: checks counted for the whole database keep none.
    if (is_database_wide(key)) {
        address = nullptr;
    }
    // Counted straight into its entry when it has one, as nearly every check of a token does;
    // the first check of a token's day makes the entry through add(), which also knows where a
    // check goes that does not fit.
    uint32 hash = get_hash_value(usage_table, &key);
    LWLock *lock = partition_lock(hash);
    LWLockAcquire(lock, LW_EXCLUSIVE);
    auto *entry = static_cast<UsageEntry *>(
        hash_search_with_hash_value(usage_table, &key, hash, HASH_FIND, nullptr));
    if (entry != nullptr) {
        entry->tally.count(status, now, address);
    }
    LWLockRelease(lock);
    if (entry == nullptr) {
        pat::UsageTally one;
        one.count(status, now, address);
        add(key, one, true);
    }
}

UsageEntry *take_pending(Oid database, MemoryContext memory, int *count) {
    lock_all(LW_EXCLUSIVE);
    long held = hash_get_num_entries(usage_table);
    auto *taken = static_cast<UsageEntry *>(
        MemoryContextAllocExtended(memory, sizeof(UsageEntry) * (held + 1), MCXT_ALLOC_NO_OOM));
    int n = 0;
    if (taken != nullptr) {
        HASH_SEQ_STATUS scan;
        hash_seq_init(&scan, usage_table);
        while (auto *entry = static_cast<UsageEntry *>(hash_seq_search(&scan))) {
            if (entry->key.database != database) {
                continue;
            }
            taken[n++] = *entry;
            if (!is_database_wide(entry->key)) {
                pg_atomic_sub_fetch_u32(&shared->token_entries, 1);
            }
            hash_search(usage_table, &entry->key, HASH_REMOVE, nullptr);
        }
        if (hash_get_num_entries(usage_table) == 0) {
            pg_atomic_write_u32(&shared->oldest_day, static_cast<uint32>(kNoPendingDay));
        }
    }
    unlock_all();
    if (taken == nullptr) {
        ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory"),
                        errdetail("pg_pat could not take %ld pending usage entries.", held)));
    }
    *count = n;
    return taken;
}

void put_back(const UsageEntry *entries, int count) {
    for (int i = 0; i < count; ++i) {
        add(entries[i].key, entries[i].tally, true);
    }
}

bool pending_tally(Oid database, const pg_uuid_t &token_id, int32 day, pat::UsageTally *tally) {
    UsageKey key = {};
    key.database = database;
    key.day = day;
    key.token_id = token_id;
    uint32 hash = get_hash_value(usage_table, &key);
    LWLock *lock = partition_lock(hash);
    LWLockAcquire(lock, LW_SHARED);
    auto *entry = static_cast<UsageEntry *>(
        hash_search_with_hash_value(usage_table, &key, hash, HASH_FIND, nullptr));
    if (entry != nullptr) {
        *tally = entry->tally;
    }
    LWLockRelease(lock);
    return entry != nullptr;
}

int32 oldest_pending_day() {
    return static_cast<int32>(pg_atomic_read_u32(&shared->oldest_day));
}

bool pending_last_use(const pg_uuid_t &token_id, TimestampTz *last_used) {
    // Newest day first: a use on a later day is always later.
    int32 today = pat::day_of(GetCurrentTransactionStartTimestamp());
    for (int32 day = today + 1; day >= oldest_pending_day(); --day) {
        pat::UsageTally tally;
        if (pending_tally(MyDatabaseId, token_id, day, &tally) && tally.has_last_used()) {
            *last_used = tally.last_used;
            return true;
        }
    }
    return false;
}

void pending_addresses(const pg_uuid_t &token_id, pat::UsageTally *tally) {
    int32 today = pat::day_of(GetCurrentTransactionStartTimestamp());
    for (int32 day = today + 1; day >= oldest_pending_day(); --day) {
        pat::UsageTally pending;
        if (pending_tally(MyDatabaseId, token_id, day, &pending)) {
            for (const pat::RecentAddress &slot : pending.addresses) {
                if (!slot.empty()) {
                    tally->note_address(slot.address, slot.last_used);
                }
            }
        }
    }
}

int databases_with_pending(Oid *databases, int max) {
    int n = 0;
    lock_all(LW_SHARED);
    HASH_SEQ_STATUS scan;
    hash_seq_init(&scan, usage_table);
    while (auto *entry = static_cast<UsageEntry *>(hash_seq_search(&scan))) {
        bool known = false;
        for (int i = 0; i < n && !known; ++i) {
            known = databases[i] == entry->key.database;
        }
        if (!known && n < max) {
            databases[n++] = entry->key.database;
        }
    }
    unlock_all();
    return n;
}

uint64 take_lost_checks() {
    return pg_atomic_exchange_u64(&shared->lost_checks, 0);
}

uint64 take_unattributed_checks() {
    return pg_atomic_exchange_u64(&shared->unattributed_checks, 0);
}

std::optional<TimestampTz> latest_lost_use() {
    int64 lost_use = static_cast<int64>(pg_atomic_read_u64(&shared->latest_lost_use));
    if (lost_use == kNoLostUse) {
        return std::nullopt;
    }
    return lost_use;
}

bool early_flush_requested() {
    return pg_atomic_read_u32(&shared->flush_requested) != 0;
}

bool take_early_flush_request() {
    return pg_atomic_exchange_u32(&shared->flush_requested, 0) != 0;
}

}  // namespace pat::pg
