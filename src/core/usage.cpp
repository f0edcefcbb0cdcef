// Usage tallies: counting checks and merging batches.
#include "usage.hpp"

#include <algorithm>
#include <cstring>

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

bool same_address(const IpAddress &a, const IpAddress &b) noexcept {
    IpAddress x = normalized(a);
    IpAddress y = normalized(b);
    std::size_t length = x.family == AddressFamily::ipv4 ? 4 : 16;
    return x.family == y.family && std::memcmp(x.bytes, y.bytes, length) == 0;
}

void UsageTally::count(TokenStatus status, std::int64_t now, const IpAddress *address) noexcept {
    ++checks[outcome_index(status)];
    if (status != TokenStatus::valid) {
        return;
    }
    if (now > last_used) {
        last_used = now;
    }
    if (address != nullptr) {
        note_address(*address, now);
    }
}

void UsageTally::note_address(const IpAddress &address, std::int64_t used_at) noexcept {
    if (used_at == kNever) {
        return;
    }
    RecentAddress *oldest = &addresses[0];
    for (RecentAddress &slot : addresses) {
        if (!slot.empty() && same_address(slot.address, address)) {
            if (used_at > slot.last_used) {
                slot.last_used = used_at;
            }
            return;
        }
        if (slot.last_used < oldest->last_used) {
            oldest = &slot;  // an empty slot is older than any used one
        }
    }
    if (used_at > oldest->last_used) {
        // Kept normalized, with an IPv4 address's unused bytes zero, so equal addresses are
        // equal bytes wherever they are compared or written.
        IpAddress kept = normalized(address);
        if (kept.family == AddressFamily::ipv4) {
            std::memset(kept.bytes + 4, 0, sizeof(kept.bytes) - 4);
        }
        oldest->address = kept;
        oldest->last_used = used_at;
    }
}

void UsageTally::merge(const UsageTally &other) noexcept {
    for (int i = 0; i < kOutcomeCount; ++i) {
        checks[i] += other.checks[i];
    }
    if (other.last_used > last_used) {
        last_used = other.last_used;
    }
    for (const RecentAddress &slot : other.addresses) {
        if (!slot.empty()) {
            note_address(slot.address, slot.last_used);
        }
    }
}

int UsageTally::newest_addresses(RecentAddress (&out)[kRecentAddressCount]) const noexcept {
    int count = 0;
    for (const RecentAddress &slot : addresses) {
        if (!slot.empty()) {
            out[count++] = slot;
        }
    }
    std::sort(out, out + count, [](const RecentAddress &a, const RecentAddress &b) {
        if (a.last_used != b.last_used) {
            return a.last_used > b.last_used;
        }
        if (a.address.family != b.address.family) {
            return a.address.family == AddressFamily::ipv4;
        }
        return std::memcmp(a.address.bytes, b.address.bytes, sizeof a.address.bytes) < 0;
    });
    return count;
}

int UsageTally::address_count() const noexcept {
    int count = 0;
    for (const RecentAddress &slot : addresses) {
        count += slot.empty() ? 0 : 1;
    }
    return count;
}

std::uint64_t UsageTally::total() const noexcept {
    std::uint64_t sum = 0;
    for (std::uint64_t n : checks) {
        sum += n;
    }
    return sum;
}

}  // namespace pat
