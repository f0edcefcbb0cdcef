// Erasing secrets from memory we are done with.
#pragma once

#include <string>

namespace pat {

// Overwrites the string's characters in a way the compiler may not optimise away.
void wipe(std::string &secret) noexcept;

}  // namespace pat
