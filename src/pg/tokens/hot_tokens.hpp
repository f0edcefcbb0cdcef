// A backend's copies of the shared entries it checked last: the hot tokens a pooled connection
// checks again and again are answered without the shared table's partition lock, its hash probe
// and the unpacking of the entry.
//
// A copy is only a copy: it keeps the words its shared entry was read under, and token_cache.cpp
// uses it only when those words are still current, exactly as it would the shared entry. So a
// copy can never say more than the shared table would; a copy the shared table has since evicted
// is still right, for the same reason the entry was.
//
// The copies are written one after another into a ring of kHotTokenRingBytes, the oldest
// overwritten first, and found through a set-associative index (kHotTokenWays copies per set of
// digests), so that a hot set of a thousand or more tokens fits whatever their digests, a copy
// costs one memcpy and no allocation, and a backend's memory for them is bounded: the ring and
// the index, allocated at the first copy, their pages touched only as copies are written. A copy
// checked again once it has aged through half the ring is written anew at its head, so the
// tokens a connection keeps checking stay while one-off checks pass through.
#pragma once

#include "pg/bridge/postgres.hpp"

#include "core/digest.hpp"
#include "pg/tokens/token_cache.hpp"

namespace pat::pg {

constexpr Size kHotTokenRingBytes = 352 * 1024;
constexpr int kHotTokenSets = 1024;  // a power of two
constexpr int kHotTokenWays = 4;
// A token whose copy would take more than this is not copied: a few huge tokens do not push a
// hot set out of the ring.
constexpr Size kHotTokenLargestCopy = 2048;

// The copy of the token with this digest, or nullptr; whether it is current is the caller's to
// check. Valid until the next keep_hot_token() or forget_hot_tokens().
CachedToken *find_hot_token(const pat::Digest &digest);

// Copies token (a shared entry unpacked by find_shared_token) to the head of the ring.
void keep_hot_token(const CachedToken &token);

// Drops every copy (the cache was reset).
void forget_hot_tokens();

}  // namespace pat::pg
