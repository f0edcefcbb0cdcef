// Scope name grammar and set operations on sorted scope lists.
#include "scope.hpp"

#include <algorithm>
#include <iterator>
#include <utility>

namespace pat {

namespace {

// Segment characters: ASCII letters, digits, '_', '-', '.' (explicit, so no locale applies).
bool is_segment_char(char c) noexcept {
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
           c == '-' || c == '.';
}

}  // namespace

// Whether scope follows the grammar: non-empty segments separated by single colons.
bool is_valid_scope_name(std::string_view scope) noexcept {
    if (scope.empty() || scope.size() > kScopeMaxChars)
        return false;
    bool segment_empty = true;
    for (char c : scope) {
        if (c == ':') {
            if (segment_empty)
                return false;
            segment_empty = true;
        } else if (is_segment_char(c)) {
            segment_empty = false;
        } else {
            return false;
        }
    }
    return !segment_empty;
}

bool sorted_scopes_contain(const std::string_view *sorted, std::size_t count,
                           std::string_view scope) noexcept {
    const std::string_view *end = sorted + count;
    const std::string_view *it = std::lower_bound(sorted, end, scope);
    return it != end && *it == scope;
}

std::size_t sort_unique_scopes(std::string_view *items, std::size_t count) noexcept {
    std::sort(items, items + count);
    return static_cast<std::size_t>(std::unique(items, items + count) - items);
}

std::size_t intersect_sorted_scopes(const std::string_view *a, std::size_t a_count,
                                    const std::string_view *b, std::size_t b_count,
                                    std::string_view *out) noexcept {
    return static_cast<std::size_t>(std::set_intersection(a, a + a_count, b, b + b_count, out) -
                                    out);
}

// Normalizes to sorted and distinct, which every other operation relies on.
ScopeSet::ScopeSet(std::vector<std::string> scopes) : items_(std::move(scopes)) {
    std::sort(items_.begin(), items_.end());
    items_.erase(std::unique(items_.begin(), items_.end()), items_.end());
}

// Membership by binary search.
bool ScopeSet::contains(std::string_view scope) const noexcept {
    const auto it = std::lower_bound(
        items_.begin(), items_.end(), scope,
        [](const std::string &item, std::string_view value) { return item < value; });
    return it != items_.end() && *it == scope;
}

// Whether every scope of other is in this set.
bool ScopeSet::contains_all(const ScopeSet &other) const noexcept {
    return std::includes(items_.begin(), items_.end(), other.items_.begin(), other.items_.end());
}

// Scopes in both sets.
ScopeSet ScopeSet::intersect(const ScopeSet &other) const {
    ScopeSet result;
    std::set_intersection(items_.begin(), items_.end(), other.items_.begin(), other.items_.end(),
                          std::back_inserter(result.items_));
    return result;
}

// Scopes of this set that other lacks, e.g. to name what a token is missing.
std::vector<std::string> ScopeSet::missing_from(const ScopeSet &other) const {
    std::vector<std::string> missing;
    std::set_difference(items_.begin(), items_.end(), other.items_.begin(), other.items_.end(),
                        std::back_inserter(missing));
    return missing;
}

}  // namespace pat
