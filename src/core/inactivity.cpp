// How often pat.max_inactivity is applied; see inactivity.hpp.
#include "inactivity.hpp"

namespace pat {

bool inactivity_round_due(std::optional<std::int64_t> last, std::int64_t now,
                          std::int64_t max_inactivity) noexcept {
    // A clock that went back counts as a due round, as does a first one.
    return !last || now < *last || now - *last >= max_inactivity / kInactivityPrecision;
}

}  // namespace pat
