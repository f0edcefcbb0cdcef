// pat_validate and pat_authenticate: checking a bearer token.
//
// Malformed input is rejected by the core's format and checksum check before any table or cache
// is touched. A well-formed token is looked up by digest in the backend's token cache (see
// token_cache.hpp), which falls back to the tables. Everything on this path is plain data, so
// an ereport() may pass through these frames.
#include <optional>
#include <string>

#include "core/digest.hpp"
#include "core/restrictions.hpp"
#include "core/error.hpp"
#include "core/scope.hpp"
#include "core/status.hpp"
#include "core/token.hpp"
#include "pg/tokens/api_support.hpp"
#include "pg/bridge/convert.hpp"
#include "pg/bridge/guard.hpp"
#include "pg/tokens/key_status.hpp"
#include "pg/tokens/lookalikes.hpp"
#include "pg/tokens/restrictions_data.hpp"
#include "pg/bridge/result_rows.hpp"
#include "pg/settings.hpp"
#include "pg/tokens/token_cache.hpp"
#include "pg/tokens/token_context.hpp"
#include "pg/bridge/schema_version.hpp"
#include "pg/tokens/token_store.hpp"
#include "pg/usage/limiter_store.hpp"
#include "pg/usage/usage_store.hpp"

namespace {

struct Check {
    pat::TokenStatus status;
    pat::pg::CachedToken *token;     // the stored token, unless malformed or not_found
    std::string_view missing_scope;  // a required scope the token lacks, if one was named
    int64 retry_after;               // rate_limited: microseconds until it could pass
    std::optional<int64> remaining;  // with credits: what is left after this check
    // The client_addr argument (nullptr: none), converted for the core once, when first needed:
    // by the token's networks, then by the usage store recording it.
    const inet *client;
    std::optional<pat::IpAddress> client_ip;
};

// The token argument, or false when it cannot be a token (NULL or too long); the length is
// read without detoasting, so a megabyte of garbage costs nothing.
bool token_argument(FunctionCallInfo fcinfo, std::string_view *token) {
    if (PG_ARGISNULL(0)) {
        return false;
    }
    if (toast_raw_datum_size(PG_GETARG_DATUM(0)) > VARHDRSZ + pat::kTokenMaxChars) {
        return false;
    }
    *token = pat::pg::text_view(PG_GETARG_TEXT_PP(0));
    return true;
}

// The resource argument, or false when it is NULL or the function has none.
bool resource_argument(FunctionCallInfo fcinfo, std::string_view *resource) {
    if (PG_NARGS() < 4 || PG_ARGISNULL(3)) {
        return false;
    }
    *resource = pat::pg::text_view(PG_GETARG_TEXT_PP(3));
    return true;
}

// Whether token holds every scope in the required_scopes argument, each covering the resource
// argument if one is given (a scope bound to resources covers only those); a NULL array or a
// NULL element asks for something no token holds (fail closed). Names a missing scope in check.
bool holds_required_scopes(FunctionCallInfo fcinfo, const pat::pg::CachedToken &token,
                           const pat::RestrictionsView &limits, Check *check) {
    if (PG_ARGISNULL(1)) {
        return false;
    }
    ArrayType *required = PG_GETARG_ARRAYTYPE_P(1);
    if (ARR_NDIM(required) == 0) {
        return true;
    }
    Datum *elements = nullptr;
    bool *nulls = nullptr;
    int count = 0;
    deconstruct_array(required, TEXTOID, -1, false, TYPALIGN_INT, &elements, &nulls, &count);
    std::string_view resource;
    bool bound = limits.bound_scope_count() > 0 && resource_argument(fcinfo, &resource);
    for (int i = 0; i < count; ++i) {
        if (nulls[i]) {
            return false;
        }
        std::string_view scope = pat::pg::text_view(DatumGetTextPP(elements[i]));
        if (!pat::sorted_scopes_contain(token.sorted_scopes, token.scope_count, scope)) {
            check->missing_scope = scope;
            return false;
        }
        if (bound && !limits.covers(scope, resource)) {
            check->missing_scope = scope;
            return false;
        }
    }
    return true;
}

// Keeps where the limiter found token's state as the guess for its next check: in this entry
// (the backend's copy) and in the shared table's, for every backend.
void remember_limiter_slot(pat::pg::CachedToken *token, uint32 slot) {
    if (slot == token->limiter_slot || slot == pat::pg::kUnknownLimiterSlot) {
        return;
    }
    token->limiter_slot = slot;
    if (token->limiter_slot_home != nullptr) {
        pg_atomic_write_u32(token->limiter_slot_home, slot);
    }
}

// An otherwise valid check against the token's rate limits and credits, in shared memory
// (limiter_store.hpp): rate_limited or usage_exceeded when over. The clock is the real one, not
// the transaction's: a long transaction's checks must still be spread over time.
void enforce_limits(Check *check) {
    const pat::TokenLimits &stored = check->token->limits;
    if (!stored.any() || !pat::pg::schema_has(pat::schema_since::kRateLimits)) {
        return;
    }
    pat::pg::LimitsToEnforce limits;
    limits.token_id = check->token->token_id;
    limits.token_slot_hint = check->token->limiter_slot;
    if (stored.has_rate()) {
        limits.token_limit = stored.rate();
    }
    if (stored.has_user_rate()) {
        limits.user_limit = stored.user_rate();
        limits.user_id = VARDATA_ANY(check->token->user_id);
        limits.user_id_length = VARSIZE_ANY_EXHDR(check->token->user_id);
    }
    if (stored.has_credits()) {
        pat::pg::StoredCredits credits;
        credits.version = stored.credits_version;
        credits.plan = stored.plan();
        limits.credits = credits;
    }
    TimestampTz now = GetCurrentTimestamp();
    pat::pg::LimitOutcome outcome = pat::pg::enforce_limits(limits, now);
    if (outcome.verdict == pat::pg::LimitVerdict::balance_needed) {
        // The first check of this budget on this server (since it started, or since the entry
        // was reclaimed): its balance as last written. A budget removed meanwhile reads as
        // spent (fail closed) until the cache learns of it.
        int64 version = 0;
        pat::CreditBalance balance;
        if (!pat::pg::fetch_stored_credits(limits.token_id, &version, &balance) ||
            version != stored.credits_version) {
            balance = pat::CreditBalance{0, 0};
        }
        limits.credits->balance = balance;
        limits.balance_known = true;
        outcome = pat::pg::enforce_limits(limits, now);
    }
    remember_limiter_slot(check->token, outcome.token_slot);
    check->remaining = outcome.remaining;
    if (outcome.verdict == pat::pg::LimitVerdict::rate_limited) {
        check->status = pat::TokenStatus::rate_limited;
        check->retry_after = outcome.retry_after;
    } else if (outcome.verdict == pat::pg::LimitVerdict::usage_exceeded) {
        check->status = pat::TokenStatus::usage_exceeded;
    }
}

// The client_addr argument, or nullptr when it is NULL or the function has none (a schema before
// restrictions). Read without allocating.
const inet *client_address(FunctionCallInfo fcinfo) {
    if (PG_NARGS() < 3 || PG_ARGISNULL(2)) {
        return nullptr;
    }
    return PG_GETARG_INET_PP(2);
}

// The check's client address as the core takes it, or nullptr when none was given.
const pat::IpAddress *client_ip(Check *check) {
    if (check->client == nullptr) {
        return nullptr;
    }
    if (!check->client_ip) {
        check->client_ip = pat::pg::address_of(check->client);
    }
    return &*check->client_ip;
}

Check check_token(FunctionCallInfo fcinfo) {
    Check check = {pat::TokenStatus::malformed, nullptr,     {}, 0, std::nullopt,
                   client_address(fcinfo),      std::nullopt};
    std::string_view token_text;
    if (!token_argument(fcinfo, &token_text) || !pat::is_well_formed_token(token_text)) {
        return check;
    }
    // Current key first; former keys only for tokens made before a rotation.
    for (const pat::TokenDigester &digester : pat::pg::token_digesters()) {
        check.token = pat::pg::find_token(digester.digest(token_text));
        if (check.token != nullptr) {
            break;
        }
    }
    if (check.token == nullptr) {
        check.status = pat::TokenStatus::not_found;
        pat::pg::warn_of_missing_keys();  // perhaps it was made under a key not set here
        return check;
    }
    if (check.token->limits.any()) {
        // Fetched while the status and scopes are decided, for enforce_limits().
        pat::pg::prefetch_limiter_slot(check.token->limiter_slot);
    }
    pat::StoredTokenState state;
    state.revoked = check.token->revoked;
    state.suspended = check.token->suspended;
    if (check.token->has_expiry) {
        state.expires_at = check.token->expires_at;
    }
    pat::RestrictionsView limits(reinterpret_cast<const char *>(check.token->restrictions));
    bool address_allowed = true;
    if (limits.network_count() > 0) {
        address_allowed = limits.allows_address(client_ip(&check));
    }
    bool holds = holds_required_scopes(fcinfo, *check.token, limits, &check);
    check.status = pat::decide_status(pat::pg::policy_clock(), state, holds, address_allowed);
    if (check.status == pat::TokenStatus::valid) {
        enforce_limits(&check);
    }
    return check;
}

// Whether this session has been told that pat_authenticate() outside a transaction block sets
// a context that ends with the statement.
bool warned_outside_transaction_block = false;

// Counts the check in shared memory (usage_store.hpp): no table is written, no transaction id
// taken, no WAL generated. A valid check given the client's address notes it there too, unless
// pat.client_addresses is off; the usage flush writes it out.
void count_use(Check *check) {
    const pat::IpAddress *noted = nullptr;
    if (check->status == pat::TokenStatus::valid &&
        pat::pg::client_addresses() != pat::pg::ClientAddresses::off) {
        noted = client_ip(check);
    }
    pat::pg::count_check(check->token != nullptr ? &check->token->token_id : nullptr, check->status,
                         pat::pg::policy_clock(), noted);
}

// The text of word, made once per backend into *kept: every check answers with one of a dozen
// words (its status, its token's type), which heap_form_tuple copies into the row anyway.
Datum kept_word(std::string_view word, text **kept) {
    if (*kept == nullptr) {
        auto *made =
            static_cast<text *>(MemoryContextAlloc(TopMemoryContext, VARHDRSZ + word.size()));
        SET_VARSIZE(made, VARHDRSZ + word.size());
        memcpy(VARDATA(made), word.data(), word.size());
        *kept = made;
    }
    return PointerGetDatum(*kept);
}

text *status_words[static_cast<int>(pat::TokenStatus::usage_exceeded) + 1];
text *type_words[2];

}  // namespace

// pat_validate(token, required_scopes): exactly one row, never an error for a bad token.
PAT_FUNCTION(pat_validate) {
    pat::pg::warn_of_lookalike_functions(fcinfo);
    TupleDesc result_type = pat::pg::result_type(fcinfo);
    Check check = check_token(fcinfo);
    // The function's shape says how many columns: seven, eight where the schema has token
    // types, nine (metadata last) where it has restrictions; any later ones are NULL here.
    constexpr int kMostColumns = 16;
    Datum values[kMostColumns] = {};
    bool nulls[kMostColumns];
    for (bool &null : nulls) {
        null = true;
    }
    nulls[0] = nulls[1] = false;
    if (result_type->natts > kMostColumns) {
        throw pat::Error(pat::sqlstate::kInternalError,
                         "pat_validate() has more columns than "
                         "this library knows");
    }
    values[0] = BoolGetDatum(check.status == pat::TokenStatus::valid);
    values[1] =
        kept_word(pat::status_name(check.status), &status_words[static_cast<int>(check.status)]);
    if (check.token != nullptr) {
        const pat::pg::CachedToken &token = *check.token;
        values[2] = UUIDPGetDatum(&check.token->token_id);
        values[3] = PointerGetDatum(token.user_id);
        values[4] = PointerGetDatum(token.name);
        values[5] = PointerGetDatum(token.scopes);
        values[6] = TimestampTzGetDatum(token.expires_at);
        nulls[2] = nulls[3] = nulls[4] = nulls[5] = false;
        nulls[6] = !token.has_expiry;
        values[7] = kept_word(token.organization ? "organization" : "personal",
                              &type_words[token.organization ? 1 : 0]);
        nulls[7] = false;
        // Metadata is the application's: returned only with a valid answer, so a token that is
        // refused (from the wrong network, suspended) tells its holder nothing more.
        Jsonb *metadata = pat::pg::block_metadata(token.restrictions);
        if (metadata != nullptr && check.status == pat::TokenStatus::valid) {
            values[8] = PointerGetDatum(metadata);
            nulls[8] = false;
        }
    }
    if (result_type->natts >= 11) {
        if (check.status == pat::TokenStatus::rate_limited) {
            auto *retry_after = static_cast<Interval *>(palloc0(sizeof(Interval)));
            retry_after->time = check.retry_after;
            values[9] = IntervalPGetDatum(retry_after);
            nulls[9] = false;
        }
        if (check.remaining) {
            values[10] = Int64GetDatum(*check.remaining);
            nulls[10] = false;
        }
    }
    HeapTuple tuple = heap_form_tuple(result_type, values, nulls);
    count_use(&check);
    return HeapTupleGetDatum(tuple);
}

// pat_authenticate(token, required_scopes): the user id, or 28000 / 42501; sets the context.
PAT_FUNCTION(pat_authenticate) {
    pat::pg::warn_of_lookalike_functions(fcinfo);
    Check check = check_token(fcinfo);
    count_use(&check);
    switch (check.status) {
        case pat::TokenStatus::valid:
            break;
        case pat::TokenStatus::forbidden_network:
            throw pat::Error(pat::sqlstate::kInsufficientPrivilege,
                             "personal access token may not be used from this address",
                             check.client == nullptr
                                 ? "The token works only from its networks, and no client "
                                   "address was given."
                                 : "The client address is outside the token's networks.",
                             "Pass the client's address: inet_client_addr() for a direct "
                             "connection, the HTTP client's address in an application.");
        case pat::TokenStatus::insufficient_scope:
            throw pat::Error(
                pat::sqlstate::kInsufficientPrivilege,
                check.missing_scope.empty()
                    ? std::string("personal access token lacks a required scope")
                    : "personal access token lacks required scope \"" +
                          std::string(check.missing_scope.substr(0, pat::kScopeMaxChars)) + "\"");
        case pat::TokenStatus::rate_limited: {
            // Whole seconds, rounded up, as HTTP's Retry-After takes them.
            int64 seconds = (check.retry_after + USECS_PER_SEC - 1) / USECS_PER_SEC;
            throw pat::Error(pat::sqlstate::kTokenRateLimited,
                             "personal access token is over its rate limit",
                             "Retry-After: " + std::to_string(seconds),
                             "Answer 429 Too Many Requests with this Retry-After header.");
        }
        case pat::TokenStatus::usage_exceeded:
            throw pat::Error(pat::sqlstate::kTokenUsageExceeded,
                             "personal access token has no credits left",
                             "The token is usage_exceeded.");
        default:
            throw pat::Error(pat::sqlstate::kInvalidAuthorization, "invalid personal access token",
                             "The token is " + std::string(pat::status_name(check.status)) + ".");
    }
    const pat::pg::CachedToken &token = *check.token;
    text *user_id = static_cast<text *>(PG_DETOAST_DATUM_COPY(PointerGetDatum(token.user_id)));
    {
        pat::pg::BackendAllocations kept;  // the context is the transaction's, not this frame's
        pat::pg::TokenContext context;
        context.token_id = token.token_id;
        context.user_id = std::string(pat::pg::text_view(token.user_id));
        context.token_name = std::string(pat::pg::text_view(token.name));
        context.scopes = pat::ScopeSet(
            std::vector<std::string>(token.sorted_scopes, token.sorted_scopes + token.scope_count));
        if (token.has_expiry) {
            context.expires_at = token.expires_at;
        }
        context.organization = token.organization;
        context.delegated = token.delegated;
        if (token.restrictions != nullptr) {
            context.restrictions.assign(reinterpret_cast<const char *>(token.restrictions),
                                        VARSIZE(token.restrictions));
        }
        pat::pg::set_token_context(std::move(context));
    }
    // As SET LOCAL does: outside BEGIN ... COMMIT the context ends with this statement, and the
    // next query would see no user (and RLS no rows) without a word. Once per session: a
    // service authenticating every request in autocommit would otherwise log a line per request.
    if (!IsTransactionBlock() && !warned_outside_transaction_block) {
        warned_outside_transaction_block = true;
        ereport(WARNING,
                (errcode(ERRCODE_NO_ACTIVE_SQL_TRANSACTION),
                 errmsg("pat_authenticate() outside a transaction block: the token context ends "
                        "with this statement"),
                 errdetail("This warning is given once per session."),
                 errhint("Run BEGIN first, then pat_authenticate() and the request's queries, "
                         "then COMMIT.")));
    }
    PG_RETURN_TEXT_P(user_id);
}
