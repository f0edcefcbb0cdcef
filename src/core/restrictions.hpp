// A token's own limits: the networks it works from, the resources each scope is bound to, and
// the application's metadata; their caps, and the compact form the check reads them in.
//
// The check matches a client's address against the networks and a resource against a scope's
// ids without allocating: the compact form (encode_restrictions) is one block of bytes, kept in
// the token cache beside the token (interned in the shared table as scope sets are), and read in
// place by RestrictionsView.
//
// Addresses: an IPv4-mapped IPv6 address (::ffff:a.b.c.d, as a dual-stack socket reports an IPv4
// client) is the IPv4 address a.b.c.d, and a network inside ::ffff:0:0/96 the IPv4 network it
// maps; otherwise an IPv4 network matches only IPv4 addresses and an IPv6 network only IPv6 ones
// (so 0.0.0.0/0 is every IPv4 client and ::/0 every IPv6 client).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pat {

// The caps, enforced (54000) when a token is made or updated.
inline constexpr std::size_t kMaxNetworks = 64;            // networks per token
inline constexpr std::size_t kMaxBoundScopes = 32;         // scopes bound to resources per token
inline constexpr std::size_t kMaxResourcesPerScope = 100;  // resource ids per scope
inline constexpr std::size_t kMaxResourceIdBytes = 128;    // bytes of one resource id
inline constexpr std::size_t kMaxMetadataBytes = 2048;     // bytes of metadata as jsonb text

enum class AddressFamily : std::uint8_t { ipv4 = 4, ipv6 = 6 };

struct IpAddress {
    AddressFamily family = AddressFamily::ipv4;
    std::uint8_t bytes[16] = {};  // the first 4 for IPv4
};

struct Network {
    AddressFamily family = AddressFamily::ipv4;
    std::uint8_t bits = 0;  // prefix length: 0 to 32 (IPv4) or 128 (IPv6)
    std::uint8_t bytes[16] = {};
};

// The address, an IPv4-mapped IPv6 one as the IPv4 address it maps.
IpAddress normalized(const IpAddress &address) noexcept;
// The network, one inside ::ffff:0:0/96 as the IPv4 network it maps.
Network normalized(const Network &network) noexcept;

// Whether network holds address (both normalized first).
bool network_contains(const Network &network, const IpAddress &address) noexcept;
// Whether every address of inner is in outer (both normalized first).
bool network_within(const Network &inner, const Network &outer) noexcept;

// One scope's resource ids.
struct ResourceBinding {
    std::string scope;
    std::vector<std::string> ids;
};

// 54000 beyond kMaxNetworks.
void check_network_count(std::size_t count);
// Sorts the bindings by scope and each one's ids, drops repeated ids; 22023 for an empty scope
// name, a scope named twice, a scope with no id or an empty id; 54000 beyond the caps.
void check_resources(std::vector<ResourceBinding> *bindings);
// 54000 beyond kMaxMetadataBytes (bytes: the metadata's jsonb text).
void check_metadata_size(std::size_t bytes);

// Whether each of narrower's networks lies inside one of wider's (wider empty: no limit).
bool networks_within(const std::vector<Network> &narrower, const std::vector<Network> &wider);
// Whether every scope wider binds is bound in narrower to a subset of wider's ids.
bool resources_within(const std::vector<ResourceBinding> &narrower,
                      const std::vector<ResourceBinding> &wider);

// The compact form: the caller's header bytes (kRestrictionsHeaderBytes, left zero for a
// varlena header), the networks, the bindings (sorted: check_resources), then metadata (its
// bytes copied as given, at an offset aligned to 8 from the start). Empty when there is nothing
// to keep (no network, no binding, no metadata).
inline constexpr std::size_t kRestrictionsHeaderBytes = 4;
std::string encode_restrictions(const std::vector<Network> &networks,
                                const std::vector<ResourceBinding> &bindings,
                                std::string_view metadata);

// Reads an encoded block in place (nullptr: a token without limits). Allocates nothing.
class RestrictionsView {
  public:
    explicit RestrictionsView(const char *block) noexcept : block_(block) {}

    bool empty() const noexcept { return block_ == nullptr; }
    std::size_t network_count() const noexcept;
    Network network(std::size_t index) const noexcept;
    // Whether a check from address may pass: true for a token without networks; false for one
    // with networks when address is nullptr (unknown) or in none of them.
    bool allows_address(const IpAddress *address) const noexcept;

    std::size_t bound_scope_count() const noexcept;
    // Whether scope is bound to resources (then *ids, if given, is set to walk them).
    class Ids {
      public:
        Ids() = default;
        Ids(const char *at, std::size_t count) : at_(at), left_(count) {}
        // The next id, false when none is left.
        bool next(std::string_view *id) noexcept;

      private:
        const char *at_ = nullptr;
        std::size_t left_ = 0;
    };
    bool scope_bound(std::string_view scope, Ids *ids = nullptr) const noexcept;
    // Whether scope covers resource: an unbound scope covers every resource.
    bool covers(std::string_view scope, std::string_view resource) const noexcept;
    // The bindings, decoded (for a token context or a narrowing check).
    std::vector<ResourceBinding> bindings() const;
    std::vector<Network> networks() const;

    // The metadata's bytes as given to encode_restrictions, or empty.
    std::string_view metadata() const noexcept;

  private:
    const char *block_;
};

}  // namespace pat
