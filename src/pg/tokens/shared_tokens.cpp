// The shared token table; see shared_tokens.hpp.
//
// A check takes one partition's lock in shared mode for a hash probe and a copy of under 300
// bytes; a store takes it in exclusive mode. Only eviction takes every partition's lock, once
// per quarter of the table. An entry holds its user id and name in place and its effective
// scopes as the number of an interned scope set: most tokens of a server share a handful of
// scope sets, so each set is kept once, and entries are all one small size whatever their
// scopes. A token's own limits (networks, resource bindings, metadata: one encoded block) are
// interned in the same area, by the same code, and named by a second number (limits shared by
// many tokens, a CI network, are kept once; metadata makes a token's block its own, so tokens
// with metadata are what fills the area). A token whose id and name do not fit, or whose scopes
// or limits exceed kLargestSet, is kept in the backend's own cache instead.
//
// The scope sets are an append-only area beside the table, found by content through an
// open-addressing index, and never changed while any check may read them. When it is full, room
// is made with every partition's lock and then the sets' lock held, so no check is copying a
// set: the sets no entry names are dropped and the rest moved down and renumbered in their
// entries; while that is not enough, a quarter of the entries with limits of their own are
// evicted (then of any entries). A set is interned and its entry stored under the entry's
// partition lock, and a check copies the set under it too, so no entry names a set that was
// dropped or moved. Lock order: partitions in ascending order, then the sets' lock.
#include "pg/tokens/shared_tokens.hpp"

#include "pg/bridge/convert.hpp"
#include "pg/bridge/shared_memory.hpp"
#include "pg/settings.hpp"
#include "pg/tokens/token_store.hpp"
#include "pg/usage/limiter_store.hpp"

namespace pat::pg {

namespace {

constexpr int kPartitions = 32;  // a power of two, as dynahash requires
constexpr const char *kTrancheName = "pg_pat token cache";
// Room for a user id and a name (varlena headers included): a UUID and a sentence.
constexpr Size kPayloadBytes = 128;
// The scope sets take this share of pat.token_cache_memory, one set per kSetShareBytes of it.
constexpr Size kSetAreaShare = 16;
constexpr Size kSetShareBytes = 256;
// A set bigger than this is not interned (its token stays in the backend's own cache).
constexpr Size kLargestSet = 8192;
// A token without limits names no restrictions set.
constexpr uint32 kNoSet = PG_UINT32_MAX;

// The table is part of the key: an entry read from a pat.tokens that was dropped (DROP
// EXTENSION, then CREATE EXTENSION or a restore) never answers for the new one, whose oid is
// another, though no change to its rows was ever signalled.
struct SharedTokenKey {
    Oid database;
    Oid tokens;
    unsigned char digest[pat::kDigestBytes];
};

struct SharedToken {
    SharedTokenKey key;  // the hash key: must stay first
    pg_uuid_t token_id;
    TimestampTz expires_at;
    EntryWords words;
    pg_atomic_uint32 referenced;  // set by checks (under a shared lock), cleared by eviction
    // The limiter's slot for the token (CachedToken::limiter_slot): written by checks without
    // any lock, since it is only ever a guess. An element of the table is only ever an entry of
    // it, so a check writing through a pointer kept after the entry was evicted or replaced
    // misleads at most the next check of another token, which verifies the guess.
    pg_atomic_uint32 limiter_slot;
    uint32 scope_set;         // its number among the interned sets
    uint32 restrictions_set;  // its encoded limits' number among them, or kNoSet
    uint16 payload_bytes;
    uint16 name_offset;
    bool has_expiry;
    bool revoked;
    bool organization;
    bool delegated;
    bool suspended;
    pat::TokenLimits limits;
    alignas(MAXIMUM_ALIGNOF) char payload[kPayloadBytes];  // user id, then name
};

// Counters every check adds to, striped by process so that checks on many cores do not all
// write one cache line; pat_token_cache_stats() adds the stripes up.
constexpr int kCounterStripes = 64;
struct alignas(PG_CACHE_LINE_SIZE) CounterStripe {
    pg_atomic_uint64 hits;
    pg_atomic_uint64 misses;
    pg_atomic_uint64 invalidations;
};

struct TokensShared {
    LWLockPadded *locks;  // kPartitions partition locks, then the scope sets' lock
    pg_atomic_uint64 evictions;
    CounterStripe stripes[kCounterStripes];
};

// The interned scope sets, in shared memory: a header, then the index (set number + 1 per slot,
// 0 for empty, twice as many slots as sets), each set's hash and offset, and the area the sets
// are written to, one after the other (ArrayType, MAXALIGN'd). Under the sets' lock; a written
// set is never changed until the cache is emptied.
struct ScopeSetsHeader {
    uint32 count;
    Size used;
};

// This backend's view of the sets' memory (the same for every backend: fixed at start).
struct ScopeSets {
    ScopeSetsHeader *header;
    uint32 capacity;
    uint32 index_size;  // a power of two
    uint32 *index;
    uint32 *hashes;
    Size *offsets;
    uint32 *renumbered;  // scratch for compaction: each old set number's new one
    char *area;
    Size area_bytes;
};

TokensShared *shared = nullptr;
HTAB *table = nullptr;
ScopeSets sets = {};

// What one entry costs: the element, its header, and a bucket pointer.
constexpr Size kEntryCost =
    MAXALIGN(sizeof(HASHELEMENT)) + MAXALIGN(sizeof(SharedToken)) + sizeof(void *);

Size cache_bytes() {
    return static_cast<Size>(token_cache_memory_kb()) * 1024;
}

Size set_area_bytes() {
    return MAXALIGN(cache_bytes() / kSetAreaShare);
}

uint32 set_capacity() {
    return static_cast<uint32>(set_area_bytes() / kSetShareBytes);
}

uint32 set_index_size() {
    uint32 size = 1;
    while (size < 2 * set_capacity()) {
        size <<= 1;
    }
    return size;
}

Size sets_memory() {
    Size size = MAXALIGN(sizeof(ScopeSetsHeader));
    size = add_size(size, MAXALIGN(mul_size(sizeof(uint32), set_index_size())));
    size = add_size(size, MAXALIGN(mul_size(sizeof(uint32), set_capacity())));
    size = add_size(size, MAXALIGN(mul_size(sizeof(Size), set_capacity())));
    size = add_size(size, MAXALIGN(mul_size(sizeof(uint32), set_capacity())));
    return add_size(size, set_area_bytes());
}

long table_capacity() {
    Size memory = cache_bytes();
    Size for_sets = sets_memory();
    return memory > for_sets ? static_cast<long>((memory - for_sets) / kEntryCost) : 0;
}

LWLock *sets_lock() {
    return &shared->locks[kPartitions].lock;
}

CounterStripe &my_stripe() {
    return shared->stripes[static_cast<uint32>(MyProcPid) % kCounterStripes];
}

LWLock *partition_lock(uint32 hash) {
    return &shared->locks[hash % kPartitions].lock;
}

SharedTokenKey key_of(const pat::Digest &digest) {
    SharedTokenKey key;
    memset(&key, 0, sizeof key);
    key.database = MyDatabaseId;
    key.tokens = lookup_tokens_relation();
    memcpy(key.digest, digest.data(), digest.size());
    return key;
}

void release_all_partitions() {
    for (int i = kPartitions - 1; i >= 0; --i) {
        LWLockRelease(&shared->locks[i].lock);
    }
}

void acquire_all_partitions() {
    for (int i = 0; i < kPartitions; ++i) {
        LWLockAcquire(&shared->locks[i].lock, LW_EXCLUSIVE);
    }
}

// Under every partition's lock: removes up to target entries (only those that name a
// restrictions set, if restricted_only), entries no check used since the last eviction first (a
// batched second chance), then any; how many it removed.
long evict_locked(long target, bool restricted_only) {
    long removed = 0;
    for (bool second_chance : {true, false}) {
        HASH_SEQ_STATUS scan;
        hash_seq_init(&scan, table);
        while (auto *entry = static_cast<SharedToken *>(hash_seq_search(&scan))) {
            if (removed >= target) {
                hash_seq_term(&scan);
                break;
            }
            if (restricted_only && entry->restrictions_set == kNoSet) {
                continue;
            }
            if (second_chance && pg_atomic_exchange_u32(&entry->referenced, 0) != 0) {
                continue;
            }
            hash_search(table, &entry->key, HASH_REMOVE, nullptr);
            ++removed;
        }
    }
    return removed;
}

// Frees at least a quarter of the table.
void evict() {
    acquire_all_partitions();
    long removed = evict_locked(hash_get_num_entries(table) - table_capacity() / 4 * 3, false);
    release_all_partitions();
    pg_atomic_fetch_add_u64(&shared->evictions, static_cast<uint64>(removed));
}

const ArrayType *set_at(uint32 number) {
    return reinterpret_cast<const ArrayType *>(sets.area + sets.offsets[number]);
}

// Whether the sets have room for one more set of needed bytes. Under the sets' lock.
bool sets_have_room(Size needed) {
    return sets.header->count < sets.capacity && sets.header->used + needed <= sets.area_bytes;
}

// Keeps only the sets that some entry names, moved down to the start of the area in their order
// (sets are numbered in the order they were written, so each moves towards the start and none
// over another that is kept), and renumbers the entries. How many entries name a restrictions
// set. Under every partition's lock (no check is copying a set) and the sets' lock.
long compact_sets() {
    constexpr uint32 kUnnamed = PG_UINT32_MAX;
    uint32 count = sets.header->count;
    for (uint32 number = 0; number < count; ++number) {
        sets.renumbered[number] = kUnnamed;
    }
    long restricted = 0;
    HASH_SEQ_STATUS scan;
    hash_seq_init(&scan, table);
    while (auto *entry = static_cast<SharedToken *>(hash_seq_search(&scan))) {
        sets.renumbered[entry->scope_set] = 0;
        if (entry->restrictions_set != kNoSet) {
            sets.renumbered[entry->restrictions_set] = 0;
            ++restricted;
        }
    }
    uint32 kept = 0;
    Size used = 0;
    for (uint32 number = 0; number < count; ++number) {
        if (sets.renumbered[number] == kUnnamed) {
            continue;
        }
        Size bytes = MAXALIGN(VARSIZE(set_at(number)));
        memmove(sets.area + used, sets.area + sets.offsets[number], bytes);
        sets.hashes[kept] = sets.hashes[number];
        sets.offsets[kept] = used;
        sets.renumbered[number] = kept++;
        used += bytes;
    }
    sets.header->count = kept;
    sets.header->used = used;
    memset(sets.index, 0, sizeof(uint32) * sets.index_size);
    uint32 mask = sets.index_size - 1;
    for (uint32 number = 0; number < kept; ++number) {
        uint32 slot = sets.hashes[number] & mask;
        while (sets.index[slot] != 0) {
            slot = (slot + 1) & mask;
        }
        sets.index[slot] = number + 1;
    }
    hash_seq_init(&scan, table);
    while (auto *entry = static_cast<SharedToken *>(hash_seq_search(&scan))) {
        entry->scope_set = sets.renumbered[entry->scope_set];
        if (entry->restrictions_set != kNoSet) {
            entry->restrictions_set = sets.renumbered[entry->restrictions_set];
        }
    }
    return restricted;
}

// Makes room in the sets for one more set of needed bytes: first by dropping the sets no entry
// names any more, then by evicting a quarter of the entries that name a token's own limits (a
// token with metadata names a block of its own, so these are what fill the area) and dropping
// their sets, again while needed; then a quarter of any entries. Entries that share their sets
// stay cached while tokens with metadata come and go.
void make_room_in_sets(Size needed) {
    acquire_all_partitions();
    LWLockAcquire(sets_lock(), LW_EXCLUSIVE);
    long removed = 0;
    // Another backend may have made room while this one waited.
    if (!sets_have_room(needed)) {
        long restricted = compact_sets();
        while (!sets_have_room(needed) && hash_get_num_entries(table) > 0) {
            bool restricted_only = restricted > 0;
            long among = restricted_only ? restricted : hash_get_num_entries(table);
            removed += evict_locked(among / 4 + 1, restricted_only);
            restricted = compact_sets();
        }
        if (!sets_have_room(needed)) {
            // No entry is left, so no set is named: start the area again.
            sets.header->count = 0;
            sets.header->used = 0;
            memset(sets.index, 0, sizeof(uint32) * sets.index_size);
        }
    }
    LWLockRelease(sets_lock());
    release_all_partitions();
    pg_atomic_fetch_add_u64(&shared->evictions, static_cast<uint64>(removed));
}

// The index slot of the set equal to bytes, or of the empty slot where it would go. Under the
// sets' lock.
uint32 probe_set(const ArrayType *set, uint32 hash) {
    uint32 mask = sets.index_size - 1;
    uint32 slot = hash & mask;
    while (sets.index[slot] != 0) {
        uint32 number = sets.index[slot] - 1;
        const ArrayType *known = set_at(number);
        if (sets.hashes[number] == hash && VARSIZE(known) == VARSIZE(set) &&
            memcmp(known, set, VARSIZE(set)) == 0) {
            break;
        }
        slot = (slot + 1) & mask;
    }
    return slot;
}

enum class Interned { yes, sets_full };

// The number of set among the interned sets, adding it if new. Under an entry's partition
// lock (so the sets cannot be emptied before the entry that names the number is stored).
Interned intern_set(const ArrayType *set, uint32 *number) {
    uint32 hash =
        hash_bytes(reinterpret_cast<const unsigned char *>(set), static_cast<int>(VARSIZE(set)));
    LWLockAcquire(sets_lock(), LW_SHARED);
    uint32 slot = probe_set(set, hash);
    uint32 found = sets.index[slot];
    LWLockRelease(sets_lock());
    if (found != 0) {
        *number = found - 1;
        return Interned::yes;
    }
    LWLockAcquire(sets_lock(), LW_EXCLUSIVE);
    slot = probe_set(set, hash);
    Interned outcome = Interned::yes;
    if (sets.index[slot] != 0) {
        *number = sets.index[slot] - 1;
    } else if (sets.header->count == sets.capacity ||
               sets.header->used + MAXALIGN(VARSIZE(set)) > sets.area_bytes) {
        outcome = Interned::sets_full;
    } else {
        *number = sets.header->count++;
        sets.hashes[*number] = hash;
        sets.offsets[*number] = sets.header->used;
        memcpy(sets.area + sets.header->used, set, VARSIZE(set));
        sets.header->used += MAXALIGN(VARSIZE(set));
        sets.index[slot] = *number + 1;
    }
    LWLockRelease(sets_lock());
    return outcome;
}

void request_table() {
    RequestAddinShmemSpace(hash_estimate_size(table_capacity(), sizeof(SharedToken)));
    RequestAddinShmemSpace(sets_memory());
    // The partitions' locks and the sets' lock.
    RequestNamedLWLockTranche(kTrancheName, kPartitions + 1);
}

void attach_sets() {
    bool found = false;
    char *base = static_cast<char *>(ShmemInitStruct("pg_pat scope sets", sets_memory(), &found));
    sets.capacity = set_capacity();
    sets.index_size = set_index_size();
    sets.area_bytes = set_area_bytes();
    sets.header = reinterpret_cast<ScopeSetsHeader *>(base);
    base += MAXALIGN(sizeof(ScopeSetsHeader));
    sets.index = reinterpret_cast<uint32 *>(base);
    base += MAXALIGN(sizeof(uint32) * sets.index_size);
    sets.hashes = reinterpret_cast<uint32 *>(base);
    base += MAXALIGN(sizeof(uint32) * sets.capacity);
    sets.offsets = reinterpret_cast<Size *>(base);
    base += MAXALIGN(sizeof(Size) * sets.capacity);
    sets.renumbered = reinterpret_cast<uint32 *>(base);
    base += MAXALIGN(sizeof(uint32) * sets.capacity);
    sets.area = base;
    if (!found) {
        sets.header->count = 0;
        sets.header->used = 0;
        memset(sets.index, 0, sizeof(uint32) * sets.index_size);
    }
}

void attach_table(void *header, bool first) {
    shared = static_cast<TokensShared *>(header);
    if (first) {
        shared->locks = GetNamedLWLockTranche(kTrancheName);
        pg_atomic_init_u64(&shared->evictions, 0);
        for (auto &stripe : shared->stripes) {
            pg_atomic_init_u64(&stripe.hits, 0);
            pg_atomic_init_u64(&stripe.misses, 0);
            pg_atomic_init_u64(&stripe.invalidations, 0);
        }
    }
    attach_sets();
    HASHCTL control = {};
    control.keysize = sizeof(SharedTokenKey);
    control.entrysize = sizeof(SharedToken);
    control.num_partitions = kPartitions;
    table = ShmemInitHash("pg_pat token cache", table_capacity(), table_capacity(), &control,
                          HASH_ELEM | HASH_BLOBS | HASH_PARTITION | HASH_FIXED_SIZE);
}

// A check's copy of a set, taken under the entry's partition lock, and of its limits.
alignas(MAXIMUM_ALIGNOF) char set_copy[kLargestSet];
alignas(MAXIMUM_ALIGNOF) char restrictions_copy[kLargestSet];

}  // namespace

bool shared_tokens_exist() {
    return table != nullptr;
}

bool find_shared_token(const pat::Digest &digest, bool (*is_current)(const EntryWords &),
                       CachedToken *token) {
    SharedTokenKey key = key_of(digest);
    uint32 hash = get_hash_value(table, &key);
    LWLock *lock = partition_lock(hash);
    // Copied under the lock into locals, so no allocation (which may raise) happens under it,
    // and the set cannot be emptied while it is read.
    SharedToken copy;
    LWLockAcquire(lock, LW_SHARED);
    auto *entry = static_cast<SharedToken *>(
        hash_search_with_hash_value(table, &key, hash, HASH_FIND, nullptr));
    bool found = entry != nullptr;
    if (found) {
        memcpy(static_cast<void *>(&copy), entry, offsetof(SharedToken, payload));
        memcpy(copy.payload, entry->payload, entry->payload_bytes);
        const ArrayType *set = set_at(entry->scope_set);
        memcpy(set_copy, set, VARSIZE(set));
        if (entry->restrictions_set != kNoSet) {
            const ArrayType *limits = set_at(entry->restrictions_set);
            memcpy(restrictions_copy, limits, VARSIZE(limits));
        }
        // Written only when clear, so that checks of a hot entry do not keep dirtying its line.
        if (pg_atomic_read_u32(&entry->referenced) == 0) {
            pg_atomic_write_u32(&entry->referenced, 1);
        }
    }
    LWLockRelease(lock);
    if (!found) {
        return false;
    }
    if (!is_current(copy.words)) {
        pg_atomic_fetch_add_u64(&my_stripe().invalidations, 1);
        return false;
    }
    pg_atomic_fetch_add_u64(&my_stripe().hits, 1);
    // The payload as token_cache.cpp lays it out: user id, name, scopes array, then the views.
    auto *set = reinterpret_cast<ArrayType *>(set_copy);
    int count = ArrayGetNItems(ARR_NDIM(set), ARR_DIMS(set));
    Size scopes_offset = MAXALIGN(copy.payload_bytes);
    Size views_offset = MAXALIGN(scopes_offset + VARSIZE(set));
    Size restrictions_offset = MAXALIGN(views_offset + sizeof(std::string_view) * (count + 1));
    const auto *limits = reinterpret_cast<const varlena *>(restrictions_copy);
    bool restricted = copy.restrictions_set != kNoSet;
    char *payload =
        static_cast<char *>(palloc(restrictions_offset + (restricted ? VARSIZE(limits) : 0)));
    token->restrictions = nullptr;
    if (restricted) {
        memcpy(payload + restrictions_offset, limits, VARSIZE(limits));
        token->restrictions = reinterpret_cast<const varlena *>(payload + restrictions_offset);
    }
    memcpy(payload, copy.payload, copy.payload_bytes);
    auto *scopes = reinterpret_cast<ArrayType *>(payload + scopes_offset);
    memcpy(scopes, set, VARSIZE(set));
    auto *views = reinterpret_cast<std::string_view *>(payload + views_offset);
    const char *element = ARR_DATA_PTR(scopes);
    for (int i = 0; i < count; ++i) {
        new (&views[i]) std::string_view(text_view(reinterpret_cast<const text *>(element)));
        element = att_addlength_pointer(element, -1, element);
        element = reinterpret_cast<const char *>(att_align_nominal(element, TYPALIGN_INT));
    }
    memcpy(token->digest.data(), key.digest, sizeof key.digest);
    token->token_id = copy.token_id;
    token->user_id = reinterpret_cast<text *>(payload);
    token->name = reinterpret_cast<text *>(payload + copy.name_offset);
    token->scopes = scopes;
    token->sorted_scopes = views;
    token->scope_count = count;
    token->has_expiry = copy.has_expiry;
    token->expires_at = copy.expires_at;
    token->revoked = copy.revoked;
    token->organization = copy.organization;
    token->delegated = copy.delegated;
    token->suspended = copy.suspended;
    token->limits = copy.limits;
    token->limiter_slot = pg_atomic_read_u32(&copy.limiter_slot);
    token->limiter_slot_home = &entry->limiter_slot;
    token->payload = payload;
    token->bytes = 0;
    token->referenced = true;
    return true;
}

bool store_shared_token(const CachedToken &token, const EntryWords &words) {
    // The user id and the name come first in the token's payload, then the scopes.
    Size values_bytes = static_cast<Size>(reinterpret_cast<const char *>(token.scopes) -
                                          static_cast<const char *>(token.payload));
    if (values_bytes > kPayloadBytes || VARSIZE(token.scopes) > kLargestSet || sets.capacity == 0 ||
        (token.restrictions != nullptr && VARSIZE(token.restrictions) > kLargestSet)) {
        return false;
    }
    // A token's limits are interned as its scopes are (the sets' code compares bytes only): most
    // limited tokens of a server share a few network lists, and a token's entry stays one size.
    const auto *limits = reinterpret_cast<const ArrayType *>(token.restrictions);
    SharedTokenKey key = key_of(token.digest);
    uint32 hash = get_hash_value(table, &key);
    LWLock *lock = partition_lock(hash);
    for (int attempt = 0; attempt < 2; ++attempt) {
        LWLockAcquire(lock, LW_EXCLUSIVE);
        uint32 set_number = 0;
        uint32 limits_number = kNoSet;
        Interned interned = intern_set(token.scopes, &set_number);
        if (interned == Interned::yes && limits != nullptr) {
            interned = intern_set(limits, &limits_number);
        }
        SharedToken *entry = nullptr;
        bool found = false;
        if (interned == Interned::yes) {
            entry = static_cast<SharedToken *>(
                hash_search_with_hash_value(table, &key, hash, HASH_ENTER_NULL, &found));
        }
        if (entry != nullptr) {
            if (!found) {  // else it is the same token's, whose guess still holds
                pg_atomic_init_u32(&entry->limiter_slot, kUnknownLimiterSlot);
            }
            entry->token_id = token.token_id;
            entry->expires_at = token.expires_at;
            entry->words = words;
            pg_atomic_init_u32(&entry->referenced, 1);
            entry->scope_set = set_number;
            entry->restrictions_set = limits_number;
            entry->suspended = token.suspended;
            entry->payload_bytes = static_cast<uint16>(values_bytes);
            entry->name_offset = static_cast<uint16>(reinterpret_cast<const char *>(token.name) -
                                                     static_cast<const char *>(token.payload));
            entry->has_expiry = token.has_expiry;
            entry->revoked = token.revoked;
            entry->organization = token.organization;
            entry->delegated = token.delegated;
            entry->limits = token.limits;
            memcpy(entry->payload, token.payload, values_bytes);
        }
        LWLockRelease(lock);
        if (entry != nullptr) {
            break;
        }
        if (interned == Interned::sets_full) {
            make_room_in_sets(MAXALIGN(VARSIZE(token.scopes)) +
                              (limits != nullptr ? MAXALIGN(VARSIZE(limits)) : 0));
        } else {
            evict();
        }
    }
    return true;
}

void count_shared_hit() {
    pg_atomic_fetch_add_u64(&my_stripe().hits, 1);
}

void count_shared_miss() {
    pg_atomic_fetch_add_u64(&my_stripe().misses, 1);
}

SharedTokenStats shared_token_stats() {
    SharedTokenStats stats = {};
    if (table == nullptr) {
        return stats;
    }
    stats.tokens = hash_get_num_entries(table);
    // The sets' area is read without its lock: a figure, not a promise.
    stats.bytes =
        stats.tokens * static_cast<int64>(kEntryCost) + static_cast<int64>(sets.header->used);
    stats.capacity = table_capacity();
    stats.evictions = static_cast<int64>(pg_atomic_read_u64(&shared->evictions));
    for (auto &stripe : shared->stripes) {
        stats.hits += static_cast<int64>(pg_atomic_read_u64(&stripe.hits));
        stats.misses += static_cast<int64>(pg_atomic_read_u64(&stripe.misses));
        stats.invalidations += static_cast<int64>(pg_atomic_read_u64(&stripe.invalidations));
    }
    return stats;
}

void setup_shared_tokens() {
    if (table_capacity() > 0) {
        add_shared_part({sizeof(TokensShared), request_table, attach_table});
    }
}

}  // namespace pat::pg
