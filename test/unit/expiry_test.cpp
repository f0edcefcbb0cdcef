// Expiration rules: the "never" keyword, verdicts, their errors, and lengthening.
#include "core/expiry.hpp"

#include <cstring>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "core/error.hpp"

namespace {

using pat::ExpiryVerdict;
constexpr std::optional<std::int64_t> kNever = std::nullopt;

TEST(NeverKeyword, AcceptsCaseAndWhitespaceVariants) {
    for (const char *text :
         {"never", "NEVER", "Never", "nEvEr", " never", "never ", "\t never \n", "\r\n\f\vNEVER\v"})
        EXPECT_TRUE(pat::is_never_keyword(text)) << '"' << text << '"';
}

TEST(NeverKeyword, RejectsEverythingElse) {
    for (const char *text : {"", " ", "neve", "nevers", "never!", "n ever", "never never",
                             "'never'", "infinity", "0", "forever", "nevr"})
        EXPECT_FALSE(pat::is_never_keyword(text)) << '"' << text << '"';
    EXPECT_FALSE(pat::is_never_keyword(std::string_view("never\0", 6)));
    EXPECT_FALSE(pat::is_never_keyword("n\xC3\x89ver"));  // "nÉver"
}

TEST(CheckExpiry, EveryVerdict) {
    const std::int64_t now = 1000;
    const std::optional<std::int64_t> no_max = std::nullopt;
    const std::optional<std::int64_t> latest = now + 500;

    EXPECT_EQ(pat::check_expiry(now, kNever, no_max), ExpiryVerdict::ok);
    EXPECT_EQ(pat::check_expiry(now, now + 1, no_max), ExpiryVerdict::ok);
    EXPECT_EQ(pat::check_expiry(now, now + 1'000'000'000, no_max), ExpiryVerdict::ok);
    EXPECT_EQ(pat::check_expiry(now, now, no_max), ExpiryVerdict::not_in_future);
    EXPECT_EQ(pat::check_expiry(now, now - 1, no_max), ExpiryVerdict::not_in_future);

    EXPECT_EQ(pat::check_expiry(now, kNever, latest), ExpiryVerdict::never_not_allowed);
    EXPECT_EQ(pat::check_expiry(now, now + 1, latest), ExpiryVerdict::ok);
    EXPECT_EQ(pat::check_expiry(now, *latest, latest), ExpiryVerdict::ok);
    EXPECT_EQ(pat::check_expiry(now, *latest + 1, latest), ExpiryVerdict::beyond_max_lifetime);
    EXPECT_EQ(pat::check_expiry(now, now, latest), ExpiryVerdict::not_in_future);
    EXPECT_EQ(pat::check_expiry(now, now - 10, latest), ExpiryVerdict::not_in_future);
}

TEST(CheckExpiry, WorksWithNegativeTimes) {
    // PostgreSQL's epoch is 2000-01-01, so earlier times are negative.
    EXPECT_EQ(pat::check_expiry(-100, -50, std::nullopt), ExpiryVerdict::ok);
    EXPECT_EQ(pat::check_expiry(-100, -150, std::nullopt), ExpiryVerdict::not_in_future);
    EXPECT_EQ(pat::check_expiry(-100, -40, -50), ExpiryVerdict::beyond_max_lifetime);
}

// Runs require_valid_expiry and returns the error it threw (failing the test if none).
std::optional<pat::Error> error_for(ExpiryVerdict verdict) {
    try {
        pat::require_valid_expiry(verdict);
    } catch (const pat::Error &e) {
        return e;
    }
    ADD_FAILURE() << "no error for verdict " << static_cast<int>(verdict);
    return std::nullopt;
}

TEST(RequireValidExpiry, OkDoesNotThrow) {
    EXPECT_NO_THROW(pat::require_valid_expiry(ExpiryVerdict::ok));
}

TEST(RequireValidExpiry, NotInFuture) {
    const auto e = error_for(ExpiryVerdict::not_in_future);
    ASSERT_TRUE(e);
    EXPECT_STREQ(e->sqlstate(), "22023");
    EXPECT_STREQ(e->what(), "expiration must be in the future");
}

TEST(RequireValidExpiry, NeverNotAllowed) {
    const auto e = error_for(ExpiryVerdict::never_not_allowed);
    ASSERT_TRUE(e);
    EXPECT_STREQ(e->sqlstate(), "22023");
    EXPECT_STREQ(e->what(), "tokens must expire: pat.max_lifetime is set");
    EXPECT_EQ(e->hint(), "Choose an expiration within pat.max_lifetime.");
}

TEST(RequireValidExpiry, BeyondMaxLifetime) {
    const auto e = error_for(ExpiryVerdict::beyond_max_lifetime);
    ASSERT_TRUE(e);
    EXPECT_STREQ(e->sqlstate(), "22023");
    EXPECT_STREQ(e->what(), "expiration is beyond pat.max_lifetime");
    EXPECT_EQ(e->hint(), "Choose an expiration within pat.max_lifetime.");
}

TEST(ExtendsExpiry, TruthTable) {
    // From never: nothing is longer.
    EXPECT_FALSE(pat::extends_expiry(kNever, kNever));
    EXPECT_FALSE(pat::extends_expiry(kNever, 100));
    // To never from a time: longer.
    EXPECT_TRUE(pat::extends_expiry(100, kNever));
    // Time to time: only a strictly later time is longer.
    EXPECT_TRUE(pat::extends_expiry(100, 101));
    EXPECT_FALSE(pat::extends_expiry(100, 100));
    EXPECT_FALSE(pat::extends_expiry(100, 99));
    EXPECT_TRUE(pat::extends_expiry(-5, 0));
}

}  // namespace
