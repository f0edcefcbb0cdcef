// The rules of leak reports (pat_report_leaked) and the patterns a secret scanner needs
// (pat_scanner_rules): what a report may hold, and a POSIX regex or a gitleaks rule that
// matches tokens under any prefix pg_pat has issued under.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pat {

// At most this many tokens per report.
inline constexpr std::int64_t kMaxLeakReportTokens = 1000;
// At most this many characters of source (where the tokens were found).
inline constexpr std::int64_t kMaxLeakSourceChars = 200;

// 22023 for a report of more than kMaxLeakReportTokens tokens.
void require_leak_report_size(std::int64_t tokens);

// 22023 for a source longer than kMaxLeakSourceChars characters (char_length) or with control
// characters (it is shown to users and written to logs).
void check_leak_source(std::string_view source, std::int64_t char_length);

// A POSIX extended regex matching a token under any of the prefixes (each valid, see token.hpp;
// repeats ignored), e.g. "(pat_|glpat-)[0-9A-Za-z]{36}". A candidate still needs its checksum
// checked (README: "Secret scanning"). 22023 for no prefix.
std::string scanner_regex(std::vector<std::string> prefixes);

// The same as a gitleaks rule (TOML), with the prefixes as keywords.
std::string gitleaks_rule(std::vector<std::string> prefixes);

}  // namespace pat
