// Stripes of tokens and users; see cache_signal.hpp.
#include "core/cache_signal.hpp"

namespace pat {

namespace {

// FNV-1a, folded to 16 bits: stable across builds and machines, so every backend of every
// node computes the same stripe.
std::uint32_t stripe_of(const unsigned char *data, std::size_t size) noexcept {
    std::uint32_t hash = 2166136261u;
    for (std::size_t i = 0; i < size; ++i) {
        hash ^= data[i];
        hash *= 16777619u;
    }
    return ((hash >> 16) ^ hash) & (kSignalStripes - 1);
}

}  // namespace

// A digest is already uniformly distributed: its first two bytes are the stripe.
std::uint32_t token_stripe(const unsigned char *digest, std::size_t size) noexcept {
    if (size < 2) {
        return stripe_of(digest, size);
    }
    return (static_cast<std::uint32_t>(digest[0]) << 8 | digest[1]) & (kSignalStripes - 1);
}

std::uint32_t user_stripe(std::string_view user_id) noexcept {
    return stripe_of(reinterpret_cast<const unsigned char *>(user_id.data()), user_id.size());
}

}  // namespace pat
