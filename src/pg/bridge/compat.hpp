// PostgreSQL's server API where it differs between the majors pg_pat supports, and the only
// place that tests PG_VERSION_NUM: the glue calls these names on every version.
#pragma once

#include "pg/bridge/postgres.hpp"

#include <type_traits>

#if PG_VERSION_NUM < 150000
#error "pg_pat needs PostgreSQL 15 or later"
#endif

#ifndef PAT_RELEASE_VERSION
#error "PAT_RELEASE_VERSION (META.json's version, a string literal) comes from the build"
#endif

// The module's magic block. Where the server can hold them, it also carries the module's name
// and release, which pg_get_loaded_modules() shows: the library the server has loaded, which
// after a package upgrade without a restart is not the one on disk.
#if PG_VERSION_NUM >= 180000
#define PAT_MODULE_MAGIC PG_MODULE_MAGIC_EXT(.name = "pg_pat", .version = PAT_RELEASE_VERSION)
#else
#define PAT_MODULE_MAGIC PG_MODULE_MAGIC
#endif

namespace pat::pg::compat {

// The local id of this backend's top-level transaction. PostgreSQL 17 moved PGPROC's lxid into
// the vxid member it shares with the proc number.
inline LocalTransactionId local_transaction_id() {
#if PG_VERSION_NUM >= 170000
    return MyProc->vxid.lxid;
#else
    return MyProc->lxid;
#endif
}

// The search path pinned to pg_catalog for the queries run until unpin_search_path. The override
// search path stack is gone since PostgreSQL 17; there the search_path setting is saved and set
// the way a function's SET clause does it, to pg_catalog followed by pg_temp (a path that does not
// list pg_temp searches it first), and restored by unpin_search_path or by the (sub)transaction's
// abort. Before 17, the override leaves pg_temp out altogether, the stricter of the two. Either
// way a kept plan prepared under the pin matches the pin, never a caller's search_path.
struct PinnedSearchPath {
    int guc_nest_level = 0;
};

inline PinnedSearchPath pin_catalog_search_path() {
    PinnedSearchPath pinned;
#if PG_VERSION_NUM >= 170000
    pinned.guc_nest_level = NewGUCNestLevel();
    set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
                      GUC_ACTION_SAVE, true, 0, false);
#else
    OverrideSearchPath catalog_only = {};
    catalog_only.addCatalog = true;
    catalog_only.addTemp = false;
    PushOverrideSearchPath(&catalog_only);
#endif
    return pinned;
}

inline void unpin_search_path(const PinnedSearchPath &pinned) {
#if PG_VERSION_NUM >= 170000
    AtEOXact_GUC(true, pinned.guc_nest_level);
#else
    (void)pinned;
    PopOverrideSearchPath();
#endif
}

// Inserts slot's index entries after a heap insert, no speculative insertion and no arbiter
// indexes; returns the recheck list. PostgreSQL 16 added onlySummarizing (for HOT updates).
inline List *insert_index_tuples(ResultRelInfo *result, TupleTableSlot *slot, EState *estate) {
#if PG_VERSION_NUM >= 160000
    return ExecInsertIndexTuples(result, slot, estate, false, false, nullptr, NIL, false);
#else
    return ExecInsertIndexTuples(result, slot, estate, false, false, nullptr, NIL);
#endif
}

// Begins an index scan with nkeys keys and no ordering. PostgreSQL 18 added the instrumentation
// argument (for EXPLAIN ANALYZE's index searches; none here).
inline IndexScanDesc begin_index_scan(Relation table, Relation index, Snapshot snapshot,
                                      int nkeys) {
#if PG_VERSION_NUM >= 180000
    return index_beginscan(table, index, snapshot, nullptr, nkeys, 0);
#else
    return index_beginscan(table, index, snapshot, nkeys, 0);
#endif
}

// DecodeDateTime, its error details dropped: callers only ask whether the text is a timestamp.
// PostgreSQL 16 added the DateTimeErrorExtra argument.
inline int decode_date_time(char **fields, int *field_types, int field_count, int *value_type,
                            struct pg_tm *parts, fsec_t *fraction, int *zone) {
#if PG_VERSION_NUM >= 160000
    DateTimeErrorExtra extra = {};
    return DecodeDateTime(fields, field_types, field_count, value_type, parts, fraction, zone,
                          &extra);
#else
    return DecodeDateTime(fields, field_types, field_count, value_type, parts, fraction, zone);
#endif
}

// A table's dead rows as the statistics last saw them (PostgreSQL 16 renamed n_dead_tuples).
inline PgStat_Counter dead_tuples(const PgStat_StatTabEntry &stats) {
#if PG_VERSION_NUM >= 160000
    return stats.dead_tuples;
#else
    return stats.n_dead_tuples;
#endif
}

// Parameters for vacuuming one table as autovacuum does, before options: ages and log threshold
// from the settings (-1), no parallel workers (-1) and, since PostgreSQL 18, the eager freezing
// rate from its setting (left 0, it would turn eager freezing off).
inline VacuumParams default_vacuum_params() {
    VacuumParams params = {};
    params.freeze_min_age = -1;
    params.freeze_table_age = -1;
    params.multixact_freeze_min_age = -1;
    params.multixact_freeze_table_age = -1;
    params.log_min_duration = -1;
    params.index_cleanup = VACOPTVALUE_UNSPECIFIED;
    params.truncate = VACOPTVALUE_UNSPECIFIED;
    params.nworkers = -1;
#if PG_VERSION_NUM >= 180000
    params.max_eager_freeze_failure_rate = vacuum_max_eager_freeze_failure_rate;
#endif
    return params;
}

// Vacuums one table (schema.name, relid) with params, as autovacuum does for a table: call
// inside a transaction, which it commits, leaving another one started. The table's entry must
// outlive that commit (vacuum() keeps it for its own transactions), so it and vacuum()'s
// cross-transaction memory live in a context of their own. Since PostgreSQL 16 the caller
// provides that context and the buffer ring (a null strategy would mean no ring at all; this one
// is VACUUM's own); before, vacuum() made both.
inline void vacuum_table(const char *schema, const char *name, Oid relid, VacuumParams *params) {
    MemoryContext vacuum_memory =
        AllocSetContextCreate(TopMemoryContext, "pg_pat vacuum", ALLOCSET_DEFAULT_SIZES);
    MemoryContext caller_memory = MemoryContextSwitchTo(vacuum_memory);
    List *relations = list_make1(
        makeVacuumRelation(makeRangeVar(pstrdup(schema), pstrdup(name), -1), relid, NIL));
#if PG_VERSION_NUM >= 160000
    BufferAccessStrategy ring = GetAccessStrategyWithSize(BAS_VACUUM, VacuumBufferUsageLimit);
    MemoryContextSwitchTo(caller_memory);
    vacuum(relations, params, ring, vacuum_memory, true);
#else
    MemoryContextSwitchTo(caller_memory);
    vacuum(relations, params, nullptr, true);
#endif
    MemoryContextDelete(vacuum_memory);
}

// Whether role owns the table (PostgreSQL 16 replaced the per-class owner checks with one).
inline bool owns_table(Oid table, Oid role) {
#if PG_VERSION_NUM >= 160000
    return object_ownercheck(RelationRelationId, table, role);
#else
    return pg_class_ownercheck(table, role);
#endif
}

// Sets when a trigger of rel fires, its clones on partitions too. PostgreSQL 16 added the
// parent trigger and recursion arguments (15 recurses always).
inline void set_trigger_firing(Relation rel, const char *trigger_name, char fires_when,
                               LOCKMODE lockmode) {
#if PG_VERSION_NUM >= 160000
    EnableDisableTrigger(rel, trigger_name, InvalidOid, fires_when, false, true, lockmode);
#else
    EnableDisableTrigger(rel, trigger_name, fires_when, false, lockmode);
#endif
}

// Replaces the row at tid with tuple, updating no index (as before 16, the caller's concern).
// PostgreSQL 16 reports which indexes the update would need.
inline void update_heap_row(Relation rel, ItemPointer tid, HeapTuple tuple) {
#if PG_VERSION_NUM >= 160000
    TU_UpdateIndexes index_updates = TU_None;
    simple_heap_update(rel, tid, tuple, &index_updates);
#else
    simple_heap_update(rel, tid, tuple);
#endif
}

// Memory for a check hook's *extra, which PostgreSQL frees when the value is replaced; null when
// out of memory (the hook then returns false). Before 16 it is freed with free(); since 16 with
// guc_free(), which takes only guc_malloc's memory.
inline void *alloc_setting_extra(size_t bytes) {
#if PG_VERSION_NUM >= 160000
    return guc_malloc(LOG, bytes);
#else
    return malloc(bytes);
#endif
}

namespace detail {
template <typename CacheIds, typename = void>
struct HasExtensionCache : std::false_type {};
template <typename CacheIds>
struct HasExtensionCache<CacheIds, std::void_t<decltype(CacheIds::EXTENSIONOID)>> : std::true_type {
};
}  // namespace detail

// Registers callback for every change of a pg_extension row, heard through the row's
// invalidation in every backend; false, and callback is never called, where the server has no
// syscache on pg_extension. 18 has one; 15 and 17 gained it in a minor release, so it is looked
// for in the headers rather than by PG_VERSION_NUM.
template <typename CacheIds = SysCacheIdentifier>
bool register_extension_callback(SyscacheCallbackFunction callback) {
    if constexpr (detail::HasExtensionCache<CacheIds>::value) {
        CacheRegisterSyscacheCallback(CacheIds::EXTENSIONOID, callback, 0);
        return true;
    } else {
        return false;
    }
}

}  // namespace pat::pg::compat
