// SQL helpers for issuing tokens: the scope grammar and token generation.
#include <string>

#include "core/digest.hpp"
#include "core/scope.hpp"
#include "core/token.hpp"
#include "core/wipe.hpp"
#include "pg/bridge/convert.hpp"
#include "pg/bridge/guard.hpp"
#include "pg/settings.hpp"

using pat::pg::call_pg;

// pat.is_valid_scope_name(text): the scope grammar, for the table's CHECK and the API.
PAT_FUNCTION(pat_is_valid_scope_name) {
    text *scope = PG_GETARG_TEXT_PP(0);
    PG_RETURN_BOOL(pat::is_valid_scope_name(pat::pg::text_view(scope)));
}

// pat.new_token(): a fresh token and the digest to store; the token is returned once.
PAT_FUNCTION(pat_new_token) {
    TupleDesc result_type = nullptr;
    call_pg([&] {
        if (get_call_result_type(fcinfo, nullptr, &result_type) != TYPEFUNC_COMPOSITE) {
            elog(ERROR, "pat.new_token must return a composite type");
        }
        result_type = BlessTupleDesc(result_type);
    });
    std::string token = pat::generate_token(pat::pg::token_prefix());
    pat::Digest digest = pat::pg::token_digesters().front().digest(token);
    Datum values[2];
    bool nulls[2] = {false, false};
    values[0] = PointerGetDatum(pat::pg::make_text(token));
    values[1] = PointerGetDatum(pat::pg::make_bytea(digest.data(), digest.size()));
    // The plaintext lives on only in the palloc'd result; wipe our copy.
    pat::wipe(token);
    return call_pg([&] { return HeapTupleGetDatum(heap_form_tuple(result_type, values, nulls)); });
}
