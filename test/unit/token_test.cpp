// Token prefix rules, assembly, generation and the offline well-formedness check.
#include "core/token.hpp"

#include <cstdlib>
#include <new>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/base62.hpp"
#include "core/crc32.hpp"

// Counts heap allocations while enabled, to hold is_well_formed_token to "never allocates".
// Replacing the global operator new affects the whole test binary, so counting is opt-in.
namespace {
bool g_count_allocations = false;
std::size_t g_allocations = 0;
}  // namespace

// g++ 12 at -O2 flags free() of memory from this replaced operator new as mismatched, a known
// false positive for replacement allocation functions that use malloc.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

void *operator new(std::size_t size) {
    if (g_count_allocations)
        ++g_allocations;
    if (void *p = std::malloc(size == 0 ? 1 : size))
        return p;
    throw std::bad_alloc();
}
void operator delete(void *p) noexcept {
    std::free(p);
}
void operator delete(void *p, std::size_t) noexcept {
    std::free(p);
}

namespace {

const std::string kRandom30 = "0123456789ABCDEFGHIJabcdefghij";
const std::string kMaxPrefix(pat::kTokenPrefixMaxChars, 'p');

// All 256 byte values: a superset of the base62 and prefix characters a substitution could use.
std::vector<char> all_bytes() {
    std::vector<char> bytes;
    for (int b = 0; b < 256; ++b)
        bytes.push_back(static_cast<char>(b));
    return bytes;
}

// Tokens covering short, typical, empty and maximal prefixes, fixed and freshly generated.
std::vector<std::string> sample_tokens() {
    return {
        pat::assemble_token("pat_", kRandom30),
        pat::assemble_token("", kRandom30),
        pat::assemble_token("x", std::string(30, 'z')),
        pat::assemble_token(kMaxPrefix, kRandom30),
        pat::assemble_token("my-app_v2", std::string(30, '0')),
        pat::generate_token("pat_"),
        pat::generate_token(""),
        pat::generate_token("ghp-Test_"),
    };
}

TEST(TokenPrefix, AcceptsLettersDigitsUnderscoreDash) {
    EXPECT_TRUE(pat::is_valid_token_prefix(""));
    EXPECT_TRUE(pat::is_valid_token_prefix("pat_"));
    EXPECT_TRUE(pat::is_valid_token_prefix("my-app_V2"));
    EXPECT_TRUE(pat::is_valid_token_prefix("-_-"));
    EXPECT_TRUE(pat::is_valid_token_prefix(kMaxPrefix));
}

TEST(TokenPrefix, RejectsOtherCharactersAndOverlongPrefixes) {
    EXPECT_FALSE(pat::is_valid_token_prefix(kMaxPrefix + "p"));
    EXPECT_FALSE(pat::is_valid_token_prefix("pat."));
    EXPECT_FALSE(pat::is_valid_token_prefix("pat:"));
    EXPECT_FALSE(pat::is_valid_token_prefix("pat "));
    EXPECT_FALSE(pat::is_valid_token_prefix("pat/"));
    EXPECT_FALSE(pat::is_valid_token_prefix("p\xC3\xA4t"));
    EXPECT_FALSE(pat::is_valid_token_prefix(std::string_view("pat\0", 4)));
}

TEST(TokenPrefix, ExactCharacterSet) {
    for (int b = 0; b < 256; ++b) {
        const char c = static_cast<char>(b);
        const bool legal = pat::is_base62_char(c) || c == '_' || c == '-';
        EXPECT_EQ(pat::is_valid_token_prefix(std::string_view(&c, 1)), legal) << "byte " << b;
    }
}

TEST(TokenAssemble, KnownAnswer) {
    // Checksum computed independently: base62(zlib.crc32(b"pat_" + b"0" * 30), 6).
    EXPECT_EQ(pat::assemble_token("pat_", std::string(30, '0')),
              "pat_" + std::string(30, '0') + "42VsRc");
}

TEST(TokenAssemble, LayoutIsPrefixRandomChecksum) {
    const std::string token = pat::assemble_token("pat_", kRandom30);
    ASSERT_EQ(token.size(), 4 + pat::kTokenRandomChars + pat::kTokenChecksumChars);
    EXPECT_EQ(token.substr(0, 4), "pat_");
    EXPECT_EQ(token.substr(4, 30), kRandom30);
    EXPECT_EQ(token.substr(34), pat::base62_encode(pat::crc32("pat_" + kRandom30), 6));
}

TEST(TokenAssemble, RejectsBadInput) {
    EXPECT_THROW(pat::assemble_token("pat.", kRandom30), std::invalid_argument);
    EXPECT_THROW(pat::assemble_token(kMaxPrefix + "p", kRandom30), std::invalid_argument);
    EXPECT_THROW(pat::assemble_token("pat_", kRandom30.substr(1)), std::invalid_argument);
    EXPECT_THROW(pat::assemble_token("pat_", kRandom30 + "0"), std::invalid_argument);
    EXPECT_THROW(pat::assemble_token("pat_", "_" + kRandom30.substr(1)), std::invalid_argument);
}

TEST(TokenGenerate, KeepsPrefixLengthAndCharset) {
    for (const std::string prefix : {"pat_", "", "a-b_c", kMaxPrefix.c_str()}) {
        const std::string token = pat::generate_token(prefix);
        ASSERT_EQ(token.size(), prefix.size() + pat::kTokenRandomChars + pat::kTokenChecksumChars);
        EXPECT_EQ(token.compare(0, prefix.size(), prefix), 0) << token;
        for (std::size_t i = prefix.size(); i < token.size(); ++i)
            EXPECT_TRUE(pat::is_base62_char(token[i])) << token;
        EXPECT_TRUE(pat::is_well_formed_token(token)) << token;
    }
}

TEST(TokenGenerate, RejectsInvalidPrefix) {
    EXPECT_THROW(pat::generate_token("bad prefix"), std::invalid_argument);
    EXPECT_THROW(pat::generate_token(kMaxPrefix + "p"), std::invalid_argument);
}

TEST(TokenGenerate, TokensAreUnique) {
    constexpr int kCount = 20000;
    std::set<std::string> seen;
    std::set<std::string> random_parts;
    for (int i = 0; i < kCount; ++i) {
        const std::string token = pat::generate_token("pat_");
        seen.insert(token);
        random_parts.insert(token.substr(4, pat::kTokenRandomChars));
    }
    EXPECT_EQ(seen.size(), static_cast<std::size_t>(kCount));
    EXPECT_EQ(random_parts.size(), static_cast<std::size_t>(kCount));
}

TEST(TokenWellFormed, AcceptsAssembledAndGeneratedTokens) {
    for (const std::string &token : sample_tokens())
        EXPECT_TRUE(pat::is_well_formed_token(token)) << token;
}

TEST(TokenWellFormed, ChecksumCatchesEverySingleCharacterChange) {
    const std::vector<char> bytes = all_bytes();
    for (const std::string &token : sample_tokens()) {
        for (std::size_t i = 0; i < token.size(); ++i) {
            for (char c : bytes) {
                if (c == token[i])
                    continue;
                std::string changed = token;
                changed[i] = c;
                ASSERT_FALSE(pat::is_well_formed_token(changed))
                    << token << ": position " << i << " -> byte "
                    << static_cast<int>(static_cast<unsigned char>(c));
            }
        }
    }
}

TEST(TokenWellFormed, ChecksumCatchesAdjacentTranspositions) {
    int swaps = 0;
    for (const std::string &token : sample_tokens()) {
        for (std::size_t i = 0; i + 1 < token.size(); ++i) {
            if (token[i] == token[i + 1])
                continue;
            std::string swapped = token;
            std::swap(swapped[i], swapped[i + 1]);
            ++swaps;
            ASSERT_FALSE(pat::is_well_formed_token(swapped)) << token << ": swap at " << i;
        }
    }
    EXPECT_GT(swaps, 200);  // the samples really do contain distinct neighbours
}

TEST(TokenWellFormed, RejectsWrongLengths) {
    const std::string token = pat::assemble_token("pat_", kRandom30);
    EXPECT_FALSE(pat::is_well_formed_token(""));
    EXPECT_FALSE(pat::is_well_formed_token(token.substr(0, token.size() - 1)));
    EXPECT_FALSE(pat::is_well_formed_token(token.substr(1, 35)));  // 35 chars: too short
    EXPECT_FALSE(pat::is_well_formed_token(token + "0"));
    // Minimal token: no prefix, 36 characters.
    const std::string bare = pat::assemble_token("", kRandom30);
    EXPECT_EQ(bare.size(), 36U);
    EXPECT_TRUE(pat::is_well_formed_token(bare));
}

TEST(TokenWellFormed, RejectsOverlongInputEvenWithValidChecksum) {
    const std::string max = pat::assemble_token(kMaxPrefix, kRandom30);
    ASSERT_EQ(max.size(), pat::kTokenMaxChars);
    EXPECT_TRUE(pat::is_well_formed_token(max));
    // A 65-character prefix with a correct checksum is still too long.
    const std::string body = kMaxPrefix + "p" + kRandom30;
    const std::string overlong = body + pat::base62_encode(pat::crc32(body), 6);
    EXPECT_FALSE(pat::is_well_formed_token(overlong));
}

TEST(TokenWellFormed, RejectsCorrectChecksumOverIllegalCharacters) {
    // The checksum matches, so only the character checks can reject these.
    const std::string bad_prefix_body = "pat." + kRandom30;
    EXPECT_FALSE(pat::is_well_formed_token(bad_prefix_body +
                                           pat::base62_encode(pat::crc32(bad_prefix_body), 6)));
    const std::string bad_random_body = "pat_" + kRandom30.substr(1) + "_";
    EXPECT_FALSE(pat::is_well_formed_token(bad_random_body +
                                           pat::base62_encode(pat::crc32(bad_random_body), 6)));
}

TEST(TokenWellFormed, ParsesFromTheEndSoOldPrefixesStayReadable) {
    EXPECT_TRUE(pat::is_well_formed_token(pat::assemble_token("old_", kRandom30)));
    EXPECT_TRUE(pat::is_well_formed_token(pat::assemble_token("new-prefix_", kRandom30)));
}

TEST(TokenWellFormed, DoesNotAllocate) {
    const std::string good = pat::assemble_token(kMaxPrefix, kRandom30);
    std::string bad = good;
    bad.back() = bad.back() == '0' ? '1' : '0';
    const std::string huge(100000, 'a');
    g_allocations = 0;
    g_count_allocations = true;
    const bool good_ok = pat::is_well_formed_token(good);
    const bool bad_ok = pat::is_well_formed_token(bad);
    const bool huge_ok = pat::is_well_formed_token(huge);
    g_count_allocations = false;
    EXPECT_TRUE(good_ok);
    EXPECT_FALSE(bad_ok);
    EXPECT_FALSE(huge_ok);
    EXPECT_EQ(g_allocations, 0U);
}

TEST(TokenWellFormed, AllocationCounterWorks) {
    // Guards the test above against a counter that never counts.
    g_allocations = 0;
    g_count_allocations = true;
    const std::string s = pat::base62_encode(0, 64);
    g_count_allocations = false;
    EXPECT_EQ(s.size(), 64U);
    EXPECT_GE(g_allocations, 1U);
}

}  // namespace
