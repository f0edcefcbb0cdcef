// Randomness from OpenSSL's CSPRNG.
#pragma once

#include <cstddef>
#include <string>

namespace pat {

// Fills buf with n cryptographically strong random bytes; throws pat::Error (XX000) if the
// CSPRNG fails.
void random_bytes(unsigned char *buf, std::size_t n);

// n characters drawn uniformly from the base62 alphabet (rejection sampling, no modulo bias).
std::string random_base62(std::size_t n);

}  // namespace pat
