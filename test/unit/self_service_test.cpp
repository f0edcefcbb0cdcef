// The rules for a request authenticated with a token: own user, manage scope, held scopes, no
// later expiry.
#include "core/self_service.hpp"

#include <gtest/gtest.h>

#include "core/error.hpp"

namespace {

template <typename Fn>
std::string sqlstate_of(Fn fn) {
    try {
        fn();
    } catch (const pat::Error &e) {
        return e.sqlstate();
    }
    return "";
}

const pat::ScopeSet kHeld({"notes:read", "tokens:manage"});

TEST(SelfService, ManageScopeMustBeHeld) {
    pat::TokenHolder holder{"u1", kHeld, std::nullopt};
    EXPECT_EQ(sqlstate_of([&] { pat::require_manage_scope(holder, "tokens:manage"); }), "");
    EXPECT_EQ(sqlstate_of([&] { pat::require_manage_scope(holder, "tokens:admin"); }), "42501");
    // An empty setting is held by no token: nothing can be managed with a token.
    EXPECT_EQ(sqlstate_of([&] { pat::require_manage_scope(holder, ""); }), "42501");
    pat::ScopeSet none;
    pat::TokenHolder bare{"u1", none, std::nullopt};
    EXPECT_EQ(sqlstate_of([&] { pat::require_manage_scope(bare, "tokens:manage"); }), "42501");
}

TEST(SelfService, OnlyTheHoldersOwnUser) {
    pat::TokenHolder holder{"u1", kHeld, std::nullopt};
    EXPECT_EQ(sqlstate_of([&] { pat::require_own_user(holder, "u1"); }), "");
    EXPECT_EQ(sqlstate_of([&] { pat::require_own_user(holder, "u2"); }), "42501");
    EXPECT_EQ(sqlstate_of([&] { pat::require_own_user(holder, "U1"); }), "42501");
    EXPECT_EQ(sqlstate_of([&] { pat::require_own_user(holder, "u1 "); }), "42501");
}

TEST(SelfService, NeverMoreScopesThanHeld) {
    pat::TokenHolder holder{"u1", kHeld, std::nullopt};
    EXPECT_EQ(sqlstate_of([&] { pat::require_held_scopes(holder, {}); }), "");
    EXPECT_EQ(sqlstate_of([&] { pat::require_held_scopes(holder, {"notes:read"}); }), "");
    EXPECT_EQ(sqlstate_of([&] {
                  pat::require_held_scopes(holder, {"notes:read", "tokens:manage"});
              }),
              "");
    try {
        pat::require_held_scopes(holder, {"notes:read", "notes:write"});
        FAIL() << "notes:write is not held";
    } catch (const pat::Error &e) {
        EXPECT_STREQ(e.sqlstate(), "42501");
        EXPECT_NE(std::string(e.what()).find("\"notes:write\""), std::string::npos);
    }
}

TEST(SelfService, NeverOutlivesTheHolder) {
    pat::TokenHolder forever{"u1", kHeld, std::nullopt};
    EXPECT_EQ(sqlstate_of([&] { pat::require_no_later_expiry(forever, std::nullopt); }), "");
    EXPECT_EQ(sqlstate_of([&] { pat::require_no_later_expiry(forever, 5); }), "");
    pat::TokenHolder until_100{"u1", kHeld, 100};
    EXPECT_EQ(sqlstate_of([&] { pat::require_no_later_expiry(until_100, 99); }), "");
    EXPECT_EQ(sqlstate_of([&] { pat::require_no_later_expiry(until_100, 100); }), "");
    EXPECT_EQ(sqlstate_of([&] { pat::require_no_later_expiry(until_100, 101); }), "42501");
    EXPECT_EQ(sqlstate_of([&] { pat::require_no_later_expiry(until_100, std::nullopt); }), "42501");
}

// One rule for every write of a token's scopes: the user's roles first, then the holder's.
TEST(SelfService, WritableScopesAreGrantableThenHeld) {
    using Requested = std::vector<std::optional<std::string>>;
    using Strings = std::vector<std::string>;
    pat::ScopeSet defined({"notes:read", "notes:write", "secret:read", "tokens:manage"});
    pat::ScopeSet grantable({"notes:read", "notes:write", "tokens:manage"});
    pat::TokenHolder holder{"u1", kHeld, std::nullopt};
    // The back end (no holder): what the roles allow, sorted and distinct.
    EXPECT_EQ(pat::writable_scopes("u1", Requested{"notes:write", "notes:read", "notes:write"},
                                   defined, grantable, nullptr),
              (Strings{"notes:read", "notes:write"}));
    // A holder: only what it holds too.
    EXPECT_EQ(pat::writable_scopes("u1", Requested{"tokens:manage", "notes:read"}, defined,
                                   grantable, &holder),
              (Strings{"notes:read", "tokens:manage"}));
    EXPECT_TRUE(pat::writable_scopes("u1", Requested{}, defined, grantable, &holder).empty());
    EXPECT_EQ(sqlstate_of([&] {
                  pat::writable_scopes("u1", Requested{"notes:write"}, defined, grantable, &holder);
              }),
              "42501");
    // Undefined, NULL and not allowed by the roles come first, as for pat_create.
    EXPECT_EQ(sqlstate_of([&] {
                  pat::writable_scopes("u1", Requested{"notes:read", "undefined:later"}, defined,
                                       grantable, &holder);
              }),
              "22023");
    EXPECT_EQ(sqlstate_of([&] {
                  pat::writable_scopes("u1", Requested{std::nullopt}, defined, grantable, &holder);
              }),
              "22004");
    try {
        pat::writable_scopes("u1", Requested{"secret:read"}, defined, grantable, &holder);
        FAIL() << "secret:read is not grantable";
    } catch (const pat::Error &e) {
        EXPECT_STREQ(e.sqlstate(), "42501");
        EXPECT_NE(std::string(e.what()).find("do not allow"), std::string::npos);
    }
}

TEST(SelfService, DelegateScopeMustBeHeld) {
    const pat::ScopeSet held({"notes:read", "tokens:delegate"});
    pat::TokenHolder holder{"u1", held, std::nullopt};
    EXPECT_EQ(sqlstate_of([&] { pat::require_delegate_scope(holder, "tokens:delegate"); }), "");
    // The manage scope is no delegate scope, and an empty setting lets no token delegate.
    pat::TokenHolder manager{"u1", kHeld, std::nullopt};
    EXPECT_EQ(sqlstate_of([&] { pat::require_delegate_scope(manager, "tokens:delegate"); }),
              "42501");
    EXPECT_EQ(sqlstate_of([&] { pat::require_delegate_scope(holder, ""); }), "42501");
}

TEST(SelfService, DelegationDepthCountsFromTheRoot) {
    EXPECT_EQ(sqlstate_of([] { pat::require_delegation_depth(0, 3); }), "");
    EXPECT_EQ(sqlstate_of([] { pat::require_delegation_depth(2, 3); }), "");
    EXPECT_EQ(sqlstate_of([] { pat::require_delegation_depth(3, 3); }), "54000");
    EXPECT_EQ(sqlstate_of([] { pat::require_delegation_depth(0, 0); }), "54000");
}

TEST(SelfService, DelegatedLifetimeIsBounded) {
    EXPECT_EQ(sqlstate_of([] { pat::require_within_delegated_lifetime(100, 100); }), "");
    EXPECT_EQ(sqlstate_of([] { pat::require_within_delegated_lifetime(101, 100); }), "22023");
    EXPECT_EQ(sqlstate_of([] { pat::require_within_delegated_lifetime(std::nullopt, 100); }),
              "22023");
    EXPECT_EQ(
        sqlstate_of([] { pat::require_within_delegated_lifetime(std::nullopt, std::nullopt); }),
        "");
}

TEST(SelfService, LongestDelegatedExpiryIsTheEarliestLimit) {
    pat::TokenHolder forever{"u1", kHeld, std::nullopt};
    pat::TokenHolder until_50{"u1", kHeld, 50};
    EXPECT_EQ(pat::longest_delegated_expiry(forever, std::nullopt, std::nullopt), std::nullopt);
    EXPECT_EQ(pat::longest_delegated_expiry(forever, 80, 90), 80);
    EXPECT_EQ(pat::longest_delegated_expiry(until_50, 80, 90), 50);
    EXPECT_EQ(pat::longest_delegated_expiry(forever, std::nullopt, 90), 90);
}

}  // namespace
