// A token's own limits; see restrictions.hpp.
//
// The encoded block, all integers little-endian and read with memcpy (the block has no alignment
// beyond 8 at its start):
//   [0, 4)   the caller's header (a varlena header in the glue)
//   [4, 6)   network count          [6, 8)   bound scope count
//   [8, 12)  offset of the bindings [12, 16) offset of the metadata (0: none)
//   [16, 20) metadata bytes         [20, 24) zero
//   networks, 18 bytes each: family, prefix bits, 16 address bytes
//   bindings: per scope (sorted), u16 name length, name, u16 id count, then per id (sorted)
//   u16 length and its bytes
//   metadata, at an offset aligned to 8
#include "core/restrictions.hpp"

#include <algorithm>
#include <cstring>

#include "core/error.hpp"

namespace pat {

namespace {

constexpr std::size_t kFixedBytes = 24;
constexpr std::size_t kNetworkBytes = 18;
constexpr std::uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

std::uint16_t read_u16(const char *at) noexcept {
    std::uint16_t value = 0;
    std::memcpy(&value, at, sizeof value);
    return value;
}

std::uint32_t read_u32(const char *at) noexcept {
    std::uint32_t value = 0;
    std::memcpy(&value, at, sizeof value);
    return value;
}

void put_u16(std::string *out, std::size_t value) {
    auto v = static_cast<std::uint16_t>(value);
    out->append(reinterpret_cast<const char *>(&v), sizeof v);
}

void write_u32(std::string *out, std::size_t at, std::size_t value) {
    auto v = static_cast<std::uint32_t>(value);
    std::memcpy(&(*out)[at], &v, sizeof v);
}

// Whether the first bits bits of a and b agree.
bool same_prefix(const std::uint8_t *a, const std::uint8_t *b, unsigned bits) noexcept {
    unsigned whole = bits / 8;
    if (std::memcmp(a, b, whole) != 0) {
        return false;
    }
    unsigned rest = bits % 8;
    if (rest == 0) {
        return true;
    }
    auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
    return (a[whole] & mask) == (b[whole] & mask);
}

unsigned family_bits(AddressFamily family) noexcept {
    return family == AddressFamily::ipv4 ? 32 : 128;
}

}  // namespace

IpAddress normalized(const IpAddress &address) noexcept {
    if (address.family != AddressFamily::ipv6 ||
        std::memcmp(address.bytes, kMappedPrefix, sizeof kMappedPrefix) != 0) {
        return address;
    }
    IpAddress v4;
    v4.family = AddressFamily::ipv4;
    std::memcpy(v4.bytes, address.bytes + 12, 4);
    return v4;
}

Network normalized(const Network &network) noexcept {
    if (network.family != AddressFamily::ipv6 || network.bits < 96 ||
        std::memcmp(network.bytes, kMappedPrefix, sizeof kMappedPrefix) != 0) {
        return network;
    }
    Network v4;
    v4.family = AddressFamily::ipv4;
    v4.bits = static_cast<std::uint8_t>(network.bits - 96);
    std::memcpy(v4.bytes, network.bytes + 12, 4);
    return v4;
}

bool network_contains(const Network &network, const IpAddress &address) noexcept {
    Network n = normalized(network);
    IpAddress a = normalized(address);
    if (n.family != a.family || n.bits > family_bits(n.family)) {
        return false;
    }
    return same_prefix(n.bytes, a.bytes, n.bits);
}

bool network_within(const Network &inner, const Network &outer) noexcept {
    Network i = normalized(inner);
    Network o = normalized(outer);
    return i.family == o.family && i.bits >= o.bits && o.bits <= family_bits(o.family) &&
           same_prefix(i.bytes, o.bytes, o.bits);
}

void check_network_count(std::size_t count) {
    if (count > kMaxNetworks) {
        throw Error(sqlstate::kProgramLimitExceeded,
                    "too many networks: " + std::to_string(count) + " (at most " +
                        std::to_string(kMaxNetworks) + " per token)",
                    "", "Use wider networks (a /16 instead of many /24s).");
    }
}

void check_resources(std::vector<ResourceBinding> *bindings) {
    if (bindings->size() > kMaxBoundScopes) {
        throw Error(sqlstate::kProgramLimitExceeded,
                    "too many scopes bound to resources: " + std::to_string(bindings->size()) +
                        " (at most " + std::to_string(kMaxBoundScopes) + " per token)");
    }
    for (ResourceBinding &binding : *bindings) {
        if (binding.scope.empty()) {
            throw Error(sqlstate::kInvalidParameterValue, "a resource binding names no scope");
        }
        if (binding.ids.empty()) {
            throw Error(sqlstate::kInvalidParameterValue,
                        "scope \"" + binding.scope + "\" is bound to no resource",
                        "A scope bound to an empty list would cover nothing.",
                        "Leave the scope out to let it cover every resource.");
        }
        if (binding.ids.size() > kMaxResourcesPerScope) {
            throw Error(sqlstate::kProgramLimitExceeded,
                        "too many resources for scope \"" + binding.scope +
                            "\": " + std::to_string(binding.ids.size()) + " (at most " +
                            std::to_string(kMaxResourcesPerScope) + " per scope)");
        }
        for (const std::string &id : binding.ids) {
            if (id.empty()) {
                throw Error(sqlstate::kInvalidParameterValue,
                            "an empty resource id for scope \"" + binding.scope + "\"");
            }
            if (id.size() > kMaxResourceIdBytes) {
                throw Error(sqlstate::kProgramLimitExceeded,
                            "a resource id for scope \"" + binding.scope + "\" is " +
                                std::to_string(id.size()) + " bytes (at most " +
                                std::to_string(kMaxResourceIdBytes) + ")");
            }
        }
        std::sort(binding.ids.begin(), binding.ids.end());
        binding.ids.erase(std::unique(binding.ids.begin(), binding.ids.end()), binding.ids.end());
    }
    std::sort(bindings->begin(), bindings->end(),
              [](const ResourceBinding &a, const ResourceBinding &b) { return a.scope < b.scope; });
    for (std::size_t i = 1; i < bindings->size(); ++i) {
        if ((*bindings)[i].scope == (*bindings)[i - 1].scope) {
            throw Error(sqlstate::kInvalidParameterValue,
                        "scope \"" + (*bindings)[i].scope + "\" is bound twice");
        }
    }
}

void check_metadata_size(std::size_t bytes) {
    if (bytes > kMaxMetadataBytes) {
        throw Error(sqlstate::kProgramLimitExceeded,
                    "token metadata is " + std::to_string(bytes) + " bytes (at most " +
                        std::to_string(kMaxMetadataBytes) + ")",
                    "", "Keep an id in the metadata and the rest in the application's tables.");
    }
}

bool networks_within(const std::vector<Network> &narrower, const std::vector<Network> &wider) {
    if (wider.empty()) {
        return true;
    }
    if (narrower.empty()) {
        return false;
    }
    for (const Network &inner : narrower) {
        bool inside = std::any_of(wider.begin(), wider.end(), [&](const Network &outer) {
            return network_within(inner, outer);
        });
        if (!inside) {
            return false;
        }
    }
    return true;
}

bool resources_within(const std::vector<ResourceBinding> &narrower,
                      const std::vector<ResourceBinding> &wider) {
    for (const ResourceBinding &outer : wider) {
        auto inner = std::find_if(narrower.begin(), narrower.end(),
                                  [&](const ResourceBinding &b) { return b.scope == outer.scope; });
        if (inner == narrower.end()) {
            return false;
        }
        for (const std::string &id : inner->ids) {
            if (std::find(outer.ids.begin(), outer.ids.end(), id) == outer.ids.end()) {
                return false;
            }
        }
    }
    return true;
}

std::string encode_restrictions(const std::vector<Network> &networks,
                                const std::vector<ResourceBinding> &bindings,
                                std::string_view metadata) {
    if (networks.empty() && bindings.empty() && metadata.empty()) {
        return {};
    }
    std::string out(kFixedBytes, '\0');
    std::uint16_t counts[2] = {static_cast<std::uint16_t>(networks.size()),
                               static_cast<std::uint16_t>(bindings.size())};
    std::memcpy(&out[4], counts, sizeof counts);
    for (const Network &network : networks) {
        out.push_back(static_cast<char>(network.family));
        out.push_back(static_cast<char>(network.bits));
        out.append(reinterpret_cast<const char *>(network.bytes), sizeof network.bytes);
    }
    write_u32(&out, 8, out.size());
    for (const ResourceBinding &binding : bindings) {
        put_u16(&out, binding.scope.size());
        out.append(binding.scope);
        put_u16(&out, binding.ids.size());
        for (const std::string &id : binding.ids) {
            put_u16(&out, id.size());
            out.append(id);
        }
    }
    if (!metadata.empty()) {
        out.resize((out.size() + 7) / 8 * 8, '\0');
        write_u32(&out, 12, out.size());
        write_u32(&out, 16, metadata.size());
        out.append(metadata);
    }
    return out;
}

std::size_t RestrictionsView::network_count() const noexcept {
    return block_ == nullptr ? 0 : read_u16(block_ + 4);
}

Network RestrictionsView::network(std::size_t index) const noexcept {
    const char *at = block_ + kFixedBytes + index * kNetworkBytes;
    Network network;
    network.family = static_cast<AddressFamily>(at[0]);
    network.bits = static_cast<std::uint8_t>(at[1]);
    std::memcpy(network.bytes, at + 2, sizeof network.bytes);
    return network;
}

bool RestrictionsView::allows_address(const IpAddress *address) const noexcept {
    std::size_t count = network_count();
    if (count == 0) {
        return true;
    }
    if (address == nullptr) {
        return false;
    }
    for (std::size_t i = 0; i < count; ++i) {
        if (network_contains(network(i), *address)) {
            return true;
        }
    }
    return false;
}

std::size_t RestrictionsView::bound_scope_count() const noexcept {
    return block_ == nullptr ? 0 : read_u16(block_ + 6);
}

bool RestrictionsView::Ids::next(std::string_view *id) noexcept {
    if (left_ == 0) {
        return false;
    }
    std::uint16_t length = read_u16(at_);
    *id = std::string_view(at_ + 2, length);
    at_ += 2 + length;
    --left_;
    return true;
}

bool RestrictionsView::scope_bound(std::string_view scope, Ids *ids) const noexcept {
    std::size_t count = bound_scope_count();
    if (count == 0) {
        return false;
    }
    const char *at = block_ + read_u32(block_ + 8);
    for (std::size_t i = 0; i < count; ++i) {
        std::uint16_t name_length = read_u16(at);
        std::string_view name(at + 2, name_length);
        at += 2 + name_length;
        std::uint16_t id_count = read_u16(at);
        at += 2;
        if (name == scope) {
            if (ids != nullptr) {
                *ids = Ids(at, id_count);
            }
            return true;
        }
        for (std::uint16_t j = 0; j < id_count; ++j) {
            at += 2 + read_u16(at);
        }
    }
    return false;
}

bool RestrictionsView::covers(std::string_view scope, std::string_view resource) const noexcept {
    Ids ids;
    if (!scope_bound(scope, &ids)) {
        return true;
    }
    std::string_view id;
    while (ids.next(&id)) {
        if (id == resource) {
            return true;
        }
    }
    return false;
}

std::vector<ResourceBinding> RestrictionsView::bindings() const {
    std::vector<ResourceBinding> result;
    std::size_t count = bound_scope_count();
    if (count == 0) {
        return result;
    }
    const char *at = block_ + read_u32(block_ + 8);
    for (std::size_t i = 0; i < count; ++i) {
        ResourceBinding binding;
        std::uint16_t name_length = read_u16(at);
        binding.scope.assign(at + 2, name_length);
        at += 2 + name_length;
        std::uint16_t id_count = read_u16(at);
        at += 2;
        for (std::uint16_t j = 0; j < id_count; ++j) {
            std::uint16_t length = read_u16(at);
            binding.ids.emplace_back(at + 2, length);
            at += 2 + length;
        }
        result.push_back(std::move(binding));
    }
    return result;
}

std::vector<Network> RestrictionsView::networks() const {
    std::vector<Network> result;
    for (std::size_t i = 0; i < network_count(); ++i) {
        result.push_back(network(i));
    }
    return result;
}

std::string_view RestrictionsView::metadata() const noexcept {
    if (block_ == nullptr || read_u32(block_ + 12) == 0) {
        return {};
    }
    return std::string_view(block_ + read_u32(block_ + 12), read_u32(block_ + 16));
}

}  // namespace pat
