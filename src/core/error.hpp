// An error raised by the PostgreSQL-free core. It carries the SQLSTATE the glue reports, so the
// core decides what kind of failure it is without ever seeing a PostgreSQL header.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

namespace pat {

class Error : public std::runtime_error {
  public:
    // sqlstate: five characters, e.g. "22023". file and line are where it is thrown (the
    // compiler fills them in at the call site), so the server log names the C++ source line.
    Error(const char *sqlstate, std::string message, std::string detail = {}, std::string hint = {},
          const char *file = __builtin_FILE(), int line = __builtin_LINE())
        : std::runtime_error(std::move(message)),
          sqlstate_(sqlstate),
          detail_(std::move(detail)),
          hint_(std::move(hint)),
          file_(file),
          line_(line) {}

    const char *sqlstate() const noexcept { return sqlstate_; }
    const std::string &detail() const noexcept { return detail_; }
    const std::string &hint() const noexcept { return hint_; }
    const char *file() const noexcept { return file_; }
    int line() const noexcept { return line_; }

  private:
    const char *sqlstate_;
    std::string detail_;
    std::string hint_;
    const char *file_;
    int line_;
};

// SQLSTATEs the core uses, spelled as PostgreSQL's errcodes.txt does.
namespace sqlstate {
inline constexpr const char *kInvalidParameterValue = "22023";
inline constexpr const char *kInsufficientPrivilege = "42501";
inline constexpr const char *kInvalidAuthorization = "28000";
inline constexpr const char *kInvalidDatetimeFormat = "22007";
inline constexpr const char *kDatetimeFieldOverflow = "22008";
inline constexpr const char *kStringDataRightTruncation = "22001";
inline constexpr const char *kNullValueNotAllowed = "22004";
inline constexpr const char *kObjectNotInPrerequisiteState = "55000";
inline constexpr const char *kUndefinedColumn = "42703";
inline constexpr const char *kTriggerProtocolViolated = "39P01";
inline constexpr const char *kInternalError = "XX000";
inline constexpr const char *kFeatureNotSupported = "0A000";
inline constexpr const char *kProgramLimitExceeded = "54000";
// pg_pat's own class PT: a valid token over its rate limit (an API answers 429 with
// Retry-After), and one whose credits are spent (402, or 429 without Retry-After).
inline constexpr const char *kTokenRateLimited = "PT429";
inline constexpr const char *kTokenUsageExceeded = "PT402";
}  // namespace sqlstate

}  // namespace pat
