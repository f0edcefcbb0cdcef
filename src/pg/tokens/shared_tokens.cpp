// The shared token table; see shared_tokens.hpp.
//
// A check takes one partition's lock in shared mode for a hash probe and a copy of under 300
// bytes; a store takes it in exclusive mode. Only eviction takes every partition's lock, once
// per quarter of the table. An entry holds its user id, name and effective scopes in place (a
// token whose values do not fit is kept in the backend's own cache instead), so entries are all
// one size and the table's memory is fixed at start.
#include "pg/tokens/shared_tokens.hpp"

#include "pg/bridge/convert.hpp"
#include "pg/bridge/shared_memory.hpp"
#include "pg/settings.hpp"

namespace pat::pg {

namespace {

constexpr int kPartitions = 32;  // a power of two, as dynahash requires
constexpr const char *kTrancheName = "pg_pat token cache";
// Room for a user id, a name and the effective scopes of an ordinary token (ArrayType header
// and elements included).
constexpr Size kPayloadBytes = 176;

struct SharedTokenKey {
    Oid database;
    unsigned char digest[pat::kDigestBytes];
};

struct SharedToken {
    SharedTokenKey key;  // the hash key: must stay first
    pg_uuid_t token_id;
    TimestampTz expires_at;
    EntryWords words;
    pg_atomic_uint32 referenced;  // set by checks (under a shared lock), cleared by eviction
    uint16 payload_bytes;
    uint16 name_offset;
    uint16 scopes_offset;
    bool has_expiry;
    bool revoked;
    alignas(MAXIMUM_ALIGNOF) char payload[kPayloadBytes];
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
    LWLockPadded *locks;
    pg_atomic_uint64 evictions;
    CounterStripe stripes[kCounterStripes];
};

TokensShared *shared = nullptr;
HTAB *table = nullptr;

// What one entry costs: the element, its header, and a bucket pointer.
constexpr Size kEntryCost =
    MAXALIGN(sizeof(HASHELEMENT)) + MAXALIGN(sizeof(SharedToken)) + sizeof(void *);

long table_capacity() {
    return static_cast<long>(static_cast<Size>(token_cache_memory_kb()) * 1024 / kEntryCost);
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
    memcpy(key.digest, digest.data(), digest.size());
    return key;
}

// Frees at least a quarter of the table: entries no check used since the last eviction first
// (a batched second chance), then any.
void evict() {
    for (int i = 0; i < kPartitions; ++i) {
        LWLockAcquire(&shared->locks[i].lock, LW_EXCLUSIVE);
    }
    long target = hash_get_num_entries(table) - table_capacity() / 4 * 3;
    long removed = 0;
    for (bool second_chance : {true, false}) {
        HASH_SEQ_STATUS scan;
        hash_seq_init(&scan, table);
        while (auto *entry = static_cast<SharedToken *>(hash_seq_search(&scan))) {
            if (removed >= target) {
                hash_seq_term(&scan);
                break;
            }
            if (second_chance && pg_atomic_exchange_u32(&entry->referenced, 0) != 0) {
                continue;
            }
            hash_search(table, &entry->key, HASH_REMOVE, nullptr);
            ++removed;
        }
    }
    for (int i = kPartitions - 1; i >= 0; --i) {
        LWLockRelease(&shared->locks[i].lock);
    }
    pg_atomic_fetch_add_u64(&shared->evictions, static_cast<uint64>(removed));
}

void request_table() {
    RequestAddinShmemSpace(hash_estimate_size(table_capacity(), sizeof(SharedToken)));
    RequestNamedLWLockTranche(kTrancheName, kPartitions);
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
    HASHCTL control = {};
    control.keysize = sizeof(SharedTokenKey);
    control.entrysize = sizeof(SharedToken);
    control.num_partitions = kPartitions;
    table = ShmemInitHash("pg_pat token cache", table_capacity(), table_capacity(), &control,
                          HASH_ELEM | HASH_BLOBS | HASH_PARTITION | HASH_FIXED_SIZE);
}

}  // namespace

bool shared_tokens_exist() {
    return table != nullptr;
}

bool fits_shared_entry(Size payload_bytes) {
    return payload_bytes <= kPayloadBytes;
}

bool find_shared_token(const pat::Digest &digest, bool (*is_current)(const EntryWords &),
                       CachedToken *token) {
    SharedTokenKey key = key_of(digest);
    uint32 hash = get_hash_value(table, &key);
    LWLock *lock = partition_lock(hash);
    // Copied under the lock into a local, so no allocation (which may raise) happens under it.
    SharedToken copy;
    LWLockAcquire(lock, LW_SHARED);
    auto *entry = static_cast<SharedToken *>(
        hash_search_with_hash_value(table, &key, hash, HASH_FIND, nullptr));
    bool found = entry != nullptr;
    if (found) {
        memcpy(static_cast<void *>(&copy), entry, offsetof(SharedToken, payload));
        memcpy(copy.payload, entry->payload, entry->payload_bytes);
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
    auto *scopes = reinterpret_cast<ArrayType *>(copy.payload + copy.scopes_offset);
    int count = ArrayGetNItems(ARR_NDIM(scopes), ARR_DIMS(scopes));
    Size views_offset = MAXALIGN(copy.payload_bytes);
    char *payload =
        static_cast<char *>(palloc(views_offset + sizeof(std::string_view) * (count + 1)));
    memcpy(payload, copy.payload, copy.payload_bytes);
    scopes = reinterpret_cast<ArrayType *>(payload + copy.scopes_offset);
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
    token->payload = payload;
    token->bytes = 0;
    token->referenced = true;
    return true;
}

void store_shared_token(const CachedToken &token, Size payload_bytes, const EntryWords &words) {
    SharedTokenKey key = key_of(token.digest);
    uint32 hash = get_hash_value(table, &key);
    LWLock *lock = partition_lock(hash);
    for (int attempt = 0; attempt < 2; ++attempt) {
        LWLockAcquire(lock, LW_EXCLUSIVE);
        bool found = false;
        auto *entry = static_cast<SharedToken *>(
            hash_search_with_hash_value(table, &key, hash, HASH_ENTER_NULL, &found));
        if (entry != nullptr) {
            entry->token_id = token.token_id;
            entry->expires_at = token.expires_at;
            entry->words = words;
            pg_atomic_init_u32(&entry->referenced, 1);
            entry->payload_bytes = static_cast<uint16>(payload_bytes);
            entry->name_offset = static_cast<uint16>(reinterpret_cast<const char *>(token.name) -
                                                     static_cast<const char *>(token.payload));
            entry->scopes_offset =
                static_cast<uint16>(reinterpret_cast<const char *>(token.scopes) -
                                    static_cast<const char *>(token.payload));
            entry->has_expiry = token.has_expiry;
            entry->revoked = token.revoked;
            memcpy(entry->payload, token.payload, payload_bytes);
        }
        LWLockRelease(lock);
        if (entry != nullptr) {
            return;
        }
        evict();
    }
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
    stats.bytes = stats.tokens * static_cast<int64>(kEntryCost);
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
