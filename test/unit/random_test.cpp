// CSPRNG wrappers: lengths, alphabet and uniformity of random_base62.
#include "core/random.hpp"

#include <array>
#include <cstddef>
#include <map>
#include <vector>

#include <gtest/gtest.h>

#include "core/base62.hpp"

namespace {

TEST(RandomBytes, ZeroLengthIsFine) {
    EXPECT_NO_THROW(pat::random_bytes(nullptr, 0));
}

TEST(RandomBytes, FillsTheWholeBuffer) {
    // Two 4 KiB draws agreeing, or a 64-byte tail left all zero, would mean a broken fill.
    std::vector<unsigned char> a(4096, 0), b(4096, 0);
    pat::random_bytes(a.data(), a.size());
    pat::random_bytes(b.data(), b.size());
    EXPECT_NE(a, b);
    EXPECT_NE(std::vector<unsigned char>(a.end() - 64, a.end()), std::vector<unsigned char>(64, 0));
}

TEST(RandomBase62, HasRequestedLengthAndAlphabet) {
    for (std::size_t n : {0U, 1U, 30U, 63U, 64U, 65U, 1000U}) {
        const std::string s = pat::random_base62(n);
        ASSERT_EQ(s.size(), n);
        for (char c : s)
            ASSERT_TRUE(pat::is_base62_char(c)) << static_cast<int>(c);
    }
}

TEST(RandomBase62, IsUniformWithoutModuloBias) {
    // 620000 draws: each character is expected 10000 times (sd ~ 99). Modulo bias from taking
    // byte % 62 without rejection would give '0'..'7' about 12100, far beyond the bound.
    constexpr std::size_t kPerChar = 10000;
    const std::string s = pat::random_base62(62 * kPerChar);
    std::array<std::size_t, 256> counts{};
    for (char c : s)
        ++counts[static_cast<unsigned char>(c)];
    for (char c : pat::kBase62Alphabet) {
        const std::size_t n = counts[static_cast<unsigned char>(c)];
        EXPECT_GT(n, kPerChar - 700) << c;
        EXPECT_LT(n, kPerChar + 700) << c;
    }
}

TEST(RandomBase62, SuccessiveCallsDiffer) {
    EXPECT_NE(pat::random_base62(30), pat::random_base62(30));
}

}  // namespace
