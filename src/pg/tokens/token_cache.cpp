// The token cache; see token_cache.hpp. Tokens live in the server's shared table
// (shared_tokens.hpp); this file decides what is current and keeps, per backend, users'
// grants, the defined scopes, the rare token too big for a shared entry, and on a standby every
// token.
//
// A backend's own entries, their payloads and the hash tables live in one memory context under
// CacheMemoryContext. Invalidation callbacks never free anything: a signal bumps a generation
// counter, a reset only sets a flag. Memory is freed only inside find_token(), so a pointer it
// returned stays valid until the next call whatever invalidations arrive.
//
// Why no lookup can use a stale entry. Every entry, shared or not, records for each slot it
// depends on (its token's, its user's, and everything's: cache_generations.hpp) the word of that
// slot read BEFORE the snapshot its rows were read with, and is kept only if each word was
// settled then (low half zero: no change to the slot committing). A lookup uses an entry only if
// each word is still settled and unchanged. Take a change C to a slot, visible from the moment
// V its transaction leaves the proc array, and a lookup at t >= V (it can see C):
//  * On the primary (and for changes applied by logical replication or under
//    session_replication_role = replica: the triggers that note changes fire always), C's own
//    backend raises the word at XACT_EVENT_PRE_COMMIT, at P < V, and settles it at
//    XACT_EVENT_COMMIT, after ProcArrayEndTransaction (V) and before the commit is reported.
//    An entry that misses C was read under a snapshot older than V, so its word was read at
//    r < V: if r < P, the high half has grown since; if P <= r < V, the word was unsettled and
//    the entry was never kept. The window between V and the settling is covered too: the word
//    is unsettled then, so the lookup reads the tables. Words only grow, so an old entry never
//    becomes current again; atomics with full barriers order the raise before V.
//  * A rolled back transaction never reaches PRE_COMMIT: it raises nothing and drops nothing.
//  * A prepared transaction commits in another session (COMMIT PREPARED), which no callback
//    of ours sees: while it is in progress its changes are invisible and entries are right; the
//    first lookup that finds it no longer in progress (so C is visible) counts a change to
//    everything before it reads any entry (settle_prepared), which is after V and after every
//    entry read before V. The prepared transactions an earlier run of the server left are
//    listed before the first lookup.
//  * On a standby no commit runs here: the startup process replays the commit's invalidations
//    into the queue (ProcessCommittedInvalidationMessages sends them and runs no callback). So
//    there the words are not used: each backend's own cache compares this backend's counters,
//    bumped by the signals it receives, and PostgreSQL delivers a transaction's invalidations
//    only after the transaction is visible to new snapshots; either the snapshot sees the
//    change, or the signal arrives later and bumps the counter the entry was stored under.
//    Every lookup first accepts pending invalidations. A promoted server's backends drop their
//    own caches and turn to the words: every replayed commit is visible by then.
// A delegated token is read with its ancestors (token_store.hpp), under the same snapshot, and
// its entry depends on its user's slot: a change to a token with children signals its user's
// slot as well as its own (cache_triggers.cpp; has_children is set before the first child
// exists and never cleared), and a child is always of its parent's user. So the
// argument above, applied to the user's slot, covers a change to any ancestor: no entry of a
// descendant outlives its ancestor's revoke, expiry or rotation, and a warm check of a
// delegated token costs what a root token's does. known_defined_scopes() bounds an
// organization's token and is read under everything's word, which the entry holds too.
// A pat.tokens dropped and made again (DROP EXTENSION, then CREATE EXTENSION or a restore) has a
// new oid, and shared entries are keyed by it: those of the old table are never found again.
// Every other change to the rows a lookup reads, an update script's included, fires the
// triggers that raise the words; a TRUNCATE counts as a change to everything.
#include "pg/tokens/token_cache.hpp"

#include <algorithm>
#include <string_view>
#include <type_traits>

#include "core/cache_signal.hpp"
#include "core/policy.hpp"
#include "core/scope.hpp"
#include "pg/bridge/convert.hpp"
#include "pg/settings.hpp"
#include "pg/tokens/cache_generations.hpp"
#include "pg/tokens/hot_tokens.hpp"
#include "pg/tokens/restrictions_data.hpp"
#include "pg/tokens/shared_tokens.hpp"
#include "pg/tokens/token_store.hpp"
#include "pg/usage/limiter_store.hpp"

namespace pat::pg {

namespace {

// The bounds (settings.hpp) the cache last made room for: a lower one trims it at the next lookup.
int seen_capacity = 0;
int seen_memory_limit_kb = 0;
// An entry bigger than this share of pat.token_cache_memory is used once and not kept.
constexpr Size kLargestEntryShare = 8;
// What an entry costs beyond its payload: the hash table's element (header and entry).
constexpr Size kEntryOverhead = MAXALIGN(sizeof(HASHELEMENT)) + MAXALIGN(sizeof(CachedToken));

// What one user's roles allow, cached by a 64-bit hash of the user id.
struct CachedUser {
    uint64 key;  // the hash key: must stay first
    text *user_id;
    bool all_scopes;
    const std::string_view *scopes;  // grantable (policy.hpp): sorted, distinct
    int scope_count;
    uint32 slot;
    uint64 word;             // the user's slot's word when read
    uint64 everything_word;  // and everything's
    void *payload;
    Size bytes;
    bool referenced;
};

MemoryContext cache_memory = nullptr;
MemoryContext scratch_memory = nullptr;  // a lookup's working memory, reset by the next one
HTAB *token_table = nullptr;
HTAB *user_table = nullptr;
Size cached_bytes = 0;
bool cache_stale = false;
// Off the shared words (on a standby): one generation counter per signal slot, bumped by each
// signal this backend receives; everything's is never bumped (a reset drops the whole cache).
uint32 slot_generation[pat::kSignalSlots + 1];
// Whether the entries of this backend's cache were read under the shared words.
bool entries_under_shared_words = false;
bool use_shared_words = false;  // this lookup's answer to shared_generations_usable()
TokenCacheStats counters = {};
// The token a shared hit returns (its payload in the scratch memory).
CachedToken shared_hit = {};
// The word of everything when the defined scopes were read.
uint64 defined_scopes_word = 0;
// Every defined scope, sorted; dropped with the whole cache (defining a scope resets it).
ScopeList defined_scopes = {nullptr, 0};
bool defined_scopes_known = false;

void on_relcache_invalidation(Datum, Oid relation) {
    uint32 slot = 0;
    if (pat::signal_slot_of(relation, &slot)) {
        // Under the shared words the counters are not read: left untouched, their pages cost
        // this backend no memory.
        if (!entries_under_shared_words) {
            ++slot_generation[slot];
        }
    } else if (relation == InvalidOid || is_lookup_relation(relation)) {
        // A queue overflow, a global signal (sent as pat.tokens), DDL on a table we read, or
        // only its statistics (VACUUM, ANALYZE): this backend's own cache and the oids it
        // remembers are dropped. The shared table needs nothing: every change to the rows is
        // signalled by the triggers and raises a word, and an entry of a dropped pat.tokens is
        // keyed by its old oid (shared_tokens.cpp), so an ANALYZE costs no shared entry.
        cache_stale = true;
    }
}

// The word of slot this lookup compares entries with: the shared one, or this backend's
// counter (high half, so it always reads as settled).
uint64 current_word(uint32 slot) {
    return use_shared_words ? slot_word(slot) : uint64{slot_generation[slot]} << 32;
}

// Whether an entry read under words is current: no change to its slots since, none committing.
bool words_current(uint32 slot, uint64 word) {
    uint64 now = current_word(slot);
    return now == word && word_settled(now);
}

// Set by each lookup: this transaction has changed something, so no cached entry may answer it.
bool own_changes_pending = false;

bool caching() {
    return !own_changes_pending && token_cache_size() > 0 && token_cache_memory_kb() > 0;
}

// Beside the shared table, a backend keeps only users' grants and the rare token too big for a
// shared entry: this much at most, so memory does not grow with connections. On a standby, or
// with no shared table, its cache is the only one: pat.token_cache_memory then bounds each.
constexpr Size kBesideSharedBytes = 512 * 1024;

Size limit_bytes() {
    Size bound = static_cast<Size>(token_cache_memory_kb()) * 1024;
    if (use_shared_words && shared_tokens_exist()) {
        bound = std::min(bound, kBesideSharedBytes);
    }
    return bound;
}

void reset_cache() {
    if (token_table != nullptr || user_table != nullptr) {
        ++counters.resets;
    }
    if (cache_memory != nullptr) {
        MemoryContextReset(cache_memory);
    }
    token_table = nullptr;
    user_table = nullptr;
    cached_bytes = 0;
    cache_stale = false;
    defined_scopes_known = false;
    forget_hot_tokens();
    forget_lookup_relations();
}

// A digest is uniformly distributed already (and not chosen by the caller): its first four
// bytes are a good hash.
uint32 digest_hash(const void *key, Size) {
    uint32 hash = 0;
    memcpy(&hash, key, sizeof hash);
    return hash;
}

void create_tables() {
    if (cache_memory == nullptr) {
        cache_memory =
            AllocSetContextCreate(CacheMemoryContext, "pg_pat token cache", ALLOCSET_DEFAULT_SIZES);
    }
    if (token_table == nullptr) {
        HASHCTL control = {};
        control.keysize = sizeof(pat::Digest);
        control.entrysize = sizeof(CachedToken);
        control.hash = digest_hash;
        control.hcxt = cache_memory;
        token_table =
            hash_create("pg_pat tokens", 1024, &control, HASH_ELEM | HASH_FUNCTION | HASH_CONTEXT);
    }
    if (user_table == nullptr) {
        HASHCTL control = {};
        control.keysize = sizeof(uint64);
        control.entrysize = sizeof(CachedUser);
        control.hcxt = cache_memory;
        user_table =
            hash_create("pg_pat users", 256, &control, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
    }
}

MemoryContext scratch() {
    if (scratch_memory == nullptr) {
        scratch_memory =
            AllocSetContextCreate(TopMemoryContext, "pg_pat lookup", ALLOCSET_SMALL_SIZES);
    }
    return scratch_memory;
}

// Frees an entry of table; its hash key is its first member, so the entry is its own key.
template <typename Entry>
void remove_entry(HTAB *table, Entry *entry) {
    pfree(entry->payload);
    cached_bytes -= entry->bytes;
    hash_search(table, entry, HASH_REMOVE, nullptr);
}

bool within(Size needed, Size bytes, long entries) {
    return cached_bytes + needed <= bytes && hash_get_num_entries(token_table) < entries &&
           hash_get_num_entries(user_table) < entries;
}

// One sweep over a table: with second_chance, removes entries unused since the last sweep and
// marks the rest unused; without, removes entries until within the bounds.
template <typename Entry>
void sweep(HTAB *table, bool second_chance, Size needed, Size bytes, long entries) {
    HASH_SEQ_STATUS status;
    hash_seq_init(&status, table);
    while (auto *entry = static_cast<Entry *>(hash_seq_search(&status))) {
        if (!second_chance && within(needed, bytes, entries)) {
            hash_seq_term(&status);
            return;
        }
        if (second_chance && entry->referenced) {
            entry->referenced = false;
            continue;
        }
        remove_entry(table, entry);
        ++counters.evicted;
    }
}

// Makes room for an entry of needed bytes: when a bound would be exceeded, frees at least a
// quarter of both.
void make_room(Size needed) {
    if (within(needed, limit_bytes(), token_cache_size())) {
        return;
    }
    Size bytes = limit_bytes() / 4 * 3;
    long entries = std::max(1L, static_cast<long>(token_cache_size()) / 4 * 3);
    for (bool second_chance : {true, false}) {
        sweep<CachedToken>(token_table, second_chance, needed, bytes, entries);
        sweep<CachedUser>(user_table, second_chance, needed, bytes, entries);
    }
}

// Where an entry's payload goes: the cache's memory if it may be kept, else the scratch memory
// (it lives until the next lookup).
MemoryContext payload_memory(Size payload_bytes, bool may_keep, bool *keep) {
    *keep = may_keep && caching() &&
            payload_bytes + kEntryOverhead <= limit_bytes() / kLargestEntryShare;
    return *keep ? cache_memory : scratch();
}

Size entry_bytes(void *payload) {
    return GetMemoryChunkSpace(payload) + kEntryOverhead;
}

// Every defined scope, sorted: kept in the cache's memory while caching, else read each time
// into the scratch memory.
ScopeList known_defined_scopes() {
    if (defined_scopes_known && words_current(everything_slot(), defined_scopes_word)) {
        return defined_scopes;
    }
    uint64 everything_word = current_word(everything_slot());
    StoredScopes stored = {};
    fetch_defined_scopes(&stored);
    auto *views =
        static_cast<std::string_view *>(palloc(sizeof(std::string_view) * (stored.count + 1)));
    for (int i = 0; i < stored.count; ++i) {
        views[i] = text_view(DatumGetTextPP(stored.scopes[i]));
    }
    std::size_t count = pat::sort_unique_scopes(views, stored.count);
    Size total = MAXALIGN(sizeof(std::string_view) * count);
    for (std::size_t i = 0; i < count; ++i) {
        total += views[i].size();
    }
    // The old list, if any, stays in the cache's memory until the next reset.
    bool keep = caching() && word_settled(everything_word);
    auto *kept_views =
        static_cast<std::string_view *>(MemoryContextAlloc(keep ? cache_memory : scratch(), total));
    char *bytes = reinterpret_cast<char *>(kept_views) + MAXALIGN(sizeof(std::string_view) * count);
    for (std::size_t i = 0; i < count; ++i) {
        memcpy(bytes, views[i].data(), views[i].size());
        new (&kept_views[i]) std::string_view(bytes, views[i].size());
        bytes += views[i].size();
    }
    ScopeList list = {kept_views, static_cast<int>(count)};
    if (keep) {
        defined_scopes = list;
        defined_scopes_known = true;
        defined_scopes_word = everything_word;
    }
    return list;
}

// What the user's roles allow, from the cache or the tables. In the scratch memory if not kept.
CachedUser *find_user(text *user_id) {
    std::string_view id = text_view(user_id);
    uint64 key = hash_bytes_extended(reinterpret_cast<const unsigned char *>(id.data()),
                                     static_cast<int>(id.size()), 0);
    uint32 slot = pat::signal_slot(pat::SignalKind::user, pat::user_stripe(id));
    if (caching()) {
        auto *hit = static_cast<CachedUser *>(hash_search(user_table, &key, HASH_FIND, nullptr));
        if (hit != nullptr) {
            if (words_current(slot, hit->word) &&
                words_current(everything_slot(), hit->everything_word) &&
                text_view(hit->user_id) == id) {
                hit->referenced = true;
                return hit;
            }
            remove_entry(user_table, hit);
        }
    }
    // Read before the rows are (cache_generations.hpp).
    uint64 everything_word = current_word(everything_slot());
    uint64 word = current_word(slot);
    StoredRoles roles = {};
    fetch_user_roles(user_id, &roles);
    ScopeList defined = roles.all_scopes ? known_defined_scopes() : ScopeList{nullptr, 0};

    auto *role_views =
        static_cast<std::string_view *>(palloc(sizeof(std::string_view) * (roles.scope_count + 1)));
    for (int i = 0; i < roles.scope_count; ++i) {
        role_views[i] = text_view(DatumGetTextPP(roles.scopes[i]));
    }
    auto *views = static_cast<std::string_view *>(
        palloc(sizeof(std::string_view) * (roles.scope_count + defined.count + 1)));
    std::size_t count = pat::grantable_scopes(roles.all_scopes, role_views, roles.scope_count,
                                              defined.items, defined.count, views);
    Size id_bytes = MAXALIGN(VARSIZE_ANY(user_id));
    Size views_bytes = MAXALIGN(sizeof(std::string_view) * count);
    Size total = id_bytes + views_bytes;
    for (std::size_t i = 0; i < count; ++i) {
        total += views[i].size();
    }
    // Read while a change was committing: used for this lookup, never kept.
    bool settled = word_settled(word) && word_settled(everything_word);
    bool keep = false;
    char *payload =
        static_cast<char *>(MemoryContextAlloc(payload_memory(total, settled, &keep), total));
    CachedUser filled = {};
    filled.key = key;
    filled.user_id = reinterpret_cast<text *>(payload);
    memcpy(payload, user_id, VARSIZE_ANY(user_id));
    auto *kept_views = reinterpret_cast<std::string_view *>(payload + id_bytes);
    char *bytes = payload + id_bytes + views_bytes;
    for (std::size_t i = 0; i < count; ++i) {
        memcpy(bytes, views[i].data(), views[i].size());
        new (&kept_views[i]) std::string_view(bytes, views[i].size());
        bytes += views[i].size();
    }
    filled.all_scopes = roles.all_scopes;
    filled.scopes = kept_views;
    filled.scope_count = static_cast<int>(count);
    filled.slot = slot;
    filled.word = word;
    filled.everything_word = everything_word;
    filled.payload = payload;
    if (!keep) {
        auto *entry = static_cast<CachedUser *>(MemoryContextAlloc(scratch(), sizeof(CachedUser)));
        *entry = filled;
        return entry;
    }
    filled.bytes = entry_bytes(payload);
    make_room(filled.bytes);
    auto *entry = static_cast<CachedUser *>(hash_search(user_table, &key, HASH_ENTER, nullptr));
    *entry = filled;
    cached_bytes += filled.bytes;
    return entry;
}

// Builds the cache entry of a stored token in filled (the payload where payload_memory says):
// its effective scopes are its own, less those the user's roles no longer allow.
void fill_token(const StoredToken &stored, ScopeList allowed_scopes, CachedToken *filled,
                bool may_keep, bool *keep) {
    Datum *own = nullptr;
    bool *nulls = nullptr;
    int own_count = 0;
    deconstruct_array(stored.scopes, TEXTOID, -1, false, TYPALIGN_INT, &own, &nulls, &own_count);
    auto *views =
        static_cast<std::string_view *>(palloc(sizeof(std::string_view) * (own_count + 1)));
    std::size_t count = 0;
    for (int i = 0; i < own_count; ++i) {
        if (!nulls[i]) {
            views[count++] = text_view(DatumGetTextPP(own[i]));
        }
    }
    count = pat::sort_unique_scopes(views, count);
    // Effective scopes: the token's own that the user may still grant (policy.hpp), or for an
    // organization's token, that are still defined.
    auto *allowed = static_cast<std::string_view *>(palloc(sizeof(std::string_view) * (count + 1)));
    count = pat::intersect_sorted_scopes(views, count, allowed_scopes.items, allowed_scopes.count,
                                         allowed);
    views = allowed;
    auto *elements = static_cast<Datum *>(palloc(sizeof(Datum) * (count + 1)));
    for (std::size_t i = 0; i < count; ++i) {
        elements[i] = PointerGetDatum(
            cstring_to_text_with_len(views[i].data(), static_cast<int>(views[i].size())));
    }
    ArrayType *effective =
        construct_array(elements, static_cast<int>(count), TEXTOID, -1, false, TYPALIGN_INT);

    Size id_bytes = MAXALIGN(VARSIZE_ANY(stored.user_id));
    Size name_bytes = MAXALIGN(VARSIZE_ANY(stored.name));
    Size scopes_bytes = MAXALIGN(VARSIZE(effective));
    Size views_bytes = MAXALIGN(sizeof(std::string_view) * count);
    varlena *restrictions = restrictions_block(stored.networks, stored.resources, stored.metadata);
    Size total = id_bytes + name_bytes + scopes_bytes + views_bytes +
                 (restrictions != nullptr ? VARSIZE(restrictions) : 0);
    char *payload =
        static_cast<char *>(MemoryContextAlloc(payload_memory(total, may_keep, keep), total));
    filled->user_id = reinterpret_cast<text *>(payload);
    memcpy(payload, stored.user_id, VARSIZE_ANY(stored.user_id));
    filled->name = reinterpret_cast<text *>(payload + id_bytes);
    memcpy(payload + id_bytes, stored.name, VARSIZE_ANY(stored.name));
    filled->scopes = reinterpret_cast<ArrayType *>(payload + id_bytes + name_bytes);
    memcpy(filled->scopes, effective, VARSIZE(effective));
    // The views point into the kept array's elements (deconstruct_array does not copy them).
    Datum *kept = nullptr;
    int kept_count = 0;
    deconstruct_array(filled->scopes, TEXTOID, -1, false, TYPALIGN_INT, &kept, nullptr,
                      &kept_count);
    auto *kept_views =
        reinterpret_cast<std::string_view *>(payload + id_bytes + name_bytes + scopes_bytes);
    for (int i = 0; i < kept_count; ++i) {
        new (&kept_views[i]) std::string_view(text_view(DatumGetTextPP(kept[i])));
    }
    filled->sorted_scopes = kept_views;
    filled->scope_count = kept_count;
    filled->restrictions = nullptr;
    if (restrictions != nullptr) {
        char *at = payload + id_bytes + name_bytes + scopes_bytes + views_bytes;
        memcpy(at, restrictions, VARSIZE(restrictions));
        filled->restrictions = reinterpret_cast<const varlena *>(at);
    }
    filled->suspended = stored.suspended;
    filled->payload = payload;
    filled->token_id = stored.token_id;
    filled->has_expiry = stored.has_expiry;
    filled->expires_at = stored.expires_at;
    filled->revoked = stored.revoked;
    filled->organization = stored.organization;
    filled->delegated = stored.delegated;
    filled->limits = stored.limits;
    filled->limiter_slot = kUnknownLimiterSlot;
    filled->limiter_slot_home = nullptr;
}

bool is_current(const EntryWords &words) {
    if (!use_shared_words) {
        return words_current(everything_slot(), words.everything_word) &&
               words_current(words.token_slot, words.token_word) &&
               words_current(words.user_slot, words.user_word);
    }
    const uint32 slots[] = {everything_slot(), words.token_slot, words.user_slot};
    const uint64 then[] = {words.everything_word, words.token_word, words.user_word};
    uint64 now[lengthof(slots)];
    read_slot_words(slots, now, lengthof(slots));
    for (Size i = 0; i < lengthof(slots); ++i) {
        if (now[i] != then[i] || !word_settled(now[i])) {
            return false;
        }
    }
    return true;
}

// What every lookup does first: accept committed changes, settle finished prepared
// transactions, and apply a reset or new bounds. Returns whether the cache is in use.
bool begin_lookup() {
    AcceptInvalidationMessages();
    use_shared_words = shared_generations_usable();
    own_changes_pending = false;
    bool use_cache = caching();
    // Entries read under one kind of word mean nothing under the other (a promotion).
    if (cache_stale || (!use_cache && token_table != nullptr) ||
        (token_table != nullptr && entries_under_shared_words != use_shared_words)) {
        reset_cache();
    }
    entries_under_shared_words = use_shared_words;
    if (use_shared_words) {
        settle_prepared();
    }
    // On a standby nothing is changed here; off it, no word shows this transaction's changes.
    own_changes_pending = use_shared_words && changes_pending();
    use_cache = use_cache && !own_changes_pending;
    if (use_cache) {
        create_tables();
        // A lowered bound takes effect here: memory is freed only inside a lookup.
        bool lowered =
            token_cache_size() < seen_capacity || token_cache_memory_kb() < seen_memory_limit_kb;
        seen_capacity = token_cache_size();
        seen_memory_limit_kb = token_cache_memory_kb();
        if (lowered) {
            make_room(0);
        }
    }
    return use_cache;
}

}  // namespace

Size payload_size(const CachedToken &token) {
    // The token's limits come last in the block, else the views of its scopes.
    const char *end =
        token.restrictions != nullptr
            ? reinterpret_cast<const char *>(token.restrictions) + VARSIZE(token.restrictions)
            : reinterpret_cast<const char *>(token.sorted_scopes + token.scope_count);
    return static_cast<Size>(end - static_cast<const char *>(token.payload));
}

CachedToken relocated_token(const CachedToken &token, char *room) {
    const char *start = static_cast<const char *>(token.payload);
    memcpy(room, start, payload_size(token));
    ptrdiff_t moved = room - start;
    auto move = [moved](auto *pointer) {
        using Pointee = std::remove_const_t<std::remove_pointer_t<decltype(pointer)>>;
        return reinterpret_cast<Pointee *>(
            reinterpret_cast<char *>(const_cast<Pointee *>(pointer)) + moved);
    };
    CachedToken copy = token;
    copy.payload = room;
    copy.user_id = move(token.user_id);
    copy.name = move(token.name);
    copy.scopes = move(token.scopes);
    std::string_view *views = move(token.sorted_scopes);
    for (int i = 0; i < token.scope_count; ++i) {
        views[i] = std::string_view(views[i].data() + moved, views[i].size());
    }
    copy.sorted_scopes = views;
    if (token.restrictions != nullptr) {
        copy.restrictions = move(token.restrictions);
    }
    return copy;
}

CachedToken *find_token(const pat::Digest &digest) {
    bool use_cache = begin_lookup();
    bool use_shared = use_cache && use_shared_words && shared_tokens_exist();
    if (use_shared) {
        CachedToken *hot = find_hot_token(digest);
        if (hot != nullptr && is_current(hot->words)) {
            count_shared_hit();
            ++counters.hits;
            counters.last_missed = false;
            return hot;
        }
        MemoryContextReset(scratch());
        MemoryContext caller = MemoryContextSwitchTo(scratch());
        bool hit = find_shared_token(digest, is_current, &shared_hit);
        MemoryContextSwitchTo(caller);
        if (hit) {
            keep_hot_token(shared_hit);
            ++counters.hits;
            counters.last_missed = false;
            return &shared_hit;
        }
    }
    uint32 hash = use_cache ? get_hash_value(token_table, &digest) : 0;
    if (use_cache) {
        auto *hit = static_cast<CachedToken *>(
            hash_search_with_hash_value(token_table, &digest, hash, HASH_FIND, nullptr));
        if (hit != nullptr) {
            if (is_current(hit->words)) {
                hit->referenced = true;
                ++counters.hits;
                counters.last_missed = false;
                return hit;
            }
            remove_entry(token_table, hit);
            ++counters.dropped;
        }
    }
    ++counters.misses;
    counters.last_missed = true;
    if (use_shared) {
        count_shared_miss();
    }
    EntryWords words = {};
    words.token_slot =
        pat::signal_slot(pat::SignalKind::token, pat::token_stripe(digest.data(), digest.size()));
    // Read before the row is (the argument at the top of this file).
    words.everything_word = current_word(everything_slot());
    words.token_word = current_word(words.token_slot);
    MemoryContextReset(scratch());
    MemoryContext caller = MemoryContextSwitchTo(scratch());
    StoredToken stored = {};
    if (!fetch_token_row(digest, &stored)) {
        MemoryContextSwitchTo(caller);
        return nullptr;
    }
    CachedUser *user = find_user(stored.user_id);
    words.user_slot = user->slot;
    words.user_word = user->word;
    // A user read under another word of everything than the token's row (a change to
    // everything in between) makes an entry that is used for this lookup, never kept.
    bool settled = word_settled(words.everything_word) && word_settled(words.token_word) &&
                   word_settled(words.user_word) && user->everything_word == words.everything_word;
    // An organization's token is bounded by the defined scopes, never by a person's roles
    // (its user id is an account id): read under everything's word, which the entry holds.
    ScopeList allowed =
        stored.organization ? known_defined_scopes() : ScopeList{user->scopes, user->scope_count};
    CachedToken filled = {};
    filled.digest = digest;
    filled.words = words;
    bool kept = false;
    fill_token(stored, allowed, &filled, settled && !use_shared, &kept);
    MemoryContextSwitchTo(caller);
    if (use_shared && settled) {
        if (!store_shared_token(filled, words)) {
            // Too big for a shared entry: kept in this backend's cache instead. Filled again
            // so that its payload is in the cache's memory.
            MemoryContextSwitchTo(scratch());
            fill_token(stored, allowed, &filled, true, &kept);
            MemoryContextSwitchTo(caller);
        }
    }
    if (!kept) {
        auto *entry = static_cast<CachedToken *>(palloc(sizeof(CachedToken)));
        *entry = filled;
        return entry;
    }
    // Entered only once filled, so an error while filling leaves no half-made entry behind.
    filled.bytes = entry_bytes(filled.payload);
    make_room(filled.bytes);
    auto *entry = static_cast<CachedToken *>(
        hash_search_with_hash_value(token_table, &digest, hash, HASH_ENTER, nullptr));
    *entry = filled;
    cached_bytes += filled.bytes;
    return entry;
}

UserGrants find_user_grants(text *user_id) {
    begin_lookup();
    MemoryContextReset(scratch());
    MemoryContext caller = MemoryContextSwitchTo(scratch());
    CachedUser *user = find_user(user_id);
    UserGrants grants = {{user->scopes, user->scope_count}, known_defined_scopes()};
    MemoryContextSwitchTo(caller);
    return grants;
}

ScopeList find_defined_scopes() {
    begin_lookup();
    MemoryContextReset(scratch());
    MemoryContext caller = MemoryContextSwitchTo(scratch());
    ScopeList defined = known_defined_scopes();
    MemoryContextSwitchTo(caller);
    return defined;
}

TokenCacheStats token_cache_stats() {
    TokenCacheStats stats = counters;
    stats.tokens = token_table != nullptr ? hash_get_num_entries(token_table) : 0;
    stats.users = user_table != nullptr ? hash_get_num_entries(user_table) : 0;
    stats.bytes = static_cast<int64>(cached_bytes);
    return stats;
}

void setup_token_cache() {
    CacheRegisterRelcacheCallback(on_relcache_invalidation, 0);
    setup_cache_generations();
    setup_shared_tokens();
}

}  // namespace pat::pg
