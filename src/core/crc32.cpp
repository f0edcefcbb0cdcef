// Table-driven CRC-32 (IEEE, reflected).
#include "crc32.hpp"

#include <array>

namespace pat {

namespace {

// The 256-entry lookup table for the reflected polynomial, built at compile time.
constexpr std::array<std::uint32_t, 256> make_table() noexcept {
    std::array<std::uint32_t, 256> table{};
    for (std::uint32_t i = 0; i < 256; ++i) {
        std::uint32_t c = i;
        for (int bit = 0; bit < 8; ++bit)
            c = (c & 1U) ? (0xEDB88320U ^ (c >> 1)) : (c >> 1);
        table[i] = c;
    }
    return table;
}

constexpr std::array<std::uint32_t, 256> kTable = make_table();

}  // namespace

// CRC-32 of data, as zlib's crc32() computes it.
std::uint32_t crc32(std::string_view data) noexcept {
    std::uint32_t crc = 0xFFFFFFFFU;
    for (char ch : data)
        crc = kTable[(crc ^ static_cast<unsigned char>(ch)) & 0xFFU] ^ (crc >> 8);
    return crc ^ 0xFFFFFFFFU;
}

}  // namespace pat
