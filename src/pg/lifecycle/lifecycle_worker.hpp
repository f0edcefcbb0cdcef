// The lifecycle launcher: every pat.lifecycle_interval, on a primary, a short-lived worker in
// each database that accepts connections queues the expiry notices due (notices.hpp) and, when
// pat.max_inactivity is set, revokes the tokens unused for longer (audit action
// revoked_inactive, notice revoked_inactive), after writing out pending usage so that a token
// used a moment ago is not taken for unused. Which databases it visits, and how much of each a
// round reads, is lifecycle_schedule.hpp's.
#pragma once

#include "pg/bridge/postgres.hpp"

namespace pat::pg {

// Defines pat.lifecycle_interval and registers the launcher; from _PG_init.
void setup_lifecycle_worker();

}  // namespace pat::pg
