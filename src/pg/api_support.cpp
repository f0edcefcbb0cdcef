// What the API functions share; see api_support.hpp.
#include "pg/api_support.hpp"

#include "core/policy.hpp"
#include "pg/convert.hpp"

namespace pat::pg {

TimestampTz policy_clock() {
    return GetCurrentStatementStartTimestamp();
}

text *required_text(FunctionCallInfo fcinfo, int n, const char *what) {
    require_arg(fcinfo, n, what);
    return PG_GETARG_TEXT_PP(n);
}

std::size_t char_length(const text *value) {
    // pg_mbstrlen_with_len only walks the bytes by the encoding's character lengths.
    return static_cast<std::size_t>(
        pg_mbstrlen_with_len(VARDATA_ANY(value), static_cast<int>(VARSIZE_ANY_EXHDR(value))));
}

std::string_view leading_chars(std::string_view value, int chars) {
    // pg_mbcharcliplen only walks the bytes, as above.
    int bytes = pg_mbcharcliplen(value.data(), static_cast<int>(value.size()), chars);
    return value.substr(0, static_cast<std::size_t>(bytes));
}

text *user_id_argument(FunctionCallInfo fcinfo, int n) {
    text *user_id = required_text(fcinfo, n, "user_id");
    pat::check_user_id(text_view(user_id), char_length(user_id));
    return user_id;
}

pg_uuid_t *token_id_argument(FunctionCallInfo fcinfo, int n) {
    require_arg(fcinfo, n, "token_id");
    return PG_GETARG_UUID_P(n);
}

}  // namespace pat::pg
