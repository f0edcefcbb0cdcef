// When pg_pat's maintenance launcher has a lifecycle round run in a database, and how much of it a
// round reads.
//
// Which databases: one found without pg_pat 1.8 (no pat.notices) is skipped until a change is
// committed there (below), or for an hour. A new database has a new OID and is visited.
//
// How much: a round reads in full (every token that can be due) on a database's first visit,
// after a change, after a visit that did not finish, and every 10 minutes, which bounds what a
// change not counted here can delay. Otherwise it reads only the tokens one of whose notices
// fell due since the last round (core's expiry_round_ranges), a few index probes. That is exact
// as long as every such token was visible to the last round; what could break it is counted,
// per database, at commit:
//   - CREATE or ALTER EXTENSION of any extension (pg_pat may come in by CASCADE);
//   - a token inserted whose first notice falls due before its commit: a round that ran while
//     it was uncommitted could not see it. A token made for days is not;
//   - an UPDATE of a token's created_at or expires_at, or one that un-revokes it.
// Logical replication applies rows without these triggers; the 10-minute full round covers it.
//
// pat.max_inactivity: the plan remembers when it was last applied, and the worker applies it
// again when core's inactivity_round_due says so.
#pragma once

#include <optional>
#include <type_traits>

#include "pg/bridge/postgres.hpp"

namespace pat::pg {

// The schedule's part of the shared segment, its utility handler and the transaction callback;
// from _PG_init.
void setup_lifecycle_schedule();

// Backends, from pat.tokens_audit(): a token was inserted; a change needs a full round.
void note_token_inserted(TimestampTz created_at, TimestampTz expires_at);
void note_full_round_needed();

// Launcher: how a round treats one database. Passed to its worker as it is, in bgw_extra.
struct LifecycleVisit {
    bool needed;
    std::optional<TimestampTz> since;            // an incremental round from here; none: in full
    std::optional<TimestampTz> last_inactivity;  // when pat.max_inactivity was last applied
    uint64 changes_before;                       // the database's change count before the visit
};
static_assert(std::is_trivially_copyable_v<LifecycleVisit> &&
              sizeof(LifecycleVisit) <= BGW_EXTRALEN);
LifecycleVisit plan_lifecycle_visit(Oid database, TimestampTz now);

// Launcher, around each visit: the worker's report, if it finished, updates the plan. A worker
// that failed leaves the database to be visited in full. slot is the launcher's for the worker
// (below kMaxMaintenanceWorkersLimit): each running worker reports in its own.
void expect_lifecycle_report(int slot);
void take_lifecycle_report(int slot, Oid database, const LifecycleVisit &visit, TimestampTz now);

// Launcher: forgets databases not in the list (dropped ones).
void keep_lifecycle_plans(const Oid *databases, int count);

// Worker: what this visit found, once its transaction committed. round_now is the round's
// time, the since of the next incremental round; last_inactivity, when pat.max_inactivity was
// last applied (core's inactivity_round_due says how often).
void report_lifecycle_visit(int slot, bool has_lifecycle, TimestampTz round_now,
                            std::optional<TimestampTz> last_inactivity);

}  // namespace pat::pg
