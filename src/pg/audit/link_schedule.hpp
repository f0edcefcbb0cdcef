// When and where pg_pat's audit linker (audit_linker.hpp) runs: the shared state that tells the
// maintenance launcher (workers/launcher.hpp) which databases have committed audit rows to link,
// a short delay (pat.audit_link_delay) after they commit: the first such commit
// in a database since the launcher last looked marks it waiting and wakes the launcher. At
// startup, after a crash too, and at a promotion, every database is linked once, so no
// committed row stays pending. A database whose pass fails is tried again after a back-off
// (10 s, doubling, at most 5 minutes) and its failure logged once, so that nothing a database
// holds makes the linker flood the log or keep a worker in it.
#pragma once

#include "pg/bridge/postgres.hpp"

namespace pat::pg {

// Adds the linker's state to the shared segment; from _PG_init only.
void setup_link_schedule();

// Tells the launcher that a transaction of this database committed audit rows. Called after
// commit; plain C: never errors.
void note_audit_commit();

// Tells the launcher that a link pass of this database succeeded outside its workers
// (pat_audit_link()): a back-off after failed passes there ends. Inside a transaction; may
// ereport.
void note_audit_linked();

// Launcher: every database is to be linked, once (a restarted launcher cannot know what its
// predecessor left, nor a promoted standby what the old primary left pending).
void request_link_everywhere();

// Launcher: whether databases wait for a link pass.
bool link_requested();

// Launcher, outside a transaction: takes the databases waiting for a link pass (every
// database, when that was asked), leaving out those that wait out a back-off; palloc'd in
// TopMemoryContext, *count set.
Oid *take_databases_to_link(int *count);

// Launcher, outside a transaction: marks the failed databases whose retry is due as waiting,
// and forgets those that are gone (dropped, or no longer accepting connections).
void queue_due_link_retries();

// Launcher: milliseconds until the first failed database's retry is due (0 if one is), -1 if
// none is failing.
long ms_until_next_link_retry();

// The link pass (audit_linker.hpp), in the database it links: marks it waiting again (the pass
// left early); records a failed pass, logged once per failure and backed off; forgets its failed
// passes (database name logged as linking again; nullptr: not logged). Outside a transaction.
void mark_waiting(Oid database);
void report_link_failure(Oid database, const char *name, const ErrorData *failure);
void forget_link_failures(Oid database, const char *name);

}  // namespace pat::pg
