// Random bytes and base62 characters from OpenSSL's CSPRNG.
#include "random.hpp"

#include <climits>

#include <openssl/err.h>
#include <openssl/rand.h>

#include "base62.hpp"
#include "error.hpp"

namespace pat {

// Fills buf from RAND_bytes, in chunks because RAND_bytes takes an int length.
void random_bytes(unsigned char *buf, std::size_t n) {
    while (n > 0) {
        const int chunk = n > static_cast<std::size_t>(INT_MAX) ? INT_MAX : static_cast<int>(n);
        if (RAND_bytes(buf, chunk) != 1) {
            const unsigned long code = ERR_get_error();
            char reason[256] = "unknown OpenSSL error";
            if (code != 0)
                ERR_error_string_n(code, reason, sizeof reason);
            ERR_clear_error();
            throw Error(sqlstate::kInternalError, "could not generate random bytes", reason);
        }
        buf += chunk;
        n -= static_cast<std::size_t>(chunk);
    }
}

// Uniform base62 characters: bytes >= 248 (4 * 62) are rejected so that byte % 62 is unbiased.
std::string random_base62(std::size_t n) {
    constexpr unsigned kAcceptBelow = 248;
    constexpr std::size_t kBatch = 64;
    std::string out;
    out.reserve(n);
    unsigned char batch[kBatch];
    while (out.size() < n) {
        random_bytes(batch, kBatch);
        for (std::size_t i = 0; i < kBatch && out.size() < n; ++i) {
            if (batch[i] < kAcceptBelow)
                out.push_back(kBase62Alphabet[batch[i] % kBase62Alphabet.size()]);
        }
    }
    OPENSSL_cleanse(batch, sizeof batch);
    return out;
}

}  // namespace pat
