// What pg_pat's maintenance (workers/launcher.hpp) needs below the wings whose work it does: the
// databases it visits, and the transactions its worker runs in one.
#pragma once

#include "pg/bridge/postgres.hpp"

namespace pat::pg {

// The databases that accept connections (workers bypass datallowconn, but a database that
// forbids connections is template0 or being dropped), templates only if asked; palloc'd in
// TopMemoryContext. Its own transaction: call outside one, in a process connected to a
// database or to none (pg_database is a shared catalog).
Oid *databases_to_visit(bool templates, int *count);

// In a maintenance worker: a transaction with a snapshot, shown as activity in
// pg_stat_activity, and its commit, which shows the worker idle.
void begin_maintenance_transaction(const char *activity);
void commit_maintenance_transaction();

}  // namespace pat::pg
