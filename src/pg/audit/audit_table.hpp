// What the utility guard (audit_guard.cpp) records about pat_audit() triggers being switched off by
// paths the event trigger cannot see: a drop by any path (DROP TRIGGER, DROP TABLE, DROP SCHEMA ...
// CASCADE, DROP OWNED), a CREATE OR REPLACE TRIGGER that no longer runs pat_audit() for the same
// changes, and TRUNCATE of a partition (statement triggers are not cloned to partitions, so the
// audited root's TRUNCATE trigger does not fire).
#pragma once

#include "pg/bridge/postgres.hpp"

namespace pat::pg {

// The fields of a pg_trigger row that the guards read.
struct TriggerRow {
    Oid table;
    Oid parent;  // InvalidOid, or the trigger of a partitioned table this one is a clone of
    Oid function;
    int16 type;
    char enabled;
    NameData name;
};

// The pg_trigger row of trigger (pg_trigger has no syscache by OID): false when there is none.
bool find_trigger_row(Oid trigger, TriggerRow *row);

// From the object access hook, before a trigger is dropped: notes it if it is a pat_audit()
// trigger of its own (not a partition's clone), with its table's name while it still exists.
void note_trigger_drop(Oid trigger);

// How many drops are noted and not yet recorded; a failed statement forgets those it noted
// (forget_trigger_drops(mark)).
int noted_trigger_drops();
void forget_trigger_drops(int mark);

// After a statement succeeded: records the noted drops as audit_trigger_dropped rows, unless
// pg_pat itself went with the statement.
void record_noted_trigger_drops();

// Before CREATE OR REPLACE TRIGGER: records audit_trigger_replaced if it replaces a pat_audit()
// trigger with one that no longer runs pat_audit() for the same changes.
void record_trigger_replacement(CreateTrigStmt *statement);

// After CREATE [OR REPLACE] TRIGGER: a pat_audit() trigger fires ALWAYS, so that
// session_replication_role = replica (a superuser's, or logical replication's apply) does not
// skip it; ALTER TABLE ... ENABLE TRIGGER back to origin only is recorded as a switch-off.
void fire_pat_audit_always(CreateTrigStmt *statement);

// After TRUNCATE: for each truncated partition of a table audited with pat_audit(), the row the
// root's TRUNCATE trigger would have written.
void record_partition_truncates(TruncateStmt *statement);

}  // namespace pat::pg
