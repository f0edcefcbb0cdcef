// Base62 (0-9, A-Z, a-z) for fixed-width numbers, as used by the token checksum.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pat {

inline constexpr std::string_view kBase62Alphabet =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

namespace detail {
// Digit values by character (-1: not base62); a table, since this runs on every check.
constexpr std::array<std::int8_t, 256> make_base62_digits() noexcept {
    std::array<std::int8_t, 256> digits{};
    for (auto &d : digits)
        d = -1;
    for (std::size_t i = 0; i < kBase62Alphabet.size(); ++i)
        digits[static_cast<unsigned char>(kBase62Alphabet[i])] = static_cast<std::int8_t>(i);
    return digits;
}
inline constexpr std::array<std::int8_t, 256> kBase62Digits = make_base62_digits();
}  // namespace detail

// The digit value of a base62 character, or -1 (locale-independent).
inline int base62_digit(char c) noexcept {
    return detail::kBase62Digits[static_cast<unsigned char>(c)];
}

// Whether c is one of the 62 alphabet characters.
inline bool is_base62_char(char c) noexcept {
    return base62_digit(c) >= 0;
}

// Encodes value in exactly `width` digits, most significant first, zero-padded ('0').
// Requires value < 62^width (throws std::invalid_argument otherwise).
std::string base62_encode(std::uint64_t value, std::size_t width);

// Decodes digits produced by base62_encode; nullopt on a non-base62 character, an empty input
// or a value that does not fit in 64 bits.
std::optional<std::uint64_t> base62_decode(std::string_view digits) noexcept;

}  // namespace pat
