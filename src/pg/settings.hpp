// The pat.* configuration parameters.
#pragma once

#include "pg/postgres.hpp"

#include <optional>
#include <string_view>

namespace pat::pg {

// Defines pat.token_prefix and pat.max_lifetime and reserves the pat. prefix.
void define_settings();

// pat.token_prefix: what new tokens start with.
std::string_view token_prefix();

// now + pat.max_lifetime, or nullopt when no maximum lifetime is set.
std::optional<TimestampTz> latest_allowed_expiry(TimestampTz now);

}  // namespace pat::pg
