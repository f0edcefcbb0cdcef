// Signals that tell every backend which cached tokens a committed change reaches.
//
// A change to one token, or to one user's roles, is announced as one 32-bit signal: the kind
// (token or user) and a stripe, a 16-bit hash of the token's digest or of the user id (the
// digest, because a backend looking a token up knows it before it reads the row). A backend keeps
// one generation counter per stripe and compares it with the one an entry was cached under, so a
// signal drops only the entries of its stripe (the token itself, and the rare token or user
// that shares the stripe). The glue carries signals as relcache invalidations of OIDs at the
// very top of the OID space (kSignalBase and up): PostgreSQL sends those at commit, to every
// backend, on standbys too (they travel in the commit record), and discards them on rollback.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace pat {

enum class SignalKind : std::uint32_t { token = 0, user = 1 };

inline constexpr std::uint32_t kSignalStripes = 65536;
inline constexpr std::uint32_t kSignalKinds = 2;
// Generation counters a backend keeps: one per (kind, stripe).
inline constexpr std::uint32_t kSignalSlots = kSignalKinds * kSignalStripes;
// The first signal id; the last is 0xFFFFFFFF. Far above the OIDs relations get in practice,
// and a collision with one is harmless both ways (a spurious drop, a spurious relcache reset).
inline constexpr std::uint32_t kSignalBase = 0xFFFFFFFFu - kSignalSlots + 1;

// The stripe of a token, from its stored digest.
std::uint32_t token_stripe(const unsigned char *digest, std::size_t size) noexcept;
// The stripe of a user, from the user id.
std::uint32_t user_stripe(std::string_view user_id) noexcept;

// The generation slot of a signal kind and stripe, in [0, kSignalSlots).
constexpr std::uint32_t signal_slot(SignalKind kind, std::uint32_t stripe) noexcept {
    return static_cast<std::uint32_t>(kind) * kSignalStripes + stripe % kSignalStripes;
}
// The signal id announcing a change in slot.
constexpr std::uint32_t signal_id(std::uint32_t slot) noexcept {
    return kSignalBase + slot % kSignalSlots;
}
// Whether id is a signal, and its slot if so.
constexpr bool signal_slot_of(std::uint32_t id, std::uint32_t *slot) noexcept {
    if (id < kSignalBase) {
        return false;
    }
    *slot = id - kSignalBase;
    return true;
}

}  // namespace pat
