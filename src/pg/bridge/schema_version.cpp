// The schema version of the current database; see schema_version.hpp.
#include "pg/bridge/schema_version.hpp"

#include "pg/bridge/compat.hpp"

namespace pat::pg {

namespace {

bool version_known = false;
pat::SchemaVersion known_version = pat::SchemaVersion::kAbsent;
// Bumped by each invalidation: one that arrives while the version is being read (opening the
// catalog takes a lock, which processes them) leaves what was read unknown.
uint64 invalidations = 0;
bool callbacks_registered = false;

void forget_version(Datum, int, uint32) {
    version_known = false;
    ++invalidations;
}

void forget_version_at_end(XactEvent, void *) {
    version_known = false;
}

// extversion of pg_pat in pg_extension (the catalog as this transaction's catalog snapshot
// sees it), kAbsent when it has no row.
pat::SchemaVersion read_version() {
    Relation catalog = table_open(ExtensionRelationId, AccessShareLock);
    ScanKeyData key;
    ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber, F_NAMEEQ,
                CStringGetDatum("pg_pat"));
    SysScanDesc scan = systable_beginscan(catalog, ExtensionNameIndexId, true, nullptr, 1, &key);
    HeapTuple tuple = systable_getnext(scan);
    pat::SchemaVersion version = pat::SchemaVersion::kAbsent;
    if (HeapTupleIsValid(tuple)) {
        bool is_null = true;
        Datum extversion =
            heap_getattr(tuple, Anum_pg_extension_extversion, RelationGetDescr(catalog), &is_null);
        version = is_null ? pat::kNewestSchema
                          : pat::schema_version_named(text_to_cstring(DatumGetTextPP(extversion)));
    }
    systable_endscan(scan);
    table_close(catalog, AccessShareLock);
    return version;
}

}  // namespace

pat::SchemaVersion schema_version() {
    if (version_known) {
        return known_version;
    }
    if (!callbacks_registered) {
        // Where no change of pg_extension can be heard, the version is read again in each
        // transaction instead.
        if (!compat::register_extension_callback(forget_version)) {
            RegisterXactCallback(forget_version_at_end, nullptr);
        }
        callbacks_registered = true;
    }
    uint64 invalidations_before = invalidations;
    known_version = read_version();
    version_known = invalidations == invalidations_before;
    return known_version;
}

bool schema_has(pat::SchemaVersion since) {
    return schema_version() >= since;
}

}  // namespace pat::pg
