// The digest under which a token is stored: SHA-256, or HMAC-SHA-256 when a server key is set.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace pat {

inline constexpr std::size_t kDigestBytes = 32;
using Digest = std::array<unsigned char, kDigestBytes>;

// SHA-256(token) when key is empty, HMAC-SHA-256(key, token) otherwise. Throws pat::Error
// (XX000) if OpenSSL fails.
Digest token_digest(std::string_view token, std::string_view key);

// SHA-256 of first followed by second (an audit row's hash: the previous row's hash, then the
// row). Throws pat::Error (XX000) if OpenSSL fails.
Digest sha256_concat(std::string_view first, std::string_view second);

// The hash of one audit row: SHA-256 of the previous row's hash (empty for the first row)
// followed by the row's JSON text, fed in pieces of any size as it is produced, so that a row
// is never held whole. The text is hashed as UTF-8 when every piece has a UTF-8 form; when one
// has none (bytes that are not UTF-8 in a SQL_ASCII database, a character with no UTF-8
// equivalent), the hash is of the previous hash, one 0xFF byte and the text's bytes as stored
// instead. UTF-8 never contains 0xFF, so the two forms never hash the same input, and a row is
// always hashable: no content can stop the chain. Not copyable (it owns OpenSSL contexts).
class AuditRowDigest {
  public:
    // stored_is_utf8: the text's stored bytes are its UTF-8 form (a UTF8 database), so one
    // hash is kept instead of two. Throws pat::Error (XX000) if OpenSSL fails.
    AuditRowDigest(std::string_view prev_hash, bool stored_is_utf8);
    ~AuditRowDigest();
    AuditRowDigest(const AuditRowDigest &) = delete;
    AuditRowDigest &operator=(const AuditRowDigest &) = delete;

    // The next piece of the text: its bytes as stored and its UTF-8 form (nullptr: it has
    // none; ignored when stored_is_utf8). Throws pat::Error (XX000) if OpenSSL fails.
    void add(std::string_view stored, const std::string_view *utf8);
    // The row's hash; call once, after the last piece.
    Digest finish();

  private:
    void *as_utf8_;    // EVP_MD_CTX: prev_hash, then the UTF-8 form; null once a piece had none
    void *as_stored_;  // EVP_MD_CTX: prev_hash, 0xFF, then the stored bytes; null if unneeded
};

// A digest function prepared once: SHA-256, or HMAC-SHA-256 under a key, with the key's inner
// and outer pads absorbed up front, so each token costs two short hash updates and no
// allocation.
class TokenDigester {
  public:
    explicit TokenDigester(std::string_view key);  // empty key: plain SHA-256
    ~TokenDigester();
    TokenDigester(TokenDigester &&other) noexcept;
    TokenDigester &operator=(TokenDigester &&other) noexcept;
    TokenDigester(const TokenDigester &) = delete;
    TokenDigester &operator=(const TokenDigester &) = delete;

    // Equals token_digest(token, key). Throws pat::Error (XX000) if OpenSSL fails.
    Digest digest(std::string_view token) const;

  private:
    void release() noexcept;

    struct OpenSslState;
    OpenSslState *state_ = nullptr;
};

// A short, non-secret name of a digest key, stored with each token so that a server missing
// the key can say so: "sha256" for the empty key (plain SHA-256), else the first 8 bytes of
// HMAC-SHA-256(key, "pg_pat key id") in lowercase hex. 64 bits cannot be searched back to a
// key of 32 or more characters, and two keys collide with a chance of 2^-64.
std::string key_fingerprint(std::string_view key);

// What a role that may not read digest keys is shown in their place: each key's fingerprint
// (key_fingerprint) behind a mask, "******** (key id 0123456789abcdef)", or "sha256" as is for
// the unkeyed digest, which is no secret; ", " between keys; empty for no key.
std::string masked_keys(const std::vector<std::string> &fingerprints);

// Constant-time equality for secrets of equal length (false for different lengths).
bool constant_time_equal(const unsigned char *a, std::size_t a_len, const unsigned char *b,
                         std::size_t b_len) noexcept;

}  // namespace pat
