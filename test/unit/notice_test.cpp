// Expiry notices: which one a token is due, the tightest only, never a threshold the token was
// made inside of, never twice; kind names; the take batch size.
#include "core/notice.hpp"

#include <gtest/gtest.h>

#include "core/error.hpp"

namespace {

using pat::NoticeKind;

constexpr std::int64_t kSecond = 1000000;
constexpr std::int64_t kDay = 86400 * kSecond;

std::optional<NoticeKind> due(std::int64_t lifetime, std::int64_t left,
                              std::vector<NoticeKind> queued = {}) {
    const std::int64_t now = 1000 * kDay;
    return pat::due_expiry_notice(now + left - lifetime, now + left, now, queued);
}

TEST(Notice, KindNamesRoundTrip) {
    for (NoticeKind kind :
         {NoticeKind::kExpiresIn60Days, NoticeKind::kExpiresIn30Days, NoticeKind::kExpiresIn7Days,
          NoticeKind::kExpiresIn1Day, NoticeKind::kExpired, NoticeKind::kRevokedLeaked,
          NoticeKind::kRevokedInactive, NoticeKind::kReuseAfterRotation}) {
        EXPECT_EQ(pat::notice_kind_named(pat::notice_kind_name(kind)), kind);
    }
    EXPECT_EQ(pat::notice_kind_name(NoticeKind::kExpiresIn7Days), "expires_in_7_days");
    EXPECT_EQ(pat::notice_kind_named("expires_in_8_days"), std::nullopt);
    EXPECT_FALSE(pat::is_expiry_notice(NoticeKind::kRevokedLeaked));
    EXPECT_TRUE(pat::is_expiry_notice(NoticeKind::kExpired));
}

TEST(Notice, DueOnceLessThanTheThresholdIsLeft) {
    EXPECT_EQ(due(90 * kDay, 7 * kDay + 2 * kSecond), NoticeKind::kExpiresIn30Days);
    EXPECT_EQ(due(90 * kDay, 7 * kDay), NoticeKind::kExpiresIn30Days);  // not less yet
    EXPECT_EQ(due(90 * kDay, 7 * kDay - 1), NoticeKind::kExpiresIn7Days);
    EXPECT_EQ(due(90 * kDay, 61 * kDay), std::nullopt);
    EXPECT_EQ(due(90 * kDay, 59 * kDay), NoticeKind::kExpiresIn60Days);
    EXPECT_EQ(due(90 * kDay, 12 * 3600 * kSecond), NoticeKind::kExpiresIn1Day);
}

TEST(Notice, NeverForAThresholdTheTokenWasMadeInside) {
    // Made for exactly 7 days: never "7 days", only "1 day" and "expired".
    EXPECT_EQ(due(7 * kDay, 3 * kDay), std::nullopt);
    EXPECT_EQ(due(7 * kDay, 7 * kDay - 1), std::nullopt);
    EXPECT_EQ(due(7 * kDay, kDay - 1), NoticeKind::kExpiresIn1Day);
    EXPECT_EQ(due(7 * kDay + 2 * kSecond, 7 * kDay - kSecond), NoticeKind::kExpiresIn7Days);
    // Made for an hour: nothing before it expires.
    EXPECT_EQ(due(3600 * kSecond, 60 * kSecond), std::nullopt);
    EXPECT_EQ(due(3600 * kSecond, 0), NoticeKind::kExpired);
}

TEST(Notice, TheTightestOnlyAndNeverTwice) {
    // Unseen through 60, 30 and 7 days: only "7 days".
    EXPECT_EQ(due(90 * kDay, 3 * kDay), NoticeKind::kExpiresIn7Days);
    EXPECT_EQ(due(90 * kDay, 3 * kDay, {NoticeKind::kExpiresIn7Days}), std::nullopt);
    EXPECT_EQ(due(90 * kDay, 3 * kDay, {NoticeKind::kExpiresIn30Days}),
              NoticeKind::kExpiresIn7Days);
    EXPECT_EQ(due(90 * kDay, 3 * kDay, {NoticeKind::kExpiresIn1Day}), std::nullopt);
    EXPECT_EQ(due(90 * kDay, -kSecond, {NoticeKind::kExpiresIn1Day}), NoticeKind::kExpired);
    EXPECT_EQ(due(90 * kDay, -kSecond, {NoticeKind::kExpired}), std::nullopt);
    // Other kinds do not count as expiry notices given.
    EXPECT_EQ(due(90 * kDay, 3 * kDay, {NoticeKind::kReuseAfterRotation}),
              NoticeKind::kExpiresIn7Days);
}

TEST(Notice, ExpiredOnlyWithinItsWindow) {
    EXPECT_EQ(due(90 * kDay, -pat::kExpiredNoticeWindow), NoticeKind::kExpired);
    EXPECT_EQ(due(90 * kDay, -pat::kExpiredNoticeWindow - 1), std::nullopt);
}

TEST(Notice, DueAt) {
    EXPECT_EQ(pat::expiry_notice_due_at(NoticeKind::kExpiresIn7Days, 10 * kDay), 3 * kDay);
    EXPECT_EQ(pat::expiry_notice_due_at(NoticeKind::kExpired, 10 * kDay), 10 * kDay);
}

TEST(Notice, BatchSize) {
    EXPECT_NO_THROW(pat::require_notice_batch(1));
    EXPECT_NO_THROW(pat::require_notice_batch(1000));
    for (std::int64_t bad : {std::int64_t{0}, std::int64_t{-1}, std::int64_t{1001}}) {
        try {
            pat::require_notice_batch(bad);
            ADD_FAILURE() << bad;
        } catch (const pat::Error &e) {
            EXPECT_STREQ(e.sqlstate(), "22023");
        }
    }
}

}  // namespace
