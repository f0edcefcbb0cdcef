// pg_pat's maintenance: one launcher, a background worker connected to no database, and at most
// pat.max_maintenance_workers workers, each in one database, one per database at a time, doing
// in one visit what is due there:
//   - write out usage (usage_worker.hpp), every pat.usage_flush_interval or when shared
//     memory's table fills up;
//   - link audit rows (audit_linker.hpp), pat.audit_link_delay after a commit there, or when a
//     failed database's back-off is over;
//   - the lifecycle round (lifecycle_worker.hpp), every pat.lifecycle_interval.
// The launcher only schedules: it starts a worker and goes on (it sees the worker's exit by its
// latch), so one slow database holds up neither the others nor a shutdown. Workers are
// short-lived, so that none holds a database open: DROP DATABASE and CREATE DATABASE ...
// TEMPLATE are not blocked. On a hot standby the launcher only has usage forwarded to the
// primary; it takes up the other duties at a promotion, without a restart. A launcher that
// starts (after a crash too) links every database once and writes out usage at once.
// pg_upgrade's binary-upgrade mode runs no launcher.
#pragma once

namespace pat::pg {

// Registers the launcher; from _PG_init only.
void setup_maintenance_launcher();

}  // namespace pat::pg
