// Result rows; see result_rows.hpp.
#include "pg/bridge/result_rows.hpp"

namespace pat::pg {

namespace {

struct KeptType {
    Oid function;
    TupleDesc type;
    bool stale;
};

// One per row-returning function of pg_pat: a handful.
constexpr int kKeptTypes = 32;
KeptType kept_types[kKeptTypes];
int kept_count = 0;
bool callback_registered = false;

void on_proc_invalidation(Datum, int, uint32) {
    for (int i = 0; i < kept_count; ++i) {
        kept_types[i].stale = true;
    }
}

}  // namespace

TupleDesc result_type(FunctionCallInfo fcinfo) {
    Oid function = fcinfo->flinfo->fn_oid;
    KeptType *slot = nullptr;
    for (int i = 0; i < kept_count; ++i) {
        if (kept_types[i].function == function) {
            if (!kept_types[i].stale) {
                return kept_types[i].type;
            }
            slot = &kept_types[i];
            break;
        }
    }
    if (!callback_registered) {
        CacheRegisterSyscacheCallback(PROCOID, on_proc_invalidation, 0);
        callback_registered = true;
    }
    TupleDesc type = nullptr;
    if (get_call_result_type(fcinfo, nullptr, &type) != TYPEFUNC_COMPOSITE) {
        elog(ERROR, "function %u must return a composite type", function);
    }
    MemoryContext caller = MemoryContextSwitchTo(CacheMemoryContext);
    TupleDesc blessed = BlessTupleDesc(CreateTupleDescCopy(type));
    MemoryContextSwitchTo(caller);
    if (slot == nullptr) {
        // A full table (functions dropped and created again and again) starts over.
        if (kept_count == kKeptTypes) {
            kept_count = 0;
        }
        slot = &kept_types[kept_count++];
    } else {
        FreeTupleDesc(slot->type);
    }
    *slot = {function, blessed, false};
    return blessed;
}

Tuplestorestate *begin_result_rows(FunctionCallInfo fcinfo, TupleDesc type) {
    auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
    if (rsinfo == nullptr || !IsA(rsinfo, ReturnSetInfo) ||
        (rsinfo->allowedModes & SFRM_Materialize) == 0) {
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("set-valued function called in context that cannot accept a set")));
    }
    MemoryContext caller = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
    Tuplestorestate *rows = tuplestore_begin_heap(true, false, work_mem);
    rsinfo->returnMode = SFRM_Materialize;
    rsinfo->setResult = rows;
    // The executor frees a descriptor that is not reference-counted: hand it a copy.
    rsinfo->setDesc = CreateTupleDescCopy(type);
    MemoryContextSwitchTo(caller);
    return rows;
}

void put_spi_rows(Tuplestorestate *rows, TupleDesc type) {
    auto *values = static_cast<Datum *>(palloc(sizeof(Datum) * type->natts));
    auto *nulls = static_cast<bool *>(palloc(sizeof(bool) * type->natts));
    for (uint64 i = 0; i < SPI_processed; ++i) {
        heap_deform_tuple(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, values, nulls);
        tuplestore_putvalues(rows, type, values, nulls);
    }
    pfree(values);
    pfree(nulls);
}

}  // namespace pat::pg
