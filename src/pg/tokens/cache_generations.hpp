// The server-wide generations that say whether a shared cache entry is still current.
//
// One 64-bit word per signal slot (core/cache_signal.hpp) and one for "everything", in shared
// memory: the high half counts the committed changes that reached the slot, the low half the
// transactions that are committing a change to it right now. The transaction that makes a
// change raises both halves just before its commit becomes visible (XACT_EVENT_PRE_COMMIT) and
// moves the count from the low half to the high half just after (XACT_EVENT_COMMIT), so a
// reader that finds the low half zero and the high half unchanged since an entry was read knows
// no change to the slot became visible in between. A rolled back transaction raises nothing.
// A prepared transaction's commit happens in another session, so a prepared transaction that
// changed something is remembered until it is no longer in progress, and then counts as a change
// to everything (settle_prepared). token_cache.cpp states the whole argument.
//
// On a standby no process of ours sees a replayed commit before it is visible, so the words are
// not used there: each backend keeps the per-backend cache fed by replayed invalidations.
#pragma once

#include "pg/bridge/postgres.hpp"

namespace pat::pg {

// The slot that every entry depends on: scopes or roles (re)defined, a table truncated or
// altered, an invalidation queue overflow.
uint32 everything_slot();

// Whether this backend can use the shared words: preloaded, and not in recovery.
bool shared_generations_usable();

// The word of slot now (with a full memory barrier before the read).
uint64 slot_word(uint32 slot);
// The words of count slots now, after one full memory barrier: what a check compares an entry's
// words with, at the cost of one barrier however many slots the entry depends on.
void read_slot_words(const uint32 *slots, uint64 *words, int count);

// Whether no change to the slot is being committed in word.
inline bool word_settled(uint64 word) {
    return static_cast<uint32>(word) == 0;
}

// Records that the current transaction changes slot: its words are raised around the commit.
void note_change(uint32 slot);
// Whether the current transaction has changed something: its own lookups must see its changes,
// which no word shows, so they use no cached entry and keep none.
bool changes_pending();

// Accounts for prepared transactions that changed something and are no longer in progress: each
// is a change to everything. The first call after the server starts lists the prepared
// transactions an earlier run left (SPI). Before any entry is read or stored.
void settle_prepared();

// Adds the words to the shared segment and registers the transaction callback; from _PG_init.
void setup_cache_generations();

}  // namespace pat::pg
