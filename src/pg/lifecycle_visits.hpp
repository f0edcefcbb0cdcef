// Which databases the lifecycle launcher visits. A database found without pg_pat 1.8 (no
// pat.notices) is skipped from then on, so a cluster of many databases does not start a worker
// in each of them every pat.lifecycle_interval. Every committed CREATE EXTENSION or ALTER
// EXTENSION, of any extension (one may create pg_pat by CASCADE), makes the launcher visit
// them all again; so does an hourly recheck. A new database has a new OID and is visited.
#pragma once

#include "pg/postgres.hpp"

namespace pat::pg {

// Shared memory and the utility hook; from _PG_init.
void setup_lifecycle_visits();

// Launcher: at the start of each round. Forgets the skipped databases when an extension was
// created or updated since the last round, or at the hourly recheck.
void begin_lifecycle_round();

// Launcher: whether the round visits this database.
bool lifecycle_visit_needed(Oid database);

// Launcher: before starting the worker for a database, and after it exited (a worker that
// failed before reporting leaves the database to be visited again).
void expect_lifecycle_report();
void take_lifecycle_report(Oid database);

// Worker: whether this database has pg_pat's lifecycle tables.
void report_lifecycle_visit(bool has_lifecycle);

}  // namespace pat::pg
