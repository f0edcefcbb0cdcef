// The ProcessUtility hook of the audit log. Before any utility statement it closes what the
// audit writer keeps open. It keeps the audit tables as pg_pat writes them: ALTER TABLE, RENAME and
// SET SCHEMA of pat.audit_log, pat.audit_pending and pat.audit_chain_head (a rewrite can change
// rows without any row trigger) and ALTER EVENT TRIGGER of pg_pat's event trigger are refused
// outside extension scripts, for every role; a superuser's COPY FROM into the log (how pg_restore
// loads it) is let through the insert guard. COMMIT PREPARED tells the linker, as a commit does.
#pragma once

namespace pat::pg {

// Installs the ProcessUtility hook; from _PG_init only.
void setup_audit_guard();

// Whether a COPY FROM into pat.audit_log or pat.audit_pending is running in this backend.
bool copying_into_audit_tables();

}  // namespace pat::pg
