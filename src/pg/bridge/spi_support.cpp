// What the glue's SPI work shares; see spi_support.hpp.
#include "pg/bridge/spi_support.hpp"

#include "pg/bridge/guard.hpp"

namespace pat::pg {

SPIPlanPtr keep_plan(const char *query, int nargs, Oid *types, int cursor_options) {
    check_may_raise("keep_plan()");
    SPIPlanPtr plan = SPI_prepare_cursor(query, nargs, types, cursor_options);
    if (plan == nullptr) {
        elog(ERROR, "pg_pat could not prepare a query: %s", SPI_result_code_string(SPI_result));
    }
    SPI_keepplan(plan);
    return plan;
}

uint64 run_kept_plan(KeptPlan &kept, Datum *values, const char *nulls, bool read_only,
                     int expected_rc) {
    check_may_raise("run_kept_plan()");
    if (kept.plan == nullptr) {
        kept.plan = keep_plan(kept.query, kept.nargs, kept.types, kept.cursor_options);
    }
    int rc = SPI_execute_plan(kept.plan, values, nulls, read_only, 0);
    if (rc != expected_rc) {
        elog(ERROR, "pg_pat could not run \"%.40s...\": %s", kept.query,
             SPI_result_code_string(rc));
    }
    return SPI_processed;
}

Oid find_pat_relation(const char *name) {
    check_may_raise("find_pat_relation()");
    Oid schema = get_namespace_oid("pat", true);
    return OidIsValid(schema) ? get_relname_relid(name, schema) : InvalidOid;
}

namespace {

// pat_relation()'s answers, kept until a relcache invalidation of the relation (DDL, DROP
// EXTENSION) or of everything: a name lookup is two syscache probes, paid once, not per call.
struct KnownRelation {
    const char *name;
    Oid relation;
};
constexpr int kKnownRelations = 16;
KnownRelation known_relations[kKnownRelations];
int known_count = 0;
// The names found missing (a schema older than the library), kept until any relcache
// invalidation or schema change: a table that appears is a new pg_class row, which invalidates
// its relcache entry in every backend, and a schema renamed to pat brings its tables along.
constexpr int kKnownMissing = 16;
const char *known_missing[kKnownMissing];
int missing_count = 0;
bool forget_callbacks_registered = false;

void forget_known_relation(Datum, Oid relation) {
    missing_count = 0;
    for (int i = 0; i < known_count; ++i) {
        if (relation == InvalidOid || known_relations[i].relation == relation) {
            known_relations[i] = known_relations[--known_count];
            --i;
        }
    }
}

void forget_missing_relations(Datum, int, uint32) {
    missing_count = 0;
}

}  // namespace

Oid known_pat_relation(const char *name) {
    check_may_raise("known_pat_relation()");
    for (int i = 0; i < known_count; ++i) {
        if (strcmp(known_relations[i].name, name) == 0) {
            return known_relations[i].relation;
        }
    }
    for (int i = 0; i < missing_count; ++i) {
        if (strcmp(known_missing[i], name) == 0) {
            return InvalidOid;
        }
    }
    if (!forget_callbacks_registered) {
        CacheRegisterRelcacheCallback(forget_known_relation, 0);
        CacheRegisterSyscacheCallback(NAMESPACEOID, forget_missing_relations, 0);
        forget_callbacks_registered = true;
    }
    Oid relation = find_pat_relation(name);
    if (OidIsValid(relation) && known_count < kKnownRelations) {
        known_relations[known_count++] = {name, relation};
    } else if (!OidIsValid(relation) && missing_count < kKnownMissing) {
        known_missing[missing_count++] = name;
    }
    return relation;
}

Oid pat_relation(const char *name, const char *hint) {
    check_may_raise("pat_relation()");
    Oid relation = known_pat_relation(name);
    if (!OidIsValid(relation)) {
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE), errmsg("pat.%s does not exist", name),
                        errhint("%s", hint)));
    }
    return relation;
}

Oid tokens_relation() {
    return pat_relation("tokens", "Is the pg_pat extension installed in this database?");
}

int relation_column(Relation relation, const char *name) {
    check_may_raise("relation_column()");
    int attno = SPI_fnumber(RelationGetDescr(relation), name);
    if (attno <= 0) {
        elog(ERROR, "%s has no column \"%s\"", RelationGetRelationName(relation), name);
    }
    return attno;
}

bool column_changed(HeapTuple old_tuple, HeapTuple new_tuple, TupleDesc desc, int attno) {
    check_may_raise("column_changed()");
    bool old_null = false;
    bool new_null = false;
    Datum old_value = heap_getattr(old_tuple, attno, desc, &old_null);
    Datum new_value = heap_getattr(new_tuple, attno, desc, &new_null);
    if (old_null || new_null) {
        return old_null != new_null;
    }
    Form_pg_attribute attribute = TupleDescAttr(desc, attno - 1);
    if (attribute->attlen != -1) {
        return !datumIsEqual(old_value, new_value, attribute->attbyval, attribute->attlen);
    }
    auto *a = reinterpret_cast<varlena *>(PG_DETOAST_DATUM_PACKED(old_value));
    auto *b = reinterpret_cast<varlena *>(PG_DETOAST_DATUM_PACKED(new_value));
    return VARSIZE_ANY_EXHDR(a) != VARSIZE_ANY_EXHDR(b) ||
           memcmp(VARDATA_ANY(a), VARDATA_ANY(b), VARSIZE_ANY_EXHDR(a)) != 0;
}

// The owner of a relation, from the syscache.
static Oid relation_owner(Oid relation) {
    HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relation));
    if (!HeapTupleIsValid(tuple)) {
        elog(ERROR, "cache lookup failed for relation %u", relation);
    }
    Oid owner = reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple))->relowner;
    ReleaseSysCache(tuple);
    return owner;
}

SavedUser become_owner_of(Oid relation) {
    check_may_raise("become_owner_of()");
    SavedUser saved;
    GetUserIdAndSecContext(&saved.user, &saved.security);
    SetUserIdAndSecContext(relation_owner(relation), saved.security | SECURITY_LOCAL_USERID_CHANGE |
                                                         SECURITY_RESTRICTED_OPERATION);
    return saved;
}

void restore_user(const SavedUser &saved) {
    SetUserIdAndSecContext(saved.user, saved.security);
}

OwnerSpi begin_owner_spi(Oid relation) {
    check_may_raise("begin_owner_spi()");
    OwnerSpi spi;
    spi.saved = become_owner_of(relation);
    if (SPI_connect() != SPI_OK_CONNECT) {
        elog(ERROR, "pg_pat could not connect to SPI");
    }
    spi.search_path = compat::pin_catalog_search_path();
    return spi;
}

void end_owner_spi(const OwnerSpi &spi) {
    compat::unpin_search_path(spi.search_path);
    SPI_finish();
    restore_user(spi.saved);
}

bool ends_transaction(XactEvent event) {
    switch (event) {
        case XACT_EVENT_COMMIT:
        case XACT_EVENT_PARALLEL_COMMIT:
        case XACT_EVENT_ABORT:
        case XACT_EVENT_PARALLEL_ABORT:
        case XACT_EVENT_PREPARE:
            return true;
        default:
            return false;
    }
}

}  // namespace pat::pg
