// SubtransactionScoped: a value that follows savepoints, as the token context and the audit
// actor do. Levels are numbered as PostgreSQL numbers subtransactions (1 is the top level).
#include "core/subtransaction_scoped.hpp"

#include <string>

#include <gtest/gtest.h>

namespace {

using Scoped = pat::SubtransactionScoped<std::string>;

std::string now(const Scoped &scoped) {
    return scoped.current() != nullptr ? *scoped.current() : "none";
}

TEST(SubtransactionScoped, StartsEmptyAndEndsWithTheTransaction) {
    Scoped scoped;
    EXPECT_EQ(now(scoped), "none");
    scoped.set(1, "alice");
    EXPECT_EQ(now(scoped), "alice");
    scoped.set(1, "bob");
    EXPECT_EQ(now(scoped), "bob");
    scoped.end_transaction();
    EXPECT_EQ(now(scoped), "none");
}

TEST(SubtransactionScoped, RollbackRestoresTheSameValueSetAgain) {
    Scoped scoped;
    scoped.set(1, "alice");
    scoped.set(2, "alice");
    scoped.abort(2);
    EXPECT_EQ(now(scoped), "alice");
}

TEST(SubtransactionScoped, RollbackRestoresAfterAnotherValueOrAReset) {
    Scoped scoped;
    scoped.set(1, "alice");
    scoped.set(2, "bob");
    EXPECT_EQ(now(scoped), "bob");
    scoped.abort(2);
    EXPECT_EQ(now(scoped), "alice");
    scoped.reset(3);
    EXPECT_EQ(now(scoped), "none");
    scoped.abort(3);
    EXPECT_EQ(now(scoped), "alice");
}

TEST(SubtransactionScoped, RollbackRestoresNoValue) {
    Scoped scoped;
    scoped.set(2, "alice");
    scoped.abort(2);
    EXPECT_EQ(now(scoped), "none");
}

TEST(SubtransactionScoped, RollbackOfAnUnchangedLevelChangesNothing) {
    Scoped scoped;
    scoped.set(1, "alice");
    scoped.set(2, "bob");
    scoped.abort(3);
    EXPECT_EQ(now(scoped), "bob");
    scoped.abort(2);
    EXPECT_EQ(now(scoped), "alice");
}

TEST(SubtransactionScoped, NestedLevelsRollBackOneByOne) {
    Scoped scoped;
    scoped.set(1, "alice");
    scoped.set(2, "bob");
    scoped.set(3, "carol");
    scoped.reset(4);
    EXPECT_EQ(now(scoped), "none");
    scoped.abort(4);
    EXPECT_EQ(now(scoped), "carol");
    scoped.abort(3);
    EXPECT_EQ(now(scoped), "bob");
    scoped.abort(2);
    EXPECT_EQ(now(scoped), "alice");
}

TEST(SubtransactionScoped, ReleaseIntoAParentThatChangedItReplacesTheParentsChange) {
    Scoped scoped;
    scoped.set(1, "alice");
    scoped.set(2, "bob");
    scoped.set(3, "carol");
    scoped.commit(3, 2);
    EXPECT_EQ(now(scoped), "carol");
    scoped.abort(2);
    EXPECT_EQ(now(scoped), "alice");
}

TEST(SubtransactionScoped, ReleaseIntoAnUnchangedParentMovesTheChangeUp) {
    Scoped scoped;
    scoped.set(1, "alice");
    scoped.reset(4);
    scoped.commit(4, 3);
    EXPECT_EQ(now(scoped), "none");
    scoped.commit(3, 2);
    scoped.abort(2);
    EXPECT_EQ(now(scoped), "alice");
}

TEST(SubtransactionScoped, ReleaseToTheTopLevelLastsUntilTheEnd) {
    Scoped scoped;
    scoped.set(1, "alice");
    scoped.set(2, "bob");
    scoped.commit(2, 1);
    scoped.abort(3);
    EXPECT_EQ(now(scoped), "bob");
    scoped.end_transaction();
    EXPECT_EQ(now(scoped), "none");
}

TEST(SubtransactionScoped, ReleaseOfAnUnchangedLevelChangesNothing) {
    Scoped scoped;
    scoped.set(2, "alice");
    scoped.commit(3, 2);
    scoped.abort(2);
    EXPECT_EQ(now(scoped), "none");
}

}  // namespace
