// A token's limits between PostgreSQL's values (cidr[], inet, jsonb) and the core's
// (core/restrictions.hpp), and the encoded block the token cache keeps.
#pragma once

#include "pg/bridge/postgres.hpp"

#include <vector>

#include "core/restrictions.hpp"

namespace pat::pg {

// The networks of a cidr[] (nullptr: none); NULL elements are skipped.
std::vector<pat::Network> networks_of(ArrayType *networks);
// An inet value as an address (its prefix length is ignored).
pat::IpAddress address_of(const inet *address);
// The resource bindings of a jsonb object mapping scope names to arrays of ids (strings or
// numbers); nullptr: none. 22023 for any other shape.
std::vector<pat::ResourceBinding> bindings_of(Jsonb *resources);
// The bindings as a jsonb object (ids as strings); nullptr for none.
Jsonb *bindings_jsonb(const std::vector<pat::ResourceBinding> &bindings);
// The networks as a cidr[]; nullptr for none.
ArrayType *networks_array(const std::vector<pat::Network> &networks);

// addresses as an inet[] of hosts (/32, /128), in their order; count > 0.
ArrayType *addresses_array(const pat::IpAddress *addresses, int count);

// The encoded block of a token's limits as a varlena in the current memory context (its
// metadata as the whole jsonb value, so it can be returned in place), or nullptr when the token
// has none.
varlena *restrictions_block(ArrayType *networks, Jsonb *resources, Jsonb *metadata);
// The jsonb of a block's metadata (pointing into it), or nullptr.
Jsonb *block_metadata(const varlena *block);

}  // namespace pat::pg
