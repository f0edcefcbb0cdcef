// A token's limits as PostgreSQL values; see restrictions_data.hpp.
#include "pg/tokens/restrictions_data.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "core/error.hpp"
#include "pg/bridge/convert.hpp"
#include "pg/bridge/guard.hpp"

namespace pat::pg {

namespace {

pat::Network network_from(const inet *value) {
    const auto *data = reinterpret_cast<const inet_struct *>(VARDATA_ANY(value));
    pat::Network network;
    network.family =
        data->family == PGSQL_AF_INET ? pat::AddressFamily::ipv4 : pat::AddressFamily::ipv6;
    network.bits = data->bits;
    std::memcpy(network.bytes, data->ipaddr, network.family == pat::AddressFamily::ipv4 ? 4 : 16);
    return network;
}

[[noreturn]] void throw_bad_resources(const std::string &why) {
    throw pat::Error(pat::sqlstate::kInvalidParameterValue,
                     "resources must map scopes to lists "
                     "of resource ids: " +
                         why,
                     "", "For example {\"notes:write\": [\"42\", \"43\"]}.");
}

}  // namespace

std::vector<pat::Network> networks_of(ArrayType *networks) {
    std::vector<pat::Network> result;
    if (networks == nullptr) {
        return result;
    }
    Datum *elements = nullptr;
    bool *nulls = nullptr;
    int count = call_pg([&] {
        int found = 0;
        deconstruct_array(networks, CIDROID, -1, false, TYPALIGN_INT, &elements, &nulls, &found);
        return found;
    });
    result.reserve(static_cast<std::size_t>(count));
    for (int i = 0; i < count; ++i) {
        if (!nulls[i]) {
            result.push_back(
                network_from(reinterpret_cast<const inet *>(DatumGetPointer(elements[i]))));
        }
    }
    return result;
}

pat::IpAddress address_of(const inet *address) {
    pat::Network network = network_from(address);
    pat::IpAddress result;
    result.family = network.family;
    std::memcpy(result.bytes, network.bytes, sizeof result.bytes);
    return result;
}

std::vector<pat::ResourceBinding> bindings_of(Jsonb *resources) {
    std::vector<pat::ResourceBinding> bindings;
    if (resources == nullptr) {
        return bindings;
    }
    if (!JB_ROOT_IS_OBJECT(resources)) {
        throw_bad_resources("not an object");
    }
    JsonbIterator *iterator = JsonbIteratorInit(&resources->root);
    JsonbValue value;
    int depth = 0;
    for (;;) {
        JsonbIteratorToken token =
            call_pg([&] { return JsonbIteratorNext(&iterator, &value, false); });
        if (token == WJB_DONE) {
            break;
        }
        switch (token) {
            case WJB_BEGIN_OBJECT:
            case WJB_BEGIN_ARRAY:
                if (++depth > 2 || (depth == 2 && token == WJB_BEGIN_OBJECT)) {
                    throw_bad_resources("a scope's ids must be a list of strings or numbers");
                }
                break;
            case WJB_END_OBJECT:
            case WJB_END_ARRAY:
                --depth;
                break;
            case WJB_KEY:
                bindings.push_back({std::string(value.val.string.val,
                                                static_cast<std::size_t>(value.val.string.len)),
                                    {}});
                break;
            case WJB_VALUE:
                throw_bad_resources("scope \"" + bindings.back().scope + "\" is not given a list");
            case WJB_ELEM:
                if (value.type == jbvString) {
                    bindings.back().ids.emplace_back(
                        value.val.string.val, static_cast<std::size_t>(value.val.string.len));
                } else if (value.type == jbvNumeric) {
                    char *digits = call_pg([&] {
                        return DatumGetCString(
                            DirectFunctionCall1(numeric_out, NumericGetDatum(value.val.numeric)));
                    });
                    bindings.back().ids.emplace_back(digits);
                } else {
                    throw_bad_resources("scope \"" + bindings.back().scope +
                                        "\" has an id that is neither a string nor a number");
                }
                break;
            default:
                break;
        }
    }
    return bindings;
}

Jsonb *bindings_jsonb(const std::vector<pat::ResourceBinding> &bindings) {
    if (bindings.empty()) {
        return nullptr;
    }
    // escape_json is PostgreSQL's, so the text is built in a StringInfo under call_pg.
    StringInfo buffer = call_pg([] {
        StringInfo made = makeStringInfo();
        appendStringInfoChar(made, '{');
        return made;
    });
    for (std::size_t i = 0; i < bindings.size(); ++i) {
        const pat::ResourceBinding &binding = bindings[i];
        call_pg([&] {
            if (i > 0) {
                appendStringInfoString(buffer, ", ");
            }
            escape_json(buffer, binding.scope.c_str());
            appendStringInfoString(buffer, ": [");
        });
        for (std::size_t j = 0; j < binding.ids.size(); ++j) {
            call_pg([&] {
                if (j > 0) {
                    appendStringInfoString(buffer, ", ");
                }
                escape_json(buffer, binding.ids[j].c_str());
            });
        }
        call_pg([&] { appendStringInfoChar(buffer, ']'); });
    }
    return call_pg([&] {
        appendStringInfoChar(buffer, '}');
        return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(buffer->data)));
    });
}

ArrayType *networks_array(const std::vector<pat::Network> &networks) {
    if (networks.empty()) {
        return nullptr;
    }
    Datum *elements =
        call_pg([&] { return static_cast<Datum *>(palloc(sizeof(Datum) * networks.size())); });
    for (std::size_t i = 0; i < networks.size(); ++i) {
        const pat::Network &network = networks[i];
        inet *value = call_pg([] { return static_cast<inet *>(palloc0(sizeof(inet))); });
        inet_struct *data = reinterpret_cast<inet_struct *>(VARDATA(value));
        bool v4 = network.family == pat::AddressFamily::ipv4;
        data->family = v4 ? PGSQL_AF_INET : PGSQL_AF_INET6;
        data->bits = network.bits;
        std::memcpy(data->ipaddr, network.bytes, v4 ? 4 : 16);
        SET_INET_VARSIZE(value);
        elements[i] = PointerGetDatum(value);
    }
    return call_pg([&] {
        return construct_array(elements, static_cast<int>(networks.size()), CIDROID, -1, false,
                               TYPALIGN_INT);
    });
}

ArrayType *addresses_array(const pat::IpAddress *addresses, int count) {
    Datum *elements = call_pg([&] { return static_cast<Datum *>(palloc(sizeof(Datum) * count)); });
    for (int i = 0; i < count; ++i) {
        elements[i] = PointerGetDatum(make_inet(addresses[i]));
    }
    return call_pg(
        [&] { return construct_array(elements, count, INETOID, -1, false, TYPALIGN_INT); });
}

varlena *restrictions_block(ArrayType *networks, Jsonb *resources, Jsonb *metadata) {
    if (networks == nullptr && resources == nullptr && metadata == nullptr) {
        return nullptr;
    }
    std::vector<pat::Network> decoded = networks_of(networks);
    std::vector<pat::ResourceBinding> bindings = bindings_of(resources);
    // Stored bindings were checked when written; sorted again here in case a row was written
    // by hand, since the check reads them in order.
    for (pat::ResourceBinding &binding : bindings) {
        std::sort(binding.ids.begin(), binding.ids.end());
    }
    std::sort(bindings.begin(), bindings.end(),
              [](const pat::ResourceBinding &a, const pat::ResourceBinding &b) {
                  return a.scope < b.scope;
              });
    std::string_view metadata_bytes;
    if (metadata != nullptr) {
        metadata_bytes =
            std::string_view(reinterpret_cast<const char *>(metadata), VARSIZE(metadata));
    }
    std::string encoded = pat::encode_restrictions(decoded, bindings, metadata_bytes);
    if (encoded.empty()) {
        return nullptr;
    }
    auto *block = call_pg([&] { return static_cast<varlena *>(palloc(encoded.size())); });
    std::memcpy(block, encoded.data(), encoded.size());
    SET_VARSIZE(block, encoded.size());
    return block;
}

Jsonb *block_metadata(const varlena *block) {
    std::string_view bytes =
        pat::RestrictionsView(reinterpret_cast<const char *>(block)).metadata();
    return bytes.empty() ? nullptr : reinterpret_cast<Jsonb *>(const_cast<char *>(bytes.data()));
}

}  // namespace pat::pg
