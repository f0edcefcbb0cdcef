// The utility handler and object access hook of the audit log. Before any utility statement
// they close what the audit writer keeps open. Outside extension scripts (and pg_upgrade's
// schema restore), for every role: ALTER TABLE, RENAME and SET SCHEMA of pat.audit_log,
// pat.audit_pending, pat.audit_chain_head and pat.audit_head (a rewrite can change rows without
// any row trigger) are refused, and so is every change of pg_pat's own objects that would lift
// a guard, matched by OID and extension membership rather than by name: DROP, CREATE OR
// REPLACE, RENAME, ENABLE and DISABLE of pg_pat's triggers on its tables; CREATE OR REPLACE,
// ALTER, RENAME, SET SCHEMA and OWNER TO of its functions; any ALTER of its event trigger; ALTER
// EXTENSION pg_pat ADD or DROP. They record pat_audit() triggers switched off by paths the event
// trigger cannot see (audit_table.hpp). A superuser's COPY FROM into the log (how pg_restore
// loads it) is let through the insert guard. COMMIT PREPARED tells the linker, as a commit does.
#pragma once

namespace pat::pg {

// Adds the utility handler and installs the object access hook; from _PG_init only.
void setup_audit_guard();

// Whether a COPY FROM into pat.audit_log or pat.audit_pending is running in this backend.
bool copying_into_audit_tables();

}  // namespace pat::pg
