// Usage's part of pg_pat's maintenance (workers/launcher.hpp): every pat.usage_flush_interval,
// or early when shared memory's table fills up, the launcher asks for the databases with
// pending usage, and the worker it starts in each writes that usage out (or, on a standby,
// forwards it to the primary).
#pragma once

#include "pg/bridge/postgres.hpp"

namespace pat::pg {

// Launcher, once a round, outside a transaction: warns of checks shared memory could not keep
// (at most once an interval), drops the pending usage of dropped databases and returns the
// databases whose usage is pending (palloc'd; *count is set). A round takes at most a few
// hundred databases; the others wait for the next.
Oid *databases_with_usage_due(int *count);

// Worker, inside its transaction: writes out this database's pending usage, or drops it where
// pg_pat is not installed or keeps no usage. May ereport.
void write_out_usage();

}  // namespace pat::pg
