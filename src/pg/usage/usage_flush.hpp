// Writing pending usage out: into pat.token_usage and pat.token_checks through
// pat_merge_usage() on a primary, or forwarded to the primary over libpq on a standby.
#pragma once

#include "pg/bridge/postgres.hpp"

namespace pat::pg {

// Writes this database's pending usage within the current transaction and returns how many tokens
// it wrote. If the transaction (or the subtransaction it ran in) aborts, the usage goes back to
// shared memory, so a failed flush loses nothing.
int flush_usage();

// Drops this database's pending usage (pg_pat is not installed here); how many entries.
int discard_usage();

// Defines pat.usage_forward_conninfo and the transaction callbacks; from _PG_init.
void setup_usage_flush();

}  // namespace pat::pg
