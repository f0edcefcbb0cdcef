// The pat.* configuration parameters. Both are superuser-only (PGC_SUSET) so that an
// application role cannot lift a lifetime policy or change what tokens look like.
#include "pg/settings.hpp"

#include <cstdlib>

#include "core/token.hpp"
#include "pg/datetime.hpp"
#include "pg/guard.hpp"

namespace pat::pg {

static char *token_prefix_setting = nullptr;
static char *max_lifetime_setting = nullptr;
// The parsed pat.max_lifetime; null when unset.
static Interval *max_lifetime = nullptr;

// Rejects a prefix that could not be told apart from the random part.
static bool check_token_prefix(char **newval, void **extra, GucSource source) {
    if (*newval == nullptr || !pat::is_valid_token_prefix(*newval)) {
        GUC_check_errdetail("A prefix is up to 64 ASCII letters, digits, \"_\" or \"-\".");
        return false;
    }
    return true;
}

// Accepts an empty value (no limit) or a positive interval, parsed once here.
static bool check_max_lifetime(char **newval, void **extra, GucSource source) {
    if (*newval == nullptr || (*newval)[0] == '\0') {
        *extra = nullptr;
        return true;
    }
    Interval span;
    if (!parse_interval(*newval, &span)) {
        GUC_check_errdetail("pat.max_lifetime must be an interval such as '90 days', or empty.");
        return false;
    }
    if (span.month < 0 || span.day < 0 || span.time < 0 ||
        (span.month == 0 && span.day == 0 && span.time == 0)) {
        GUC_check_errdetail("pat.max_lifetime must be positive.");
        return false;
    }
    auto *parsed = static_cast<Interval *>(malloc(sizeof(Interval)));
    if (parsed == nullptr) {
        return false;
    }
    *parsed = span;
    *extra = parsed;
    return true;
}

static void assign_max_lifetime(const char *newval, void *extra) {
    max_lifetime = static_cast<Interval *>(extra);
}

void define_settings() {
    DefineCustomStringVariable("pat.token_prefix", "Prefix of newly created tokens.",
                               "Tokens issued under an earlier prefix stay valid.",
                               &token_prefix_setting, "pat_", PGC_SUSET, 0, check_token_prefix,
                               nullptr, nullptr);
    DefineCustomStringVariable(
        "pat.max_lifetime", "Longest lifetime a new token may have; empty for no limit.",
        "When set, tokens that never expire are refused.", &max_lifetime_setting, "", PGC_SUSET, 0,
        check_max_lifetime, assign_max_lifetime, nullptr);
    MarkGUCPrefixReserved("pat");
}

std::string_view token_prefix() {
    return token_prefix_setting != nullptr ? token_prefix_setting : "pat_";
}

std::optional<TimestampTz> latest_allowed_expiry(TimestampTz now) {
    if (max_lifetime == nullptr) {
        return std::nullopt;
    }
    Interval *limit = max_lifetime;
    return call_pg([&] {
        return DatumGetTimestampTz(DirectFunctionCall2(
            timestamptz_pl_interval, TimestampTzGetDatum(now), IntervalPGetDatum(limit)));
    });
}

}  // namespace pat::pg
