// What the API functions share: arguments checked by the core's rules, and the one clock every
// rule about a token's state reads.
#pragma once

#include "pg/postgres.hpp"

#include <cstddef>
#include <string_view>

namespace pat::pg {

// The clock of every rule about a token's state (valid, expired, in the future): the current
// statement's start. Validation, listing and expiry checks all read it, so one statement never
// sees a token both expired and active.
TimestampTz policy_clock();

// Text argument n; 22004 "<what> must not be null" when NULL.
text *required_text(FunctionCallInfo fcinfo, int n, const char *what);

// The length of value in characters of the database encoding. Cannot raise (see the .cpp).
std::size_t char_length(const text *value);

// The first chars characters of value (whole characters), for messages. Cannot raise.
std::string_view leading_chars(std::string_view value, int chars);

// The user_id argument n, checked by the core's rule (22004, 22023).
text *user_id_argument(FunctionCallInfo fcinfo, int n);

// The token_id argument n (22004 when NULL).
pg_uuid_t *token_id_argument(FunctionCallInfo fcinfo, int n);

}  // namespace pat::pg
