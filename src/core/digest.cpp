// Token digests (SHA-256 / HMAC-SHA-256) and constant-time comparison, via OpenSSL.
#include "digest.hpp"

#include <climits>

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
