// pg_pat's audit linker: a launcher (a background worker connected to no database) that, a
// short delay (pat.audit_link_delay) after a transaction with audit rows commits, starts a
// short-lived worker in that database which links the committed pending rows into the hash
// chain (link_pending_rows() in audit_writer.hpp) and exits. At startup, after a crash too, it
// links every database once, so no committed row stays pending. Short-lived workers, as for
// usage, so that no worker holds a database open. A database whose pass fails is tried again
// after a back-off (10 s, doubling, at most 5 minutes) and its failure logged once, so that
// nothing a database holds makes the linker flood the log or keep a worker in it.
#pragma once

namespace pat::pg {

// Defines pat.audit_link_delay, requests the shared memory and registers the launcher; from
// _PG_init only.
void setup_audit_linker();

// Tells the launcher that a transaction of this database committed audit rows. Called after
// commit; plain C: never errors.
void note_audit_commit();

// Tells the launcher that a link pass of this database succeeded outside its workers
// (pat_audit_link()): a back-off after failed passes there ends. Inside a transaction; may
// ereport.
void note_audit_linked();

}  // namespace pat::pg
