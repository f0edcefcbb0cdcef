// What pg_pat's launchers (usage, audit linker, lifecycle) share: registering a launcher connected
// to no database, starting one, and running a short-lived worker in one database and waiting for it
// to exit.
#pragma once

#include "pg/bridge/postgres.hpp"

namespace pat::pg {

// Registers the launcher function (restarted 10 s after a crash), except under pg_upgrade
// (binary-upgrade mode), where no launcher runs; from _PG_init only.
void register_launcher(const char *function, const char *name, BgWorkerStartTime start);

// In a launcher's main: signal handlers (SIGHUP reloads, SIGTERM asks to shut down) and a
// connection to no database (it reads only shared catalogs).
void start_launcher();

// The databases that accept connections (workers bypass datallowconn, but a database that
// forbids connections is template0 or being dropped), templates only if asked; palloc'd in
// TopMemoryContext. In a launcher, outside a transaction.
Oid *databases_to_visit(bool templates, int *count);

// Starts function in database as a worker of its own and waits until it has exited. False
// (logged, with a hint) when no worker slot was free. extra (at most BGW_EXTRALEN bytes) is
// copied to the worker's bgw_extra.
bool run_database_worker(const char *function, const char *name, Oid database,
                         BgWorkerStartTime start, const void *extra = nullptr,
                         size_t extra_size = 0);

// In a database worker's main: SIGTERM ends it, a connection to database (whether or not it
// accepts connections now), and a transaction with a snapshot, shown as activity. Then the
// work, then end_database_work(), which commits and exits the process (or
// commit_database_work(), which only commits).
void begin_database_work(Datum database, const char *activity);
void commit_database_work();
[[noreturn]] void end_database_work();

}  // namespace pat::pg
