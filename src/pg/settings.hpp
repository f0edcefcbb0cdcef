// The pat.* configuration parameters.
#pragma once

#include "pg/postgres.hpp"

#include <optional>
#include <string_view>
#include <vector>

#include "core/digest.hpp"

namespace pat::pg {

// Defines pat.token_prefix and pat.max_lifetime and reserves the pat. prefix.
void define_settings();

// pat.token_prefix: what new tokens start with.
std::string_view token_prefix();

// The digest functions a presented token is tried with, current first: pat.digest_key (empty:
// plain SHA-256), then each of pat.digest_previous_keys ("sha256" stands for plain SHA-256), so
// rotation keeps old tokens valid. The first is the one new tokens are stored under.
const std::vector<pat::TokenDigester> &token_digesters();

// now + pat.max_lifetime, or nullopt when no maximum lifetime is set.
std::optional<TimestampTz> latest_allowed_expiry(TimestampTz now);

}  // namespace pat::pg
