// The digest under which a token is stored: SHA-256, or HMAC-SHA-256 when a server key is set.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>

namespace pat {

inline constexpr std::size_t kDigestBytes = 32;
using Digest = std::array<unsigned char, kDigestBytes>;

// SHA-256(token) when key is empty, HMAC-SHA-256(key, token) otherwise. Throws pat::Error
// (XX000) if OpenSSL fails.
Digest token_digest(std::string_view token, std::string_view key);

// Constant-time equality for secrets of equal length (false for different lengths).
bool constant_time_equal(const unsigned char *a, std::size_t a_len, const unsigned char *b,
                         std::size_t b_len) noexcept;

}  // namespace pat
