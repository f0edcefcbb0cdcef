// Base62 encoding of fixed-width numbers.
#include "base62.hpp"

#include <limits>
#include <stdexcept>

namespace pat {

namespace {

constexpr std::uint64_t kBase = 62;

}  // namespace

// Fixed-width, zero-padded encoding, so encoded checksums always have the same length.
std::string base62_encode(std::uint64_t value, std::size_t width) {
    std::string out(width, '0');
    for (std::size_t i = width; i > 0; --i) {
        out[i - 1] = kBase62Alphabet[value % kBase];
        value /= kBase;
    }
    if (value != 0)
        throw std::invalid_argument("base62_encode: value does not fit in the requested width");
    return out;
}

// Inverse of base62_encode; rejects rather than wraps on 64-bit overflow.
std::optional<std::uint64_t> base62_decode(std::string_view digits) noexcept {
    if (digits.empty())
        return std::nullopt;
    constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
    std::uint64_t value = 0;
    for (char c : digits) {
        const int d = base62_digit(c);
        if (d < 0)
            return std::nullopt;
        const auto digit = static_cast<std::uint64_t>(d);
        if (value > (kMax - digit) / kBase)
            return std::nullopt;
        value = value * kBase + digit;
    }
    return value;
}

}  // namespace pat
