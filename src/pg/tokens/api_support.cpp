// What the API functions share; see api_support.hpp.
#include "pg/tokens/api_support.hpp"

#include "core/policy.hpp"
#include "pg/bridge/convert.hpp"

namespace pat::pg {

text *required_text(FunctionCallInfo fcinfo, int n, const char *what) {
    require_arg(fcinfo, n, what);
    return PG_GETARG_TEXT_PP(n);
}

// Both walk the bytes by pg_mblen(), which only reads a character's first byte and cannot raise
// (pg_mbstrlen_with_len() and pg_mbcharcliplen() raise 22021 on a cut-off character).
std::size_t char_length(const text *value) {
    const char *bytes = VARDATA_ANY(value);
    std::size_t size = VARSIZE_ANY_EXHDR(value);
    std::size_t chars = 0;
    for (std::size_t at = 0; at < size; ++chars) {
        at += static_cast<std::size_t>(pg_mblen(bytes + at));
    }
    return chars;
}

std::string_view leading_chars(std::string_view value, int chars) {
    std::size_t at = 0;
    for (int n = 0; n < chars && at < value.size(); ++n) {
        std::size_t next = at + static_cast<std::size_t>(pg_mblen(value.data() + at));
        if (next > value.size()) {
            break;  // a cut-off character: stop before it
        }
        at = next;
    }
    return value.substr(0, at);
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
