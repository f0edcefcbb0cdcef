// The rules of leak reports and scanner patterns; see leak_report.hpp.
#include "leak_report.hpp"

#include <algorithm>

#include "error.hpp"
#include "message.hpp"
#include "policy.hpp"
#include "token.hpp"

namespace pat {

namespace {

// Distinct, valid, longest first (then alphabetically), so a reader sees the same text for the
// same prefixes whatever order they were stored in.
std::vector<std::string> ordered_prefixes(std::vector<std::string> prefixes) {
    for (const std::string &prefix : prefixes) {
        if (!is_valid_token_prefix(prefix)) {
            throw Error(sqlstate::kInvalidParameterValue,
                        "invalid token prefix \"" + shown(prefix) + "\"");
        }
    }
    std::sort(prefixes.begin(), prefixes.end(), [](const std::string &a, const std::string &b) {
        return a.size() != b.size() ? a.size() > b.size() : a < b;
    });
    prefixes.erase(std::unique(prefixes.begin(), prefixes.end()), prefixes.end());
    if (prefixes.empty()) {
        throw Error(sqlstate::kInvalidParameterValue, "no token prefix to match");
    }
    return prefixes;
}

// "(a|b)" of the non-empty prefixes, "?" after it when the empty prefix is one of them; the
// prefix characters (letters, digits, '_', '-') mean themselves in POSIX and RE2 syntax alike.
std::string prefix_pattern(const std::vector<std::string> &prefixes, const char *group_open) {
    std::string pattern;
    bool has_empty = false;
    int alternatives = 0;
    for (const std::string &prefix : prefixes) {
        if (prefix.empty()) {
            has_empty = true;
            continue;
        }
        pattern += alternatives++ == 0 ? "" : "|";
        pattern += prefix;
    }
    if (alternatives == 0) {
        return "";
    }
    if (alternatives > 1 || has_empty) {
        pattern = group_open + pattern + ")";
    }
    return has_empty ? pattern + "?" : pattern;
}

std::string tail_pattern() {
    return "[0-9A-Za-z]{" + std::to_string(kTokenRandomChars + kTokenChecksumChars) + "}";
}

bool is_word_char(char c) {
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

std::string lowercase(std::string text) {
    for (char &c : text) {
        if (c >= 'A' && c <= 'Z') {
            c = static_cast<char>(c - 'A' + 'a');
        }
    }
    return text;
}

}  // namespace

void require_leak_report_size(std::int64_t tokens) {
    if (tokens > kMaxLeakReportTokens) {
        throw Error(sqlstate::kInvalidParameterValue,
                    "a leak report may list at most " + std::to_string(kMaxLeakReportTokens) +
                        " tokens, not " + std::to_string(tokens),
                    {}, "Report them in batches.");
    }
}

void check_leak_source(std::string_view source, std::int64_t char_length) {
    if (char_length > kMaxLeakSourceChars) {
        throw Error(sqlstate::kInvalidParameterValue,
                    "source must be at most " + std::to_string(kMaxLeakSourceChars) +
                        " characters, not " + std::to_string(char_length),
                    {}, "Name where the tokens were found, e.g. a URL.");
    }
    if (has_control_character(source)) {
        throw Error(sqlstate::kInvalidParameterValue, "source must not contain control characters");
    }
}

std::string scanner_regex(std::vector<std::string> prefixes) {
    return prefix_pattern(ordered_prefixes(std::move(prefixes)), "(") + tail_pattern();
}

std::string gitleaks_rule(std::vector<std::string> prefixes) {
    std::vector<std::string> ordered = ordered_prefixes(std::move(prefixes));
    // A word boundary before the token when every prefix starts with a word character, so
    // "xpat_..." is not taken for a "pat_" token; the 36 characters after are all word ones.
    bool bounded = std::all_of(ordered.begin(), ordered.end(), [](const std::string &p) {
        return !p.empty() && is_word_char(p[0]);
    });
    std::string regex = std::string(bounded ? "\\b" : "") + "(" + prefix_pattern(ordered, "(?:") +
                        tail_pattern() + ")\\b";
    std::string keywords;
    for (const std::string &prefix : ordered) {
        if (!prefix.empty()) {
            keywords += (keywords.empty() ? "\"" : ", \"") + lowercase(prefix) + "\"";
        }
    }
    std::string rule =
        "[[rules]]\n"
        "id = \"pg-pat-personal-access-token\"\n"
        "description = \"pg_pat personal access token\"\n"
        "regex = '''" +
        regex +
        "'''\n"
        "secretGroup = 1\n";
    // Without a prefix to look for first, gitleaks must run the regex on everything.
    if (!keywords.empty()) {
        rule += "keywords = [" + keywords + "]\n";
    }
    rule += "tags = [\"pg_pat\", \"token\"]\n";
    return rule;
}

}  // namespace pat
