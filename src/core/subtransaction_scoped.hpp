// A value that belongs to a transaction and follows its subtransactions (savepoints, PL/pgSQL
// exception blocks): rolling one back restores exactly the value that held when it began,
// whatever happened inside it and at any depth; releasing one hands its change to the parent.
// Levels are subtransaction ids, as PostgreSQL numbers them (1 for the top level, larger for
// ones started later): the caller passes them in and forwards PostgreSQL's subtransaction and
// transaction callbacks, so this stays free of PostgreSQL.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

namespace pat {

template <typename T>
class SubtransactionScoped {
  public:
    using Level = std::uint32_t;

    // The value now, nullptr when none.
    const T *current() const noexcept {
        return levels_.empty() || !levels_.back().value ? nullptr : &*levels_.back().value;
    }

    // Makes value the current one in level (the current subtransaction). Throws
    // std::bad_alloc, leaving the current value unchanged.
    void set(Level level, T value) { change(level, std::optional<T>(std::move(value))); }

    // Leaves no value in level (the current subtransaction).
    void reset(Level level) {
        if (current() != nullptr) {
            change(level, std::nullopt);
        }
    }

    // Subtransaction level rolled back: what held before it comes back.
    void abort(Level level) noexcept {
        if (!levels_.empty() && levels_.back().level == level) {
            levels_.pop_back();
        }
    }

    // Subtransaction level released into parent: its change becomes the parent's.
    void commit(Level level, Level parent) noexcept {
        if (levels_.empty() || levels_.back().level != level) {
            return;
        }
        std::size_t count = levels_.size();
        if (count >= 2 && levels_[count - 2].level == parent) {
            // The parent changed it too: what held before the parent is kept below it.
            levels_[count - 2].value = std::move(levels_.back().value);
            levels_.pop_back();
        } else {
            levels_.back().level = parent;
        }
    }

    // The transaction ended (either way): no value.
    void end_transaction() noexcept { levels_.clear(); }

  private:
    // The value each level that changed it left, innermost last: the entry below a level's
    // is what held when that level began.
    struct Entry {
        Level level;
        std::optional<T> value;
    };

    void change(Level level, std::optional<T> value) {
        if (!levels_.empty() && levels_.back().level == level) {
            levels_.back().value = std::move(value);
        } else {
            levels_.push_back(Entry{level, std::move(value)});
        }
    }

    std::vector<Entry> levels_;
};

}  // namespace pat
