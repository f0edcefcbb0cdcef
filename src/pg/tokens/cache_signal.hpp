// Telling every backend's token cache what a transaction changed, at its commit.
//
// A signal is a relcache invalidation of an OID in core/cache_signal.hpp's range, registered
// in the current transaction: PostgreSQL delivers it when the transaction commits (to every
// backend, and through the commit record to every standby), applies it to this backend at the
// end of the command, and discards it if the (sub)transaction aborts. token_cache.cpp receives
// them.
#pragma once

#include "pg/bridge/postgres.hpp"

namespace pat::pg {

// A token (its stored digest) changed: cached copies of it are dropped.
void signal_token_changed(const bytea *digest);
// A user's roles changed: the user's cached roles and tokens are dropped.
void signal_user_changed(const text *user_id);
// Scopes or roles were (re)defined, or a table was truncated: every cache is dropped.
void signal_everything_changed();

}  // namespace pat::pg
