// pat_validate and pat_authenticate: checking a bearer token.
//
// Malformed input is rejected by the core's format and checksum check before any table is
// touched. A well-formed token is looked up by its digest; its effective scopes are its own
// scopes intersected with what the user's roles allow now.
#include <optional>
#include <string>
#include <vector>

#include "core/digest.hpp"
#include "core/error.hpp"
#include "core/scope.hpp"
#include "core/status.hpp"
#include "core/token.hpp"
#include "pg/convert.hpp"
#include "pg/guard.hpp"
#include "pg/token_context.hpp"
#include "pg/token_store.hpp"

using pat::pg::call_pg;

namespace {

struct RequiredScopes {
    pat::ScopeSet scopes;
    bool complete = true;  // false when NULL was asked for: no token can hold it
};

struct CheckOutcome {
    pat::TokenStatus status = pat::TokenStatus::malformed;
    pat::pg::StoredToken stored = {};  // filled unless malformed or not_found
    pat::ScopeSet effective;
    RequiredScopes required;
};

// The strings of a text[] without its NULL elements; *had_null says whether there were any.
std::vector<std::string> array_strings(ArrayType *array, bool *had_null) {
    std::vector<std::string> strings;
    for (auto &element : pat::pg::text_array_elements(array)) {
        if (element) {
            strings.push_back(std::move(*element));
        } else if (had_null != nullptr) {
            *had_null = true;
        }
    }
    return strings;
}

// The required_scopes argument; a NULL array asks for nothing a token can hold (fail closed).
RequiredScopes required_scopes_argument(FunctionCallInfo fcinfo) {
    RequiredScopes required;
    if (PG_ARGISNULL(1)) {
        required.complete = false;
        return required;
    }
    ArrayType *array = call_pg([&] { return PG_GETARG_ARRAYTYPE_P(1); });
    bool had_null = false;
    required.scopes = pat::ScopeSet(array_strings(array, &had_null));
    required.complete = !had_null;
    return required;
}

// The token argument as text, or nullopt when it cannot be a token (NULL or too long); the
// length is read without detoasting, so a megabyte of garbage costs nothing.
std::optional<std::string_view> token_argument(FunctionCallInfo fcinfo) {
    if (PG_ARGISNULL(0)) {
        return std::nullopt;
    }
    Datum raw = PG_GETARG_DATUM(0);
    if (toast_raw_datum_size(raw) > VARHDRSZ + pat::kTokenMaxChars) {
        return std::nullopt;
    }
    return pat::pg::text_view(call_pg([&] { return PG_GETARG_TEXT_PP(0); }));
}

CheckOutcome check_token(FunctionCallInfo fcinfo) {
    CheckOutcome outcome;
    outcome.required = required_scopes_argument(fcinfo);
    std::optional<std::string_view> token = token_argument(fcinfo);
    if (!token || !pat::is_well_formed_token(*token)) {
        outcome.status = pat::TokenStatus::malformed;
        return outcome;
    }
    pat::Digest digest = pat::token_digest(*token, {});
    if (!call_pg([&] { return pat::pg::fetch_stored_token(digest, &outcome.stored); })) {
        outcome.status = pat::TokenStatus::not_found;
        return outcome;
    }
    const pat::pg::StoredToken &stored = outcome.stored;
    pat::ScopeSet token_scopes(array_strings(stored.scopes, nullptr));
    outcome.effective =
        stored.all_scopes
            ? std::move(token_scopes)
            : token_scopes.intersect(pat::ScopeSet(array_strings(stored.role_scopes, nullptr)));
    pat::StoredTokenState state;
    state.revoked = stored.revoked;
    if (stored.has_expiry) {
        state.expires_at = stored.expires_at;
    }
    TimestampTz now = GetCurrentStatementStartTimestamp();
    outcome.status = pat::decide_status(now, state, outcome.effective, outcome.required.scopes,
                                        outcome.required.complete);
    if (outcome.status == pat::TokenStatus::valid &&
        pat::pg::token_use_due(stored.has_last_used, stored.last_used_at, now)) {
        pg_uuid_t id = stored.token_id;
        call_pg([&] { pat::pg::record_token_use(id, now); });
    }
    return outcome;
}

// Whether the outcome names a stored token (its id, user and name may be shown).
bool names_stored_token(pat::TokenStatus status) {
    return status != pat::TokenStatus::malformed && status != pat::TokenStatus::not_found;
}

}  // namespace

// pat_validate(token, required_scopes): exactly one row, never an error for a bad token.
PAT_FUNCTION(pat_validate) {
    TupleDesc result_type = nullptr;
    call_pg([&] {
        if (get_call_result_type(fcinfo, nullptr, &result_type) != TYPEFUNC_COMPOSITE) {
            elog(ERROR, "pat_validate must return a composite type");
        }
        result_type = BlessTupleDesc(result_type);
    });
    CheckOutcome outcome = check_token(fcinfo);
    Datum values[7] = {};
    bool nulls[7] = {false, false, true, true, true, true, true};
    values[0] = BoolGetDatum(outcome.status == pat::TokenStatus::valid);
    values[1] = PointerGetDatum(pat::pg::make_text(pat::status_name(outcome.status)));
    if (names_stored_token(outcome.status)) {
        const pat::pg::StoredToken &stored = outcome.stored;
        values[2] = UUIDPGetDatum(&outcome.stored.token_id);
        values[3] = PointerGetDatum(stored.user_id);
        values[4] = PointerGetDatum(stored.name);
        values[5] = PointerGetDatum(pat::pg::make_text_array(outcome.effective.items()));
        values[6] = TimestampTzGetDatum(stored.expires_at);
        nulls[2] = nulls[3] = nulls[4] = nulls[5] = false;
        nulls[6] = !stored.has_expiry;
    }
    HeapTuple tuple = call_pg([&] { return heap_form_tuple(result_type, values, nulls); });
    return HeapTupleGetDatum(tuple);
}

// pat_authenticate(token, required_scopes): the user id, or 28000 / 42501; sets the context.
PAT_FUNCTION(pat_authenticate) {
    CheckOutcome outcome = check_token(fcinfo);
    switch (outcome.status) {
        case pat::TokenStatus::valid:
            break;
        case pat::TokenStatus::insufficient_scope: {
            std::vector<std::string> missing =
                outcome.required.scopes.missing_from(outcome.effective);
            std::string what =
                missing.empty()
                    ? std::string("a required scope")
                    : "required scope \"" + missing.front().substr(0, pat::kScopeMaxChars) + "\"";
            throw pat::Error(pat::sqlstate::kInsufficientPrivilege,
                             "personal access token lacks " + what);
        }
        default:
            throw pat::Error(pat::sqlstate::kInvalidAuthorization, "invalid personal access token",
                             "The token is " + std::string(pat::status_name(outcome.status)) + ".");
    }
    const pat::pg::StoredToken &stored = outcome.stored;
    pat::pg::TokenContext context;
    context.token_id = stored.token_id;
    context.user_id = std::string(pat::pg::text_view(stored.user_id));
    context.token_name = std::string(pat::pg::text_view(stored.name));
    context.scopes = std::move(outcome.effective);
    pat::pg::set_token_context(std::move(context));
    PG_RETURN_TEXT_P(stored.user_id);
}
