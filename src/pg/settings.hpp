// The pat.* configuration parameters.
#pragma once

#include "pg/postgres.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pat::pg {

// Defines pat.token_prefix and pat.max_lifetime and reserves the pat. prefix.
void define_settings();

// pat.token_prefix: what new tokens start with.
std::string_view token_prefix();

// pat.digest_key: the key new tokens' digests are made with; empty for plain SHA-256.
std::string_view digest_key();

// The keys a presented token's digest is tried with, current first: pat.digest_key, then each
// of pat.digest_previous_keys ("sha256" stands for plain SHA-256), so rotation keeps old tokens.
const std::vector<std::string> &digest_candidate_keys();

// now + pat.max_lifetime, or nullopt when no maximum lifetime is set.
std::optional<TimestampTz> latest_allowed_expiry(TimestampTz now);

}  // namespace pat::pg
