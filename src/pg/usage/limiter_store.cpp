// The shared-memory limiter; see limiter_store.hpp.
//
// Each entry's state lives in a slot of a fixed array, guarded by the slot's own spinlock, and
// records its key. A partitioned dynahash (one LWLock per partition, as the usage store) owns
// the entries: it maps each key to its slot, and entries are made and removed under its locks.
// A check finds its slot without those locks, through a shared index: slot numbers in two ways
// per key's hash. What the index says is only a guess, taken when the slot's key, read under the
// slot's lock, is the check's own; a guess gone stale (the entry removed, its slot reused, its
// position taken by another key) just sends the check to the dynahash, which names the slot in
// the index again. A token's cache entry carries a guess at its slot too (the one its last check
// used), verified the same way, so that a check of a limited token goes straight to its state
// and can ask for it early. Slots are handed out from a stack, lowest first, so the live ones sit
// close together: a server checking a few thousand limited tokens keeps their state in a few
// hundred pages, which the processor's address translation holds, rather than spread over the whole
// array. The spinlocks are held for the decision alone (a few arithmetic steps, nothing that can
// fail), so checks of one token queue for no longer than that, and checks of different tokens
// never meet.
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
constexpr uint32 kNoSlot = PG_UINT32_MAX;

// none: a free slot, whose record matches no key.
enum class EntryKind : uint8 { none = 0, token = 1, user = 2 };

struct LimiterKey {
    Oid database;
    EntryKind kind;
    // token: its id; user: 128 bits of hash of the user id. Two users whose ids hash alike share
    // one window: stricter, never looser.
    pg_uuid_t id;
};
static_assert(sizeof(LimiterKey) == 3 * sizeof(uint64), "hashed as three words");

// Everything an entry knows. It is also the record of the save file, so its layout is the
// file's (kSaveVersion).
struct LimiterRecord {
    LimiterKey key;
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

struct LimiterSlot {
    slock_t mutex;  // guards record
    LimiterRecord record;
};

// The dynahash's entry: where the key's state is.
struct LimiterEntry {
    LimiterKey key;  // the hash key: must stay first
    uint32 slot;
};

struct LimiterShared {
    LWLockPadded *locks;
    pg_atomic_uint32 entries;
    pg_atomic_uint64 full_refusals;
    pg_atomic_uint64 last_sweep;  // TimestampTz as uint64
    slock_t free_mutex;           // guards free_count and the free slots' stack
    uint32 free_count;
};

LimiterShared *shared = nullptr;
HTAB *limiter_table = nullptr;
LimiterSlot *slots = nullptr;
uint32 *free_slots = nullptr;            // a stack of free_count slot numbers, lowest on top
pg_atomic_uint32 *slot_index = nullptr;  // slot numbers (kNoSlot: none) by hash
uint32 index_mask = 0;

long capacity() {
    return rate_limit_max_entries();
}

// Positions in the index: a power of two, at least two per entry, so that two live keys rarely
// contend for both ways of one hash.
uint32 index_size() {
    return uint32(pg_nextpower2_64(uint64(capacity()) * 2));
}

uint64 mix(uint64 h) {
    h ^= h >> 30;
    h *= UINT64CONST(0xbf58476d1ce4e5b9);
    h ^= h >> 27;
    h *= UINT64CONST(0x94d049bb133111eb);
    return h ^ (h >> 31);
}

// The key's hash, from its fields: token ids are random and user keys hashes already, and the
// mix keeps any structure left in them from crowding a bucket. Cheaper than hashing its bytes,
// and a check computes it on every call.
uint32 key_hash(const LimiterKey &key) {
    uint64 halves[2];
    memcpy(halves, key.id.data, sizeof(halves));
    uint64 where = uint64(key.database) << 8 | uint64(key.kind);
    return static_cast<uint32>(mix(mix(halves[0] ^ where) ^ halves[1]));
}

uint32 limiter_hash_function(const void *key, Size) {
    return key_hash(*static_cast<const LimiterKey *>(key));
}

bool same_key(const LimiterKey &a, const LimiterKey &b) {
    return a.database == b.database && a.kind == b.kind &&
           memcmp(a.id.data, b.id.data, sizeof(a.id.data)) == 0;
}

LWLock *partition_lock(uint32 hash) {
    return &shared->locks[hash % kPartitions].lock;
}

// Keys are filled in place and their padding zeroed: the dynahash compares them whole.
void fill_token_key(LimiterKey *key, const pg_uuid_t &token_id) {
    memset(key, 0, sizeof(*key));
    key->database = MyDatabaseId;
    key->kind = EntryKind::token;
    key->id = token_id;
}

void fill_user_key(LimiterKey *key, const char *user_id, int length) {
    memset(key, 0, sizeof(*key));
    key->database = MyDatabaseId;
    key->kind = EntryKind::user;
    uint64 halves[2] = {
        hash_bytes_extended(reinterpret_cast<const unsigned char *>(user_id), length, 0),
        hash_bytes_extended(reinterpret_cast<const unsigned char *>(user_id), length, 1)};
    static_assert(sizeof(halves) == sizeof(key->id.data));
    memcpy(key->id.data, halves, sizeof(halves));
}

// Whether forgetting an entry lets no check through that it would refuse: its bucket is full
// again and its balance is all written out.
bool forgettable(const LimiterRecord &record, int64 now) {
    bool rate_idle =
        record.limit.requests == 0 || pat::rate_state_idle(record.limit, record.rate, now);
    bool credits_written = !record.has_credits || (record.unwritten == 0 && record.writing == 0);
    return rate_idle && credits_written;
}

LimiterRecord fresh_record(const LimiterKey &key) {
    LimiterRecord record;
    record.key = key;
    record.limit = pat::RateLimit{};
    record.rate = pat::RateState{};
    record.has_credits = false;
    record.credits_version = 0;
    record.plan = pat::CreditPlan{};
    record.balance = pat::CreditBalance{};
    record.unwritten = 0;
    record.writing = 0;
    return record;
}

// Under the key's partition lock: names slot in the index (unless it is named there already),
// in a free way or else over the first.
void name_in_index(uint32 hash, uint32 slot) {
    uint32 at = hash & index_mask;
    uint32 first = pg_atomic_read_u32(&slot_index[at]);
    uint32 second = pg_atomic_read_u32(&slot_index[at ^ 1]);
    if (first == slot || second == slot) {
        return;
    }
    pg_atomic_write_u32(&slot_index[first == kNoSlot || second != kNoSlot ? at : at ^ 1], slot);
}

// Under the key's partition lock: its entry, made fresh (with a slot) if needed; nullptr when
// the store is full.
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
    // The dynahash holds at most capacity entries and there are as many slots, so one is free;
    // should none be, the entry goes again and the store counts as full.
    SpinLockAcquire(&shared->free_mutex);
    bool have_slot = shared->free_count > 0;
    uint32 slot = have_slot ? free_slots[--shared->free_count] : kNoSlot;
    SpinLockRelease(&shared->free_mutex);
    if (!have_slot) {
        hash_search_with_hash_value(limiter_table, &key, hash, HASH_REMOVE, nullptr);
        return nullptr;
    }
    name_in_index(hash, slot);
    entry->slot = slot;
    LimiterSlot *state = &slots[slot];
    SpinLockAcquire(&state->mutex);
    state->record = fresh_record(key);
    SpinLockRelease(&state->mutex);
    pg_atomic_add_fetch_u32(&shared->entries, 1);
    return entry;
}

// Under the entry's partition lock: removes it and gives its slot up if it can be forgotten at
// now (and whether it was removed). The slot's record stops matching any key
// in the same step, under the slot's lock, so no check can decide on it in between, and a check
// that reaches the slot through a stale index position learns that it is stale.
bool remove_if_forgettable(LimiterEntry *entry, int64 now) {
    uint32 slot = entry->slot;
    LimiterSlot *state = &slots[slot];
    SpinLockAcquire(&state->mutex);
    bool removing = forgettable(state->record, now);
    if (removing) {
        state->record.key.kind = EntryKind::none;
    }
    SpinLockRelease(&state->mutex);
    if (!removing) {
        return false;
    }
    LimiterKey key = entry->key;
    uint32 at = key_hash(key) & index_mask;
    for (uint32 way = 0; way < 2; ++way) {
        uint32 expected = slot;
        pg_atomic_compare_exchange_u32(&slot_index[at ^ way], &expected, kNoSlot);
    }
    hash_search(limiter_table, &key, HASH_REMOVE, nullptr);
    SpinLockAcquire(&shared->free_mutex);
    free_slots[shared->free_count++] = slot;
    SpinLockRelease(&shared->free_mutex);
    pg_atomic_sub_fetch_u32(&shared->entries, 1);
    return true;
}

// Brings record's limit to limit: a different limit starts from a fresh state.
void adopt_limit(LimiterRecord *record, const std::optional<pat::RateLimit> &limit) {
    pat::RateLimit wanted = limit.value_or(pat::RateLimit{});
    if (record->limit.requests != wanted.requests || record->limit.per != wanted.per) {
        record->limit = wanted;
        record->rate = pat::RateState{};
    }
}

// Brings record's budget to the stored one: a new version starts from the stored balance.
void adopt_credits(LimiterRecord *record, const std::optional<StoredCredits> &credits) {
    if (!credits) {
        record->has_credits = false;
        record->unwritten = 0;
        record->writing = 0;
        return;
    }
    if (!record->has_credits || record->credits_version != credits->version) {
        record->has_credits = true;
        record->credits_version = credits->version;
        record->plan = credits->plan;
        record->balance = credits->balance;
        record->unwritten = 0;
        record->writing = 0;
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
        remove_if_forgettable(entry, now);
    }
    for (int i = kPartitions - 1; i >= 0; --i) {
        LWLockRelease(&shared->locks[i].lock);
    }
    return true;
}

// key's slot locked, if slot (a guess) holds its state; else nullptr.
LimiterSlot *lock_guessed(const LimiterKey &key, uint32 slot) {
    if (slot >= uint32(capacity())) {
        return nullptr;
    }
    LimiterSlot *state = &slots[slot];
    SpinLockAcquire(&state->mutex);
    if (same_key(state->record.key, key)) {
        return state;
    }
    SpinLockRelease(&state->mutex);
    return nullptr;
}

// key's slot locked, if the index names it; else nullptr.
LimiterSlot *lock_indexed(const LimiterKey &key, uint32 hash) {
    uint32 at = hash & index_mask;
    uint32 guesses[2] = {pg_atomic_read_u32(&slot_index[at]),
                         pg_atomic_read_u32(&slot_index[at ^ 1])};
    for (uint32 slot : guesses) {
        if (slot == kNoSlot) {
            continue;
        }
        LimiterSlot *state = &slots[slot];
        SpinLockAcquire(&state->mutex);
        if (same_key(state->record.key, key)) {
            return state;
        }
        SpinLockRelease(&state->mutex);
    }
    return nullptr;
}

// The slot of key's entry (made if new), looked up under its partition lock and named in the
// index again if its name there was overwritten. Not locked; nullptr when no entry
// could be made.
LimiterSlot *locate(const LimiterKey &key, uint32 hash) {
    LWLock *lock = partition_lock(hash);
    LWLockAcquire(lock, LW_EXCLUSIVE);
    LimiterEntry *entry = find_or_make(key, hash);
    if (entry != nullptr) {
        name_in_index(hash, entry->slot);
    }
    LWLockRelease(lock);
    return entry != nullptr ? &slots[entry->slot] : nullptr;
}

// The slot of key's entry (made if new), not locked: as the index names it, else as the
// dynahash has it; nullptr when no entry could be made.
LimiterSlot *find_slot(const LimiterKey &key, uint32 hash) {
    LimiterSlot *state = lock_indexed(key, hash);
    if (state == nullptr) {
        return locate(key, hash);
    }
    SpinLockRelease(&state->mutex);
    return state;
}

// The decision itself, with the entries' slots locked. noexcept, and nothing in it can fail.
void decide(const LimitsToEnforce &limits, int64 now, LimiterRecord *token, LimiterRecord *user,
            LimitOutcome *outcome) noexcept {
    if (token != nullptr && limits.credits && !limits.balance_known &&
        (!token->has_credits || token->credits_version != limits.credits->version)) {
        outcome->verdict = LimitVerdict::balance_needed;
        return;
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
}

// One attempt at deciding; false when an entry could not be made (outcome untouched).
bool try_enforce(const LimitsToEnforce &limits, int64 now, LimitOutcome *outcome) {
    bool token_entry_needed = limits.token_limit.has_value() || limits.credits.has_value();
    bool user_entry_needed = limits.user_limit.has_value();
    LimiterKey tkey;
    LimiterKey ukey;
    uint32 thash = 0;
    uint32 uhash = 0;
    if (token_entry_needed) {
        fill_token_key(&tkey, limits.token_id);
        thash = key_hash(tkey);
    }
    if (user_entry_needed) {
        fill_user_key(&ukey, limits.user_id, limits.user_id_length);
        uhash = key_hash(ukey);
    }
    if (!user_entry_needed) {
        // The usual check: one key, whose slot the token's cache entry or else the index mostly
        // knows.
        for (;;) {
            LimiterSlot *token = lock_guessed(tkey, limits.token_slot_hint);
            if (token == nullptr) {
                token = lock_indexed(tkey, thash);
            }
            if (token == nullptr) {
                token = locate(tkey, thash);
                if (token == nullptr) {
                    return false;
                }
                SpinLockAcquire(&token->mutex);
                if (!same_key(token->record.key, tkey)) {
                    SpinLockRelease(&token->mutex);  // removed meanwhile: look again
                    continue;
                }
            }
            decide(limits, now, &token->record, nullptr, outcome);
            SpinLockRelease(&token->mutex);
            outcome->token_slot = uint32(token - slots);
            return true;
        }
    }
    // Two keys: both slots are found first, then locked lowest first, so two checks never wait
    // for each other in a cycle (two distinct keys never share a slot). A slot whose key changed
    // meanwhile is looked up again.
    for (;;) {
        LimiterSlot *token = nullptr;
        if (token_entry_needed && (token = find_slot(tkey, thash)) == nullptr) {
            return false;
        }
        LimiterSlot *user = find_slot(ukey, uhash);
        if (user == nullptr) {
            return false;
        }
        LimiterSlot *first = token != nullptr && token < user ? token : user;
        LimiterSlot *second = first == user ? token : user;
        SpinLockAcquire(&first->mutex);
        if (second != nullptr) {
            SpinLockAcquire(&second->mutex);
        }
        bool current = (token == nullptr || same_key(token->record.key, tkey)) &&
                       same_key(user->record.key, ukey);
        if (current) {
            decide(limits, now, token != nullptr ? &token->record : nullptr, &user->record,
                   outcome);
        }
        if (second != nullptr) {
            SpinLockRelease(&second->mutex);
        }
        SpinLockRelease(&first->mutex);
        if (current) {
            if (token != nullptr) {
                outcome->token_slot = uint32(token - slots);
            }
            return true;
        }
    }
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
                        uint32(sizeof(LimiterRecord))};
    bool ok = fwrite(header, sizeof(header), 1, file) == 1;
    HASH_SEQ_STATUS scan;
    hash_seq_init(&scan, limiter_table);
    while (auto *entry = static_cast<LimiterEntry *>(hash_seq_search(&scan))) {
        LimiterRecord saved = slots[entry->slot].record;
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
        header[1] == kSaveVersion && header[3] == sizeof(LimiterRecord)) {
        LimiterRecord saved;
        for (uint32 i = 0; i < header[2] && fread(&saved, sizeof(saved), 1, file) == 1; ++i) {
            LimiterEntry *entry = find_or_make(saved.key, key_hash(saved.key));
            if (entry == nullptr) {
                ereport(LOG, (errmsg("pg_pat could not load all saved limiter state: "
                                     "pat.rate_limit_max_entries is smaller than before")));
                break;
            }
            slots[entry->slot].record = saved;
        }
    } else {
        ereport(LOG, (errmsg("pg_pat ignored limiter file \"%s\": not written by this version",
                             kSaveFile)));
    }
    FreeFile(file);
    unlink(kSaveFile);
}

void request_table() {
    Size size = hash_estimate_size(capacity(), sizeof(LimiterEntry));
    size = add_size(size, mul_size(capacity(), sizeof(LimiterSlot) + sizeof(uint32)));
    size = add_size(size, mul_size(index_size(), sizeof(pg_atomic_uint32)));
    RequestAddinShmemSpace(size);
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
    bool found = false;
    slots = static_cast<LimiterSlot *>(
        ShmemInitStruct("pg_pat limiter slots", mul_size(capacity(), sizeof(LimiterSlot)), &found));
    free_slots = static_cast<uint32 *>(
        ShmemInitStruct("pg_pat limiter free slots", mul_size(capacity(), sizeof(uint32)), &found));
    index_mask = index_size() - 1;
    slot_index = static_cast<pg_atomic_uint32 *>(ShmemInitStruct(
        "pg_pat limiter index", mul_size(index_size(), sizeof(pg_atomic_uint32)), &found));
    if (first) {
        SpinLockInit(&shared->free_mutex);
        shared->free_count = uint32(capacity());
        for (uint32 i = 0; i < shared->free_count; ++i) {
            SpinLockInit(&slots[i].mutex);
            slots[i].record.key.kind = EntryKind::none;
            free_slots[i] = shared->free_count - 1 - i;  // slot 0 on top
        }
        for (uint32 i = 0; i <= index_mask; ++i) {
            pg_atomic_init_u32(&slot_index[i], kNoSlot);
        }
    }
    HASHCTL control = {};
    control.keysize = sizeof(LimiterKey);
    control.entrysize = sizeof(LimiterEntry);
    control.hash = limiter_hash_function;
    control.num_partitions = kPartitions;
    limiter_table = ShmemInitHash("pg_pat limiter table", capacity(), capacity(), &control,
                                  HASH_ELEM | HASH_FUNCTION | HASH_PARTITION | HASH_FIXED_SIZE);
    // As the usage store: nothing under pg_upgrade, where the file stays for the new cluster.
    if (!IsUnderPostmaster && !IsBinaryUpgrade) {
        on_shmem_exit(save_entries, 0);
        if (first) {
            load_saved();
        }
    }
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

void prefetch_limiter_slot(uint32 slot) {
    if (slots == nullptr || slot >= uint32(capacity())) {
        return;
    }
    const char *start = reinterpret_cast<const char *>(&slots[slot]);
    for (Size line = 0; line < sizeof(LimiterSlot); line += PG_CACHE_LINE_SIZE) {
        __builtin_prefetch(start + line, 1);
    }
    __builtin_prefetch(start + sizeof(LimiterSlot) - 1, 1);
}

std::optional<std::int64_t> current_credits(const pg_uuid_t &token_id, const StoredCredits &stored,
                                            TimestampTz now) {
    if (limiter_table == nullptr) {
        return std::nullopt;
    }
    LimiterKey key;
    fill_token_key(&key, token_id);
    uint32 hash = key_hash(key);
    LWLock *lock = partition_lock(hash);
    LWLockAcquire(lock, LW_SHARED);
    auto *entry = static_cast<LimiterEntry *>(
        hash_search_with_hash_value(limiter_table, &key, hash, HASH_FIND, nullptr));
    std::optional<std::int64_t> remaining;
    if (entry != nullptr) {
        LimiterSlot *state = &slots[entry->slot];
        SpinLockAcquire(&state->mutex);
        const LimiterRecord &record = state->record;
        if (record.has_credits && record.credits_version == stored.version) {
            remaining = pat::balance_at(record.plan, record.balance, now).remaining;
        }
        SpinLockRelease(&state->mutex);
    }
    LWLockRelease(lock);
    return remaining;
}

int take_unwritten_credits(UnwrittenCredits *out, int max) {
    int n = 0;
    for (int i = 0; i < kPartitions; ++i) {
        LWLockAcquire(&shared->locks[i].lock, LW_SHARED);
    }
    HASH_SEQ_STATUS scan;
    hash_seq_init(&scan, limiter_table);
    while (auto *entry = static_cast<LimiterEntry *>(hash_seq_search(&scan))) {
        if (entry->key.database != MyDatabaseId || entry->key.kind != EntryKind::token ||
            n == max) {
            continue;
        }
        LimiterSlot *state = &slots[entry->slot];
        SpinLockAcquire(&state->mutex);
        LimiterRecord *record = &state->record;
        if (record->has_credits && record->unwritten != 0) {
            out[n].token_id = record->key.id;
            out[n].version = record->credits_version;
            out[n].balance = record->balance;
            out[n].spent = record->unwritten;
            record->writing += record->unwritten;
            record->unwritten = 0;
            ++n;
        }
        SpinLockRelease(&state->mutex);
    }
    for (int i = kPartitions - 1; i >= 0; --i) {
        LWLockRelease(&shared->locks[i].lock);
    }
    return n;
}

void finish_credit_write(const UnwrittenCredits *credits, int count, bool committed) {
    for (int i = 0; i < count; ++i) {
        LimiterKey key;
        fill_token_key(&key, credits[i].token_id);
        uint32 hash = key_hash(key);
        LWLock *lock = partition_lock(hash);
        LWLockAcquire(lock, LW_SHARED);
        auto *entry = static_cast<LimiterEntry *>(
            hash_search_with_hash_value(limiter_table, &key, hash, HASH_FIND, nullptr));
        if (entry != nullptr) {
            LimiterSlot *state = &slots[entry->slot];
            SpinLockAcquire(&state->mutex);
            LimiterRecord *record = &state->record;
            if (record->has_credits && record->credits_version == credits[i].version) {
                record->writing = std::max<int64>(0, record->writing - credits[i].spent);
                if (!committed) {
                    record->unwritten += credits[i].spent;
                }
            }
            SpinLockRelease(&state->mutex);
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
