#include "core/message.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

TEST(Shown, ShortValuesAreWhole) {
    EXPECT_EQ(pat::shown(""), "");
    EXPECT_EQ(pat::shown("catalog:read"), "catalog:read");
    EXPECT_EQ(pat::shown(std::string(100, 'a')), std::string(100, 'a'));
}

TEST(Shown, LongValuesAreCutWithAnEllipsis) {
    EXPECT_EQ(pat::shown(std::string(101, 'a')), std::string(100, 'a') + "...");
    EXPECT_EQ(pat::shown(std::string(1 << 20, 'x'), 8), "xxxxxxxx...");
}

TEST(Shown, CountsCharactersNotBytes) {
    std::string e_acute = "\xC3\xA9";  // U+00E9, two bytes
    std::string three;
    for (int i = 0; i < 3; ++i) {
        three += e_acute;
    }
    EXPECT_EQ(pat::shown(three, 3), three);
    EXPECT_EQ(pat::shown(three + "z", 3), three + "...");
}

TEST(Shown, NeverCutsInsideACharacter) {
    std::string euro = "\xE2\x82\xAC";  // U+20AC, three bytes
    std::string value = "a" + euro + euro;
    EXPECT_EQ(pat::shown(value, 2), "a" + euro + "...");
    // Stray continuation bytes count as nothing and stay with what precedes them.
    EXPECT_EQ(pat::shown(std::string("ab\x80\x80") + "c", 2), "ab\x80\x80...");
}

}  // namespace
