// pg_pat's audit linker: a launcher (a background worker connected to no database) that, a
// short delay (pat.audit_link_delay) after a transaction with audit rows commits, starts a
// short-lived worker in that database which links the committed pending rows into the hash
// chain (link_pending_rows() in audit_writer.hpp) and exits. At startup, after a crash too, it
// links every database once, so no committed row stays pending. Short-lived workers, as for
// usage, so that no worker holds a database open.
#pragma once

namespace pat::pg {

// Defines pat.audit_link_delay, requests the shared memory and registers the launcher; from
// _PG_init only.
void setup_audit_linker();

// Tells the launcher that a transaction of this database committed audit rows. Called after
// commit; plain C: never errors.
void note_audit_commit();

}  // namespace pat::pg
