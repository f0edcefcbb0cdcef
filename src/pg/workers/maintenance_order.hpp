// What the maintenance launcher (launcher.hpp) asks a worker to do in its database, passed in
// the worker's bgw_extra, and the names both go by in pg_stat_activity (backend_type).
#pragma once

#include <type_traits>

#include "pg/bridge/postgres.hpp"
#include "pg/lifecycle/lifecycle_schedule.hpp"

namespace pat::pg {

constexpr const char *kLauncherType = "pg_pat launcher";
constexpr const char *kWorkerType = "pg_pat worker";

// The duties of one visit, a bit each.
constexpr uint32 kWriteUsage = 1;
constexpr uint32 kLinkAudit = 2;
constexpr uint32 kLifecycleRound = 4;

struct MaintenanceOrder {
    uint32 duties;
    int slot;              // the launcher's slot for the worker, where a lifecycle round reports
    LifecycleVisit visit;  // with kLifecycleRound: how the round treats the database
};
static_assert(std::is_trivially_copyable_v<MaintenanceOrder> &&
              sizeof(MaintenanceOrder) <= BGW_EXTRALEN);

}  // namespace pat::pg
