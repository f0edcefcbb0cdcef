// Base62 encoding and decoding.
#include "core/base62.hpp"

#include <cstdint>
#include <limits>
#include <random>
#include <stdexcept>

#include <gtest/gtest.h>

namespace {

constexpr std::uint64_t k62Pow6 = 62ULL * 62 * 62 * 62 * 62 * 62;  // 56'800'235'584

TEST(Base62, AlphabetIsSixtyTwoDistinctCharsInOrder) {
    ASSERT_EQ(pat::kBase62Alphabet.size(), 62U);
    for (std::size_t i = 1; i < pat::kBase62Alphabet.size(); ++i)
        EXPECT_LT(pat::kBase62Alphabet[i - 1], pat::kBase62Alphabet[i]);
}

TEST(Base62, IsBase62CharMatchesAlphabetExactly) {
    for (int b = 0; b < 256; ++b) {
        const char c = static_cast<char>(b);
        const bool in_alphabet = pat::kBase62Alphabet.find(c) != std::string_view::npos;
        EXPECT_EQ(pat::is_base62_char(c), in_alphabet) << "byte " << b;
    }
}

TEST(Base62, EncodesKnownValues) {
    EXPECT_EQ(pat::base62_encode(0, 6), "000000");
    EXPECT_EQ(pat::base62_encode(1, 6), "000001");
    EXPECT_EQ(pat::base62_encode(9, 1), "9");
    EXPECT_EQ(pat::base62_encode(10, 1), "A");
    EXPECT_EQ(pat::base62_encode(35, 1), "Z");
    EXPECT_EQ(pat::base62_encode(36, 1), "a");
    EXPECT_EQ(pat::base62_encode(61, 1), "z");
    EXPECT_EQ(pat::base62_encode(62, 2), "10");
    EXPECT_EQ(pat::base62_encode(62 * 62 - 1, 2), "zz");
    EXPECT_EQ(pat::base62_encode(k62Pow6 - 1, 6), "zzzzzz");
    EXPECT_EQ(pat::base62_encode(0xFFFFFFFFULL, 6), "4gfFC3");
}

TEST(Base62, WidthZeroOnlyHoldsZero) {
    EXPECT_EQ(pat::base62_encode(0, 0), "");
    EXPECT_THROW(pat::base62_encode(1, 0), std::invalid_argument);
}

TEST(Base62, RejectsValuesTooWideForWidth) {
    EXPECT_THROW(pat::base62_encode(62, 1), std::invalid_argument);
    EXPECT_THROW(pat::base62_encode(k62Pow6, 6), std::invalid_argument);
    EXPECT_NO_THROW(pat::base62_encode(k62Pow6, 7));
}

TEST(Base62, EncodingHasExactlyTheRequestedWidth) {
    for (std::size_t width = 1; width <= 11; ++width)
        EXPECT_EQ(pat::base62_encode(0, width).size(), width);
    EXPECT_EQ(pat::base62_encode(std::numeric_limits<std::uint64_t>::max(), 11).size(), 11U);
    EXPECT_EQ(pat::base62_encode(5, 20), "00000000000000000005");
}

TEST(Base62, RoundTripsEdgeValues) {
    const std::uint64_t max64 = std::numeric_limits<std::uint64_t>::max();
    const std::pair<std::uint64_t, std::size_t> cases[] = {
        {0, 1},       {0, 6},          {1, 6},      {61, 1},         {62, 2},     {k62Pow6 - 1, 6},
        {k62Pow6, 7}, {0xFFFFFFFF, 6}, {max64, 11}, {max64 - 1, 11}, {max64, 15}, {12345678, 9},
    };
    for (const auto &[value, width] : cases) {
        const std::string encoded = pat::base62_encode(value, width);
        EXPECT_EQ(pat::base62_decode(encoded), value) << encoded;
    }
}

TEST(Base62, RoundTripsRandomValues) {
    std::mt19937_64 rng(20240601);
    for (int i = 0; i < 10000; ++i) {
        const std::uint64_t value = rng();
        const std::string encoded = pat::base62_encode(value, 11);
        ASSERT_EQ(pat::base62_decode(encoded), value) << encoded;
        const std::uint64_t small = value % k62Pow6;
        ASSERT_EQ(pat::base62_decode(pat::base62_encode(small, 6)), small);
    }
}

TEST(Base62, DecodeRejectsBadInput) {
    EXPECT_EQ(pat::base62_decode(""), std::nullopt);
    EXPECT_EQ(pat::base62_decode("12-4"), std::nullopt);
    EXPECT_EQ(pat::base62_decode("_"), std::nullopt);
    EXPECT_EQ(pat::base62_decode(" 1"), std::nullopt);
    EXPECT_EQ(pat::base62_decode(std::string_view("1\0", 2)), std::nullopt);
    EXPECT_EQ(pat::base62_decode("\xC3\xA9"), std::nullopt);
}

TEST(Base62, DecodeRejectsOverflow) {
    const std::string max = pat::base62_encode(std::numeric_limits<std::uint64_t>::max(), 11);
    EXPECT_EQ(max, "LygHa16AHYF");
    EXPECT_EQ(pat::base62_decode("LygHa16AHYG"), std::nullopt);  // max + 1
    EXPECT_EQ(pat::base62_decode("zzzzzzzzzzz"), std::nullopt);
    EXPECT_EQ(pat::base62_decode("LygHa16AHYF0"), std::nullopt);  // max * 62
    // Leading zeros do not count towards overflow.
    EXPECT_EQ(pat::base62_decode("0000LygHa16AHYF"), std::numeric_limits<std::uint64_t>::max());
}

}  // namespace
