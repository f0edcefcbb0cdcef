// Which digest key each token was made under (pat.tokens.key_id), so that a server
// missing a key says so instead of answering not_found for its tokens without a word.
#pragma once

#include "pg/bridge/postgres.hpp"

namespace pat::pg {

// The fingerprint new tokens are stored with, or nullptr when this database's pat.tokens has
// no key_id column (a schema older than schema_since::kTokenKeyId).
text *current_key_id();

// Called when a check finds no token: once per backend and key configuration, looks for active
// tokens made under keys not configured now, and logs a WARNING once per backend and key.
void warn_of_missing_keys();

}  // namespace pat::pg
