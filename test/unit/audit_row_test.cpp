// The size limit of an audit row's data, and the hash of an audit row.
#include "core/audit_row.hpp"

#include <string>

#include <gtest/gtest.h>

#include "core/digest.hpp"
#include "core/error.hpp"

namespace {

TEST(AuditRow, DataUpToTheLimitIsAccepted) {
    EXPECT_NO_THROW(pat::check_audit_data_text("new_data", 0));
    EXPECT_NO_THROW(pat::check_audit_data_text("new_data", pat::kAuditDataMaxTextBytes));
}

TEST(AuditRow, DataOverTheLimitIsProgramLimitExceeded) {
    try {
        pat::check_audit_data_text("old_data", pat::kAuditDataMaxTextBytes + 1);
        FAIL() << "no error";
    } catch (const pat::Error &e) {
        EXPECT_STREQ(e.sqlstate(), "54000");
        EXPECT_NE(e.detail().find("old_data would be 67108865 bytes"), std::string::npos);
        EXPECT_NE(e.hint().find("exclude"), std::string::npos);
    }
}

// A row that is UTF-8 throughout hashes as SHA-256(prev || text), however it is cut.
TEST(AuditRowDigest, Utf8TextIsHashedAsIs) {
    const std::string prev(32, '\x01');
    const std::string text = "[1, 2, \"caf\xc3\xa9\"]";
    pat::Digest expected = pat::sha256_concat(prev, text);
    for (bool stored_is_utf8 : {true, false}) {
        pat::AuditRowDigest digest(prev, stored_is_utf8);
        for (char c : text) {
            std::string_view piece(&c, 1);
            digest.add(piece, &piece);
        }
        EXPECT_EQ(digest.finish(), expected);
    }
}

// A row with a piece that has no UTF-8 form hashes as SHA-256(prev || 0xFF || stored bytes).
TEST(AuditRowDigest, TextWithoutUtf8FormIsHashedAsStored) {
    const std::string prev(32, '\x02');
    const std::string_view head = "[1, \"";
    const std::string_view odd = "\xff\xfe";
    const std::string_view tail = "\"]";
    pat::AuditRowDigest digest(prev, false);
    digest.add(head, &head);
    digest.add(odd, nullptr);
    digest.add(tail, &tail);
    EXPECT_EQ(digest.finish(),
              pat::sha256_concat(prev + "\xff",
                                 std::string(head) + std::string(odd) + std::string(tail)));
}

// The first row has no previous hash.
TEST(AuditRowDigest, FirstRowHasEmptyPrevious) {
    pat::AuditRowDigest digest("", true);
    std::string_view text = "[]";
    digest.add(text, &text);
    EXPECT_EQ(digest.finish(), pat::sha256_concat("", "[]"));
}

}  // namespace
