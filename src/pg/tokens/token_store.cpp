// Reading a stored token.
//
// The caller (a validating service) has no privilege on the tables. A token is read by direct
// index scans, which check no privilege and resolve no name through the search_path. The oids of
// the tables and indexes and the column numbers are resolved once per backend and kept until a
// relcache invalidation of one of them (DDL, DROP EXTENSION). Its use is counted in shared memory
// (usage_store.hpp), never written here.
#include "pg/tokens/token_store.hpp"

#include <openssl/crypto.h>

#include "pg/bridge/compat.hpp"
#include "pg/bridge/convert.hpp"
#include "pg/bridge/schema_version.hpp"
#include "pg/bridge/spi_support.hpp"
#include "core/time_range.hpp"

namespace pat::pg {

namespace {

// A pg_pat table and the index a lookup probes, with the column numbers it reads.
struct LookupRelation {
    const char *table_name;
    const char *index_name;
    Oid table = InvalidOid;
    Oid index = InvalidOid;
    StrategyNumber equal = BTEqualStrategyNumber;
};

// Tokens are found through the hash index on digest where the schema has it: one bucket page
// instead of a B-tree descent, whatever the number of tokens. An older schema has only the
// unique B-tree.
constexpr const char *kDigestHashIndex = "tokens_digest_hash_idx";

struct LookupRelations {
    bool resolved = false;
    LookupRelation tokens{"tokens", "tokens_digest_key"};
    LookupRelation user_roles{"user_roles", "user_roles_pkey"};
    LookupRelation roles{"roles", "roles_pkey"};
    LookupRelation role_scopes{"role_scopes", "role_scopes_pkey"};
    LookupRelation scope_table{"scopes", "scopes_pkey"};
    // A delegated token's ancestors, found by token_id; where the schema has delegation.
    LookupRelation token_ids{"tokens", "tokens_pkey"};
    // Rate limits and credits, by token_id and by user_id; where the schema has them.
    LookupRelation token_limits{"token_limits", "token_limits_pkey"};
    LookupRelation user_limits{"user_rate_limits", "user_rate_limits_pkey"};
    AttrNumber limit_requests = 0, limit_per = 0, credits_set_at = 0, credits_remaining = 0,
               credits_period = 0, refill_amount = 0, refill_every = 0;
    AttrNumber user_requests = 0, user_per = 0;  // 0: the schema has no rate limits
    AttrNumber token_id = 0, user_id = 0, name = 0, scopes = 0, expires_at = 0, revoked_at = 0;
    AttrNumber digest = 0;
    AttrNumber ancestors = 0, token_type = 0;  // 0: the schema has no delegation
    // 0: the schema has no restrictions.
    AttrNumber networks = 0, resources = 0, metadata = 0, suspended_at = 0;
    AttrNumber role = 0, all_scopes = 0, scope = 0, defined_scope = 0;
};
LookupRelations lookup;

AttrNumber column_number(Oid table, const char *name) {
    AttrNumber attno = get_attnum(table, name);
    if (attno == InvalidAttrNumber) {
        elog(ERROR, "pg_pat's table %s has no column \"%s\"", get_rel_name(table), name);
    }
    return attno;
}

const LookupRelations &lookup_relations() {
    if (lookup.resolved) {
        return lookup;
    }
    LookupRelations resolved;
    for (LookupRelation *relation : {&resolved.tokens, &resolved.user_roles, &resolved.roles,
                                     &resolved.role_scopes, &resolved.scope_table}) {
        relation->table = relation == &resolved.tokens
                              ? tokens_relation()
                              : pat_relation(relation->table_name, "Reinstall the extension.");
        relation->index = pat_relation(relation->index_name, "Reinstall the extension.");
    }
    if (schema_has(pat::schema_since::kDigestHashIndex)) {
        resolved.tokens.index = pat_relation(kDigestHashIndex, "Reinstall the extension.");
        resolved.tokens.equal = HTEqualStrategyNumber;
    }
    Oid tokens = resolved.tokens.table;
    if (schema_has(pat::schema_since::kDelegation)) {
        resolved.token_ids.table = tokens;
        resolved.token_ids.index = pat_relation("tokens_pkey", "Reinstall the extension.");
        resolved.ancestors = column_number(tokens, "ancestors");
        resolved.token_type = column_number(tokens, "token_type");
    }
    if (schema_has(pat::schema_since::kRateLimits)) {
        for (LookupRelation *relation : {&resolved.token_limits, &resolved.user_limits}) {
            relation->table = pat_relation(relation->table_name, "Reinstall the extension.");
            relation->index = pat_relation(relation->index_name, "Reinstall the extension.");
        }
        Oid limits = resolved.token_limits.table;
        resolved.limit_requests = column_number(limits, "requests");
        resolved.limit_per = column_number(limits, "per");
        resolved.credits_set_at = column_number(limits, "credits_set_at");
        resolved.credits_remaining = column_number(limits, "credits_remaining");
        resolved.credits_period = column_number(limits, "credits_period");
        resolved.refill_amount = column_number(limits, "refill_amount");
        resolved.refill_every = column_number(limits, "refill_every");
        resolved.user_requests = column_number(resolved.user_limits.table, "requests");
        resolved.user_per = column_number(resolved.user_limits.table, "per");
    }
    if (schema_has(pat::schema_since::kRestrictions)) {
        resolved.networks = column_number(tokens, "networks");
        resolved.resources = column_number(tokens, "resources");
        resolved.metadata = column_number(tokens, "metadata");
        resolved.suspended_at = column_number(tokens, "suspended_at");
    }
    resolved.token_id = column_number(tokens, "token_id");
    resolved.user_id = column_number(tokens, "user_id");
    resolved.name = column_number(tokens, "name");
    resolved.scopes = column_number(tokens, "scopes");
    resolved.expires_at = column_number(tokens, "expires_at");
    resolved.revoked_at = column_number(tokens, "revoked_at");
    resolved.digest = column_number(tokens, "digest");
    resolved.role = column_number(resolved.user_roles.table, "role");
    resolved.all_scopes = column_number(resolved.roles.table, "all_scopes");
    resolved.scope = column_number(resolved.role_scopes.table, "scope");
    resolved.defined_scope = column_number(resolved.scope_table.table, "scope");
    resolved.resolved = true;
    lookup = resolved;
    return lookup;
}

// A table and its index, opened for equality lookups. No privilege check applies (table_open
// checks none), so the caller needs no grant on the table.
struct OpenedRelation {
    Relation table;
    Relation index;
    TupleTableSlot *slot;
};

OpenedRelation open_lookup(const LookupRelation &relation) {
    OpenedRelation opened;
    opened.table = table_open(relation.table, AccessShareLock);
    opened.index = index_open(relation.index, AccessShareLock);
    opened.slot = table_slot_create(opened.table, nullptr);
    return opened;
}

void close_lookup(const OpenedRelation &opened) {
    ExecDropSingleTupleTableSlot(opened.slot);
    index_close(opened.index, AccessShareLock);
    table_close(opened.table, AccessShareLock);
}

// Visits the rows whose leading index column equals key (compared with equality_proc, the
// index's equality strategy equal) until visit returns false.
template <typename Visit>
void scan_equal(const OpenedRelation &opened, StrategyNumber equal, Snapshot snapshot, Datum key,
                RegProcedure equality_proc, Visit visit) {
    ScanKeyData scan_key;
    ScanKeyEntryInitialize(&scan_key, 0, 1, equal, InvalidOid, opened.index->rd_indcollation[0],
                           equality_proc, key);
    IndexScanDesc scan = compat::begin_index_scan(opened.table, opened.index, snapshot, 1);
    index_rescan(scan, &scan_key, 1, nullptr, 0);
    AttrNumber column = opened.index->rd_index->indkey.values[0];
    while (index_getnext_slot(scan, ForwardScanDirection, opened.slot)) {
        // A lossy index (the hash index on digest matches 32-bit hash codes only) asks for the
        // condition to be checked on the row itself: without this, a token whose hash code
        // collides with a stored token's would be taken for it.
        if (scan->xs_recheck) {
            bool is_null = false;
            Datum value = slot_getattr(opened.slot, column, &is_null);
            if (is_null || !DatumGetBool(OidFunctionCall2Coll(
                               equality_proc, opened.index->rd_indcollation[0], value, key))) {
                continue;
            }
        }
        if (!visit(opened.slot)) {
            break;
        }
    }
    index_endscan(scan);
}

// The timestamptz column attno of slot, or has_value false when NULL.
void read_timestamp(TupleTableSlot *slot, AttrNumber attno, bool *has_value, TimestampTz *value) {
    bool is_null = false;
    Datum datum = slot_getattr(slot, attno, &is_null);
    *has_value = !is_null;
    *value = is_null ? 0 : DatumGetTimestampTz(datum);
}

template <typename T>
T *copy_varlena(Datum value) {
    return reinterpret_cast<T *>(PG_DETOAST_DATUM_COPY(value));
}

constexpr std::string_view kOrganizationType = "organization";

// An interval column in microseconds (a month as 30 days); the tables' checks keep it within
// 1000 years, so it always fits.
std::int64_t read_interval(TupleTableSlot *slot, AttrNumber attno) {
    bool is_null = false;
    const Interval *value = DatumGetIntervalP(slot_getattr(slot, attno, &is_null));
    return pat::interval_span(value->month, value->day, value->time).value_or(INT64_MAX);
}

// The rate limit in columns requests and per into *requests and *per; 0 requests when none.
void read_rate(TupleTableSlot *slot, AttrNumber requests, AttrNumber per, int32 *limit_requests,
               int64 *limit_per) {
    bool is_null = false;
    Datum value = slot_getattr(slot, requests, &is_null);
    *limit_requests = is_null ? 0 : DatumGetInt32(value);
    *limit_per = is_null ? 0 : read_interval(slot, per);
}

// The token's own limits (by token_id) and its user's rate limit (by user_id), as of snapshot.
void fetch_limits(const LookupRelations &relations, Snapshot snapshot, StoredToken *token) {
    token->limits = pat::TokenLimits{};
    if (relations.limit_requests == 0) {
        return;
    }
    OpenedRelation limits = open_lookup(relations.token_limits);
    scan_equal(limits, BTEqualStrategyNumber, snapshot, UUIDPGetDatum(&token->token_id), F_UUID_EQ,
               [&](TupleTableSlot *row) {
                   pat::TokenLimits &l = token->limits;
                   read_rate(row, relations.limit_requests, relations.limit_per, &l.rate_requests,
                             &l.rate_per);
                   bool is_null = false;
                   Datum set_at = slot_getattr(row, relations.credits_set_at, &is_null);
                   if (!is_null) {
                       l.credits_version = DatumGetTimestampTz(set_at);
                       Datum amount = slot_getattr(row, relations.refill_amount, &is_null);
                       if (!is_null) {
                           l.refill_amount = DatumGetInt64(amount);
                           l.refill_every = read_interval(row, relations.refill_every);
                       }
                   }
                   return false;
               });
    close_lookup(limits);
    OpenedRelation user_limits = open_lookup(relations.user_limits);
    scan_equal(user_limits, BTEqualStrategyNumber, snapshot, PointerGetDatum(token->user_id),
               F_TEXTEQ, [&](TupleTableSlot *row) {
                   read_rate(row, relations.user_requests, relations.user_per,
                             &token->limits.user_rate_requests, &token->limits.user_rate_per);
                   return false;
               });
    close_lookup(user_limits);
}

// A delegated token answers as its weakest ancestor: revoked when one is revoked or gone, expired
// when one has expired. Each is read by token_id under snapshot, the one its own row was read
// with, so the chain is judged as of one moment.
void fold_ancestors(const LookupRelations &relations, Snapshot snapshot, ArrayType *ancestors,
                    StoredToken *token) {
    Datum *ids = nullptr;
    bool *nulls = nullptr;
    int count = 0;
    deconstruct_array(ancestors, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR, &ids, &nulls, &count);
    OpenedRelation by_id = open_lookup(relations.token_ids);
    for (int i = 0; i < count && !token->revoked; ++i) {
        bool found = false;
        if (!nulls[i]) {
            scan_equal(
                by_id, BTEqualStrategyNumber, snapshot, ids[i], F_UUID_EQ,
                [&](TupleTableSlot *row) {
                    bool is_null = false;
                    slot_getattr(row, relations.revoked_at, &is_null);
                    token->revoked = !is_null;
                    if (relations.suspended_at != 0) {
                        slot_getattr(row, relations.suspended_at, &is_null);
                        token->suspended = token->suspended || !is_null;
                    }
                    bool has_expiry = false;
                    TimestampTz expires_at = 0;
                    read_timestamp(row, relations.expires_at, &has_expiry, &expires_at);
                    if (has_expiry && (!token->has_expiry || expires_at < token->expires_at)) {
                        token->has_expiry = true;
                        token->expires_at = expires_at;
                    }
                    found = true;
                    return false;
                });
        }
        token->revoked = token->revoked || !found;
    }
    close_lookup(by_id);
}

}  // namespace

bool is_lookup_relation(Oid relation) {
    if (!lookup.resolved) {
        return false;
    }
    for (const LookupRelation *known :
         {&lookup.tokens, &lookup.user_roles, &lookup.roles, &lookup.role_scopes,
          &lookup.scope_table, &lookup.token_ids, &lookup.token_limits, &lookup.user_limits}) {
        if (relation == known->table || relation == known->index) {
            return true;
        }
    }
    return false;
}

void forget_lookup_relations() {
    lookup.resolved = false;
}

Oid lookup_tokens_relation() {
    return lookup_relations().tokens.table;
}

bool fetch_token_row(const Digest &digest, StoredToken *token) {
    const LookupRelations &relations = lookup_relations();
    Snapshot snapshot = RegisterSnapshot(GetLatestSnapshot());
    bytea *key = static_cast<bytea *>(palloc(VARHDRSZ + digest.size()));
    SET_VARSIZE(key, VARHDRSZ + digest.size());
    memcpy(VARDATA(key), digest.data(), digest.size());

    OpenedRelation tokens = open_lookup(relations.tokens);
    bool found = false;
    ArrayType *ancestors = nullptr;
    scan_equal(
        tokens, relations.tokens.equal, snapshot, PointerGetDatum(key), F_BYTEAEQ,
        [&](TupleTableSlot *row) {
            bool is_null = false;
            // The row's own digest, compared once more whatever the index did: the one
            // comparison that decides whose token this is.
            auto *stored = reinterpret_cast<bytea *>(
                PG_DETOAST_DATUM_PACKED(slot_getattr(row, relations.digest, &is_null)));
            if (is_null || VARSIZE_ANY_EXHDR(stored) != digest.size() ||
                CRYPTO_memcmp(VARDATA_ANY(stored), digest.data(), digest.size()) != 0) {
                return true;
            }
            token->token_id = *DatumGetUUIDP(slot_getattr(row, relations.token_id, &is_null));
            token->user_id = copy_varlena<text>(slot_getattr(row, relations.user_id, &is_null));
            token->name = copy_varlena<text>(slot_getattr(row, relations.name, &is_null));
            token->scopes = copy_varlena<ArrayType>(slot_getattr(row, relations.scopes, &is_null));
            read_timestamp(row, relations.expires_at, &token->has_expiry, &token->expires_at);
            slot_getattr(row, relations.revoked_at, &is_null);
            token->revoked = !is_null;
            token->organization = false;
            token->delegated = false;
            token->suspended = false;
            token->networks = nullptr;
            token->resources = nullptr;
            token->metadata = nullptr;
            if (relations.suspended_at != 0) {
                slot_getattr(row, relations.suspended_at, &is_null);
                token->suspended = !is_null;
                Datum networks = slot_getattr(row, relations.networks, &is_null);
                if (!is_null) {
                    token->networks = copy_varlena<ArrayType>(networks);
                }
                Datum resources = slot_getattr(row, relations.resources, &is_null);
                if (!is_null) {
                    token->resources = copy_varlena<Jsonb>(resources);
                }
                Datum metadata = slot_getattr(row, relations.metadata, &is_null);
                if (!is_null) {
                    token->metadata = copy_varlena<Jsonb>(metadata);
                }
            }
            if (relations.token_type != 0) {
                Datum type = slot_getattr(row, relations.token_type, &is_null);
                token->organization =
                    !is_null && text_view(DatumGetTextPP(type)) == kOrganizationType;
                Datum chain = slot_getattr(row, relations.ancestors, &is_null);
                if (!is_null) {
                    ancestors = copy_varlena<ArrayType>(chain);
                    token->delegated = true;
                }
            }
            found = true;
            return false;
        });
    close_lookup(tokens);
    if (found && ancestors != nullptr) {
        fold_ancestors(relations, snapshot, ancestors, token);
    }
    if (found) {
        fetch_limits(relations, snapshot, token);
    }
    UnregisterSnapshot(snapshot);
    pfree(key);
    return found;
}

bool fetch_stored_credits(const pg_uuid_t &token_id, std::int64_t *version,
                          pat::CreditBalance *balance) {
    const LookupRelations &relations = lookup_relations();
    if (relations.limit_requests == 0) {
        return false;
    }
    Snapshot snapshot = RegisterSnapshot(GetLatestSnapshot());
    OpenedRelation limits = open_lookup(relations.token_limits);
    bool found = false;
    scan_equal(
        limits, BTEqualStrategyNumber, snapshot, UUIDPGetDatum(const_cast<pg_uuid_t *>(&token_id)),
        F_UUID_EQ, [&](TupleTableSlot *row) {
            bool is_null = false;
            Datum set_at = slot_getattr(row, relations.credits_set_at, &is_null);
            if (is_null) {
                return false;
            }
            *version = DatumGetTimestampTz(set_at);
            balance->remaining =
                DatumGetInt64(slot_getattr(row, relations.credits_remaining, &is_null));
            balance->period = DatumGetInt64(slot_getattr(row, relations.credits_period, &is_null));
            found = true;
            return false;
        });
    close_lookup(limits);
    UnregisterSnapshot(snapshot);
    return found;
}

void fetch_user_roles(text *user_id, StoredRoles *result) {
    const LookupRelations &relations = lookup_relations();
    Snapshot snapshot = RegisterSnapshot(GetLatestSnapshot());
    OpenedRelation user_roles = open_lookup(relations.user_roles);
    OpenedRelation roles = open_lookup(relations.roles);
    OpenedRelation role_scopes = open_lookup(relations.role_scopes);
    int capacity = 16;
    result->all_scopes = false;
    result->scope_count = 0;
    result->scopes = static_cast<Datum *>(palloc(sizeof(Datum) * capacity));
    scan_equal(
        user_roles, BTEqualStrategyNumber, snapshot, PointerGetDatum(user_id), F_TEXTEQ,
        [&](TupleTableSlot *row) {
            bool is_null = false;
            Datum role = datumCopy(slot_getattr(row, relations.role, &is_null), false, -1);
            scan_equal(roles, BTEqualStrategyNumber, snapshot, role, F_TEXTEQ,
                       [&](TupleTableSlot *role_row) {
                           result->all_scopes |=
                               DatumGetBool(slot_getattr(role_row, relations.all_scopes, &is_null));
                           return false;
                       });
            scan_equal(role_scopes, BTEqualStrategyNumber, snapshot, role, F_TEXTEQ,
                       [&](TupleTableSlot *scope_row) {
                           if (result->scope_count == capacity) {
                               capacity *= 2;
                               result->scopes = static_cast<Datum *>(
                                   repalloc(result->scopes, sizeof(Datum) * capacity));
                           }
                           result->scopes[result->scope_count++] = datumCopy(
                               slot_getattr(scope_row, relations.scope, &is_null), false, -1);
                           return true;
                       });
            return true;
        });
    close_lookup(role_scopes);
    close_lookup(roles);
    close_lookup(user_roles);
    UnregisterSnapshot(snapshot);
}

void fetch_defined_scopes(StoredScopes *result) {
    const LookupRelations &relations = lookup_relations();
    Snapshot snapshot = RegisterSnapshot(GetLatestSnapshot());
    Relation scopes = table_open(relations.scope_table.table, AccessShareLock);
    TupleTableSlot *slot = table_slot_create(scopes, nullptr);
    TableScanDesc scan = table_beginscan(scopes, snapshot, 0, nullptr);
    int capacity = 16;
    result->count = 0;
    result->scopes = static_cast<Datum *>(palloc(sizeof(Datum) * capacity));
    while (table_scan_getnextslot(scan, ForwardScanDirection, slot)) {
        if (result->count == capacity) {
            capacity *= 2;
            result->scopes =
                static_cast<Datum *>(repalloc(result->scopes, sizeof(Datum) * capacity));
        }
        bool is_null = false;
        result->scopes[result->count++] =
            datumCopy(slot_getattr(slot, relations.defined_scope, &is_null), false, -1);
    }
    table_endscan(scan);
    ExecDropSingleTupleTableSlot(slot);
    table_close(scopes, AccessShareLock);
    UnregisterSnapshot(snapshot);
}

}  // namespace pat::pg
