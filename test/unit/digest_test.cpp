// Token digests against published vectors, and constant-time comparison.
#include "core/digest.hpp"

#include <cstdio>
#include <string>

#include <gtest/gtest.h>

namespace {

// Lower-case hex of a digest, for readable comparisons with published vectors.
std::string hex(const pat::Digest &d) {
    std::string out;
    char buf[3];
    for (unsigned char b : d) {
        std::snprintf(buf, sizeof buf, "%02x", b);
        out += buf;
    }
    return out;
}

TEST(TokenDigest, Sha256WithoutKey) {
    EXPECT_EQ(hex(pat::token_digest("abc", "")),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(hex(pat::token_digest("", "")),
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(TokenDigest, HmacSha256Rfc4231) {
    // RFC 4231 test case 1.
    EXPECT_EQ(hex(pat::token_digest("Hi There", std::string(20, '\x0b'))),
              "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    // Test case 2.
    EXPECT_EQ(hex(pat::token_digest("what do ya want for nothing?", "Jefe")),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    // Test case 6: a key longer than the block size.
    EXPECT_EQ(hex(pat::token_digest("Test Using Larger Than Block-Size Key - Hash Key First",
                                    std::string(131, '\xaa'))),
              "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(TokenDigest, KeyChangesTheDigest) {
    const pat::Digest plain = pat::token_digest("pat_token", "");
    EXPECT_NE(plain, pat::token_digest("pat_token", "k1"));
    EXPECT_NE(pat::token_digest("pat_token", "k1"), pat::token_digest("pat_token", "k2"));
    EXPECT_EQ(pat::token_digest("pat_token", "k1"), pat::token_digest("pat_token", "k1"));
}

TEST(ConstantTimeEqual, ComparesContentsAndLengths) {
    const unsigned char a[] = {1, 2, 3, 4};
    const unsigned char same[] = {1, 2, 3, 4};
    const unsigned char last_differs[] = {1, 2, 3, 5};
    const unsigned char first_differs[] = {0, 2, 3, 4};
    EXPECT_TRUE(pat::constant_time_equal(a, 4, same, 4));
    EXPECT_FALSE(pat::constant_time_equal(a, 4, last_differs, 4));
    EXPECT_FALSE(pat::constant_time_equal(a, 4, first_differs, 4));
    EXPECT_FALSE(pat::constant_time_equal(a, 4, same, 3));
    EXPECT_FALSE(pat::constant_time_equal(a, 3, same, 4));
    EXPECT_TRUE(pat::constant_time_equal(a, 3, last_differs, 3));
    EXPECT_TRUE(pat::constant_time_equal(nullptr, 0, nullptr, 0));
    EXPECT_FALSE(pat::constant_time_equal(a, 0, same, 1));
}

TEST(ConstantTimeEqual, WorksOnDigests) {
    const pat::Digest d1 = pat::token_digest("one", "");
    const pat::Digest d2 = pat::token_digest("two", "");
    EXPECT_TRUE(pat::constant_time_equal(d1.data(), d1.size(), d1.data(), d1.size()));
    EXPECT_FALSE(pat::constant_time_equal(d1.data(), d1.size(), d2.data(), d2.size()));
    for (std::size_t i = 0; i < d1.size(); ++i) {
        pat::Digest changed = d1;
        changed[i] ^= 0x80;
        EXPECT_FALSE(pat::constant_time_equal(d1.data(), d1.size(), changed.data(), changed.size()))
            << "byte " << i;
    }
}

}  // namespace

// The prepared digester must agree with the one-shot form for every key shape: none, short,
// exactly one block, longer than a block (hashed first), and binary.
TEST(TokenDigester, MatchesOneShotDigest) {
    const std::string keys[] = {"",
                                "k",
                                std::string(64, 'a'),
                                std::string(65, 'b'),
                                std::string("\0\x01\xff key", 8),
                                std::string(131, '\xaa')};
    const std::string tokens[] = {"", "abc", "pat_88vrqa8Jy1rt4fxBtiEi9nKBfsJwfQ26nPxq",
                                  std::string(1000, 'x')};
    for (const std::string &key : keys) {
        const pat::TokenDigester digester(key);
        for (const std::string &token : tokens) {
            EXPECT_EQ(digester.digest(token), pat::token_digest(token, key))
                << "key size " << key.size() << ", token size " << token.size();
            // Repeated use gives the same answer.
            EXPECT_EQ(digester.digest(token), digester.digest(token));
        }
    }
}

TEST(TokenDigester, MovedDigesterStillWorks) {
    pat::TokenDigester first("0123456789abcdef0123456789abcdef");
    pat::TokenDigester second(std::move(first));
    EXPECT_EQ(second.digest("abc"), pat::token_digest("abc", "0123456789abcdef0123456789abcdef"));
    first = pat::TokenDigester("");
    EXPECT_EQ(first.digest("abc"), pat::token_digest("abc", ""));
}

// The fingerprint is HMAC-SHA-256(key, "pg_pat key id") cut to 8 bytes (values from Python's
// hmac module), and "sha256" for the unkeyed digest.
TEST(KeyFingerprint, FirstEightBytesOfHmacOfAFixedLabel) {
    EXPECT_EQ(pat::key_fingerprint(""), "sha256");
    EXPECT_EQ(pat::key_fingerprint(std::string(32, 'k')), "c652d29cda7148d4");
    EXPECT_EQ(pat::key_fingerprint("Jefe"), "339a59fad397686d");
    EXPECT_NE(pat::key_fingerprint(std::string(32, 'k')),
              pat::key_fingerprint(std::string(33, 'k')));
}

// What SHOW gives a role that may not read the keys: fingerprints behind a mask, never a key;
// the unkeyed digest as "sha256"; nothing for no key.
TEST(MaskedKeys, FingerprintsBehindAMask) {
    EXPECT_EQ(pat::masked_keys({}), "");
    EXPECT_EQ(pat::masked_keys({"c652d29cda7148d4"}), "******** (key id c652d29cda7148d4)");
    EXPECT_EQ(pat::masked_keys({"c652d29cda7148d4", "sha256", "339a59fad397686d"}),
              "******** (key id c652d29cda7148d4), sha256, ******** (key id 339a59fad397686d)");
}
