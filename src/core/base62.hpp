// Base62 (0-9, A-Z, a-z) for fixed-width numbers, as used by the token checksum.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pat {

inline constexpr std::string_view kBase62Alphabet =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

bool is_base62_char(char c) noexcept;

// Encodes value in exactly `width` digits, most significant first, zero-padded ('0').
// Requires value < 62^width (throws std::invalid_argument otherwise).
std::string base62_encode(std::uint64_t value, std::size_t width);

// Decodes digits produced by base62_encode; nullopt on a non-base62 character, an empty input
// or a value that does not fit in 64 bits.
std::optional<std::uint64_t> base62_decode(std::string_view digits) noexcept;

}  // namespace pat
