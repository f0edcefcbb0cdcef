// Expiration rules: the "never" keyword, validating a requested expiry, and lengthening checks.
#include "expiry.hpp"

#include "error.hpp"

namespace pat {

namespace {

// White space as C's isspace sees it in the C locale.
bool is_space(char c) noexcept {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// ASCII lower-casing, independent of the server's locale.
char to_lower_ascii(char c) noexcept {
    return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c;
}

}  // namespace

// Whether text spells "never", so callers can accept it where a timestamp is expected.
bool is_never_keyword(std::string_view text) noexcept {
    while (!text.empty() && is_space(text.front()))
        text.remove_prefix(1);
    while (!text.empty() && is_space(text.back()))
        text.remove_suffix(1);
    constexpr std::string_view kNever = "never";
    if (text.size() != kNever.size())
        return false;
    for (std::size_t i = 0; i < kNever.size(); ++i) {
        if (to_lower_ascii(text[i]) != kNever[i])
            return false;
    }
    return true;
}

// Classifies a requested expiry against now and the configured maximum lifetime.
ExpiryVerdict check_expiry(std::int64_t now, std::optional<std::int64_t> expires_at,
                           std::optional<std::int64_t> latest_allowed) noexcept {
    if (!expires_at)
        return latest_allowed ? ExpiryVerdict::never_not_allowed : ExpiryVerdict::ok;
    if (*expires_at <= now)
        return ExpiryVerdict::not_in_future;
    if (latest_allowed && *expires_at > *latest_allowed)
        return ExpiryVerdict::beyond_max_lifetime;
    return ExpiryVerdict::ok;
}

// Turns a rejecting verdict into the error the user sees.
void require_valid_expiry(ExpiryVerdict verdict) {
    constexpr const char *kWithinMax = "Choose an expiration within pat.max_lifetime.";
    switch (verdict) {
        case ExpiryVerdict::ok:
            return;
        case ExpiryVerdict::not_in_future:
            throw Error(sqlstate::kInvalidParameterValue, "expiration must be in the future", {},
                        "Choose an expiration later than now().");
        case ExpiryVerdict::never_not_allowed:
            throw Error(sqlstate::kInvalidParameterValue,
                        "tokens must expire: pat.max_lifetime is set", {}, kWithinMax);
        case ExpiryVerdict::beyond_max_lifetime:
            throw Error(sqlstate::kInvalidParameterValue, "expiration is beyond pat.max_lifetime",
                        {}, kWithinMax);
    }
    // Unreachable for valid enumerators; an out-of-range value must still not pass silently.
    throw Error(sqlstate::kInternalError, "unknown expiry verdict");
}

// Whether the new expiry is later than the old one, treating "never" as later than any time.
bool extends_expiry(std::optional<std::int64_t> old_expires_at,
                    std::optional<std::int64_t> new_expires_at) noexcept {
    if (!old_expires_at)
        return false;
    if (!new_expires_at)
        return true;
    return *new_expires_at > *old_expires_at;
}

}  // namespace pat
