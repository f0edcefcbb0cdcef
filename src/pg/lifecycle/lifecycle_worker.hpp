// Lifecycle's part of pg_pat's maintenance (workers/launcher.hpp): every pat.lifecycle_interval,
// on a primary, the launcher plans a round in each database that accepts connections
// (lifecycle_schedule.hpp says which, and how much of it a round reads), and the worker it
// starts there queues the expiry notices due (notices.hpp) and, when pat.max_inactivity is set,
// revokes the tokens unused for longer (audit action revoked_inactive, notice
// revoked_inactive), after writing out pending usage so that a token used a moment ago is not
// taken for unused.
#pragma once

#include "pg/bridge/postgres.hpp"
#include "pg/lifecycle/lifecycle_schedule.hpp"

namespace pat::pg {

// Worker, inside its transaction: this database's round, as visit plans it. May ereport.
void run_lifecycle_round(const LifecycleVisit &visit);

// Worker, once that transaction committed (a round that failed to commit is not one the next
// can continue from): reports what the round found to the launcher, in the launcher's slot
// for this worker.
void report_lifecycle_round(int slot);

}  // namespace pat::pg
