// libFuzzer target: scope grammar and scope sets (src/core/scope.*).
//
// Input layout: two lists of strings separated by the first NUL byte; within a list, strings are
// separated by '\n' (scope names cannot contain either byte). Strings need not be valid scopes.
//
// Properties checked:
//  - pat::is_valid_scope_name never crashes, reads only its input (each string is checked in its
//    own exactly-sized heap buffer) and agrees with a reference: length 1..100 and std::regex
//    ^[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)*$ — on the whole input and on every string;
//  - ScopeSet(list) holds exactly the distinct strings of the list, sorted strictly ascending, and
//    building it again from its own items changes nothing;
//  - contains / sorted_scopes_contain agree with std::set membership for every string;
//  - intersect is sorted and distinct, a subset of both operands, equal to the reference
//    intersection and symmetric; missing_from equals the reference difference;
//  - contains_all(B) == (every element of B is in A) == B.missing_from(A).empty()
//    == (A.intersect(B) == B).
// A violated property calls abort() after printing what differed, which libFuzzer reports as a
// crash and saves as an artifact.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <regex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/scope.hpp"

#include "fuzz_check.hpp"

namespace {

// Reference grammar. The length test comes first, so the regex only ever sees <= 100 characters
// (libstdc++'s regex executor recurses per character and would overflow the stack on megabytes).
bool ref_valid_scope(std::string_view s) {
    static const std::regex kGrammar("^[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)*$",
                                     std::regex::ECMAScript);
    if (s.empty() || s.size() > 100)
        return false;
    return std::regex_match(s.begin(), s.end(), kGrammar);
}

// is_valid_scope_name on a private exact-size copy, so ASan catches any read past the end.
bool checked_valid_scope(std::string_view s) {
    char *buf = static_cast<char *>(std::malloc(s.empty() ? 1 : s.size()));
    if (buf == nullptr)
        std::abort();
    if (!s.empty())
        std::memcpy(buf, s.data(), s.size());
    const bool result = pat::is_valid_scope_name(std::string_view(buf, s.size()));
    std::free(buf);
    return result;
}

std::vector<std::string> split_lines(std::string_view s) {
    std::vector<std::string> out;
    if (s.empty())
        return out;
    std::size_t start = 0;
    for (;;) {
        const std::size_t nl = s.find('\n', start);
        out.emplace_back(
            s.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start));
        if (nl == std::string_view::npos)
            break;
        start = nl + 1;
    }
    return out;
}

bool strictly_sorted(const std::vector<std::string> &v) {
    for (std::size_t i = 1; i < v.size(); ++i) {
        if (!(v[i - 1] < v[i]))
            return false;
    }
    return true;
}

void check_set_shape(const pat::ScopeSet &set, const std::set<std::string> &want, const char *what,
                     std::string_view input) {
    CHECK(strictly_sorted(set.items()), what, input);
    CHECK(set.size() == want.size() && set.empty() == want.empty(), what, input);
    CHECK(std::equal(set.items().begin(), set.items().end(), want.begin(), want.end()), what,
          input);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char *>(data), size);

    // Grammar, on the whole input.
    CHECK(checked_valid_scope(input) == ref_valid_scope(input),
          "is_valid_scope_name disagrees with the reference on the whole input", input);

    // Two lists.
    const std::size_t nul = input.find('\0');
    const std::vector<std::string> list_a = split_lines(input.substr(0, nul));
    const std::vector<std::string> list_b = nul == std::string_view::npos
                                                ? std::vector<std::string>{}
                                                : split_lines(input.substr(nul + 1));

    std::vector<std::string> all(list_a);
    all.insert(all.end(), list_b.begin(), list_b.end());
    for (const std::string &s : all)
        CHECK(checked_valid_scope(s) == ref_valid_scope(s),
              "is_valid_scope_name disagrees with the reference on one line", input);

    const std::set<std::string> ref_a(list_a.begin(), list_a.end());
    const std::set<std::string> ref_b(list_b.begin(), list_b.end());
    const pat::ScopeSet a(list_a), b(list_b);
    check_set_shape(a, ref_a, "ScopeSet A is not the sorted distinct list", input);
    check_set_shape(b, ref_b, "ScopeSet B is not the sorted distinct list", input);
    check_set_shape(pat::ScopeSet(a.items()), ref_a, "ScopeSet(A.items()) changed A", input);

    // Membership, by the class and by the free function on a string_view array.
    std::vector<std::string_view> views_a(a.items().begin(), a.items().end());
    for (const std::string &s : all) {
        const bool in_a = ref_a.count(s) > 0;
        CHECK(a.contains(s) == in_a, "ScopeSet::contains disagrees with std::set", input);
        CHECK(b.contains(s) == (ref_b.count(s) > 0), "ScopeSet::contains disagrees with std::set",
              input);
        CHECK(pat::sorted_scopes_contain(views_a.data(), views_a.size(), s) == in_a,
              "sorted_scopes_contain disagrees with std::set", input);
        CHECK(!pat::sorted_scopes_contain(nullptr, 0, s), "sorted_scopes_contain on nothing",
              input);
        CHECK(!pat::ScopeSet().contains(s), "empty ScopeSet contains something", input);
    }

    // Intersection.
    std::set<std::string> ref_ab;
    std::set_intersection(ref_a.begin(), ref_a.end(), ref_b.begin(), ref_b.end(),
                          std::inserter(ref_ab, ref_ab.end()));
    const pat::ScopeSet ab = a.intersect(b), ba = b.intersect(a);
    check_set_shape(ab, ref_ab, "A.intersect(B) is not the reference intersection", input);
    check_set_shape(ba, ref_ab, "B.intersect(A) is not the reference intersection", input);
    for (const std::string &s : ab.items())
        CHECK(a.contains(s) && b.contains(s), "intersection element missing from an operand",
              input);
    CHECK(a.contains_all(ab) && b.contains_all(ab), "intersection not contained in both operands",
          input);

    // Difference.
    std::vector<std::string> ref_b_minus_a, ref_a_minus_b;
    std::set_difference(ref_b.begin(), ref_b.end(), ref_a.begin(), ref_a.end(),
                        std::back_inserter(ref_b_minus_a));
    std::set_difference(ref_a.begin(), ref_a.end(), ref_b.begin(), ref_b.end(),
                        std::back_inserter(ref_a_minus_b));
    CHECK(b.missing_from(a) == ref_b_minus_a, "B.missing_from(A) is not the reference difference",
          input);
    CHECK(a.missing_from(b) == ref_a_minus_b, "A.missing_from(B) is not the reference difference",
          input);

    // contains_all, four ways.
    bool ref_all = true;
    for (const std::string &s : ref_b)
        ref_all = ref_all && ref_a.count(s) > 0;
    CHECK(a.contains_all(b) == ref_all, "A.contains_all(B) disagrees with the reference", input);
    CHECK(a.contains_all(b) == b.missing_from(a).empty(), "contains_all vs missing_from", input);
    CHECK(a.contains_all(b) == (ab.items() == b.items()), "contains_all vs intersect", input);
    CHECK(a.contains_all(a) && a.contains_all(pat::ScopeSet()), "contains_all not reflexive",
          input);
    CHECK(pat::ScopeSet().contains_all(b) == b.empty(), "empty set contains_all", input);
    return 0;
}
