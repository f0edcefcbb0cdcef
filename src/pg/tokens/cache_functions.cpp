// pat_token_cache_stats(): what this backend's token cache holds and how it has fared.
#include "pg/bridge/guard.hpp"
#include "pg/tokens/token_cache.hpp"

PAT_FUNCTION(pat_token_cache_stats) {
    TupleDesc type = nullptr;
    if (get_call_result_type(fcinfo, nullptr, &type) != TYPEFUNC_COMPOSITE) {
        elog(ERROR, "pat_token_cache_stats must return a composite type");
    }
    pat::pg::TokenCacheStats stats = pat::pg::token_cache_stats();
    Datum values[] = {Int64GetDatum(stats.tokens),  Int64GetDatum(stats.users),
                      Int64GetDatum(stats.bytes),   Int64GetDatum(stats.hits),
                      Int64GetDatum(stats.misses),  Int64GetDatum(stats.dropped),
                      Int64GetDatum(stats.evicted), Int64GetDatum(stats.resets)};
    bool nulls[lengthof(values)] = {};
    if (type->natts != lengthof(values)) {
        elog(ERROR, "pat_token_cache_stats must return %d columns", (int)lengthof(values));
    }
    return HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(type), values, nulls));
}
