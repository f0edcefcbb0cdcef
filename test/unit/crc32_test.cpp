// CRC-32 against published check values (identical to zlib's crc32).
#include "core/crc32.hpp"

#include <string>

#include <gtest/gtest.h>

namespace {

TEST(Crc32, KnownVectors) {
    EXPECT_EQ(pat::crc32(""), 0x00000000U);
    EXPECT_EQ(pat::crc32("a"), 0xE8B7BE43U);
    EXPECT_EQ(pat::crc32("abc"), 0x352441C2U);
    EXPECT_EQ(pat::crc32("123456789"), 0xCBF43926U);
    EXPECT_EQ(pat::crc32("The quick brown fox jumps over the lazy dog"), 0x414FA339U);
}

TEST(Crc32, HandlesHighBytesAndEmbeddedNul) {
    // Values from Python's zlib.crc32.
    EXPECT_EQ(pat::crc32(std::string_view("\0", 1)), 0xD202EF8DU);
    EXPECT_EQ(pat::crc32("\xFF"), 0xFF000000U);
    EXPECT_NE(pat::crc32(std::string_view("a\0", 2)), pat::crc32("a"));
}

TEST(Crc32, DetectsEverySingleBitFlip) {
    const std::string base = "pat_0123456789ABCDEFGHIJKLMNOPQRST";
    const std::uint32_t expected = pat::crc32(base);
    for (std::size_t i = 0; i < base.size(); ++i) {
        for (int bit = 0; bit < 8; ++bit) {
            std::string flipped = base;
            flipped[i] = static_cast<char>(flipped[i] ^ (1 << bit));
            EXPECT_NE(pat::crc32(flipped), expected) << "position " << i << " bit " << bit;
        }
    }
}

}  // namespace

namespace {

// The bitwise definition of CRC-32 (IEEE 802.3, reflected), byte by byte.
std::uint32_t reference_crc32(const std::string &data) {
    std::uint32_t crc = 0xFFFFFFFFU;
    for (unsigned char byte : data) {
        crc ^= byte;
        for (int bit = 0; bit < 8; ++bit)
            crc = (crc & 1U) ? (0xEDB88320U ^ (crc >> 1)) : (crc >> 1);
    }
    return crc ^ 0xFFFFFFFFU;
}

TEST(Crc32, EveryLengthAndAlignmentMatchesTheBitwiseDefinition) {
    std::string data;
    std::uint32_t seed = 12345;
    for (int i = 0; i < 100; ++i) {
        seed = seed * 1103515245U + 12345U;
        data.push_back(static_cast<char>(seed >> 24));
    }
    for (std::size_t offset = 0; offset < 8; ++offset) {
        for (std::size_t length = 0; offset + length <= data.size(); ++length) {
            std::string slice = data.substr(offset, length);
            ASSERT_EQ(pat::crc32(std::string_view(data).substr(offset, length)),
                      reference_crc32(slice))
                << "offset " << offset << ", length " << length;
        }
    }
}

}  // namespace
