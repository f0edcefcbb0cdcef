// Expiry notices: which one a token is due, the tightest only, never a threshold the token was
// made inside of, never twice; kind names; the take batch size.
#include "core/notice.hpp"

#include <gtest/gtest.h>

#include "core/error.hpp"
#include "core/time_range.hpp"

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
    // A due time is stored as a timestamptz: never before the range.
    EXPECT_EQ(pat::expiry_notice_due_at(NoticeKind::kExpiresIn7Days, pat::kTimestampMin + kDay),
              pat::kTimestampMin);
}

bool in_ranges(std::int64_t expires_at, const std::vector<pat::ExpiresRange> &ranges) {
    for (const pat::ExpiresRange &range : ranges) {
        if (expires_at >= range.from && expires_at < range.to) {
            return true;
        }
    }
    return false;
}

TEST(Notice, AFullRoundReadsEveryTokenThatCanBeDue) {
    const std::int64_t now = 1000 * kDay;
    std::vector<pat::ExpiresRange> full = pat::expiry_round_ranges(now, std::nullopt);
    ASSERT_EQ(full.size(), 1u);
    EXPECT_EQ(full[0].from, now - pat::kExpiredNoticeWindow);
    EXPECT_EQ(full[0].to, now + pat::kExpiryNoticeHorizon);
    // Anything due at now lies in it.
    for (std::int64_t left = -10 * kDay; left <= 70 * kDay; left += kDay / 7) {
        if (due(120 * kDay, left)) {
            EXPECT_TRUE(in_ranges(now + left, full)) << left;
        }
    }
}

// The claim the worker's rounds rest on: after a complete round at since, a token that is due a
// notice at now which it was not due at since has its expires_at in the ranges of a round since.
TEST(Notice, ARoundSinceTheLastReadsEveryNoticeThatFellDueInBetween) {
    const std::int64_t since = 1000 * kDay;
    const std::int64_t steps[] = {1, kSecond, 60 * kSecond, kDay, 9 * kDay};
    const std::int64_t lifetimes[] = {3600 * kSecond, kDay,      kDay + 1,  7 * kDay,
                                      7 * kDay + 1,   30 * kDay, 90 * kDay, 400 * kDay};
    int checked = 0;
    for (std::int64_t step : steps) {
        const std::int64_t now = since + step;
        std::vector<pat::ExpiresRange> ranges = pat::expiry_round_ranges(now, since);
        // expires_at around every threshold edge of both instants.
        std::vector<std::int64_t> edges;
        for (NoticeKind kind : pat::kExpiryNotices) {
            std::int64_t threshold = pat::expiry_notice_threshold(kind);
            for (std::int64_t at : {since, now}) {
                for (std::int64_t d : {-2, -1, 0, 1, 2}) {
                    edges.push_back(at + threshold + d);
                }
            }
        }
        for (std::int64_t expires_at : edges) {
            for (std::int64_t lifetime : lifetimes) {
                std::int64_t created_at = std::min(since, expires_at) - lifetime;
                std::optional<NoticeKind> then =
                    pat::due_expiry_notice(created_at, expires_at, since, {});
                std::vector<NoticeKind> queued;
                if (then) {
                    queued.push_back(*then);
                }
                if (pat::due_expiry_notice(created_at, expires_at, now, queued)) {
                    ++checked;
                    EXPECT_TRUE(in_ranges(expires_at, ranges))
                        << "step " << step << " expires " << expires_at - since << " lifetime "
                        << lifetime;
                }
            }
        }
    }
    EXPECT_GT(checked, 50);
}

TEST(Notice, FirstExpiryCrossing) {
    const std::int64_t created = 1000 * kDay;
    // Made for 90 days: "60 days" falls due 30 days in.
    EXPECT_EQ(pat::first_expiry_crossing(created, created + 90 * kDay), created + 30 * kDay);
    // Made for exactly 7 days: never "7 days"; "1 day" 6 days in.
    EXPECT_EQ(pat::first_expiry_crossing(created, created + 7 * kDay), created + 6 * kDay);
    // Made for an hour: only "expired".
    EXPECT_EQ(pat::first_expiry_crossing(created, created + 3600 * kSecond),
              created + 3600 * kSecond);
    // Expired when made (a restored or back-dated row): at once.
    EXPECT_EQ(pat::first_expiry_crossing(created, created - kDay), created - kDay);
    // Nothing is due before it; something is due just after it.
    for (std::int64_t lifetime : {3600 * kSecond, 7 * kDay, 7 * kDay + 1, 45 * kDay, 90 * kDay}) {
        std::int64_t expires = created + lifetime;
        std::int64_t crossing = pat::first_expiry_crossing(created, expires);
        EXPECT_EQ(pat::due_expiry_notice(created, expires, crossing - 1, {}), std::nullopt)
            << lifetime;
        EXPECT_NE(pat::due_expiry_notice(created, expires, crossing + 1, {}), std::nullopt)
            << lifetime;
    }
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
