// The schema versions the library knows.
#include "core/schema_version.hpp"

#include <gtest/gtest.h>

namespace {

using pat::SchemaVersion;

TEST(SchemaVersion, EachKnownVersionIsNamedByItsExtversion) {
    EXPECT_EQ(pat::schema_version_named("1.0"), SchemaVersion::k1_0);
    EXPECT_EQ(pat::schema_version_named("1.4"), SchemaVersion::k1_4);
    EXPECT_EQ(pat::schema_version_named("1.5"), SchemaVersion::k1_5);
    EXPECT_EQ(pat::schema_version_named("1.9"), SchemaVersion::k1_9);
    EXPECT_EQ(pat::schema_version_named("1.10"), SchemaVersion::k1_10);
    EXPECT_EQ(pat::schema_version_named("1.11"), SchemaVersion::k1_11);
    EXPECT_EQ(pat::schema_version_named("1.12"), SchemaVersion::k1_12);
    EXPECT_EQ(pat::schema_version_named("1.13"), SchemaVersion::k1_13);
    EXPECT_EQ(pat::schema_version_named("1.14"), SchemaVersion::k1_14);
}

TEST(SchemaVersion, AnUnknownVersionCountsAsTheNewest) {
    EXPECT_EQ(pat::schema_version_named("1.15"), pat::kNewestSchema);
    EXPECT_EQ(pat::schema_version_named("2.0"), pat::kNewestSchema);
    EXPECT_EQ(pat::schema_version_named(""), pat::kNewestSchema);
    EXPECT_EQ(pat::schema_version_named("1.9 "), pat::kNewestSchema);
}

TEST(SchemaVersion, VersionsCompareInTheOrderTheyCame) {
    EXPECT_LT(SchemaVersion::kAbsent, SchemaVersion::k1_0);
    EXPECT_LT(pat::schema_version_named("1.4"), pat::schema_since::kAuditPending);
    EXPECT_GE(pat::schema_version_named("1.5"), pat::schema_since::kAuditPending);
}

}  // namespace
