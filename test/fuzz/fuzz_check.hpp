// Reporting a violated property from a fuzz target: the input, escaped, then abort() so that
// libFuzzer saves it as a crash reproducer.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string_view>

[[noreturn]] inline void fail(const char *what, std::string_view input) {
    std::fprintf(stderr, "\n*** PROPERTY VIOLATED: %s\n*** input (%zu bytes): \"", what,
                 input.size());
    for (unsigned char c : input) {
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
            std::fputc(c, stderr);
        else
            std::fprintf(stderr, "\\x%02x", c);
    }
    std::fprintf(stderr, "\"\n");
    std::abort();
}

#define CHECK(cond, what, input) \
    do {                         \
        if (!(cond))             \
            fail(what, input);   \
    } while (0)
