// pat_report_leaked, pat_scanner_rules and pat.token_prefixes; see leak_report.hpp.
#include "pg/lifecycle/leak_report.hpp"

#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/leak_report.hpp"
#include "core/token.hpp"
#include "pg/tokens/api_support.hpp"
#include "pg/bridge/convert.hpp"
#include "pg/bridge/guard.hpp"
#include "pg/bridge/json_object.hpp"
#include "pg/lifecycle/notices.hpp"
#include "pg/settings.hpp"
#include "pg/bridge/schema_version.hpp"
#include "pg/bridge/spi_support.hpp"
#include "pg/tokens/token_context.hpp"

using pat::pg::call_pg;
using pat::pg::KeptPlan;

namespace {

const char kRememberPrefix[] =
    "INSERT INTO pat.token_prefixes (prefix) VALUES ($1) ON CONFLICT (prefix) DO NOTHING";
const char kKnownPrefixes[] = "SELECT p.prefix FROM pat.token_prefixes p";
// Revokes the active tokens among the digests; a concurrent report of the same token waits
// for the first and then finds it revoked. Notices follow in token order (creation order).
const char kRevokeLeaked[] =
    "WITH revoked AS (UPDATE pat.tokens t SET revoked_at = pg_catalog.now()"
    "  WHERE t.digest OPERATOR(pg_catalog.=) ANY ($1) AND t.revoked_at IS NULL"
    "  AND (t.expires_at IS NULL OR t.expires_at OPERATOR(pg_catalog.>) $2)"
    "  RETURNING t.token_id, t.user_id, t.name)"
    " SELECT * FROM revoked ORDER BY token_id";

KeptPlan remember_prefix_plan = {kRememberPrefix, 1, {TEXTOID}};
KeptPlan known_prefixes_plan = {kKnownPrefixes, 0, {}};
KeptPlan revoke_leaked_plan = {kRevokeLeaked, 2, {BYTEAARRAYOID, TIMESTAMPTZOID}};

// The prefix this backend recorded last, and in which database; forgotten when the
// (sub)transaction that recorded it aborts.
char remembered_prefix[pat::kTokenPrefixMaxChars + 1];
Oid remembered_in = InvalidOid;
SubTransactionId remembered_by = InvalidSubTransactionId;

void forget_prefix_on_abort(XactEvent event, void *) {
    if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT) {
        remembered_in = InvalidOid;
    }
    if (pat::pg::ends_transaction(event)) {
        remembered_by = InvalidSubTransactionId;
    }
}

void forget_prefix_on_subabort(SubXactEvent event, SubTransactionId mine, SubTransactionId parent,
                               void *) {
    if (event == SUBXACT_EVENT_ABORT_SUB && remembered_by == mine) {
        remembered_in = InvalidOid;
    } else if (event == SUBXACT_EVENT_COMMIT_SUB && remembered_by == mine) {
        remembered_by = parent;
    }
}

// Digests (bytea) of the well-formed tokens among the report's entries, under every configured
// key; malformed and NULL entries are skipped. The plaintext is only read, never copied.
Datum leaked_digests(ArrayType *tokens) {
    Datum *elements = nullptr;
    bool *nulls = nullptr;
    int count = 0;
    call_pg([&] {
        deconstruct_array(tokens, TEXTOID, -1, false, TYPALIGN_INT, &elements, &nulls, &count);
    });
    const std::vector<pat::TokenDigester> &digesters = pat::pg::token_digesters();
    std::vector<bytea *> digests;
    for (int i = 0; i < count; ++i) {
        if (nulls[i]) {
            continue;
        }
        text *entry = call_pg([&] { return DatumGetTextPP(elements[i]); });
        std::string_view token = pat::pg::text_view(entry);
        if (!pat::is_well_formed_token(token)) {
            continue;
        }
        for (const pat::TokenDigester &digester : digesters) {
            pat::Digest digest = digester.digest(token);
            digests.push_back(pat::pg::make_bytea(digest.data(), digest.size()));
        }
    }
    return call_pg([&] {
        auto *values = static_cast<Datum *>(palloc(sizeof(Datum) * (digests.size() + 1)));
        for (size_t i = 0; i < digests.size(); ++i) {
            values[i] = PointerGetDatum(digests[i]);
        }
        return PointerGetDatum(construct_array(values, static_cast<int>(digests.size()), BYTEAOID,
                                               -1, false, TYPALIGN_INT));
    });
}

}  // namespace

namespace pat::pg {

void remember_token_prefix() {
    std::string_view prefix = token_prefix();
    if (remembered_in == MyDatabaseId && prefix == remembered_prefix) {
        return;
    }
    if (!schema_has(pat::schema_since::kTokenPrefixes)) {
        return;
    }
    Datum values[1] = {PointerGetDatum(cstring_to_text_with_len(prefix.data(), prefix.size()))};
    run_kept_plan(remember_prefix_plan, values, nullptr, false, SPI_OK_INSERT);
    memcpy(remembered_prefix, prefix.data(), prefix.size());
    remembered_prefix[prefix.size()] = '\0';
    remembered_in = MyDatabaseId;
    remembered_by = GetCurrentSubTransactionId();
}

void setup_leak_report() {
    RegisterXactCallback(forget_prefix_on_abort, nullptr);
    RegisterSubXactCallback(forget_prefix_on_subabort, nullptr);
}

}  // namespace pat::pg

// pat_report_leaked(tokens, source DEFAULT NULL): revokes every listed token that is stored and
// active, with audit action revoked_leaked (naming the source, never the token) and a notice to
// each owner; how many. Malformed, unknown, expired and revoked entries are skipped without a
// word: a scanner reports what it found, and learns nothing about which tokens exist.
PAT_FUNCTION(pat_report_leaked) {
    pat::pg::require_outside_token_context("pat_report_leaked");
    pat::pg::require_arg(fcinfo, 0, "tokens");
    ArrayType *tokens = PG_GETARG_ARRAYTYPE_P(0);
    if (ARR_NDIM(tokens) > 1) {
        throw pat::Error(pat::sqlstate::kInvalidParameterValue,
                         "tokens must be a one-dimensional array");
    }
    pat::require_leak_report_size(ArrayGetNItems(ARR_NDIM(tokens), ARR_DIMS(tokens)));
    text *source = PG_ARGISNULL(1) ? nullptr : PG_GETARG_TEXT_PP(1);
    if (source != nullptr) {
        pat::check_leak_source(pat::pg::text_view(source), pat::pg::char_length(source));
    }
    Datum digests = leaked_digests(tokens);
    TimestampTz now = pat::pg::policy_clock();
    int revoked = pat::pg::with_owner_spi([&] {
        Datum arguments[2] = {digests, TimestampTzGetDatum(now)};
        uint64 count =
            pat::pg::run_kept_plan(revoke_leaked_plan, arguments, nullptr, false, SPI_OK_SELECT);
        SPITupleTable *rows = SPI_tuptable;
        pat::pg::JsonObject details;
        details.add_string("source", source != nullptr ? text_to_cstring(source) : nullptr);
        Jsonb *data = details.finish();
        for (uint64 i = 0; i < count; ++i) {
            pat::pg::record_token_event(pat::NoticeKind::kRevokedLeaked, rows->vals[i],
                                        rows->tupdesc, GetCurrentTransactionStartTimestamp(), data);
        }
        return static_cast<int>(count);
    });
    PG_RETURN_INT32(revoked);
}

// pat_scanner_rules(format DEFAULT 'regex'): the pattern of tokens under the current prefix and
// every one recorded in pat.token_prefixes: 'regex' (POSIX extended) or 'gitleaks' (a TOML
// rule). A match is a candidate; its checksum says whether it is a token (README).
PAT_FUNCTION(pat_scanner_rules) {
    std::string format(pat::pg::text_view(pat::pg::required_text(fcinfo, 0, "format")));
    if (format != "regex" && format != "gitleaks") {
        throw pat::Error(pat::sqlstate::kInvalidParameterValue,
                         "unknown scanner rule format \"" +
                             std::string(pat::pg::leading_chars(format, 40)) + "\"",
                         "", "Formats: regex, gitleaks.");
    }
    std::vector<std::string> prefixes{std::string(pat::pg::token_prefix())};
    pat::pg::with_owner_spi([&] {
        uint64 count =
            pat::pg::run_kept_plan(known_prefixes_plan, nullptr, nullptr, true, SPI_OK_SELECT);
        for (uint64 i = 0; i < count; ++i) {
            const char *prefix = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
            if (prefix != nullptr && pat::is_valid_token_prefix(prefix)) {
                prefixes.emplace_back(prefix);
            }
        }
    });
    std::string rules = format == "regex" ? pat::scanner_regex(std::move(prefixes))
                                          : pat::gitleaks_rule(std::move(prefixes));
    PG_RETURN_TEXT_P(pat::pg::make_text(rules));
}
