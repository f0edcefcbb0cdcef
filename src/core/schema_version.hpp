// The versions of pg_pat's SQL schema this library runs against, and which of them first has
// each thing the library uses only where the schema has it.
//
// A database keeps the schema of the version it was created at or last updated to
// (pg_extension.extversion) until ALTER EXTENSION pg_pat UPDATE, while the loaded library is
// always the newest: so the library asks one value, this one, wherever the schemas differ,
// rather than probing tables and columns, and this file is the one list of how they differ.
#pragma once

#include <string_view>

namespace pat {

// In the order the versions came: a later one has everything an earlier one has.
enum class SchemaVersion {
    kAbsent,  // no pg_pat in the database
    k1_0,
    k1_1,
    k1_2,
    k1_3,
    k1_4,
    k1_5,
    k1_6,
    k1_7,
    k1_8,
    k1_9,
    k1_10,
    k1_11,
    k1_12,
    k1_13,
    k1_14,
};

// The newest schema this library knows, the control file's default_version.
inline constexpr SchemaVersion kNewestSchema = SchemaVersion::k1_14;

// The schema extversion names ("1.6"). A version this library does not know counts as the
// newest it knows: update scripts only add, so a later schema has everything this library uses.
SchemaVersion schema_version_named(std::string_view extversion);

// The first schema with each of the things below; the library leaves out, or does the older
// way, what a database's schema does not have yet.
namespace schema_since {
// pat.audit_log and pat.audit_chain_head: the hash-chained audit log.
inline constexpr SchemaVersion kAuditLog = SchemaVersion::k1_1;
// pat.token_checks: usage counted in shared memory and written out by the worker.
inline constexpr SchemaVersion kTokenChecks = SchemaVersion::k1_2;
// The hash index on pat.tokens(digest) that validation looks tokens up through.
inline constexpr SchemaVersion kDigestHashIndex = SchemaVersion::k1_3;
// pat.audit_pending: rows appended without the chain lock and linked after commit (before it,
// each row is linked as it is written, under the chain lock held to commit).
inline constexpr SchemaVersion kAuditPending = SchemaVersion::k1_5;
// pat.tokens.key_id: which digest key each token was made under.
inline constexpr SchemaVersion kTokenKeyId = SchemaVersion::k1_6;
// pat.tokens.rotated_from: a rotation's successor names its predecessor.
inline constexpr SchemaVersion kTokenRotatedFrom = SchemaVersion::k1_7;
// pat.notices: the lifecycle worker's notices (expiry, inactivity).
inline constexpr SchemaVersion kNotices = SchemaVersion::k1_8;
// pat.token_prefixes: the prefixes a leak report recognises.
inline constexpr SchemaVersion kTokenPrefixes = SchemaVersion::k1_8;
// pat.audit_head: the chain's head as the linker last anchored it.
inline constexpr SchemaVersion kAuditHead = SchemaVersion::k1_9;
// pat.user_token_locks: creations for one user wait for each other on a row (before it, on an
// advisory lock, exact only under READ COMMITTED).
inline constexpr SchemaVersion kUserTokenLocks = SchemaVersion::k1_9;
// pat_token_cache_stats() reports the server's shared cache beside this backend's (before it,
// eight columns: this backend's cache only).
inline constexpr SchemaVersion kSharedCacheStats = SchemaVersion::k1_10;
// pat.tokens.parent_id, ancestors, created_by, token_type and has_children: delegated tokens
// fall with their ancestors, so a check that reads a token's row reads its ancestors' too, and a
// change to a token with children drops its user's cached tokens; pat_list answers eleven
// columns, pat_validate eight (before it, eight and seven).
inline constexpr SchemaVersion kDelegation = SchemaVersion::k1_11;
// pat.tokens_parent_id_idx: pat_revoke counts the descendants that fall with a token by walking
// down the parent links in it (before it, through tokens_ancestors_idx and each one's row).
inline constexpr SchemaVersion kParentIdIndex = SchemaVersion::k1_12;
// pat.tokens.networks, resources, metadata and suspended_at: a token's own limits, which the
// check reads with its row; pat_validate takes the client's address and a resource and answers
// nine columns (metadata last), pat_authenticate takes the client's address.
inline constexpr SchemaVersion kRestrictions = SchemaVersion::k1_12;
// pat.token_limits and pat.user_rate_limits: rate limits and credits, which the check reads with
// a token's row and enforces in shared memory; outcomes rate_limited and usage_exceeded.
inline constexpr SchemaVersion kRateLimits = SchemaVersion::k1_12;
// pat.token_addresses: the usage flush writes each token's last client addresses and queues a
// new_address notice for an address the token never used; pat_list and pat_token_activity show
// them.
inline constexpr SchemaVersion kTokenAddresses = SchemaVersion::k1_13;
}  // namespace schema_since

}  // namespace pat
