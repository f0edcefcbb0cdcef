// Usage tallies: counting checks and merging batches.
#include "usage.hpp"

namespace pat {

namespace {

// The counting order; also the order pat_usage sorts outcomes within a day.
constexpr std::array<TokenStatus, kOutcomeCount> kOutcomes = {
    TokenStatus::valid,          TokenStatus::insufficient_scope, TokenStatus::expired,
    TokenStatus::revoked,        TokenStatus::not_found,          TokenStatus::malformed,
    TokenStatus::suspended,      TokenStatus::forbidden_network,  TokenStatus::rate_limited,
    TokenStatus::usage_exceeded,
};

constexpr std::int64_t kMicrosPerDay = 86400LL * 1000 * 1000;

}  // namespace

int outcome_index(TokenStatus status) noexcept {
    for (int i = 0; i < kOutcomeCount; ++i) {
        if (kOutcomes[i] == status) {
            return i;
        }
    }
    return kOutcomeCount - 1;  // unreachable: every status is listed
}

TokenStatus outcome_at(int index) noexcept {
    return kOutcomes[index];
}

bool outcome_names_token(TokenStatus status) noexcept {
    return status != TokenStatus::malformed && status != TokenStatus::not_found;
}

std::int32_t day_of(std::int64_t timestamp) noexcept {
    std::int64_t day = timestamp / kMicrosPerDay;
    if (timestamp % kMicrosPerDay < 0) {
        --day;  // floor, not truncation, before 2000-01-01
    }
    return static_cast<std::int32_t>(day);
}

void UsageTally::count(TokenStatus status, std::int64_t now) noexcept {
    ++checks[outcome_index(status)];
    if (status == TokenStatus::valid && now > last_used) {
        last_used = now;
    }
}

void UsageTally::merge(const UsageTally &other) noexcept {
    for (int i = 0; i < kOutcomeCount; ++i) {
        checks[i] += other.checks[i];
    }
    if (other.last_used > last_used) {
        last_used = other.last_used;
    }
}

std::uint64_t UsageTally::total() const noexcept {
    std::uint64_t sum = 0;
    for (std::uint64_t n : checks) {
        sum += n;
    }
    return sum;
}

}  // namespace pat
