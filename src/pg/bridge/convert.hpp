// Conversions between PostgreSQL datums and the core's C++ types.
#pragma once

#include "pg/bridge/postgres.hpp"

#include "core/restrictions.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pat::pg {

// The bytes of a detoasted text value (valid while the value is).
inline std::string_view text_view(const text *value) {
    return {VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value)};
}

// A text[] argument as strings; nullopt stands for a NULL element. Throws PgError on bad input.
std::vector<std::optional<std::string>> text_array_elements(ArrayType *array);

// A palloc'd text[] of the given strings, in order.
ArrayType *make_text_array(const std::vector<std::string> &items);

// A palloc'd text value.
text *make_text(std::string_view value);

// A palloc'd bytea of size bytes from data (a digest, a hash).
bytea *make_bytea(const unsigned char *data, size_t size);

// A palloc'd inet of a host's address (/32 or /128).
inet *make_inet(const pat::IpAddress &address);

}  // namespace pat::pg

namespace pat::pg {

// Throws pat::Error 22004 ("<what> must not be null") when argument n is NULL.
void require_arg(FunctionCallInfo fcinfo, int n, const char *what);

// The trigger data of a trigger call; throws pat::Error 39P01 ("<function> must be called as a
// trigger") for any other call.
TriggerData *trigger_call(FunctionCallInfo fcinfo, const char *function);

}  // namespace pat::pg
