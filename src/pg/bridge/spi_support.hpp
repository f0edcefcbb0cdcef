// What the glue's SPI work shares: kept plans, resolving pg_pat's tables, running as their
// owner, and transaction-end events.
// The functions here that may raise first check, in assert builds, that their caller owns no
// C++ object (check_may_raise, guard.hpp).
#pragma once

#include "pg/bridge/compat.hpp"
#include "pg/bridge/postgres.hpp"

namespace pat::pg {

// A prepared plan kept for the life of the backend; cursor_options as SPI_prepare_cursor's.
SPIPlanPtr keep_plan(const char *query, int nargs, Oid *types, int cursor_options = 0);

// A query with its parameter types, prepared and kept on first use.
struct KeptPlan {
    const char *query;
    int nargs;
    Oid types[16];  // the most parameters a kept plan takes
    SPIPlanPtr plan;
    // CURSOR_OPT_GENERIC_PLAN for a query whose plan does not depend on its arguments' values
    // but whose custom plans look cheaper than the generic one, so that it would be planned
    // again at every run.
    int cursor_options;
};

// Runs a kept plan inside begin_owner_spi(); values[i] is NULL where nulls[i] is 'n' (nulls
// nullptr: none is). Raises unless SPI answers expected_rc; returns SPI_processed.
uint64 run_kept_plan(KeptPlan &kept, Datum *values, const char *nulls, bool read_only,
                     int expected_rc);

// The oid of table pat.<name> (name: a string literal), remembered until the relation changes;
// 42P01 with hint when this database has none.
Oid pat_relation(const char *name, const char *hint);
// The same, or InvalidOid when this database has none; either answer is remembered until the
// catalogs say it may have changed. name: a string literal. Cannot raise but for a catalog
// lookup.
Oid known_pat_relation(const char *name);

// The same, looked up in the catalogs every time.
Oid find_pat_relation(const char *name);
// The oid of pat.tokens; raises 42P01 when the extension is not installed here.
Oid tokens_relation();

// The attribute number of column name of relation; an error if it has none.
int relation_column(Relation relation, const char *name);

// Whether column attno differs between two versions of a row (IS DISTINCT FROM; varlena values
// compared in bytes after detoasting). May ereport (detoasting).
bool column_changed(HeapTuple old_tuple, HeapTuple new_tuple, TupleDesc desc, int attno);

// The caller's user id, saved while SPI work runs as a table's owner (callers need no privilege
// on pg_pat's tables). Plain functions rather than RAII: an error longjmps past the caller, and
// the (sub)transaction abort restores the user id.
struct SavedUser {
    Oid user = InvalidOid;
    int security = 0;
};

// Switches to the owner of relation, in a restricted security context.
SavedUser become_owner_of(Oid relation);
void restore_user(const SavedUser &saved);

// SPI work as the owner of a pg_pat table, with the search path pinned to pg_catalog alone (no
// pg_temp, none of the caller's schemas) while plans are prepared and run: names resolve as
// written whoever calls, and a kept plan, which PostgreSQL replans whenever the search path
// differs from the one it was prepared under, is never replanned for a caller's search_path.
// Plain functions, not RAII, for the reason SavedUser gives; an error's abort undoes all three.
struct OwnerSpi {
    SavedUser saved;
    compat::PinnedSearchPath search_path;
};
OwnerSpi begin_owner_spi(Oid relation);  // may ereport
void end_owner_spi(const OwnerSpi &spi);

// Whether event ends the top-level transaction (commit, abort or prepare).
bool ends_transaction(XactEvent event);

}  // namespace pat::pg
