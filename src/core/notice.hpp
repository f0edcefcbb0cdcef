// The rules of pg_pat's notices (pat.notices, an outbox a mailer takes from): which expiry
// notice a token is due, and how many notices one call may take. Times are microseconds on any
// one epoch (the glue uses PostgreSQL's).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace pat {

enum class NoticeKind {
    kExpiresIn60Days,
    kExpiresIn30Days,
    kExpiresIn7Days,
    kExpiresIn1Day,
    kExpired,
    kRevokedLeaked,
    kRevokedInactive,
    kReuseAfterRotation,
};

// The kind as pat.notices.kind spells it ("expires_in_7_days", "revoked_leaked", ...).
std::string_view notice_kind_name(NoticeKind kind) noexcept;

// The kind a name spells, or nullopt.
std::optional<NoticeKind> notice_kind_named(std::string_view name) noexcept;

// The expiry notices, loosest first; threshold(kExpired) is 0.
inline constexpr NoticeKind kExpiryNotices[] = {
    NoticeKind::kExpiresIn60Days, NoticeKind::kExpiresIn30Days, NoticeKind::kExpiresIn7Days,
    NoticeKind::kExpiresIn1Day, NoticeKind::kExpired};

bool is_expiry_notice(NoticeKind kind) noexcept;

// How long before expiry an expiry notice is due (0 for kExpired).
std::int64_t expiry_notice_threshold(NoticeKind kind) noexcept;

// How long after expiry an "expired" notice is still queued: a worker that was down for a
// while catches up, an upgrade does not mail about tokens that expired years ago.
inline constexpr std::int64_t kExpiredNoticeWindow = 7 * 86400 * std::int64_t{1000000};

// Tokens expiring within this (the loosest threshold) are the only ones that can be due.
inline constexpr std::int64_t kExpiryNoticeHorizon = 60 * 86400 * std::int64_t{1000000};

// The expiry notice a token is due at now, or nullopt. A threshold is due once less than it is
// left, and only if the token was made with more than it left (a token made for exactly 7 days
// never gets "7 days"); of several due, only the tightest. "expired" is due once the token has
// expired, for kExpiredNoticeWindow. A token already given that notice or a tighter one
// (queued) is due nothing.
std::optional<NoticeKind> due_expiry_notice(std::int64_t created_at, std::int64_t expires_at,
                                            std::int64_t now,
                                            const std::vector<NoticeKind> &queued) noexcept;

// When an expiry notice became due: expires_at - its threshold.
std::int64_t expiry_notice_due_at(NoticeKind kind, std::int64_t expires_at) noexcept;

// A range of expires_at, [from, to).
struct ExpiresRange {
    std::int64_t from;
    std::int64_t to;
};

// The expires_at a round at now reads. In full (no since): every token that can be due,
// [now - kExpiredNoticeWindow, now + kExpiryNoticeHorizon). After a complete round at since
// that saw every token whose notice could fall due up to now: only the tokens one of whose
// notices fell due in between, for each threshold [since + threshold, now + threshold]
// (inclusive, so an instant on either edge is read twice rather than never), loosest first.
std::vector<ExpiresRange> expiry_round_ranges(std::int64_t now, std::optional<std::int64_t> since);

// The earliest instant at which one of a token's expiry notices falls due: expires_at - the
// loosest threshold it was made with more than (others it never gets), else expires_at
// ("expired" has no such rule). A round after that instant must see the token.
std::int64_t first_expiry_crossing(std::int64_t created_at, std::int64_t expires_at) noexcept;

// 22023 unless 1 <= max <= kMaxNoticesPerTake.
inline constexpr std::int64_t kMaxNoticesPerTake = 1000;
void require_notice_batch(std::int64_t max);

}  // namespace pat
