// pat.expiry_from_*: turning what a caller asked for into an expires_at, under the lifetime
// policy. NULL means the token never expires.
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "core/expiry.hpp"
#include "core/time_range.hpp"
#include "pg/bridge/convert.hpp"
#include "pg/tokens/api_support.hpp"
#include "pg/bridge/datetime.hpp"
#include "pg/tokens/expiry.hpp"
#include "pg/bridge/guard.hpp"
#include "pg/settings.hpp"

using pat::pg::call_pg;

namespace {

// Longest expiration text worth parsing; anything longer is not a date or an interval.
constexpr size_t kMaxExpiryText = 128;

// Checks expires_at against the policy clock and pat.max_lifetime.
std::optional<TimestampTz> checked_expiry(std::optional<TimestampTz> expires_at) {
    TimestampTz now = pat::pg::policy_clock();
    pat::require_valid_expiry(
        pat::check_expiry(now, expires_at, pat::pg::latest_allowed_expiry(now)));
    return expires_at;
}

// An absolute expiry; +infinity reads as never.
std::optional<TimestampTz> absolute_expiry(TimestampTz at) {
    if (TIMESTAMP_IS_NOEND(at)) {
        return std::nullopt;
    }
    return at;
}

[[noreturn]] void invalid_expiry(std::string_view text) {
    std::string shown(text.substr(0, 64));
    throw pat::Error(pat::sqlstate::kInvalidDatetimeFormat,
                     "invalid expiration \"" + shown + (text.size() > 64 ? "...\"" : "\""), "",
                     "Use a positive interval such as '30 days', a future date such as "
                     "'2027-03-01', or 'never'.");
}

// The expiration as a function result: NULL for never.
Datum expiry_result(FunctionCallInfo fcinfo, std::optional<TimestampTz> expires_at) {
    if (!expires_at) {
        PG_RETURN_NULL();
    }
    PG_RETURN_TIMESTAMPTZ(*expires_at);
}

}  // namespace

namespace pat::pg {

std::optional<TimestampTz> expiry_from_text(const text *spec_value) {
    std::string_view spec = text_view(spec_value);
    if (pat::is_never_keyword(spec)) {
        return checked_expiry(std::nullopt);
    }
    if (spec.size() > kMaxExpiryText || spec.find('\0') != std::string_view::npos) {
        invalid_expiry(spec);
    }
    std::string spec_text(spec);
    Interval span;
    if (parse_interval(spec_text.c_str(), &span)) {  // cannot raise (datetime.hpp)
        return checked_expiry(now_plus(&span));
    }
    TimestampTz at;
    if (call_pg([&] { return parse_timestamptz(spec_text.c_str(), &at); })) {
        return checked_expiry(absolute_expiry(at));
    }
    invalid_expiry(spec);
}

std::optional<TimestampTz> expiry_within_policy(std::optional<TimestampTz> expires_at) {
    return checked_expiry(expires_at);
}

std::optional<TimestampTz> expiry_from_interval(Interval *span) {
    return checked_expiry(now_plus(span));
}

std::optional<TimestampTz> expiry_from_timestamptz(TimestampTz at) {
    return checked_expiry(absolute_expiry(at));
}

}  // namespace pat::pg

// pat.expiry_from_text('30 days' | '2027-03-01' | 'never').
PAT_FUNCTION(pat_expiry_from_text) {
    return expiry_result(fcinfo,
                         pat::pg::expiry_from_text(pat::pg::required_text(fcinfo, 0, "expires")));
}

// pat.expiry_from_interval(interval).
PAT_FUNCTION(pat_expiry_from_interval) {
    pat::pg::require_arg(fcinfo, 0, "expires");
    return expiry_result(fcinfo, pat::pg::expiry_from_interval(PG_GETARG_INTERVAL_P(0)));
}

// pat.expiry_from_timestamptz(timestamptz).
PAT_FUNCTION(pat_expiry_from_timestamptz) {
    pat::pg::require_arg(fcinfo, 0, "expires");
    return expiry_result(fcinfo, pat::pg::expiry_from_timestamptz(PG_GETARG_TIMESTAMPTZ(0)));
}
