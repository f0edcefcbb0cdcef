// Token text: building, generating and checking the checksum.
#include "token.hpp"

#include <cstdint>
#include <stdexcept>

#include "base62.hpp"
#include "crc32.hpp"
#include "random.hpp"

namespace pat {

namespace {

// Prefix characters: ASCII letters, digits, '_' and '-' (no locale, so ctype is not used).
bool is_prefix_char(char c) noexcept {
    return is_base62_char(c) || c == '_' || c == '-';
}

// Whether every character of s is base62.
bool all_base62(std::string_view s) noexcept {
    for (char c : s) {
        if (!is_base62_char(c))
            return false;
    }
    return true;
}

}  // namespace

// Whether prefix may start a token.
bool is_valid_token_prefix(std::string_view prefix) noexcept {
    if (prefix.size() > kTokenPrefixMaxChars)
        return false;
    for (char c : prefix) {
        if (!is_prefix_char(c))
            return false;
    }
    return true;
}

// Appends the checksum of prefix + random part; split from generation so it is testable.
std::string assemble_token(std::string_view prefix, std::string_view random_part) {
    if (!is_valid_token_prefix(prefix))
        throw std::invalid_argument("assemble_token: invalid token prefix");
    if (random_part.size() != kTokenRandomChars || !all_base62(random_part))
        throw std::invalid_argument("assemble_token: random part must be 30 base62 characters");
    std::string token;
    token.reserve(prefix.size() + kTokenRandomChars + kTokenChecksumChars);
    token.append(prefix);
    token.append(random_part);
    token.append(base62_encode(crc32(token), kTokenChecksumChars));
    return token;
}

// A fresh token under prefix.
std::string generate_token(std::string_view prefix) {
    if (!is_valid_token_prefix(prefix))
        throw std::invalid_argument("generate_token: invalid token prefix");
    return assemble_token(prefix, random_base62(kTokenRandomChars));
}

// Offline shape and checksum check. Decoding the checksum instead of encoding the CRC avoids an
// allocation; both agree because 6-digit base62 is a bijection onto [0, 62^6).
bool is_well_formed_token(std::string_view text) noexcept {
    if (text.size() > kTokenMaxChars || text.size() < kTokenRandomChars + kTokenChecksumChars)
        return false;
    const std::size_t body_len = text.size() - kTokenChecksumChars;
    const std::size_t prefix_len = body_len - kTokenRandomChars;
    if (!is_valid_token_prefix(text.substr(0, prefix_len)))
        return false;
    if (!all_base62(text.substr(prefix_len, kTokenRandomChars)))
        return false;
    const std::optional<std::uint64_t> checksum = base62_decode(text.substr(body_len));
    return checksum && *checksum == crc32(text.substr(0, body_len));
}

}  // namespace pat
