// A token's own limits: address matching, caps, narrowing and the encoded block.
#include "core/restrictions.hpp"

#include <cstring>

#include <gtest/gtest.h>

#include "core/error.hpp"
#include "core/status.hpp"

namespace {

using pat::AddressFamily;
using pat::IpAddress;
using pat::Network;

IpAddress v4(int a, int b, int c, int d) {
    IpAddress address;
    address.family = AddressFamily::ipv4;
    address.bytes[0] = static_cast<std::uint8_t>(a);
    address.bytes[1] = static_cast<std::uint8_t>(b);
    address.bytes[2] = static_cast<std::uint8_t>(c);
    address.bytes[3] = static_cast<std::uint8_t>(d);
    return address;
}

Network v4net(int a, int b, int c, int d, int bits) {
    IpAddress address = v4(a, b, c, d);
    Network network;
    network.family = AddressFamily::ipv4;
    network.bits = static_cast<std::uint8_t>(bits);
    std::memcpy(network.bytes, address.bytes, 4);
    return network;
}

// 2001:db8::<last>
IpAddress v6(int last) {
    IpAddress address;
    address.family = AddressFamily::ipv6;
    address.bytes[0] = 0x20;
    address.bytes[1] = 0x01;
    address.bytes[2] = 0x0d;
    address.bytes[3] = 0xb8;
    address.bytes[15] = static_cast<std::uint8_t>(last);
    return address;
}

Network v6net(const IpAddress &address, int bits) {
    Network network;
    network.family = AddressFamily::ipv6;
    network.bits = static_cast<std::uint8_t>(bits);
    std::memcpy(network.bytes, address.bytes, 16);
    return network;
}

IpAddress mapped(int a, int b, int c, int d) {
    IpAddress address;
    address.family = AddressFamily::ipv6;
    address.bytes[10] = 0xff;
    address.bytes[11] = 0xff;
    address.bytes[12] = static_cast<std::uint8_t>(a);
    address.bytes[13] = static_cast<std::uint8_t>(b);
    address.bytes[14] = static_cast<std::uint8_t>(c);
    address.bytes[15] = static_cast<std::uint8_t>(d);
    return address;
}

TEST(Networks, Ipv4PrefixesMatchTheirAddressesOnly) {
    EXPECT_TRUE(pat::network_contains(v4net(10, 1, 0, 0, 16), v4(10, 1, 200, 3)));
    EXPECT_FALSE(pat::network_contains(v4net(10, 1, 0, 0, 16), v4(10, 2, 0, 1)));
    EXPECT_TRUE(pat::network_contains(v4net(10, 1, 2, 3, 32), v4(10, 1, 2, 3)));
    EXPECT_FALSE(pat::network_contains(v4net(10, 1, 2, 3, 32), v4(10, 1, 2, 4)));
    // A prefix not on a byte boundary.
    EXPECT_TRUE(pat::network_contains(v4net(192, 168, 0, 0, 23), v4(192, 168, 1, 255)));
    EXPECT_FALSE(pat::network_contains(v4net(192, 168, 0, 0, 23), v4(192, 168, 2, 0)));
}

TEST(Networks, SlashZeroIsEveryAddressOfItsFamily) {
    EXPECT_TRUE(pat::network_contains(v4net(0, 0, 0, 0, 0), v4(203, 0, 113, 9)));
    EXPECT_FALSE(pat::network_contains(v4net(0, 0, 0, 0, 0), v6(1)));
    EXPECT_TRUE(pat::network_contains(v6net(IpAddress{AddressFamily::ipv6, {}}, 0), v6(1)));
    EXPECT_FALSE(
        pat::network_contains(v6net(IpAddress{AddressFamily::ipv6, {}}, 0), v4(1, 2, 3, 4)));
}

TEST(Networks, Ipv6PrefixesAndSlash128) {
    EXPECT_TRUE(pat::network_contains(v6net(v6(0), 32), v6(77)));
    EXPECT_TRUE(pat::network_contains(v6net(v6(5), 128), v6(5)));
    EXPECT_FALSE(pat::network_contains(v6net(v6(5), 128), v6(6)));
    EXPECT_FALSE(pat::network_contains(v6net(v6(0), 32), v4(32, 1, 13, 184)));
}

TEST(Networks, MappedIpv6IsItsIpv4Address) {
    EXPECT_TRUE(pat::network_contains(v4net(10, 0, 0, 0, 8), mapped(10, 9, 8, 7)));
    EXPECT_FALSE(pat::network_contains(v4net(10, 0, 0, 0, 8), mapped(11, 9, 8, 7)));
    // A network written as ::ffff:10.0.0.0/104 is 10.0.0.0/8.
    Network mapped_net = v6net(mapped(10, 0, 0, 0), 104);
    EXPECT_TRUE(pat::network_contains(mapped_net, v4(10, 200, 0, 1)));
    EXPECT_FALSE(pat::network_contains(mapped_net, v4(12, 0, 0, 1)));
}

TEST(Networks, WithinComparesPrefixes) {
    EXPECT_TRUE(pat::network_within(v4net(10, 1, 2, 0, 24), v4net(10, 1, 0, 0, 16)));
    EXPECT_FALSE(pat::network_within(v4net(10, 1, 0, 0, 16), v4net(10, 1, 2, 0, 24)));
    EXPECT_FALSE(pat::network_within(v6net(v6(0), 64), v4net(0, 0, 0, 0, 0)));
    EXPECT_TRUE(pat::networks_within({v4net(10, 1, 2, 0, 24)}, {}));
    EXPECT_FALSE(pat::networks_within({}, {v4net(10, 0, 0, 0, 8)}));
    EXPECT_TRUE(pat::networks_within({v4net(10, 1, 2, 0, 24), v4net(10, 9, 0, 0, 16)},
                                     {v4net(10, 0, 0, 0, 8)}));
}

TEST(Caps, NetworksResourcesAndMetadataHaveLimits) {
    EXPECT_NO_THROW(pat::check_network_count(pat::kMaxNetworks));
    try {
        pat::check_network_count(10000);
        FAIL();
    } catch (const pat::Error &e) {
        EXPECT_STREQ(e.sqlstate(), "54000");
        EXPECT_NE(std::string(e.what()).find("10000"), std::string::npos);
    }
    EXPECT_NO_THROW(pat::check_metadata_size(pat::kMaxMetadataBytes));
    EXPECT_THROW(pat::check_metadata_size(pat::kMaxMetadataBytes + 1), pat::Error);
    std::vector<pat::ResourceBinding> many{{"notes:write", {}}};
    for (std::size_t i = 0; i <= pat::kMaxResourcesPerScope; ++i) {
        many[0].ids.push_back(std::to_string(i));
    }
    EXPECT_THROW(pat::check_resources(&many), pat::Error);
    std::vector<pat::ResourceBinding> empty{{"notes:write", {}}};
    EXPECT_THROW(pat::check_resources(&empty), pat::Error);
    std::vector<pat::ResourceBinding> twice{{"a", {"1"}}, {"a", {"2"}}};
    EXPECT_THROW(pat::check_resources(&twice), pat::Error);
    std::vector<pat::ResourceBinding> fine{{"b", {"2", "1", "2"}}, {"a", {"x"}}};
    pat::check_resources(&fine);
    EXPECT_EQ(fine[0].scope, "a");
    EXPECT_EQ(fine[1].ids, (std::vector<std::string>{"1", "2"}));
}

TEST(Resources, NarrowerBindsEveryWiderScopeToASubset) {
    std::vector<pat::ResourceBinding> wider{{"notes:write", {"42", "43"}}};
    EXPECT_TRUE(pat::resources_within({{"notes:write", {"42"}}}, wider));
    EXPECT_FALSE(pat::resources_within({{"notes:write", {"44"}}}, wider));
    EXPECT_FALSE(pat::resources_within({}, wider));
    EXPECT_TRUE(pat::resources_within({{"notes:read", {"1"}}}, {}));
}

TEST(Block, EmptyWhenThereIsNothingToKeep) {
    EXPECT_TRUE(pat::encode_restrictions({}, {}, "").empty());
    pat::RestrictionsView none(nullptr);
    EXPECT_TRUE(none.allows_address(nullptr));
    EXPECT_TRUE(none.covers("notes:write", "1"));
    EXPECT_TRUE(none.metadata().empty());
}

TEST(Block, ReadsBackWhatWasEncoded) {
    std::vector<pat::ResourceBinding> bindings{{"notes:read", {"7"}},
                                               {"notes:write", {"42", "43"}}};
    pat::check_resources(&bindings);
    std::string block = pat::encode_restrictions({v4net(10, 0, 0, 0, 8), v6net(v6(0), 32)},
                                                 bindings, "{\"ci\": true}");
    pat::RestrictionsView view(block.data());
    EXPECT_EQ(view.network_count(), 2u);
    IpAddress inside = v4(10, 1, 1, 1);
    IpAddress outside = v4(11, 1, 1, 1);
    IpAddress inside6 = v6(9);
    EXPECT_TRUE(view.allows_address(&inside));
    EXPECT_TRUE(view.allows_address(&inside6));
    EXPECT_FALSE(view.allows_address(&outside));
    EXPECT_FALSE(view.allows_address(nullptr));  // unknown address: refused
    EXPECT_TRUE(view.covers("notes:write", "43"));
    EXPECT_FALSE(view.covers("notes:write", "44"));
    EXPECT_TRUE(view.covers("notes:admin", "44"));  // an unbound scope covers everything
    EXPECT_TRUE(view.scope_bound("notes:read"));
    EXPECT_EQ(view.metadata(), "{\"ci\": true}");
    EXPECT_EQ((block.size() - view.metadata().size()) % 8, 0u);  // metadata aligned to 8
    EXPECT_EQ(view.bindings().size(), 2u);
    EXPECT_EQ(view.networks().size(), 2u);
}

TEST(Status, SuspendedAndForbiddenNetworkTakeTheirPlace) {
    pat::StoredTokenState state;
    EXPECT_EQ(pat::decide_status(0, state, false, false), pat::TokenStatus::forbidden_network);
    state.suspended = true;
    EXPECT_EQ(pat::decide_status(0, state, true, false), pat::TokenStatus::suspended);
    state.expires_at = 0;
    EXPECT_EQ(pat::decide_status(1, state, true, true), pat::TokenStatus::expired);
    EXPECT_EQ(pat::status_name(pat::TokenStatus::forbidden_network), "forbidden_network");
    EXPECT_EQ(pat::list_status(0, pat::StoredTokenState{false, std::nullopt, true}), "active");
}

}  // namespace
