// Status names and the precedence decide_status applies.
#include "core/status.hpp"

#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace {

using pat::TokenStatus;
using Strings = std::vector<std::string>;

const pat::ScopeSet kHeld(Strings{"catalog:read", "catalog:write"});
const pat::ScopeSet kSatisfied(Strings{"catalog:read"});
const pat::ScopeSet kUnsatisfied(Strings{"catalog:read", "admin"});
const pat::ScopeSet kNone;

// A stored token state, for brevity.
pat::StoredTokenState state(bool revoked, std::optional<std::int64_t> expires_at) {
    pat::StoredTokenState s;
    s.revoked = revoked;
    s.expires_at = expires_at;
    return s;
}

TEST(StatusName, NamesEveryStatus) {
    EXPECT_EQ(pat::status_name(TokenStatus::valid), "valid");
    EXPECT_EQ(pat::status_name(TokenStatus::malformed), "malformed");
    EXPECT_EQ(pat::status_name(TokenStatus::not_found), "not_found");
    EXPECT_EQ(pat::status_name(TokenStatus::expired), "expired");
    EXPECT_EQ(pat::status_name(TokenStatus::revoked), "revoked");
    EXPECT_EQ(pat::status_name(TokenStatus::insufficient_scope), "insufficient_scope");
    EXPECT_EQ(pat::status_name(TokenStatus::rate_limited), "rate_limited");
    EXPECT_EQ(pat::status_name(TokenStatus::usage_exceeded), "usage_exceeded");
}

TEST(DecideStatus, ValidWhenNothingIsWrong) {
    EXPECT_EQ(pat::decide_status(100, state(false, std::nullopt), kHeld, kSatisfied),
              TokenStatus::valid);
    EXPECT_EQ(pat::decide_status(100, state(false, 101), kHeld, kSatisfied), TokenStatus::valid);
    EXPECT_EQ(pat::decide_status(100, state(false, 101), kHeld, kNone), TokenStatus::valid);
    EXPECT_EQ(pat::decide_status(100, state(false, 101), kNone, kNone), TokenStatus::valid);
    EXPECT_EQ(pat::decide_status(100, state(false, 101), kHeld, kHeld), TokenStatus::valid);
}

TEST(DecideStatus, ExpiresExactlyAtExpiresAt) {
    EXPECT_EQ(pat::decide_status(99, state(false, 100), kHeld, kNone), TokenStatus::valid);
    EXPECT_EQ(pat::decide_status(100, state(false, 100), kHeld, kNone), TokenStatus::expired);
    EXPECT_EQ(pat::decide_status(101, state(false, 100), kHeld, kNone), TokenStatus::expired);
}

TEST(DecideStatus, MissingScope) {
    EXPECT_EQ(pat::decide_status(100, state(false, std::nullopt), kHeld, kUnsatisfied),
              TokenStatus::insufficient_scope);
    EXPECT_EQ(pat::decide_status(100, state(false, std::nullopt), kNone, kSatisfied),
              TokenStatus::insufficient_scope);
}

TEST(DecideStatus, IncompleteRequirementIsInsufficientScope) {
    // Even when every listed scope is held, an unholdable requirement cannot be satisfied.
    EXPECT_EQ(pat::decide_status(100, state(false, std::nullopt), kHeld, kSatisfied, false),
              TokenStatus::insufficient_scope);
    EXPECT_EQ(pat::decide_status(100, state(false, std::nullopt), kHeld, kNone, false),
              TokenStatus::insufficient_scope);
}

TEST(DecideStatus, RevokedWinsOverEverything) {
    EXPECT_EQ(pat::decide_status(100, state(true, std::nullopt), kHeld, kSatisfied),
              TokenStatus::revoked);
    EXPECT_EQ(pat::decide_status(100, state(true, 50), kHeld, kUnsatisfied), TokenStatus::revoked);
    EXPECT_EQ(pat::decide_status(100, state(true, 50), kHeld, kSatisfied, false),
              TokenStatus::revoked);
}

TEST(DecideStatus, ExpiredWinsOverMissingScope) {
    EXPECT_EQ(pat::decide_status(100, state(false, 50), kHeld, kUnsatisfied), TokenStatus::expired);
    EXPECT_EQ(pat::decide_status(100, state(false, 50), kHeld, kSatisfied, false),
              TokenStatus::expired);
}

TEST(DecideStatus, NeverExpiringTokenNeverExpires) {
    EXPECT_EQ(pat::decide_status(INT64_MAX, state(false, std::nullopt), kHeld, kNone),
              TokenStatus::valid);
}

}  // namespace

TEST(DecideStatusHoldsRequired, SamePrecedenceAsSetForm) {
    pat::StoredTokenState state;
    EXPECT_EQ(pat::decide_status(10, state, true), pat::TokenStatus::valid);
    EXPECT_EQ(pat::decide_status(10, state, false), pat::TokenStatus::insufficient_scope);
    state.expires_at = 10;
    EXPECT_EQ(pat::decide_status(10, state, false), pat::TokenStatus::expired);
    state.revoked = true;
    EXPECT_EQ(pat::decide_status(10, state, true), pat::TokenStatus::revoked);
}
