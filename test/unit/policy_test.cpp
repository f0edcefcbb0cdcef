// The write rules: identifiers, grantable scopes, checked scopes and the list status.
#include "core/policy.hpp"

#include <gtest/gtest.h>

#include "core/error.hpp"
#include "core/status.hpp"

namespace {

using Strings = std::vector<std::string>;
using Requested = std::vector<std::optional<std::string>>;

// The SQLSTATE fn throws, or "" when it throws nothing.
template <typename Fn>
std::string sqlstate_of(Fn fn) {
    try {
        fn();
    } catch (const pat::Error &e) {
        return e.sqlstate();
    }
    return "";
}

TEST(CheckUserId, AcceptsOneTo255CharactersNotBlank) {
    EXPECT_EQ(sqlstate_of([] { pat::check_user_id("u", 1); }), "");
    EXPECT_EQ(sqlstate_of([] { pat::check_user_id(" u ", 3); }), "");
    EXPECT_EQ(sqlstate_of([] { pat::check_user_id("\t", 1); }), "");  // btrim trims spaces only
    EXPECT_EQ(sqlstate_of([] { pat::check_user_id(std::string(255, 'u'), 255); }), "");
    EXPECT_EQ(sqlstate_of([] { pat::check_user_id("", 0); }), "22023");
    EXPECT_EQ(sqlstate_of([] { pat::check_user_id("   ", 3); }), "22023");
    EXPECT_EQ(sqlstate_of([] { pat::check_user_id(std::string(256, 'u'), 256); }), "22023");
}

TEST(CheckUserId, CountsCharactersNotBytes) {
    std::string accented;
    for (int i = 0; i < 255; ++i)
        accented += "\xc3\xa9";  // é
    EXPECT_EQ(sqlstate_of([&] { pat::check_user_id(accented, 255); }), "");
    EXPECT_EQ(sqlstate_of([&] { pat::check_user_id(accented + "x", 256); }), "22023");
}

TEST(CheckTokenName, EmptyIs22023TooLongIs22001) {
    EXPECT_EQ(sqlstate_of([] { pat::check_token_name("CI deploy", 9); }), "");
    EXPECT_EQ(sqlstate_of([] {
                  pat::check_token_name(
                      "nul\x01"
                      "ctl",
                      7);
              }),
              "");
    EXPECT_EQ(sqlstate_of([] { pat::check_token_name("", 0); }), "22023");
    EXPECT_EQ(sqlstate_of([] { pat::check_token_name("  ", 2); }), "22023");
    EXPECT_EQ(sqlstate_of([] { pat::check_token_name(std::string(255, 'n'), 255); }), "");
    EXPECT_EQ(sqlstate_of([] { pat::check_token_name(std::string(256, 'n'), 256); }), "22001");
}

TEST(CheckRoleName, RefusesBlankLongAndControlCharacters) {
    EXPECT_EQ(sqlstate_of([] { pat::check_role_name("scorecard_admin", 15); }), "");
    EXPECT_EQ(sqlstate_of([] { pat::check_role_name(std::string(100, 'r'), 100); }), "");
    EXPECT_EQ(sqlstate_of([] { pat::check_role_name(std::string(101, 'r'), 101); }), "22023");
    EXPECT_EQ(sqlstate_of([] { pat::check_role_name("", 0); }), "22023");
    EXPECT_EQ(sqlstate_of([] { pat::check_role_name("   ", 3); }), "22023");
    EXPECT_EQ(sqlstate_of([] { pat::check_role_name("tab\there", 8); }), "22023");
    EXPECT_EQ(sqlstate_of([] { pat::check_role_name("bad\nrole", 8); }), "22023");
    EXPECT_EQ(sqlstate_of([] { pat::check_role_name("del\x7f", 4); }), "22023");
    EXPECT_EQ(sqlstate_of([] { pat::check_role_name("c1\xc2\x85", 3); }), "22023");  // U+0085
    EXPECT_EQ(sqlstate_of([] { pat::check_role_name("caf\xc3\xa9", 4); }), "");      // é
}

TEST(HasControlCharacter, RefusesC0DelAndC1) {
    EXPECT_FALSE(pat::has_control_character("plain text, caf\xc3\xa9 \xe2\x82\xac"));
    EXPECT_TRUE(pat::has_control_character(std::string_view("nul\0", 4)));
    EXPECT_TRUE(pat::has_control_character("\x1b[31m"));
    EXPECT_TRUE(pat::has_control_character("del\x7f"));
    EXPECT_TRUE(pat::has_control_character("\xc2\x80"));     // U+0080
    EXPECT_TRUE(pat::has_control_character("nel\xc2\x85"));  // U+0085
    EXPECT_TRUE(pat::has_control_character("csi\xc2\x9b"));  // U+009B
    EXPECT_TRUE(pat::has_control_character("\xc2\x9f"));     // U+009F
    EXPECT_FALSE(pat::has_control_character("\xc2\xa0"));    // U+00A0, no-break space
    EXPECT_FALSE(pat::has_control_character("\xc2"));        // a truncated sequence is no C1
}

TEST(CheckActor, RefusesBlankLongAndControlCharacters) {
    EXPECT_EQ(sqlstate_of([] { pat::check_actor("support:carol", 13); }), "");
    EXPECT_EQ(sqlstate_of([] { pat::check_actor(std::string(255, 'a'), 255); }), "");
    EXPECT_EQ(sqlstate_of([] { pat::check_actor(std::string(256, 'a'), 256); }), "22023");
    EXPECT_EQ(sqlstate_of([] { pat::check_actor("  ", 2); }), "22023");
    EXPECT_EQ(sqlstate_of([] { pat::check_actor("a\nb", 3); }), "22023");
    EXPECT_EQ(sqlstate_of([] { pat::check_actor("a\xc2\x85", 2); }), "22023");
    EXPECT_EQ(sqlstate_of([] { pat::check_actor("a\xc2\x9b", 2); }), "22023");
}

TEST(GrantableScopes, UnionOfTheRolesSortedAndDistinct) {
    pat::ScopeSet defined(Strings{"a:read", "b:read", "c:write"});
    pat::ScopeSet grantable =
        pat::grantable_scopes(false, {"c:write", "a:read", "c:write"}, defined);
    EXPECT_EQ(grantable.items(), (Strings{"a:read", "c:write"}));
    EXPECT_TRUE(pat::grantable_scopes(false, {}, defined).empty());
}

TEST(GrantableScopes, AllScopesRoleGrantsEveryDefinedScope) {
    pat::ScopeSet defined(Strings{"a:read", "b:read", "c:write"});
    EXPECT_EQ(pat::grantable_scopes(true, {}, defined).items(), defined.items());
    EXPECT_EQ(pat::grantable_scopes(true, {"a:read"}, defined).items(), defined.items());
    EXPECT_TRUE(pat::grantable_scopes(true, {}, pat::ScopeSet()).empty());
}

TEST(CheckedScopes, SortsAndRemovesDuplicates) {
    pat::ScopeSet defined(Strings{"a:read", "b:read", "c:write"});
    pat::ScopeSet grantable(Strings{"a:read", "c:write"});
    EXPECT_EQ(
        pat::checked_scopes("u", Requested{"c:write", "a:read", "c:write"}, defined, grantable),
        (Strings{"a:read", "c:write"}));
    EXPECT_TRUE(pat::checked_scopes("u", Requested{}, defined, grantable).empty());
}

TEST(CheckedScopes, NullThenUndefinedThenRefused) {
    pat::ScopeSet defined(Strings{"a:read", "b:read"});
    pat::ScopeSet grantable(Strings{"a:read"});
    EXPECT_EQ(
        sqlstate_of([&] {
            pat::checked_scopes("u", Requested{"zz:undefined", std::nullopt}, defined, grantable);
        }),
        "22004");
    // Undefined wins over refused, whatever the order asked in.
    EXPECT_EQ(sqlstate_of([&] {
                  pat::checked_scopes("u", Requested{"b:read", "zz:undefined"}, defined, grantable);
              }),
              "22023");
    EXPECT_EQ(
        sqlstate_of([&] { pat::checked_scopes("u", Requested{"b:read"}, defined, grantable); }),
        "42501");
}

TEST(DefinedScopesOf, SortedDistinctOrNullOrUndefined) {
    pat::ScopeSet defined(Strings{"a:read", "b:read"});
    EXPECT_EQ(pat::defined_scopes_of(Requested{"b:read", "a:read", "b:read"}, defined),
              (Strings{"a:read", "b:read"}));
    EXPECT_EQ(sqlstate_of([&] { pat::defined_scopes_of(Requested{std::nullopt}, defined); }),
              "22004");
    EXPECT_EQ(sqlstate_of([&] { pat::defined_scopes_of(Requested{"c:read"}, defined); }), "22023");
}

TEST(CheckedScopes, MessagesNameTheFirstProblemAndTheGrantableScopes) {
    pat::ScopeSet defined(Strings{"a:read", "b:read", "c:read"});
    try {
        pat::checked_scopes("u", Requested{"x:10", "x:1", "x:2"}, defined, defined);
        FAIL();
    } catch (const pat::Error &e) {
        EXPECT_STREQ(e.what(), "scope \"x:1\" is not defined");
        EXPECT_EQ(e.hint(), "Define it first with pat_define_scope().");
    }
    try {
        pat::checked_scopes("cr-bob", Requested{"c:read", "b:read"}, defined,
                            pat::ScopeSet(Strings{"a:read", "c:read"}));
        FAIL();
    } catch (const pat::Error &e) {
        EXPECT_STREQ(e.what(), "the roles of user \"cr-bob\" do not allow scope \"b:read\"");
        EXPECT_EQ(e.detail(), "Grantable scopes: a:read, c:read.");
    }
    try {
        pat::checked_scopes("nobody", Requested{"a:read"}, defined, pat::ScopeSet());
        FAIL();
    } catch (const pat::Error &e) {
        EXPECT_EQ(e.detail(), "Grantable scopes: none.");
    }
}

TEST(ListStatus, SamePrecedenceAndClockAsValidation) {
    pat::StoredTokenState active;
    active.expires_at = 200;
    EXPECT_EQ(pat::list_status(199, active), "active");
    EXPECT_EQ(pat::list_status(200, active), "expired");  // expired at expires_at, as validation
    pat::StoredTokenState revoked = active;
    revoked.revoked = true;
    EXPECT_EQ(pat::list_status(300, revoked), "revoked");  // revoked wins over expired
    EXPECT_EQ(pat::list_status(300, pat::StoredTokenState()), "active");
    EXPECT_EQ(pat::decide_status(200, active, true), pat::TokenStatus::expired);
}

}  // namespace
