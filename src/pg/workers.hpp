// What pg_pat's two launchers (usage, audit linker) share: registering a launcher connected to
// no database, starting one, and running a short-lived worker in one database and waiting for
// it to exit.
#pragma once

#include "pg/postgres.hpp"

namespace pat::pg {

// Registers the launcher function (restarted 10 s after a crash); from _PG_init only.
void register_launcher(const char *function, const char *name, BgWorkerStartTime start);

// In a launcher's main: signal handlers (SIGHUP reloads, SIGTERM asks to shut down) and a
// connection to no database (it reads only shared catalogs).
void start_launcher();

// Starts function in database as a worker of its own and waits until it has exited. False
// (logged, with a hint) when no worker slot was free.
bool run_database_worker(const char *function, const char *name, Oid database,
                         BgWorkerStartTime start);

// In a database worker's main: SIGTERM ends it, a connection to database (whether or not it
// accepts connections now), and a transaction with a snapshot, shown as activity. Then the
// work, then end_database_work(), which commits and exits the process.
void begin_database_work(Datum database, const char *activity);
[[noreturn]] void end_database_work();

}  // namespace pat::pg
