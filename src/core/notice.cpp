// The rules of pg_pat's notices; see notice.hpp.
#include "notice.hpp"

#include <algorithm>
#include <string>

#include "error.hpp"
#include "time_range.hpp"

namespace pat {

namespace {

constexpr std::int64_t kDay = 86400 * std::int64_t{1000000};

struct KindName {
    NoticeKind kind;
    std::string_view name;
};

constexpr KindName kKindNames[] = {
    {NoticeKind::kExpiresIn60Days, "expires_in_60_days"},
    {NoticeKind::kExpiresIn30Days, "expires_in_30_days"},
    {NoticeKind::kExpiresIn7Days, "expires_in_7_days"},
    {NoticeKind::kExpiresIn1Day, "expires_in_1_day"},
    {NoticeKind::kExpired, "expired"},
    {NoticeKind::kRevokedLeaked, "revoked_leaked"},
    {NoticeKind::kRevokedInactive, "revoked_inactive"},
    {NoticeKind::kReuseAfterRotation, "reuse_after_rotation"},
};

// How tight an expiry notice is: its place in kExpiryNotices.
int tightness(NoticeKind kind) noexcept {
    for (int i = 0; i < static_cast<int>(std::size(kExpiryNotices)); ++i) {
        if (kExpiryNotices[i] == kind) {
            return i;
        }
    }
    return -1;
}

}  // namespace

std::string_view notice_kind_name(NoticeKind kind) noexcept {
    for (const KindName &entry : kKindNames) {
        if (entry.kind == kind) {
            return entry.name;
        }
    }
    return "unknown";
}

std::optional<NoticeKind> notice_kind_named(std::string_view name) noexcept {
    for (const KindName &entry : kKindNames) {
        if (entry.name == name) {
            return entry.kind;
        }
    }
    return std::nullopt;
}

bool is_expiry_notice(NoticeKind kind) noexcept {
    return tightness(kind) >= 0;
}

std::int64_t expiry_notice_threshold(NoticeKind kind) noexcept {
    switch (kind) {
        case NoticeKind::kExpiresIn60Days:
            return 60 * kDay;
        case NoticeKind::kExpiresIn30Days:
            return 30 * kDay;
        case NoticeKind::kExpiresIn7Days:
            return 7 * kDay;
        case NoticeKind::kExpiresIn1Day:
            return kDay;
        default:
            return 0;
    }
}

std::optional<NoticeKind> due_expiry_notice(std::int64_t created_at, std::int64_t expires_at,
                                            std::int64_t now,
                                            const std::vector<NoticeKind> &queued) noexcept {
    std::optional<NoticeKind> due;
    if (expires_at <= now) {
        if (now - expires_at <= kExpiredNoticeWindow) {
            due = NoticeKind::kExpired;
        }
    } else {
        std::int64_t left = expires_at - now;
        std::int64_t lifetime = expires_at - created_at;
        // Loosest to tightest: the last one that applies wins.
        for (NoticeKind kind : kExpiryNotices) {
            std::int64_t threshold = expiry_notice_threshold(kind);
            if (kind != NoticeKind::kExpired && left < threshold && lifetime > threshold) {
                due = kind;
            }
        }
    }
    if (!due) {
        return std::nullopt;
    }
    int due_tightness = tightness(*due);
    bool given = std::any_of(queued.begin(), queued.end(), [&](NoticeKind kind) {
        return is_expiry_notice(kind) && tightness(kind) >= due_tightness;
    });
    return given ? std::nullopt : due;
}

std::int64_t expiry_notice_due_at(NoticeKind kind, std::int64_t expires_at) noexcept {
    // Stored as a timestamptz: never before the range (nor past an infinity, left as it is).
    if (!in_timestamp_range(expires_at)) {
        return expires_at;
    }
    return checked_add(expires_at, -expiry_notice_threshold(kind)).value_or(kTimestampMin);
}

std::vector<ExpiresRange> expiry_round_ranges(std::int64_t now, std::optional<std::int64_t> since) {
    if (!since) {
        return {{now - kExpiredNoticeWindow, now + kExpiryNoticeHorizon}};
    }
    std::vector<ExpiresRange> ranges;
    for (NoticeKind kind : kExpiryNotices) {
        std::int64_t threshold = expiry_notice_threshold(kind);
        ranges.push_back({*since + threshold, now + threshold + 1});
    }
    return ranges;
}

std::int64_t first_expiry_crossing(std::int64_t created_at, std::int64_t expires_at) noexcept {
    // Loosest first: the first threshold crossed after creation is the earliest.
    for (NoticeKind kind : kExpiryNotices) {
        std::int64_t crossing = expiry_notice_due_at(kind, expires_at);
        if (kind == NoticeKind::kExpired || crossing > created_at) {
            return crossing;
        }
    }
    return expires_at;
}

void require_notice_batch(std::int64_t max) {
    if (max < 1 || max > kMaxNoticesPerTake) {
        throw Error(sqlstate::kInvalidParameterValue,
                    "max must be between 1 and " + std::to_string(kMaxNoticesPerTake) + ", not " +
                        std::to_string(max),
                    {}, "Take notices in batches and call again until none is left.");
    }
}

}  // namespace pat
