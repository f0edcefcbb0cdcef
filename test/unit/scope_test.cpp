// Scope name grammar and ScopeSet operations.
#include "core/scope.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace {

using Strings = std::vector<std::string>;

TEST(ScopeName, AcceptsValidNames) {
    for (const char *name : {"a", "Z", "9", "catalog:read", "workflowRuns:writeEvents", "a:b:c:d",
                             "a.b-c_d:e", "_", "-", ".", "v1.2:x-y_z", "a:."})
        EXPECT_TRUE(pat::is_valid_scope_name(name)) << name;
}

TEST(ScopeName, RejectsEmptyAndMisplacedColons) {
    for (const char *name : {"", ":", "::", ":read", "catalog:", "catalog::read", "a:b:", ":a:b"})
        EXPECT_FALSE(pat::is_valid_scope_name(name)) << '"' << name << '"';
}

TEST(ScopeName, RejectsBadCharacters) {
    for (const char *name :
         {"catalog read", " catalog", "catalog ", "catalog/read", "catalog*", "*", "a,b", "a;b",
          "a'b", "a\"b", "a\\b", "a\tb", "a\nb", "a@b", "a+b", "a=b", "(a)"})
        EXPECT_FALSE(pat::is_valid_scope_name(name)) << '"' << name << '"';
    EXPECT_FALSE(pat::is_valid_scope_name(std::string_view("a\0b", 3)));
}

TEST(ScopeName, RejectsNonAscii) {
    EXPECT_FALSE(
        pat::is_valid_scope_name("catalog:r\xC3\xA9"
                                 "ad"));                     // "réad"
    EXPECT_FALSE(pat::is_valid_scope_name("\xE2\x9C\x93"));  // check mark
    EXPECT_FALSE(pat::is_valid_scope_name("\xFF"));
}

TEST(ScopeName, AllowsAtMostOneHundredCharacters) {
    const std::string hundred(100, 'a');
    EXPECT_TRUE(pat::is_valid_scope_name(hundred));
    EXPECT_FALSE(pat::is_valid_scope_name(hundred + "a"));
    const std::string segmented = std::string(49, 'a') + ":" + std::string(50, 'b');
    ASSERT_EQ(segmented.size(), 100U);
    EXPECT_TRUE(pat::is_valid_scope_name(segmented));
    EXPECT_FALSE(pat::is_valid_scope_name(segmented + "b"));
}

TEST(ScopeName, ExactSegmentCharacterSet) {
    for (int b = 0; b < 256; ++b) {
        const char c = static_cast<char>(b);
        const bool legal = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
                           (c >= 'a' && c <= 'z') || c == '_' || c == '-' || c == '.';
        const std::string name = std::string("x") + c + "y";
        EXPECT_EQ(pat::is_valid_scope_name(name), legal || c == ':') << "byte " << b;
    }
}

TEST(ScopeSet, SortsAndRemovesDuplicates) {
    const pat::ScopeSet set(Strings{"b:write", "a:read", "b:write", "c", "a:read"});
    EXPECT_EQ(set.items(), (Strings{"a:read", "b:write", "c"}));
    EXPECT_EQ(set.size(), 3U);
    EXPECT_FALSE(set.empty());
    EXPECT_TRUE(pat::ScopeSet().empty());
    EXPECT_TRUE(pat::ScopeSet(Strings{}).empty());
}

TEST(ScopeSet, Contains) {
    const pat::ScopeSet set(Strings{"repo:write", "catalog:read", "admin"});
    EXPECT_TRUE(set.contains("catalog:read"));
    EXPECT_TRUE(set.contains("admin"));
    EXPECT_TRUE(set.contains("repo:write"));
    EXPECT_FALSE(set.contains("catalog"));
    EXPECT_FALSE(set.contains("catalog:rea"));
    EXPECT_FALSE(set.contains("catalog:read:x"));
    EXPECT_FALSE(set.contains("Catalog:read"));
    EXPECT_FALSE(set.contains(""));
    EXPECT_FALSE(pat::ScopeSet().contains("admin"));
}

TEST(ScopeSet, ContainsAll) {
    const pat::ScopeSet held(Strings{"a", "b", "c"});
    EXPECT_TRUE(held.contains_all(pat::ScopeSet()));
    EXPECT_TRUE(held.contains_all(pat::ScopeSet(Strings{"a", "c"})));
    EXPECT_TRUE(held.contains_all(held));
    EXPECT_FALSE(held.contains_all(pat::ScopeSet(Strings{"a", "d"})));
    EXPECT_FALSE(held.contains_all(pat::ScopeSet(Strings{"a", "b", "c", "d"})));
    EXPECT_FALSE(pat::ScopeSet().contains_all(pat::ScopeSet(Strings{"a"})));
    EXPECT_TRUE(pat::ScopeSet().contains_all(pat::ScopeSet()));
}

TEST(ScopeSet, Intersect) {
    const pat::ScopeSet x(Strings{"a", "b", "c", "e"});
    const pat::ScopeSet y(Strings{"e", "c", "d", "f"});
    EXPECT_EQ(x.intersect(y).items(), (Strings{"c", "e"}));
    EXPECT_EQ(y.intersect(x).items(), (Strings{"c", "e"}));
    EXPECT_TRUE(x.intersect(pat::ScopeSet()).empty());
    EXPECT_TRUE(x.intersect(pat::ScopeSet(Strings{"z"})).empty());
    EXPECT_EQ(x.intersect(x).items(), x.items());
}

TEST(ScopeSet, MissingFrom) {
    const pat::ScopeSet required(Strings{"d", "a", "b"});
    const pat::ScopeSet held(Strings{"b", "c"});
    EXPECT_EQ(required.missing_from(held), (Strings{"a", "d"}));
    EXPECT_EQ(held.missing_from(required), (Strings{"c"}));
    EXPECT_TRUE(required.missing_from(required).empty());
    EXPECT_EQ(required.missing_from(pat::ScopeSet()), required.items());
    EXPECT_TRUE(pat::ScopeSet().missing_from(held).empty());
}

}  // namespace

TEST(SortedScopesContain, FindsOnlyMembers) {
    const std::string_view sorted[] = {"a:read", "b:write", "catalog:read"};
    EXPECT_TRUE(pat::sorted_scopes_contain(sorted, 3, "a:read"));
    EXPECT_TRUE(pat::sorted_scopes_contain(sorted, 3, "catalog:read"));
    EXPECT_FALSE(pat::sorted_scopes_contain(sorted, 3, "b:read"));
    EXPECT_FALSE(pat::sorted_scopes_contain(sorted, 3, "catalog:rea"));
    EXPECT_FALSE(pat::sorted_scopes_contain(sorted, 0, "a:read"));
}

namespace {

TEST(SortedScopes, SortUniqueAndIntersect) {
    std::string_view items[] = {"b:read", "a:read", "b:read", "c:write", "a:read"};
    std::size_t count = pat::sort_unique_scopes(items, 5);
    ASSERT_EQ(count, 3u);
    EXPECT_EQ(items[0], "a:read");
    EXPECT_EQ(items[1], "b:read");
    EXPECT_EQ(items[2], "c:write");
    std::string_view allowed[] = {"b:read", "c:write", "d:admin"};
    std::string_view out[3];
    std::size_t both = pat::intersect_sorted_scopes(items, count, allowed, 3, out);
    ASSERT_EQ(both, 2u);
    EXPECT_EQ(out[0], "b:read");
    EXPECT_EQ(out[1], "c:write");
    EXPECT_EQ(pat::intersect_sorted_scopes(items, count, allowed, 0, out), 0u);
    EXPECT_EQ(pat::sort_unique_scopes(items, 0), 0u);
}

}  // namespace
