// Scope names and sets of them.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace pat {

inline constexpr std::size_t kScopeMaxChars = 100;

// One or more segments joined by ':'; each segment is one or more ASCII letters, digits, '_',
// '-' or '.'; at most 100 characters in all. ("catalog:read", "workflowRuns:writeEvents")
bool is_valid_scope_name(std::string_view scope) noexcept;

// Membership in a sorted array of scope names (binary search; no allocation).
bool sorted_scopes_contain(const std::string_view *sorted, std::size_t count,
                           std::string_view scope) noexcept;

// Sorts items and removes duplicates in place; returns how many remain.
std::size_t sort_unique_scopes(std::string_view *items, std::size_t count) noexcept;

// The elements of both sorted, distinct arrays, written sorted to out (room for the smaller
// count); returns how many.
std::size_t intersect_sorted_scopes(const std::string_view *a, std::size_t a_count,
                                    const std::string_view *b, std::size_t b_count,
                                    std::string_view *out) noexcept;

// A sorted set of distinct scope names.
class ScopeSet {
  public:
    ScopeSet() = default;
    explicit ScopeSet(std::vector<std::string> scopes);  // sorts and removes duplicates

    bool contains(std::string_view scope) const noexcept;
    bool contains_all(const ScopeSet &other) const noexcept;
    ScopeSet intersect(const ScopeSet &other) const;
    // Elements of this set not in other, sorted.
    std::vector<std::string> missing_from(const ScopeSet &other) const;

    const std::vector<std::string> &items() const noexcept { return items_; }
    std::size_t size() const noexcept { return items_.size(); }
    bool empty() const noexcept { return items_.empty(); }

  private:
    std::vector<std::string> items_;
};

}  // namespace pat
