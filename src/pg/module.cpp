// Module entry: pg_pat must be preloaded (shared_preload_libraries), so that its settings are
// real, reserved and privileged before any client sets them, and its shared memory and
// background worker exist. Loaded any other way, loading fails, and with it CREATE EXTENSION
// and every function.
#include "pg/audit/audit_guard.hpp"
#include "pg/audit/link_schedule.hpp"
#include "pg/bridge/compat.hpp"
#include "pg/bridge/guard.hpp"
#include "pg/lifecycle/leak_report.hpp"
#include "pg/lifecycle/lifecycle_schedule.hpp"
#include "pg/settings.hpp"
#include "pg/tokens/token_cache.hpp"
#include "pg/tokens/token_context.hpp"
#include "pg/usage/limiter_store.hpp"
#include "pg/usage/usage_flush.hpp"
#include "pg/usage/usage_store.hpp"
#include "pg/workers/launcher.hpp"

extern "C" {
PAT_MODULE_MAGIC;

void _PG_init(void);

void _PG_init(void) {
    if (!process_shared_preload_libraries_in_progress) {
        ereport(ERROR,
                (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                 errmsg("pg_pat must be loaded via shared_preload_libraries"),
                 errdetail("Loaded later, its settings could be set or read by any role, and its "
                           "shared memory and background worker would be missing."),
                 errhint("Add 'pg_pat' to shared_preload_libraries in postgresql.conf and "
                         "restart the server.")));
    }
    pat::pg::define_settings();
    pat::pg::register_token_context_callbacks();
    pat::pg::setup_token_cache();
    pat::pg::setup_usage_store();
    pat::pg::setup_limiter_store();
    pat::pg::setup_usage_flush();
    pat::pg::setup_link_schedule();
    pat::pg::setup_audit_guard();
    pat::pg::setup_lifecycle_schedule();
    pat::pg::setup_leak_report();
    pat::pg::setup_maintenance_launcher();
    MarkGUCPrefixReserved("pat");
}
}
