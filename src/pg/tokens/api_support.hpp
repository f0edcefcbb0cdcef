// What the API functions share: arguments checked by the core's rules, and the one clock every
// rule about a token's state reads.
#pragma once

#include "pg/bridge/postgres.hpp"

#include <cstddef>
#include <string_view>
#include <type_traits>

#include "pg/bridge/guard.hpp"
#include "pg/bridge/spi_support.hpp"
#include "pg/tokens/token_store.hpp"

namespace pat::pg {

// The clock of every rule about a token's state (valid, expired, in the future): the current
// statement's start. Validation, listing and expiry checks all read it, so one statement never
// sees a token both expired and active.
inline TimestampTz policy_clock() {
    return GetCurrentStatementStartTimestamp();
}

// Text argument n; 22004 "<what> must not be null" when NULL.
text *required_text(FunctionCallInfo fcinfo, int n, const char *what);

// The length of value in characters of the database encoding. Cannot raise (see the .cpp).
std::size_t char_length(const text *value);

// The first chars characters of value (whole characters), for messages. Cannot raise.
std::string_view leading_chars(std::string_view value, int chars);

// The user_id argument n, checked by the core's rule (22004, 22023).
text *user_id_argument(FunctionCallInfo fcinfo, int n);

// The token_id argument n (22004 when NULL).
pg_uuid_t *token_id_argument(FunctionCallInfo fcinfo, int n);

// Runs fn through call_pg(), inside SPI as the owner of pg_pat's tables with the search path pinned
// (begin_owner_spi), and returns what fn returns. An error is thrown as PgError.
template <typename Fn>
auto with_owner_spi(Fn fn) -> decltype(fn()) {
    return call_pg([&] {
        OwnerSpi spi = begin_owner_spi(tokens_relation());
        if constexpr (std::is_void_v<decltype(fn())>) {
            fn();
            end_owner_spi(spi);
        } else {
            auto result = fn();
            end_owner_spi(spi);
            return result;
        }
    });
}

}  // namespace pat::pg
