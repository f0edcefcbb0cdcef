// libFuzzer target: token text parsing/checksum (src/core/token.*) and base62 (src/core/base62.*).
//
// Properties checked on every input (any bytes):
//  - pat::is_well_formed_token never crashes, never allocates (ASan malloc hooks count every
//    malloc/new during the call) and reads no byte past the first kTokenMaxChars of its input (the
//    rest of the buffer is ASan-poisoned during the call);
//  - it agrees with a slow reference written here from the documented format (own CRC-32, own
//    base62), and with pat::assemble_token rebuilt from the parsed prefix and random part;
//  - when the input is well-formed, the last 6 characters base62-decode to crc32 of the rest and
//    every single-byte substitution makes it ill-formed;
//  - assemble_token on parts taken from the input throws exactly when the parts are invalid, and
//    what it returns is well-formed;
//  - base62_decode agrees with a reference decoder; decoded values re-encode to the same digits;
//    base62_encode of a 64-bit value from the input round-trips and throws exactly when the value
//    does not fit the width.
// A violated property calls abort() after printing what differed, which libFuzzer reports as a
// crash and saves as an artifact.
#include <sanitizer/allocator_interface.h>
#include <sanitizer/asan_interface.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "core/base62.hpp"
#include "core/crc32.hpp"
#include "core/token.hpp"

#include "fuzz_check.hpp"

namespace {

// ---------------------------------------------------------------------------------------------
// Allocation counting: ASan calls these hooks for every malloc/new/free in the process.

thread_local bool t_counting = false;
thread_local std::size_t t_allocations = 0;
std::string *volatile g_probe;  // volatile so the probe allocation is not optimized away

void malloc_hook(const volatile void *, std::size_t) {
    if (t_counting)
        ++t_allocations;
}
void free_hook(const volatile void *) {}

// ---------------------------------------------------------------------------------------------
// Slow reference implementations, written from the format description, not from the core code.

constexpr char kAlphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

int ref_digit(char c) {
    for (int i = 0; i < 62; ++i) {
        if (kAlphabet[i] == c)
            return i;
    }
    return -1;
}

bool ref_prefix_char(char c) {
    return ref_digit(c) >= 0 || c == '_' || c == '-';
}

// Bit-at-a-time CRC-32 (IEEE, reflected, init/final xor 0xFFFFFFFF).
std::uint32_t ref_crc32(std::string_view s) {
    std::uint32_t crc = 0xFFFFFFFFU;
    for (unsigned char c : s) {
        crc ^= c;
        for (int k = 0; k < 8; ++k)
            crc = (crc >> 1) ^ (0xEDB88320U & (0U - (crc & 1U)));
    }
    return ~crc;
}

// Fixed width base62, most significant digit first; nullopt if value does not fit.
std::optional<std::string> ref_encode(std::uint64_t value, std::size_t width) {
    std::string out;
    for (std::size_t i = 0; i < width; ++i) {
        out.insert(out.begin(), kAlphabet[value % 62]);
        value /= 62;
    }
    if (value != 0)
        return std::nullopt;
    return out;
}

// Big-number decode with 128-bit arithmetic; nullopt on empty, bad char or > UINT64_MAX.
std::optional<std::uint64_t> ref_decode(std::string_view s) {
    if (s.empty())
        return std::nullopt;
    unsigned __int128 v = 0;
    for (char c : s) {
        const int d = ref_digit(c);
        if (d < 0)
            return std::nullopt;
        v = v * 62 + static_cast<unsigned>(d);
        if (v > UINT64_MAX)
            return std::nullopt;
    }
    return static_cast<std::uint64_t>(v);
}

// 62^w, saturated at 2^127 (w <= 21 is exact).
unsigned __int128 pow62(std::size_t w) {
    unsigned __int128 p = 1;
    for (std::size_t i = 0; i < w && p < (static_cast<unsigned __int128>(1) << 120); ++i)
        p *= 62;
    return p;
}

constexpr std::size_t kRandom = 30, kChecksum = 6, kPrefixMax = 64;

bool ref_prefix_ok(std::string_view p) {
    if (p.size() > kPrefixMax)
        return false;
    for (char c : p) {
        if (!ref_prefix_char(c))
            return false;
    }
    return true;
}

bool ref_random_ok(std::string_view r) {
    if (r.size() != kRandom)
        return false;
    for (char c : r) {
        if (ref_digit(c) < 0)
            return false;
    }
    return true;
}

// <prefix 0..64 of [A-Za-z0-9_-]><30 base62><6 base62 = CRC-32 of everything before>.
bool ref_well_formed(std::string_view t) {
    if (t.size() < kRandom + kChecksum || t.size() > kPrefixMax + kRandom + kChecksum)
        return false;
    const std::size_t plen = t.size() - kRandom - kChecksum;
    if (!ref_prefix_ok(t.substr(0, plen)) || !ref_random_ok(t.substr(plen, kRandom)))
        return false;
    const std::optional<std::string> sum =
        ref_encode(ref_crc32(t.substr(0, plen + kRandom)), kChecksum);
    return sum && *sum == t.substr(plen + kRandom);
}

// ---------------------------------------------------------------------------------------------
// The system under test, called the way the contract demands: no allocation, no reads beyond
// kTokenMaxChars.

bool checked_is_well_formed(std::string_view input) {
    const std::size_t n = input.size();
    char *buf = static_cast<char *>(std::malloc(n == 0 ? 1 : n));
    if (buf == nullptr)
        std::abort();
    if (n > 0)
        std::memcpy(buf, input.data(), n);
    const std::size_t poisoned = n > pat::kTokenMaxChars ? n - pat::kTokenMaxChars : 0;
    if (poisoned > 0)
        ASAN_POISON_MEMORY_REGION(buf + pat::kTokenMaxChars, poisoned);

    t_allocations = 0;
    t_counting = true;
    const bool result = pat::is_well_formed_token(std::string_view(buf, n));
    t_counting = false;
    const std::size_t allocations = t_allocations;

    if (poisoned > 0)
        ASAN_UNPOISON_MEMORY_REGION(buf + pat::kTokenMaxChars, poisoned);
    std::free(buf);
    CHECK(allocations == 0, "is_well_formed_token allocated", input);
    return result;
}

// ---------------------------------------------------------------------------------------------

void check_token(std::string_view input) {
    const bool got = checked_is_well_formed(input);
    const bool want = ref_well_formed(input);
    CHECK(got == want,
          got ? "is_well_formed_token accepted what the reference rejects"
              : "is_well_formed_token rejected what the reference accepts",
          input);

    // Rebuild from the parts as the parser splits them (from the end).
    if (input.size() >= kRandom + kChecksum && input.size() <= pat::kTokenMaxChars) {
        const std::size_t plen = input.size() - kRandom - kChecksum;
        const std::string_view prefix = input.substr(0, plen);
        const std::string_view random = input.substr(plen, kRandom);
        const bool parts_ok = ref_prefix_ok(prefix) && ref_random_ok(random);
        CHECK(pat::is_valid_token_prefix(prefix) == ref_prefix_ok(prefix),
              "is_valid_token_prefix disagrees with the reference", input);
        std::string rebuilt;
        bool threw = false;
        try {
            rebuilt = pat::assemble_token(prefix, random);
        } catch (const std::invalid_argument &) {
            threw = true;
        }
        CHECK(threw == !parts_ok, "assemble_token threw/did not throw wrongly", input);
        if (!threw)
            CHECK((rebuilt == input) == got, "assemble_token(parsed parts) == input disagrees",
                  input);
    }

    if (got) {
        const std::size_t body = input.size() - kChecksum;
        const std::optional<std::uint64_t> sum = pat::base62_decode(input.substr(body));
        CHECK(sum && *sum == pat::crc32(input.substr(0, body)),
              "well-formed token whose checksum does not decode to crc32 of the rest", input);
        // Any single-byte substitution must be caught (CRC-32 detects every error burst of <= 32
        // bits, and the checksum digits are a bijection).
        std::string mutated(input);
        for (std::size_t i = 0; i < mutated.size(); ++i) {
            const char orig = mutated[i];
            for (const char c : {static_cast<char>(orig + 1), static_cast<char>(orig - 1),
                                 static_cast<char>(orig ^ 0x20), '_', '0', 'z'}) {
                if (c == orig)
                    continue;
                mutated[i] = c;
                CHECK(!pat::is_well_formed_token(mutated),
                      "single-byte substitution still well-formed", input);
            }
            mutated[i] = orig;
        }
    }
}

// Parts derived from the input, mapped into the legal alphabets: assemble_token must accept them
// and its result must be well-formed; raw (unmapped) parts must throw exactly when invalid.
void check_assemble(std::string_view input) {
    if (input.size() < 1 + kRandom)
        return;
    const std::size_t plen = static_cast<unsigned char>(input[0]) % (kPrefixMax + 2);  // 0..65
    const std::string_view rest = input.substr(1);
    if (rest.size() < kRandom)
        return;
    const std::string_view raw_random = rest.substr(0, kRandom);
    const std::string_view raw_prefix = rest.substr(kRandom, plen);

    static constexpr char kPrefixAlphabet[] =
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-";
    std::string prefix, random;
    for (unsigned char c : raw_prefix)
        prefix += kPrefixAlphabet[c % 64];
    for (unsigned char c : raw_random)
        random += kAlphabet[c % 62];

    bool threw = false;
    std::string token;
    try {
        token = pat::assemble_token(prefix, random);
    } catch (const std::invalid_argument &) {
        threw = true;
    }
    CHECK(threw == (prefix.size() > kPrefixMax), "assemble_token on mapped parts threw wrongly",
          input);
    if (!threw) {
        CHECK(token.size() == prefix.size() + kRandom + kChecksum,
              "assembled token has wrong length", input);
        CHECK(token.compare(0, prefix.size(), prefix) == 0 &&
                  token.compare(prefix.size(), kRandom, random) == 0,
              "assembled token does not start with prefix + random part", input);
        CHECK(pat::is_well_formed_token(token), "assembled token is not well-formed", input);
        CHECK(ref_well_formed(token), "assembled token fails the reference check", input);
    }

    threw = false;
    try {
        token = pat::assemble_token(raw_prefix, raw_random);
    } catch (const std::invalid_argument &) {
        threw = true;
    }
    CHECK(threw == !(ref_prefix_ok(raw_prefix) && ref_random_ok(raw_random)),
          "assemble_token on raw parts threw/did not throw wrongly", input);
    if (!threw)
        CHECK(pat::is_well_formed_token(token), "assembled raw token is not well-formed", input);
}

void check_base62(std::string_view input) {
    // Decode the whole input and its last 6 characters (the checksum position).
    for (std::string_view digits : {input, input.substr(input.size() > 6 ? input.size() - 6 : 0)}) {
        const std::optional<std::uint64_t> got = pat::base62_decode(digits);
        const std::optional<std::uint64_t> want = ref_decode(digits);
        CHECK(got == want, "base62_decode disagrees with the reference", input);
        if (got) {
            std::string again;
            try {
                again = pat::base62_encode(*got, digits.size());
            } catch (const std::invalid_argument &) {
                fail("base62_encode threw on a decoded value at the original width", input);
            }
            CHECK(again == digits, "base62_encode(base62_decode(s), |s|) != s", input);
        }
    }

    // A 64-bit value from the first 8 bytes; every width from 0 to 12.
    if (input.size() >= 8) {
        std::uint64_t value = 0;
        std::memcpy(&value, input.data(), 8);
        for (std::size_t width = 0; width <= 12; ++width) {
            const bool fits = static_cast<unsigned __int128>(value) < pow62(width);
            std::string enc;
            bool threw = false;
            try {
                enc = pat::base62_encode(value, width);
            } catch (const std::invalid_argument &) {
                threw = true;
            }
            CHECK(threw == !fits, "base62_encode threw/did not throw wrongly", input);
            if (threw)
                continue;
            const std::optional<std::string> want = ref_encode(value, width);
            CHECK(want && enc == *want, "base62_encode disagrees with the reference", input);
            if (width > 0)
                CHECK(pat::base62_decode(enc) == value, "base62 round trip lost the value", input);
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
    __sanitizer_install_malloc_and_free_hooks(malloc_hook, free_hook);
    // Self-test of the references against known answers, so a broken reference cannot hide bugs.
    if (ref_crc32("123456789") != 0xCBF43926U ||
        ref_encode(61, 2) != std::optional<std::string>("0z") ||
        ref_decode("LygHa16AHYF") != std::optional<std::uint64_t>(UINT64_MAX) ||
        ref_decode("LygHa16AHYG").has_value()) {
        std::fprintf(stderr, "token_fuzzer: reference self-test failed\n");
        std::abort();
    }
    // The allocation counter must see allocations, or "never allocates" is not being checked.
    t_allocations = 0;
    t_counting = true;
    g_probe = new std::string(100, 'x');
    t_counting = false;
    delete g_probe;
    if (t_allocations == 0) {
        std::fprintf(stderr, "token_fuzzer: malloc hooks are not called; built without ASan?\n");
        std::abort();
    }
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char *>(data), size);
    check_token(input);
    check_assemble(input);
    check_base62(input);
    return 0;
}
