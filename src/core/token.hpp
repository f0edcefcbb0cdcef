// Token text: <prefix><30 random base62 chars><6 base62 chars of CRC-32>.
//
// The checksum is the CRC-32 of everything before it (prefix and random part), so a secret
// scanner can check a candidate without a lookup. A token is parsed from its end: the prefix is
// whatever precedes the random part, so tokens issued under an earlier prefix stay readable.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace pat {

inline constexpr std::size_t kTokenRandomChars = 30;   // 30 * log2(62) = 178.6 bits
inline constexpr std::size_t kTokenChecksumChars = 6;  // 62^6 > 2^32
inline constexpr std::size_t kTokenPrefixMaxChars = 64;
inline constexpr std::size_t kTokenMaxChars =
    kTokenPrefixMaxChars + kTokenRandomChars + kTokenChecksumChars;

// A prefix is 0..64 characters of ASCII letters, digits, '_' and '-'.
bool is_valid_token_prefix(std::string_view prefix) noexcept;

// prefix + random part + checksum; random_part must be kTokenRandomChars base62 characters and
// prefix valid (std::invalid_argument otherwise).
std::string assemble_token(std::string_view prefix, std::string_view random_part);

// A new token with the given prefix and fresh CSPRNG randomness.
std::string generate_token(std::string_view prefix);

// True when text has a valid prefix, a base62 random part and a matching checksum. Never
// throws, never allocates, and looks at no more than kTokenMaxChars characters' worth of input.
bool is_well_formed_token(std::string_view text) noexcept;

}  // namespace pat
