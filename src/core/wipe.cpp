// Erasing secrets from memory we are done with.
#include "core/wipe.hpp"

#include <openssl/crypto.h>

namespace pat {

void wipe(std::string &secret) noexcept {
    if (!secret.empty()) {
        OPENSSL_cleanse(secret.data(), secret.size());
    }
}

}  // namespace pat
