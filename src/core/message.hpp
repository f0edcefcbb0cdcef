// How a value a caller supplied appears inside an error message: whole when short, else its
// first characters and "...", cut on a UTF-8 character boundary. A megabyte of input then costs
// the server log a line, not a megabyte, and a cut never leaves half a character behind.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace pat {

inline constexpr std::size_t kShownMaxChars = 100;

// value as an error message shows it: at most max_chars characters (UTF-8 lead bytes counted),
// followed by "..." when longer.
std::string shown(std::string_view value, std::size_t max_chars = kShownMaxChars);

}  // namespace pat
