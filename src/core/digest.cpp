// Token digests (SHA-256 / HMAC-SHA-256) and constant-time comparison, via OpenSSL.
#include "digest.hpp"

#include <climits>
#include <cstring>

// SHA256_CTX and its functions are deprecated in OpenSSL 3 in favour of EVP, but kept in every
// build with the deprecated interfaces (Debian's, every major distribution's): TokenDigester
// uses them for a token's digest on the check's path, where EVP's allocations cost as much as
// the hash.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "error.hpp"

namespace pat {

namespace {

// OpenSSL may dislike a null data pointer even with length 0; an empty string_view can have one.
const unsigned char *bytes_of(std::string_view s) noexcept {
    static const unsigned char kEmpty = 0;
    return s.empty() ? &kEmpty : reinterpret_cast<const unsigned char *>(s.data());
}

// Raises the OpenSSL failure as an internal error, with OpenSSL's reason as the detail.
[[noreturn]] void throw_openssl_error(const char *what) {
    const unsigned long code = ERR_get_error();
    char reason[256] = "unknown OpenSSL error";
    if (code != 0)
        ERR_error_string_n(code, reason, sizeof reason);
    ERR_clear_error();
    throw Error(sqlstate::kInternalError, what, reason);
}

}  // namespace

// The stored form of a token: keyed when the server has a key, so a leaked table is useless alone.
Digest token_digest(std::string_view token, std::string_view key) {
    Digest out{};
    unsigned int len = 0;
    if (key.empty()) {
        if (EVP_Digest(bytes_of(token), token.size(), out.data(), &len, EVP_sha256(), nullptr) !=
                1 ||
            len != kDigestBytes)
            throw_openssl_error("could not compute SHA-256 digest");
    } else {
        if (key.size() > static_cast<std::size_t>(INT_MAX))
            throw Error(sqlstate::kInvalidParameterValue, "HMAC key is too long");
        if (HMAC(EVP_sha256(), bytes_of(key), static_cast<int>(key.size()), bytes_of(token),
                 token.size(), out.data(), &len) == nullptr ||
            len != kDigestBytes)
            throw_openssl_error("could not compute HMAC-SHA-256 digest");
    }
    return out;
}

Digest sha256_concat(std::string_view first, std::string_view second) {
    Digest out{};
    unsigned int len = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx != nullptr && EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1 &&
              EVP_DigestUpdate(ctx, bytes_of(first), first.size()) == 1 &&
              EVP_DigestUpdate(ctx, bytes_of(second), second.size()) == 1 &&
              EVP_DigestFinal_ex(ctx, out.data(), &len) == 1 && len == kDigestBytes;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        throw_openssl_error("could not compute SHA-256 digest");
    return out;
}

namespace {

EVP_MD_CTX *started_sha256(std::string_view prefix) {
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == nullptr || EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) != 1 ||
        EVP_DigestUpdate(ctx, bytes_of(prefix), prefix.size()) != 1) {
        EVP_MD_CTX_free(ctx);
        throw_openssl_error("could not compute SHA-256 digest");
    }
    return ctx;
}

void update_sha256(void *ctx, std::string_view piece) {
    if (EVP_DigestUpdate(static_cast<EVP_MD_CTX *>(ctx), bytes_of(piece), piece.size()) != 1)
        throw_openssl_error("could not compute SHA-256 digest");
}

}  // namespace

AuditRowDigest::AuditRowDigest(std::string_view prev_hash, bool stored_is_utf8)
    : as_utf8_(started_sha256(prev_hash)), as_stored_(nullptr) {
    if (stored_is_utf8)
        return;
    try {
        as_stored_ = started_sha256(prev_hash);
        update_sha256(as_stored_, "\xff");
    } catch (...) {
        EVP_MD_CTX_free(static_cast<EVP_MD_CTX *>(as_utf8_));
        EVP_MD_CTX_free(static_cast<EVP_MD_CTX *>(as_stored_));
        throw;
    }
}

AuditRowDigest::~AuditRowDigest() {
    EVP_MD_CTX_free(static_cast<EVP_MD_CTX *>(as_utf8_));
    EVP_MD_CTX_free(static_cast<EVP_MD_CTX *>(as_stored_));
}

void AuditRowDigest::add(std::string_view stored, const std::string_view *utf8) {
    if (as_stored_ == nullptr) {
        update_sha256(as_utf8_, stored);
        return;
    }
    update_sha256(as_stored_, stored);
    if (as_utf8_ == nullptr)
        return;
    if (utf8 == nullptr) {
        EVP_MD_CTX_free(static_cast<EVP_MD_CTX *>(as_utf8_));
        as_utf8_ = nullptr;
        return;
    }
    update_sha256(as_utf8_, *utf8);
}

Digest AuditRowDigest::finish() {
    Digest out{};
    unsigned int len = 0;
    auto *ctx = static_cast<EVP_MD_CTX *>(as_utf8_ != nullptr ? as_utf8_ : as_stored_);
    if (ctx == nullptr || EVP_DigestFinal_ex(ctx, out.data(), &len) != 1 || len != kDigestBytes)
        throw_openssl_error("could not compute SHA-256 digest");
    return out;
}

std::string key_fingerprint(std::string_view key) {
    if (key.empty()) {
        return "sha256";
    }
    static const char kHex[] = "0123456789abcdef";
    Digest mac = token_digest("pg_pat key id", key);
    std::string fingerprint;
    for (std::size_t i = 0; i < 8; ++i) {
        fingerprint += kHex[mac[i] >> 4];
        fingerprint += kHex[mac[i] & 0x0f];
    }
    return fingerprint;
}

std::string masked_keys(const std::vector<std::string> &fingerprints) {
    std::string shown;
    for (const std::string &fingerprint : fingerprints) {
        if (!shown.empty()) {
            shown += ", ";
        }
        if (fingerprint == key_fingerprint("")) {
            shown += fingerprint;
        } else {
            shown += "******** (key id " + fingerprint + ")";
        }
    }
    return shown;
}

// The pads' absorbed states (HMAC only). OpenSSL's SHA-256 context as plain data, not the EVP
// interface's: a check copies it and hashes a few dozen bytes, where EVP would allocate and free
// a provider context for each digest, which cost as much as the hashing itself.
struct TokenDigester::OpenSslState {
    bool keyed = false;
    SHA256_CTX inner;  // after absorbing key XOR ipad
    SHA256_CTX outer;  // after absorbing key XOR opad
};

TokenDigester::TokenDigester(std::string_view key) : state_(new OpenSslState) {
    if (key.empty())
        return;
    // RFC 2104: a key longer than the block is hashed first, then zero-padded to a block.
    constexpr std::size_t kBlock = 64;
    unsigned char block[kBlock] = {};
    if (key.size() > kBlock) {
        SHA256(bytes_of(key), key.size(), block);
    } else {
        std::memcpy(block, key.data(), key.size());
    }
    unsigned char pad[kBlock];
    auto absorb = [&](unsigned char mask, SHA256_CTX *ctx) {
        for (std::size_t i = 0; i < kBlock; ++i)
            pad[i] = block[i] ^ mask;
        return SHA256_Init(ctx) == 1 && SHA256_Update(ctx, pad, kBlock) == 1;
    };
    bool absorbed = absorb(0x36, &state_->inner) && absorb(0x5c, &state_->outer);
    OPENSSL_cleanse(block, sizeof block);
    OPENSSL_cleanse(pad, sizeof pad);
    if (!absorbed) {
        release();
        throw_openssl_error("could not prepare the HMAC key");
    }
    state_->keyed = true;
}

TokenDigester::~TokenDigester() {
    release();
}

TokenDigester::TokenDigester(TokenDigester &&other) noexcept : state_(other.state_) {
    other.state_ = nullptr;
}

TokenDigester &TokenDigester::operator=(TokenDigester &&other) noexcept {
    if (this != &other) {
        release();
        state_ = other.state_;
        other.state_ = nullptr;
    }
    return *this;
}

void TokenDigester::release() noexcept {
    if (state_ == nullptr)
        return;
    OPENSSL_cleanse(state_, sizeof *state_);  // the pads' states stand for the key
    delete state_;
    state_ = nullptr;
}

Digest TokenDigester::digest(std::string_view token) const {
    Digest out{};
    SHA256_CTX ctx;
    if (!state_->keyed) {
        if (SHA256_Init(&ctx) != 1 || SHA256_Update(&ctx, bytes_of(token), token.size()) != 1 ||
            SHA256_Final(out.data(), &ctx) != 1)
            throw_openssl_error("could not compute SHA-256 digest");
        return out;
    }
    Digest inner{};
    ctx = state_->inner;
    bool ok = SHA256_Update(&ctx, bytes_of(token), token.size()) == 1 &&
              SHA256_Final(inner.data(), &ctx) == 1;
    ctx = state_->outer;
    ok = ok && SHA256_Update(&ctx, inner.data(), inner.size()) == 1 &&
         SHA256_Final(out.data(), &ctx) == 1;
    if (!ok)
        throw_openssl_error("could not compute HMAC-SHA-256 digest");
    return out;
}

// Compares secrets without leaking where they differ; lengths are not secret here.
bool constant_time_equal(const unsigned char *a, std::size_t a_len, const unsigned char *b,
                         std::size_t b_len) noexcept {
    if (a_len != b_len)
        return false;
    if (a_len == 0)
        return true;
    return CRYPTO_memcmp(a, b, a_len) == 0;
}

}  // namespace pat
