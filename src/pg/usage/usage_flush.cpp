// Writing pending usage out; see usage_flush.hpp.
//
// Batches are palloc'd, and libpq results are freed before any error is raised.
#include "pg/usage/usage_flush.hpp"

#include <algorithm>

#include "core/usage.hpp"
#include "pg/bridge/convert.hpp"
#include "pg/bridge/guard.hpp"
#include "pg/bridge/spi_support.hpp"
#include "pg/bridge/schema_version.hpp"
#include "pg/settings.hpp"
#include "pg/usage/limiter_store.hpp"
#include "pg/usage/usage_store.hpp"

namespace pat::pg {

namespace {

// A batch taken from shared memory whose writing has not committed yet.
struct InFlight {
    UsageEntry *entries;  // in TopMemoryContext
    int count;
    SubTransactionId subtransaction;
    InFlight *next;
};
InFlight *in_flight = nullptr;

// Credit balances taken from shared memory whose writing has not committed yet: the entries
// keep them (limiter_store.hpp) until the transaction ends and says whether they were written.
struct CreditsInFlight {
    UnwrittenCredits *credits;  // in TopMemoryContext
    int count;
    SubTransactionId subtransaction;  // a savepoint rolled back undoes the write
};
CreditsInFlight credits_in_flight = {nullptr, 0, InvalidSubTransactionId};

void finish_credits(bool committed) {
    if (credits_in_flight.credits == nullptr) {
        return;
    }
    finish_credit_write(credits_in_flight.credits, credits_in_flight.count, committed);
    pfree(credits_in_flight.credits);
    credits_in_flight = {nullptr, 0, InvalidSubTransactionId};
}

void forget_in_flight(bool put_back_usage, SubTransactionId only) {
    InFlight **link = &in_flight;
    while (*link != nullptr) {
        InFlight *batch = *link;
        if (only != InvalidSubTransactionId && batch->subtransaction != only) {
            link = &batch->next;
            continue;
        }
        *link = batch->next;
        if (put_back_usage) {
            put_back(batch->entries, batch->count);
        }
        pfree(batch->entries);
        pfree(batch);
    }
}

void on_transaction_end(XactEvent event, void *) {
    if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT) {
        forget_in_flight(true, InvalidSubTransactionId);
        finish_credits(false);
    } else if (ends_transaction(event)) {
        forget_in_flight(false, InvalidSubTransactionId);
        finish_credits(true);
    }
}

void on_subtransaction_end(SubXactEvent event, SubTransactionId mine, SubTransactionId parent,
                           void *) {
    if (event == SUBXACT_EVENT_ABORT_SUB) {
        forget_in_flight(true, mine);
        if (credits_in_flight.subtransaction == mine) {
            finish_credits(false);
        }
    } else if (event == SUBXACT_EVENT_COMMIT_SUB) {
        if (credits_in_flight.subtransaction == mine) {
            credits_in_flight.subtransaction = parent;
        }
        for (InFlight *batch = in_flight; batch != nullptr; batch = batch->next) {
            if (batch->subtransaction == mine) {
                batch->subtransaction = parent;
            }
        }
    }
}

// Takes this database's pending usage and registers it as in flight.
InFlight *take_batch() {
    int count = 0;
    UsageEntry *entries = take_pending(MyDatabaseId, TopMemoryContext, &count);
    auto *batch = static_cast<InFlight *>(MemoryContextAlloc(TopMemoryContext, sizeof(InFlight)));
    batch->entries = entries;
    batch->count = count;
    batch->subtransaction = GetCurrentSubTransactionId();
    batch->next = in_flight;
    in_flight = batch;
    return batch;
}

// The six arrays pat_merge_usage() takes, then, with client addresses to write, the three
// arrays and the flag pat_merge_addresses() takes.
constexpr int kUsageArguments = 6;
constexpr int kMostArguments = kUsageArguments + 4;
struct MergeArguments {
    Datum values[kMostArguments];
    int count;
};

Datum make_array(Datum *elements, bool *nulls, int count, Oid type) {
    int16 length = 0;
    bool by_value = false;
    char align = 0;
    get_typlenbyvalalign(type, &length, &by_value, &align);
    int dims[1] = {count};
    int lower_bounds[1] = {1};
    return PointerGetDatum(
        construct_md_array(elements, nulls, 1, dims, lower_bounds, type, length, by_value, align));
}

// used_token_ids, used_at: the last use of each token entry that has one; checked_token_ids
// (NULL for the database), checked_days, checked_outcomes, checked_counts: one row per entry
// and outcome counted.
MergeArguments merge_arguments(const InFlight &batch) {
    int rows = batch.count * pat::kOutcomeCount + 1;
    auto *used_ids = static_cast<Datum *>(palloc(sizeof(Datum) * (batch.count + 1)));
    auto *used_at = static_cast<Datum *>(palloc(sizeof(Datum) * (batch.count + 1)));
    auto *ids = static_cast<Datum *>(palloc(sizeof(Datum) * rows));
    auto *id_nulls = static_cast<bool *>(palloc(sizeof(bool) * rows));
    auto *days = static_cast<Datum *>(palloc(sizeof(Datum) * rows));
    auto *outcomes = static_cast<Datum *>(palloc(sizeof(Datum) * rows));
    auto *counts = static_cast<Datum *>(palloc(sizeof(Datum) * rows));
    Datum outcome_names[pat::kOutcomeCount];
    for (int o = 0; o < pat::kOutcomeCount; ++o) {
        std::string_view name = pat::status_name(pat::outcome_at(o));
        outcome_names[o] = PointerGetDatum(cstring_to_text_with_len(name.data(), name.size()));
    }
    int used = 0, n = 0;
    for (int i = 0; i < batch.count; ++i) {
        const UsageEntry &entry = batch.entries[i];
        bool wide = is_database_wide(entry.key);
        Datum id = UUIDPGetDatum(const_cast<pg_uuid_t *>(&entry.key.token_id));
        if (!wide && entry.tally.has_last_used()) {
            used_ids[used] = id;
            used_at[used++] = TimestampTzGetDatum(entry.tally.last_used);
        }
        for (int o = 0; o < pat::kOutcomeCount; ++o) {
            if (entry.tally.checks[o] == 0) {
                continue;
            }
            ids[n] = id;
            id_nulls[n] = wide;
            days[n] = DateADTGetDatum(entry.key.day);
            outcomes[n] = outcome_names[o];
            counts[n++] = Int64GetDatum(static_cast<int64>(entry.tally.checks[o]));
        }
    }
    MergeArguments arguments;
    arguments.values[0] = make_array(used_ids, nullptr, used, UUIDOID);
    arguments.values[1] = make_array(used_at, nullptr, used, TIMESTAMPTZOID);
    arguments.values[2] = make_array(ids, id_nulls, n, UUIDOID);
    arguments.values[3] = make_array(days, nullptr, n, DATEOID);
    arguments.values[4] = make_array(outcomes, nullptr, n, TEXTOID);
    arguments.values[5] = make_array(counts, nullptr, n, INT8OID);
    arguments.count = kUsageArguments;
    return arguments;
}

// Adds pat_merge_addresses()'s arguments (token ids, addresses, last uses, whether to queue
// new_address notices) when the batch has addresses, the schema has their table and
// pat.client_addresses records them: switched off, what is still pending is dropped too.
void add_address_arguments(const InFlight &batch, MergeArguments *arguments) {
    ClientAddresses mode = client_addresses();
    if (mode == ClientAddresses::off || !schema_has(pat::schema_since::kTokenAddresses)) {
        return;
    }
    int most = batch.count * pat::kRecentAddressCount + 1;
    auto *ids = static_cast<Datum *>(palloc(sizeof(Datum) * most));
    auto *addresses = static_cast<Datum *>(palloc(sizeof(Datum) * most));
    auto *used_at = static_cast<Datum *>(palloc(sizeof(Datum) * most));
    int n = 0;
    for (int i = 0; i < batch.count; ++i) {
        const UsageEntry &entry = batch.entries[i];
        if (is_database_wide(entry.key)) {
            continue;  // no token to write addresses for
        }
        for (const pat::RecentAddress &slot : entry.tally.addresses) {
            if (slot.empty()) {
                continue;
            }
            ids[n] = UUIDPGetDatum(const_cast<pg_uuid_t *>(&entry.key.token_id));
            addresses[n] = PointerGetDatum(make_inet(slot.address));
            used_at[n++] = TimestampTzGetDatum(slot.last_used);
        }
    }
    if (n == 0) {
        return;
    }
    arguments->values[kUsageArguments] = make_array(ids, nullptr, n, UUIDOID);
    arguments->values[kUsageArguments + 1] = make_array(addresses, nullptr, n, INETOID);
    arguments->values[kUsageArguments + 2] = make_array(used_at, nullptr, n, TIMESTAMPTZOID);
    arguments->values[kUsageArguments + 3] = BoolGetDatum(mode == ClientAddresses::notify);
    arguments->count = kMostArguments;
}

const Oid kMergeTypes[kMostArguments] = {
    UUIDARRAYOID, TIMESTAMPTZARRAYOID, UUIDARRAYOID, DATEARRAYOID,        TEXTARRAYOID,
    INT8ARRAYOID, UUIDARRAYOID,        INETARRAYOID, TIMESTAMPTZARRAYOID, BOOLOID};

// The schema pg_pat is installed in (PostgreSQL 15 exports no lookup for it).
Oid extension_schema() {
    Oid extension = get_extension_oid("pg_pat", false);
    Relation catalog = table_open(ExtensionRelationId, AccessShareLock);
    ScanKeyData key;
    ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ,
                ObjectIdGetDatum(extension));
    SysScanDesc scan = systable_beginscan(catalog, ExtensionOidIndexId, true, nullptr, 1, &key);
    HeapTuple tuple = systable_getnext(scan);
    Oid schema = HeapTupleIsValid(tuple)
                     ? reinterpret_cast<Form_pg_extension>(GETSTRUCT(tuple))->extnamespace
                     : InvalidOid;
    systable_endscan(scan);
    table_close(catalog, AccessShareLock);
    return schema;
}

// "<schema>.pat_merge_usage($1, ..., $6)" for this database, followed with addresses by
// "<schema>.pat_merge_addresses($7, ..., $10)" in the same statement; palloc'd.
char *merge_call(const MergeArguments &arguments) {
    const char *schema = quote_identifier(get_namespace_name(extension_schema()));
    const char *usage = psprintf(
        "SELECT %s.pat_merge_usage($1::pg_catalog.uuid[], $2::pg_catalog.timestamptz[],"
        " $3::pg_catalog.uuid[], $4::pg_catalog.date[], $5::pg_catalog.text[],"
        " $6::pg_catalog.int8[])",
        schema);
    if (arguments.count == kUsageArguments) {
        return const_cast<char *>(usage);
    }
    return psprintf(
        "%s, %s.pat_merge_addresses($7::pg_catalog.uuid[], $8::pg_catalog.inet[],"
        " $9::pg_catalog.timestamptz[], $10::pg_catalog.bool)",
        usage, schema);
}

// On a primary: pat_merge_usage() through SPI, as the owner of pg_pat's tables.
int merge_here(const MergeArguments &arguments) {
    OwnerSpi spi = begin_owner_spi(tokens_relation());
    Oid types[kMostArguments];
    memcpy(types, kMergeTypes, sizeof(types));
    int rc = SPI_execute_with_args(merge_call(arguments), arguments.count, types,
                                   const_cast<Datum *>(arguments.values), nullptr, false, 1);
    if (rc != SPI_OK_SELECT || SPI_processed != 1) {
        elog(ERROR, "pg_pat could not write usage: %s", SPI_result_code_string(rc));
    }
    bool is_null = false;
    int written =
        DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &is_null));
    end_owner_spi(spi);
    return written;
}

// The connection a standby forwards over: pat.usage_forward_conninfo, or else the standby's
// primary_conninfo; either way to the database of the same name.
PGconn *connect_to_primary() {
    const char *conninfo = usage_forward_conninfo();
    if (conninfo == nullptr || conninfo[0] == '\0') {
        conninfo = GetConfigOption("primary_conninfo", false, false);
    }
    if (conninfo == nullptr || conninfo[0] == '\0') {
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("pg_pat cannot forward usage from this standby: no connection to "
                               "the primary is configured"),
                        errhint("Set pat.usage_forward_conninfo (or primary_conninfo).")));
    }
    const char *keywords[] = {"dbname", "dbname", "fallback_application_name", "connect_timeout",
                              nullptr};
    const char *values[] = {conninfo, get_database_name(MyDatabaseId), "pg_pat usage forwarder",
                            "10", nullptr};
    PGconn *connection = PQconnectdbParams(keywords, values, 1);
    if (PQstatus(connection) != CONNECTION_OK) {
        char *message = pstrdup(PQerrorMessage(connection));
        PQfinish(connection);
        ereport(ERROR, (errcode(ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION),
                        errmsg("pg_pat could not connect to the primary to forward usage"),
                        errdetail_internal("%s", message)));
    }
    return connection;
}

// On a standby: the same call on the primary, with the arrays sent as text.
int merge_on_primary(const MergeArguments &arguments) {
    // Timestamps in a form the primary reads whatever its DateStyle.
    int nest = NewGUCNestLevel();
    set_config_option("datestyle", "ISO", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0,
                      false);
    const char *texts[kMostArguments];
    for (int i = 0; i < arguments.count; ++i) {
        texts[i] = kMergeTypes[i] == BOOLOID
                       ? (DatumGetBool(arguments.values[i]) ? "true" : "false")
                       : OidOutputFunctionCall(F_ARRAY_OUT, arguments.values[i]);
    }
    AtEOXact_GUC(true, nest);
    char *call = merge_call(arguments);
    PGconn *connection = connect_to_primary();
    PGresult *result =
        PQexecParams(connection, call, arguments.count, nullptr, texts, nullptr, nullptr, 0);
    bool ok = PQresultStatus(result) == PGRES_TUPLES_OK && PQntuples(result) == 1;
    int written = ok ? atoi(PQgetvalue(result, 0, 0)) : 0;
    char *message = ok ? nullptr : pstrdup(PQerrorMessage(connection));
    PQclear(result);
    PQfinish(connection);
    if (!ok) {
        ereport(ERROR, (errcode(ERRCODE_CONNECTION_FAILURE),
                        errmsg("pg_pat could not forward usage to the primary"),
                        errdetail_internal("%s", message)));
    }
    return written;
}

// Most balances written per flush; more wait for the next.
constexpr int kMaxCreditsPerFlush = 100000;

// On a primary, where the schema has credits: writes this database's spent balances through
// pat.write_credits() as the owner of pg_pat's tables. A standby writes none: it spends its
// own copy of the replicated balance (README).
void write_credits() {
    if (RecoveryInProgress() || !schema_has(pat::schema_since::kRateLimits) ||
        credits_in_flight.credits != nullptr) {
        return;
    }
    int most = static_cast<int>(std::min<int64>(limiter_stats().entries, kMaxCreditsPerFlush));
    auto *taken = static_cast<UnwrittenCredits *>(
        MemoryContextAlloc(TopMemoryContext, sizeof(UnwrittenCredits) * (most + 1)));
    int count = take_unwritten_credits(taken, most);
    credits_in_flight = {taken, count, GetCurrentSubTransactionId()};
    if (count == 0) {
        return;
    }
    auto *ids = static_cast<Datum *>(palloc(sizeof(Datum) * count));
    auto *set_at = static_cast<Datum *>(palloc(sizeof(Datum) * count));
    auto *remaining = static_cast<Datum *>(palloc(sizeof(Datum) * count));
    auto *periods = static_cast<Datum *>(palloc(sizeof(Datum) * count));
    for (int i = 0; i < count; ++i) {
        ids[i] = UUIDPGetDatum(&taken[i].token_id);
        set_at[i] = TimestampTzGetDatum(taken[i].version);
        remaining[i] = Int64GetDatum(taken[i].balance.remaining);
        periods[i] = Int64GetDatum(taken[i].balance.period);
    }
    Datum values[4] = {make_array(ids, nullptr, count, UUIDOID),
                       make_array(set_at, nullptr, count, TIMESTAMPTZOID),
                       make_array(remaining, nullptr, count, INT8OID),
                       make_array(periods, nullptr, count, INT8OID)};
    Oid types[4] = {UUIDARRAYOID, TIMESTAMPTZARRAYOID, INT8ARRAYOID, INT8ARRAYOID};
    OwnerSpi spi = begin_owner_spi(tokens_relation());
    int rc = SPI_execute_with_args("SELECT pat.write_credits($1, $2, $3, $4)", 4, types, values,
                                   nullptr, false, 1);
    if (rc != SPI_OK_SELECT) {
        elog(ERROR, "pg_pat could not write credit balances: %s", SPI_result_code_string(rc));
    }
    end_owner_spi(spi);
}

}  // namespace

int flush_usage() {
    // pat.token_usage is locked before the usage leaves shared memory: a round of
    // pat.max_inactivity, which locks it in SHARE mode, then waits until this flush has
    // committed, and cannot judge a token whose use is in flight (lifecycle_worker.cpp).
    // pat.tokens first, in the order TRUNCATE ... CASCADE takes them, so that neither waits for
    // the other. A standby's flush commits on the primary; the primary's rounds count it once
    // forwarded.
    Oid tokens = known_pat_relation("tokens");
    Oid usage = known_pat_relation("token_usage");
    if (OidIsValid(tokens) && OidIsValid(usage) && !RecoveryInProgress()) {
        LockRelationOid(tokens, AccessShareLock);
        LockRelationOid(usage, RowExclusiveLock);
    }
    write_credits();
    InFlight *batch = take_batch();
    if (batch->count == 0) {
        return 0;
    }
    MergeArguments arguments = merge_arguments(*batch);
    add_address_arguments(*batch, &arguments);
    return RecoveryInProgress() ? merge_on_primary(arguments) : merge_here(arguments);
}

int discard_usage() {
    int count = 0;
    pfree(take_pending(MyDatabaseId, CurrentMemoryContext, &count));
    return count;
}

void setup_usage_flush() {
    RegisterXactCallback(on_transaction_end, nullptr);
    RegisterSubXactCallback(on_subtransaction_end, nullptr);
}

}  // namespace pat::pg
