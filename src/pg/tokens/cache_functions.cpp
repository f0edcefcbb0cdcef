// pat_token_cache_stats(): the server's shared token cache, and this backend's own.
#include "pg/bridge/guard.hpp"
#include "pg/bridge/schema_version.hpp"
#include "pg/tokens/shared_tokens.hpp"
#include "pg/tokens/token_cache.hpp"

PAT_FUNCTION(pat_token_cache_stats) {
    TupleDesc type = nullptr;
    if (get_call_result_type(fcinfo, nullptr, &type) != TYPEFUNC_COMPOSITE) {
        elog(ERROR, "pat_token_cache_stats must return a composite type");
    }
    pat::pg::TokenCacheStats own = pat::pg::token_cache_stats();
    if (!pat::pg::schema_has(pat::schema_since::kSharedCacheStats)) {
        Datum values[] = {Int64GetDatum(own.tokens),  Int64GetDatum(own.users),
                          Int64GetDatum(own.bytes),   Int64GetDatum(own.hits),
                          Int64GetDatum(own.misses),  Int64GetDatum(own.dropped),
                          Int64GetDatum(own.evicted), Int64GetDatum(own.resets)};
        bool nulls[lengthof(values)] = {};
        if (type->natts != lengthof(values)) {
            elog(ERROR, "pat_token_cache_stats must return %d columns", (int)lengthof(values));
        }
        return HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(type), values, nulls));
    }
    pat::pg::SharedTokenStats shared = pat::pg::shared_token_stats();
    Datum values[] = {Int64GetDatum(shared.tokens),
                      Int64GetDatum(shared.bytes),
                      Int64GetDatum(shared.capacity),
                      Int64GetDatum(shared.hits),
                      Int64GetDatum(shared.misses),
                      Int64GetDatum(shared.evictions),
                      Int64GetDatum(shared.invalidations),
                      Int64GetDatum(own.tokens),
                      Int64GetDatum(own.users),
                      Int64GetDatum(own.bytes),
                      Int64GetDatum(own.hits),
                      Int64GetDatum(own.misses),
                      Int64GetDatum(own.resets),
                      BoolGetDatum(own.last_missed)};
    bool nulls[lengthof(values)] = {};
    if (type->natts != lengthof(values)) {
        elog(ERROR, "pat_token_cache_stats must return %d columns", (int)lengthof(values));
    }
    return HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(type), values, nulls));
}
