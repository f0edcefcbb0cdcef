// Token digests (SHA-256 / HMAC-SHA-256) and constant-time comparison, via OpenSSL.
#include "digest.hpp"

#include <climits>
#include <cstring>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

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

// The fetched algorithm, the pads' absorbed states (HMAC only) and a scratch context.
struct TokenDigester::OpenSslState {
    EVP_MD *sha256 = nullptr;
    EVP_MD_CTX *inner = nullptr;  // after absorbing key XOR ipad; null for plain SHA-256
    EVP_MD_CTX *outer = nullptr;  // after absorbing key XOR opad
    EVP_MD_CTX *scratch = nullptr;
};

TokenDigester::TokenDigester(std::string_view key) : state_(new OpenSslState) {
    try {
        state_->sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
        state_->scratch = EVP_MD_CTX_new();
        if (state_->sha256 == nullptr || state_->scratch == nullptr)
            throw_openssl_error("could not set up SHA-256");
        if (key.empty())
            return;
        // RFC 2104: a key longer than the block is hashed first, then zero-padded to a block.
        constexpr std::size_t kBlock = 64;
        unsigned char block[kBlock] = {};
        if (key.size() > kBlock) {
            unsigned int len = 0;
            if (EVP_Digest(bytes_of(key), key.size(), block, &len, state_->sha256, nullptr) != 1)
                throw_openssl_error("could not hash the HMAC key");
        } else {
            std::memcpy(block, key.data(), key.size());
        }
        unsigned char pad[kBlock];
        auto absorb = [&](unsigned char mask) {
            for (std::size_t i = 0; i < kBlock; ++i)
                pad[i] = block[i] ^ mask;
            EVP_MD_CTX *ctx = EVP_MD_CTX_new();
            if (ctx == nullptr || EVP_DigestInit_ex(ctx, state_->sha256, nullptr) != 1 ||
                EVP_DigestUpdate(ctx, pad, kBlock) != 1) {
                EVP_MD_CTX_free(ctx);
                throw_openssl_error("could not prepare the HMAC key");
            }
            return ctx;
        };
        state_->inner = absorb(0x36);
        state_->outer = absorb(0x5c);
        OPENSSL_cleanse(block, sizeof block);
        OPENSSL_cleanse(pad, sizeof pad);
    } catch (...) {
        release();
        throw;
    }
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
    EVP_MD_CTX_free(state_->inner);
    EVP_MD_CTX_free(state_->outer);
    EVP_MD_CTX_free(state_->scratch);
    EVP_MD_free(state_->sha256);
    delete state_;
    state_ = nullptr;
}

Digest TokenDigester::digest(std::string_view token) const {
    Digest out{};
    unsigned int len = 0;
    EVP_MD_CTX *ctx = state_->scratch;
    if (state_->inner == nullptr) {
        if (EVP_DigestInit_ex(ctx, state_->sha256, nullptr) != 1 ||
            EVP_DigestUpdate(ctx, bytes_of(token), token.size()) != 1 ||
            EVP_DigestFinal_ex(ctx, out.data(), &len) != 1)
            throw_openssl_error("could not compute SHA-256 digest");
        return out;
    }
    Digest inner{};
    if (EVP_MD_CTX_copy_ex(ctx, state_->inner) != 1 ||
        EVP_DigestUpdate(ctx, bytes_of(token), token.size()) != 1 ||
        EVP_DigestFinal_ex(ctx, inner.data(), &len) != 1 ||
        EVP_MD_CTX_copy_ex(ctx, state_->outer) != 1 ||
        EVP_DigestUpdate(ctx, inner.data(), inner.size()) != 1 ||
        EVP_DigestFinal_ex(ctx, out.data(), &len) != 1)
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
