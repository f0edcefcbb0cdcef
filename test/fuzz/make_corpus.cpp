// Writes the seed corpus checked in under test/fuzz/corpus/ (token/ and scope/). Not part of the
// test run; only needed to regenerate the seeds (tokens come from pat::generate_token, so every
// regeneration gives different random parts):
//
//   d=$(mktemp -d)
//   clang++-14 -std=gnu++17 -I src test/fuzz/make_corpus.cpp
//   src/core/{token,base62,crc32,random}.cpp \
//       -lcrypto -o "$d/make_corpus"
//   rm -rf test/fuzz/corpus && "$d/make_corpus" test/fuzz/corpus
#include <sys/stat.h>

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/base62.hpp"
#include "core/crc32.hpp"
#include "core/token.hpp"

namespace {

std::string g_root;

void put(const char *target, const char *name, std::string_view bytes) {
    const std::string dir = g_root + "/" + target;
    ::mkdir(g_root.c_str(), 0755);
    ::mkdir(dir.c_str(), 0755);
    const std::string path = dir + "/" + name;
    FILE *f = std::fopen(path.c_str(), "wb");
    if (f == nullptr || std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size() ||
        std::fclose(f) != 0) {
        std::perror(path.c_str());
        std::exit(1);
    }
}

// body + its checksum, bypassing assemble_token's validation (for near-misses).
std::string with_checksum(const std::string &body) {
    return body + pat::base62_encode(pat::crc32(body), pat::kTokenChecksumChars);
}

// A string literal with embedded NULs, without its terminator.
template <std::size_t N>
std::string lit(const char (&a)[N]) {
    return std::string(a, N - 1);
}

}  // namespace

int main(int argc, char **argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s OUTPUT_DIR\n", argv[0]);
        return 2;
    }
    g_root = argv[1];
    const std::string random30 = "0123456789ABCDEFGHIJabcdefghij";
    const std::string max_prefix(pat::kTokenPrefixMaxChars, 'p');

    // --- token: valid tokens under various prefixes
    put("token", "valid-pat", pat::generate_token("pat_"));
    put("token", "valid-ghp", pat::generate_token("ghp_"));
    put("token", "valid-no-prefix", pat::generate_token(""));
    put("token", "valid-one-char-prefix", pat::generate_token("x"));
    put("token", "valid-dash-underscore", pat::generate_token("my-app_V2-"));
    put("token", "valid-max-prefix", pat::generate_token(max_prefix));
    put("token", "valid-fixed", pat::assemble_token("pat_", random30));
    const std::string good = pat::generate_token("pat_");

    // --- token: near misses
    std::string t = good;
    t.back() = t.back() == 'A' ? 'B' : 'A';
    put("token", "bad-checksum-last-char", t);
    t = good;
    t[4] = t[4] == 'A' ? 'B' : 'A';
    put("token", "bad-checksum-random-changed", t);
    put("token", "bad-too-short", good.substr(1, good.size() - 2));
    put("token", "bad-35-chars", good.substr(good.size() - 35));
    put("token", "bad-prefix-65", with_checksum(max_prefix + "p" + random30));
    put("token", "bad-prefix-dot", with_checksum("pat." + random30));
    put("token", "bad-prefix-colon", with_checksum("pat:" + random30));
    put("token", "bad-prefix-utf8", with_checksum("p\xC3\xA4t_" + random30));
    put("token", "bad-prefix-nul", with_checksum(lit("pat\0") + random30));
    put("token", "bad-random-underscore", with_checksum("pat_" + random30.substr(1) + "_"));
    put("token", "bad-checksum-dash", "pat_" + random30 + "ABC-EF");
    put("token", "bad-checksum-over-32-bits", "pat_" + random30 + "zzzzzz");
    put("token", "bad-trailing-newline", good + "\n");
    put("token", "bad-leading-space", " " + good);
    put("token", "bad-bearer", "Bearer " + good);
    put("token", "empty", "");
    put("token", "long-4096", std::string(4096 - good.size(), 'a') + good);
    put("token", "long-base62", std::string(200, 'z'));
    // --- token: base62 edge values (the target also decodes the whole input)
    put("token", "b62-uint64-max", "LygHa16AHYF");
    put("token", "b62-uint64-max-plus-1", "LygHa16AHYG");
    put("token", "b62-leading-zeros", std::string(40, '0') + "1");
    put("token", "b62-all-ff", std::string(8, '\xff'));

    // --- scope: single names (the whole input is checked against the grammar)
    put("scope", "valid-simple", "catalog:read");
    put("scope", "valid-camel", "workflowRuns:writeEvents");
    put("scope", "valid-one-char", "a");
    put("scope", "valid-all-chars", "aZ09_.-:b.c-d_e");
    put("scope", "valid-100", std::string(50, 'a') + ":" + std::string(49, 'b'));
    put("scope", "bad-101", std::string(50, 'a') + ":" + std::string(50, 'b'));
    put("scope", "bad-colon-only", ":");
    put("scope", "bad-leading-colon", ":read");
    put("scope", "bad-trailing-colon", "catalog:");
    put("scope", "bad-double-colon", "catalog::read");
    put("scope", "bad-space", "catalog read");
    put("scope", "bad-utf8", "caf\xC3\xA9:read");
    put("scope", "bad-quote-semicolon", "a';drop table x;--");
    put("scope", "bad-star", "catalog:*");
    put("scope", "empty", "");
    put("scope", "long-1000", std::string(1000, 'a'));
    // --- scope: two lists (separated by NUL, one name per line)
    put("scope", "sets-subset", lit("catalog:read\ncatalog:write\nadmin\0catalog:read\nadmin"));
    put("scope", "sets-disjoint", lit("a\nb\nc\0d\ne"));
    put("scope", "sets-duplicates", lit("b\na\nb\na\n\0a\na\nz"));
    put("scope", "sets-empty-lines", lit("\n\n\0\n"));
    put("scope", "sets-high-bytes", lit("\xff\n\x80\na\0\x7f\n\xff"));
    return 0;
}
