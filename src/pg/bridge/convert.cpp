// Conversions between PostgreSQL datums and the core's C++ types.
#include "pg/bridge/convert.hpp"

#include "core/error.hpp"
#include "pg/bridge/guard.hpp"

namespace pat::pg {

std::vector<std::optional<std::string>> text_array_elements(ArrayType *array) {
    Datum *elements = nullptr;
    bool *nulls = nullptr;
    int count = 0;
    call_pg([&] {
        if (ARR_NDIM(array) > 1) {
            ereport(ERROR, (errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
                            errmsg("scope arrays must be one-dimensional")));
        }
        deconstruct_array(array, TEXTOID, -1, false, TYPALIGN_INT, &elements, &nulls, &count);
    });
    std::vector<std::optional<std::string>> result;
    result.reserve(count);
    for (int i = 0; i < count; ++i) {
        if (nulls[i]) {
            result.emplace_back(std::nullopt);
        } else {
            // Cannot raise: a deconstructed array's elements are never compressed or external,
            // so DatumGetTextPP returns the pointer as it is.
            result.emplace_back(std::string(text_view(DatumGetTextPP(elements[i]))));
        }
    }
    return result;
}

ArrayType *make_text_array(const std::vector<std::string> &items) {
    return call_pg([&] {
        Datum *datums = static_cast<Datum *>(palloc(sizeof(Datum) * (items.size() + 1)));
        for (size_t i = 0; i < items.size(); ++i) {
            datums[i] = PointerGetDatum(
                cstring_to_text_with_len(items[i].data(), static_cast<int>(items[i].size())));
        }
        return construct_array(datums, static_cast<int>(items.size()), TEXTOID, -1, false,
                               TYPALIGN_INT);
    });
}

text *make_text(std::string_view value) {
    return call_pg(
        [&] { return cstring_to_text_with_len(value.data(), static_cast<int>(value.size())); });
}

bytea *make_bytea(const unsigned char *data, size_t size) {
    return call_pg([&] {
        auto *value = static_cast<bytea *>(palloc(VARHDRSZ + size));
        SET_VARSIZE(value, VARHDRSZ + size);
        memcpy(VARDATA(value), data, size);
        return value;
    });
}

inet *make_inet(const pat::IpAddress &address) {
    auto *value = call_pg([] { return static_cast<inet *>(palloc0(sizeof(inet))); });
    inet_struct *data = reinterpret_cast<inet_struct *>(VARDATA(value));
    bool v4 = address.family == pat::AddressFamily::ipv4;
    data->family = v4 ? PGSQL_AF_INET : PGSQL_AF_INET6;
    data->bits = v4 ? 32 : 128;
    memcpy(data->ipaddr, address.bytes, v4 ? 4 : 16);
    SET_INET_VARSIZE(value);
    return value;
}

}  // namespace pat::pg

namespace pat::pg {

TriggerData *trigger_call(FunctionCallInfo fcinfo, const char *function) {
    if (!CALLED_AS_TRIGGER(fcinfo)) {
        throw pat::Error(pat::sqlstate::kTriggerProtocolViolated,
                         std::string(function) + " must be called as a trigger");
    }
    return reinterpret_cast<TriggerData *>(fcinfo->context);
}

void require_arg(FunctionCallInfo fcinfo, int n, const char *what) {
    if (PG_ARGISNULL(n)) {
        throw pat::Error(pat::sqlstate::kNullValueNotAllowed,
                         std::string(what) + " must not be null");
    }
}

}  // namespace pat::pg
