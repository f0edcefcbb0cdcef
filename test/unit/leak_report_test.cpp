// Leak reports and scanner patterns: report limits, the source rules, and the regex and
// gitleaks rule for one, several and empty prefixes, checked against real tokens.
#include "core/leak_report.hpp"

#include <gtest/gtest.h>
#include <regex.h>

#include <functional>

#include "core/error.hpp"
#include "core/token.hpp"

namespace {

std::string sqlstate_of(const std::function<void()> &fn) {
    try {
        fn();
    } catch (const pat::Error &e) {
        return e.sqlstate();
    }
    return "";
}

// Whether the POSIX extended regex matches all of text (as a scanner anchoring a candidate).
bool matches_whole(const std::string &pattern, const std::string &text) {
    regex_t compiled;
    EXPECT_EQ(regcomp(&compiled, ("^" + pattern + "$").c_str(), REG_EXTENDED | REG_NOSUB), 0)
        << pattern;
    bool matched = regexec(&compiled, text.c_str(), 0, nullptr, 0) == 0;
    regfree(&compiled);
    return matched;
}

TEST(LeakReport, SizeAndSource) {
    EXPECT_EQ(sqlstate_of([] { pat::require_leak_report_size(1000); }), "");
    EXPECT_EQ(sqlstate_of([] { pat::require_leak_report_size(1001); }), "22023");
    EXPECT_EQ(sqlstate_of([] { pat::check_leak_source("https://example.com/x", 21); }), "");
    EXPECT_EQ(sqlstate_of([] { pat::check_leak_source(std::string(201, 'x'), 201); }), "22023");
    EXPECT_EQ(sqlstate_of([] { pat::check_leak_source("a\nb", 3); }), "22023");
    EXPECT_EQ(sqlstate_of([] {
                  pat::check_leak_source(
                      "a\xc2\x85"
                      "b",
                      3);
              }),
              "22023");  // NEL
    EXPECT_EQ(sqlstate_of([] {
                  pat::check_leak_source(
                      "a\xc2\x9b"
                      "b",
                      3);
              }),
              "22023");  // CSI
    EXPECT_EQ(sqlstate_of([] { pat::check_leak_source("ünïcode", 7); }), "");
}

TEST(LeakReport, RegexForOnePrefix) {
    std::string regex = pat::scanner_regex({"pat_"});
    EXPECT_EQ(regex, "pat_[0-9A-Za-z]{36}");
    EXPECT_TRUE(matches_whole(regex, pat::generate_token("pat_")));
    EXPECT_FALSE(matches_whole(regex, pat::generate_token("glpat-")));
}

TEST(LeakReport, RegexForSeveralPrefixes) {
    std::string regex = pat::scanner_regex({"pat_", "acme-pat_", "pat_", "old_"});
    EXPECT_EQ(regex, "(acme-pat_|old_|pat_)[0-9A-Za-z]{36}");
    for (const char *prefix : {"pat_", "acme-pat_", "old_"}) {
        EXPECT_TRUE(matches_whole(regex, pat::generate_token(prefix))) << prefix;
    }
    EXPECT_FALSE(matches_whole(regex, pat::generate_token("new_")));
    EXPECT_FALSE(matches_whole(regex, "pat_" + std::string(35, 'a')));
}

TEST(LeakReport, RegexWithTheEmptyPrefix) {
    std::string regex = pat::scanner_regex({"", "pat_"});
    EXPECT_EQ(regex, "(pat_)?[0-9A-Za-z]{36}");
    EXPECT_TRUE(matches_whole(regex, pat::generate_token("")));
    EXPECT_TRUE(matches_whole(regex, pat::generate_token("pat_")));
    EXPECT_EQ(pat::scanner_regex({""}), "[0-9A-Za-z]{36}");
}

TEST(LeakReport, BadPrefixesAreRefused) {
    EXPECT_EQ(sqlstate_of([] { pat::scanner_regex({}); }), "22023");
    EXPECT_EQ(sqlstate_of([] { pat::scanner_regex({"pat|.*"}); }), "22023");
}

TEST(LeakReport, GitleaksRule) {
    std::string rule = pat::gitleaks_rule({"pat_", "ACME_"});
    EXPECT_NE(rule.find("[[rules]]\n"), std::string::npos);
    EXPECT_NE(rule.find("regex = '''\\b((?:ACME_|pat_)[0-9A-Za-z]{36})\\b'''\n"), std::string::npos)
        << rule;
    EXPECT_NE(rule.find("keywords = [\"acme_\", \"pat_\"]\n"), std::string::npos) << rule;
    EXPECT_NE(rule.find("secretGroup = 1\n"), std::string::npos);
    // A prefix starting with '-' gets no leading word boundary; no prefix, no keywords.
    EXPECT_NE(pat::gitleaks_rule({"-x_"}).find("regex = '''(-x_[0-9A-Za-z]{36})\\b'''"),
              std::string::npos);
    EXPECT_EQ(pat::gitleaks_rule({""}).find("keywords"), std::string::npos);
}

}  // namespace
