// A per-backend cache of stored tokens, keyed by digest.
//
// Entries and the hash table live in one memory context under CacheMemoryContext; invalidation
// only marks the cache stale, and the next find_token() resets the context, so a pointer
// returned by find_token() stays valid until the next call whatever invalidations arrive.
#include "pg/token_cache.hpp"

#include <new>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/scope.hpp"
#include "pg/convert.hpp"
#include "pg/guard.hpp"
#include "pg/token_store.hpp"

namespace pat::pg {

namespace {

// pat.token_cache_size: entries per backend; 0 turns the cache off.
int cache_capacity = 10000;

MemoryContext cache_memory = nullptr;
HTAB *cache_table = nullptr;
bool cache_stale = false;
// pat.tokens as last resolved; its relcache invalidations are the cache's signal.
Oid cached_tokens_relation = InvalidOid;

void on_relcache_invalidation(Datum, Oid relation) {
    if (relation == InvalidOid || relation == cached_tokens_relation) {
        cache_stale = true;
    }
}

void reset_cache() {
    if (cache_memory != nullptr) {
        MemoryContextReset(cache_memory);
    }
    cache_table = nullptr;
    cache_stale = false;
}

HTAB *table() {
    if (cache_memory == nullptr) {
        cache_memory =
            AllocSetContextCreate(CacheMemoryContext, "pg_pat token cache", ALLOCSET_DEFAULT_SIZES);
    }
    if (cache_table == nullptr) {
        HASHCTL control = {};
        control.keysize = sizeof(pat::Digest);
        control.entrysize = sizeof(CachedToken);
        control.hcxt = cache_memory;
        cache_table =
            hash_create("pg_pat tokens", 1024, &control, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
    }
    return cache_table;
}

// Fills the effective scopes of token (sorted, as an array and as views into it) in memory:
// the token's own scopes, less those the user's roles no longer allow.
void set_effective_scopes(const StoredToken &stored, MemoryContext memory, CachedToken *token) {
    auto strings = [](ArrayType *array) {
        std::vector<std::string> result;
        for (auto &element : text_array_elements(array)) {
            if (element) {
                result.push_back(std::move(*element));
            }
        }
        return result;
    };
    pat::ScopeSet own(strings(stored.scopes));
    pat::ScopeSet effective = stored.all_scopes
                                  ? std::move(own)
                                  : own.intersect(pat::ScopeSet(strings(stored.role_scopes)));
    const std::vector<std::string> &items = effective.items();
    call_pg([&] {
        MemoryContext caller = MemoryContextSwitchTo(memory);
        token->scopes = make_text_array(items);
        auto *views =
            static_cast<std::string_view *>(palloc(sizeof(std::string_view) * (items.size() + 1)));
        Datum *elements = nullptr;
        int count = 0;
        deconstruct_array(token->scopes, TEXTOID, -1, false, TYPALIGN_INT, &elements, nullptr,
                          &count);
        for (int i = 0; i < count; ++i) {
            text *element = DatumGetTextPP(elements[i]);
            new (&views[i]) std::string_view(VARDATA_ANY(element), VARSIZE_ANY_EXHDR(element));
        }
        token->sorted_scopes = views;
        token->scope_count = count;
        MemoryContextSwitchTo(caller);
    });
}

// Copies a stored token into entry, its varlena values into memory.
void fill_entry(const StoredToken &stored, MemoryContext memory, CachedToken *entry) {
    MemoryContext caller = MemoryContextSwitchTo(memory);
    entry->token_id = stored.token_id;
    entry->user_id = static_cast<text *>(PG_DETOAST_DATUM_COPY(PointerGetDatum(stored.user_id)));
    entry->name = static_cast<text *>(PG_DETOAST_DATUM_COPY(PointerGetDatum(stored.name)));
    MemoryContextSwitchTo(caller);
    entry->has_expiry = stored.has_expiry;
    entry->expires_at = stored.expires_at;
    entry->revoked = stored.revoked;
    set_effective_scopes(stored, memory, entry);
}

}  // namespace

CachedToken *find_token(const pat::Digest &digest) {
    AcceptInvalidationMessages();
    if (cache_stale) {
        reset_cache();
    }
    if (cache_capacity > 0) {
        bool found = false;
        auto *hit = static_cast<CachedToken *>(hash_search(table(), &digest, HASH_FIND, &found));
        if (hit != nullptr) {
            return hit;
        }
    }

    // Known before the lookup, so an invalidation arriving during it marks the cache stale.
    cached_tokens_relation = tokens_relation();
    StoredToken stored = {};
    if (!fetch_stored_token(digest, &stored)) {
        return nullptr;
    }
    if (cache_capacity <= 0 || cache_stale) {
        // Not cached: uncached by choice, or a change committed while we read (the row may
        // predate it); the next call resets the cache and reads again.
        auto *entry = static_cast<CachedToken *>(palloc0(sizeof(CachedToken)));
        entry->digest = digest;
        fill_entry(stored, CurrentMemoryContext, entry);
        return entry;
    }
    if (hash_get_num_entries(table()) >= cache_capacity) {
        reset_cache();
    }
    // Filled before it is entered, so an error while filling leaves no half-made entry behind.
    CachedToken filled = {};
    filled.digest = digest;
    fill_entry(stored, cache_memory, &filled);
    bool found = false;
    auto *entry = static_cast<CachedToken *>(hash_search(table(), &digest, HASH_ENTER, &found));
    *entry = filled;
    return entry;
}

void setup_token_cache() {
    DefineCustomIntVariable("pat.token_cache_size",
                            "Tokens each backend keeps in its validation cache; 0 turns it off.",
                            "Changes to tokens, roles and scopes invalidate every cache at commit.",
                            &cache_capacity, 10000, 0, 10000000, PGC_SUSET, 0, nullptr, nullptr,
                            nullptr);
    CacheRegisterRelcacheCallback(on_relcache_invalidation, 0);
}

}  // namespace pat::pg

namespace pat::pg {

void invalidate_token_caches() {
    CacheInvalidateRelcacheByRelid(tokens_relation());
}

}  // namespace pat::pg

// pat.invalidate_token_caches(): statement trigger on the tables a validation reads.
PAT_FUNCTION(pat_invalidate_token_caches) {
    if (!CALLED_AS_TRIGGER(fcinfo)) {
        throw pat::Error("39P01", "pat.invalidate_token_caches() must be called as a trigger");
    }
    pat::pg::invalidate_token_caches();
    return PointerGetDatum(nullptr);
}
