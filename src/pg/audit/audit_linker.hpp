// pg_pat's audit linker: the pass that links a database's committed pending rows into the hash
// chain (link_pending_rows() in audit_writer.hpp), run by pg_pat's maintenance worker where and
// when link_schedule.hpp says.
#pragma once

#include "pg/bridge/postgres.hpp"

namespace pat::pg {

// Worker, outside a transaction: links this database's committed pending rows (and vacuums
// pat.audit_pending when the pass left enough dead rows); a failure is logged and backed off,
// not raised. False when the pass left early for a DROP DATABASE or the like, which wants the
// database to itself: the database is marked waiting again, and the worker should leave.
bool link_audit_rows();

}  // namespace pat::pg
