// A backend's copies of the shared entries it checked last: the hot tokens a pooled connection
// checks again and again are answered without the shared table's partition lock, its hash probe
// and the unpacking of the entry.
//
// A copy is only a copy: it keeps the words its shared entry was read under, and token_cache.cpp
// uses it only when those words are still current, exactly as it would the shared entry. So a
// copy can never say more than the shared table would; a copy the shared table has since evicted
// is still right, for the same reason the entry was.
//
// The copies sit in a fixed array of slots, one slot per digest (direct-mapped: a newer token
// whose digest maps to an occupied slot replaces the older), so that a backend's memory for them
// is bounded (kHotTokenSlots slots of kHotTokenBytes) and a copy costs one memcpy, no allocation.
#pragma once

#include "pg/bridge/postgres.hpp"

#include "core/digest.hpp"
#include "pg/tokens/token_cache.hpp"

namespace pat::pg {

constexpr int kHotTokenSlots = 512;  // a power of two
// The payload room of a slot: a shared entry's values and the views of its scopes.
constexpr Size kHotTokenBytes = 432;

// The copy of the token with this digest, or nullptr; whether it is current is the caller's to
// check. Valid until the next keep_hot_token() or forget_hot_tokens().
CachedToken *find_hot_token(const pat::Digest &digest);

// Copies token (a shared entry unpacked by find_shared_token) into its slot, if it fits.
void keep_hot_token(const CachedToken &token);

// Drops every copy (the cache was reset).
void forget_hot_tokens();

}  // namespace pat::pg
