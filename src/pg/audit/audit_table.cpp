// The trigger applications attach to their tables, pat_audit(); the event trigger that records
// a pat_audit() trigger being disabled; and what the utility guard records of pat_audit()
// triggers switched off by other paths (audit_table.hpp).
//
// What pat_audit() needs of its trigger and table (its arguments, the excluded columns as an
// array, the table's quoted name, to_jsonb() set up for the row type) is worked out once per
// trigger and backend and kept until the table, its triggers or a schema change; each row then
// costs its JSON and one heap insert into pat.audit_pending.
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "pg/audit/audit_table.hpp"
#include "pg/audit/audit_state.hpp"
#include "pg/audit/audit_writer.hpp"
#include "pg/bridge/compat.hpp"
#include "pg/bridge/convert.hpp"
#include "pg/bridge/guard.hpp"
#include "pg/bridge/json_object.hpp"
#include "pg/tokens/token_context.hpp"

using pat::pg::call_pg;

namespace {

// pat_audit()'s trigger arguments.
struct AuditArguments {
    bool always = false;               // record changes made outside a token context too
    std::vector<std::string> exclude;  // columns left out of old_data and new_data
};

// Parses 'always' and 'exclude=<column>' (one argument per column; the name is taken literally,
// commas included) and checks each excluded column exists, so that a typo cannot leak a column
// meant to stay out of the log.
AuditArguments audit_arguments(const Trigger *trigger, TupleDesc desc) {
    AuditArguments arguments;
    constexpr std::string_view kExclude = "exclude=";
    for (int i = 0; i < trigger->tgnargs; ++i) {
        std::string_view argument = trigger->tgargs[i];
        if (argument == "always") {
            arguments.always = true;
        } else if (argument.substr(0, kExclude.size()) == kExclude &&
                   argument.size() > kExclude.size()) {
            std::string column(argument.substr(kExclude.size()));
            // Cannot raise: SPI_fnumber only compares names.
            if (SPI_fnumber(desc, column.c_str()) <= 0) {
                throw pat::Error(pat::sqlstate::kUndefinedColumn,
                                 "pat_audit() cannot exclude column \"" + column +
                                     "\": the table has no such column",
                                 "", "Fix the trigger's arguments, e.g. with pat_audit_table().");
            }
            arguments.exclude.push_back(std::move(column));
        } else {
            throw pat::Error(pat::sqlstate::kInvalidParameterValue,
                             "unknown pat_audit() trigger argument \"" +
                                 std::string(argument.substr(0, 100)) + "\"",
                             "", "The arguments are 'always' and 'exclude=<column>'.");
        }
    }
    return arguments;
}

// The root of relation's partition tree (relation itself when it is no partition).
Oid audited_table(Relation relation) {
    Oid table = RelationGetRelid(relation);
    if (relation->rd_rel->relispartition) {
        table = llast_oid(get_partition_ancestors(table));
    }
    return table;
}

// A table's name, schema-qualified and quoted.
text *qualified_name(Oid table) {
    char *schema = get_namespace_name(get_rel_namespace(table));
    char *name = get_rel_name(table);
    if (schema == nullptr || name == nullptr) {
        elog(ERROR, "cache lookup failed for relation %u", table);
    }
    return cstring_to_text(quote_qualified_identifier(schema, name));
}

// What pat_audit() keeps per trigger (a partition's clone is a trigger of its own).
struct AuditedTrigger {
    Oid trigger;  // the hash key
    bool valid;
    Oid relation;
    Oid root;
    bool always;
    ArrayType *exclude;  // nullptr: none
    text *table_name;    // of the root: a partition's rows are the partitioned table's
    FmgrInfo to_jsonb;   // to_jsonb() with the row type as its argument's type
    MemoryContext memory;
};
HTAB *audited_triggers = nullptr;

void forget_audited_tables(Datum, Oid relation) {
    if (audited_triggers == nullptr) {
        return;
    }
    HASH_SEQ_STATUS walk;
    hash_seq_init(&walk, audited_triggers);
    while (auto *entry = static_cast<AuditedTrigger *>(hash_seq_search(&walk))) {
        if (relation == InvalidOid || entry->relation == relation || entry->root == relation) {
            entry->valid = false;
        }
    }
}

// A renamed schema changes table names without a relcache invalidation of its tables.
void forget_after_schema_change(Datum, int, uint32) {
    forget_audited_tables(0, InvalidOid);
}

// The kept entry of trigger on relation, set up on first use.
AuditedTrigger *find_audited_trigger(const Trigger *trigger, Relation relation) {
    if (audited_triggers == nullptr) {
        HASHCTL control = {};
        control.keysize = sizeof(Oid);
        control.entrysize = sizeof(AuditedTrigger);
        control.hcxt = CacheMemoryContext;
        audited_triggers = hash_create("pg_pat audited triggers", 64, &control,
                                       HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
        CacheRegisterRelcacheCallback(forget_audited_tables, 0);
        CacheRegisterSyscacheCallback(NAMESPACEOID, forget_after_schema_change, 0);
    }
    bool found = false;
    auto *entry = static_cast<AuditedTrigger *>(
        hash_search(audited_triggers, &trigger->tgoid, HASH_ENTER, &found));
    if (!found) {
        entry->valid = false;
        entry->memory = AllocSetContextCreate(CacheMemoryContext, "pg_pat audited trigger",
                                              ALLOCSET_SMALL_SIZES);
    }
    return entry;
}

// Fills entry for trigger on relation. Arguments were checked.
void fill_audited_trigger(AuditedTrigger *entry, const AuditArguments &arguments, Relation relation,
                          ArrayType *exclude) {
    MemoryContextReset(entry->memory);
    MemoryContext caller = MemoryContextSwitchTo(entry->memory);
    entry->relation = RelationGetRelid(relation);
    entry->root = audited_table(relation);
    entry->always = arguments.always;
    entry->exclude = exclude == nullptr ? nullptr
                                        : reinterpret_cast<ArrayType *>(DatumGetPointer(
                                              datumCopy(PointerGetDatum(exclude), false, -1)));
    entry->table_name = qualified_name(entry->root);
    // to_jsonb() is polymorphic: it reads its argument's type from the call expression.
    fmgr_info_cxt(F_TO_JSONB, &entry->to_jsonb, entry->memory);
    Node *argument = reinterpret_cast<Node *>(
        makeNullConst(RelationGetDescr(relation)->tdtypeid, -1, InvalidOid));
    FuncExpr *call = makeFuncExpr(F_TO_JSONB, JSONBOID, list_make1(argument), InvalidOid,
                                  InvalidOid, COERCE_EXPLICIT_CALL);
    fmgr_info_set_expr(reinterpret_cast<Node *>(call), &entry->to_jsonb);
    MemoryContextSwitchTo(caller);
    entry->valid = true;
}

// The entry of the firing trigger, valid. Throws pat::Error for bad arguments.
const AuditedTrigger *audited_trigger(const TriggerData *trigger) {
    Relation relation = trigger->tg_relation;
    AuditedTrigger *entry =
        call_pg([&] { return find_audited_trigger(trigger->tg_trigger, relation); });
    if (!entry->valid) {
        AuditArguments arguments = audit_arguments(trigger->tg_trigger, RelationGetDescr(relation));
        ArrayType *exclude =
            arguments.exclude.empty() ? nullptr : pat::pg::make_text_array(arguments.exclude);
        call_pg([&] { fill_audited_trigger(entry, arguments, relation, exclude); });
    }
    return entry;
}

// to_jsonb(row) - exclude, computed as the user running the statement (a type's cast to json is
// user code and must not run as the log's owner).
Jsonb *row_jsonb(const AuditedTrigger *entry, HeapTuple tuple, TupleDesc desc) {
    Datum row = heap_copy_tuple_as_datum(tuple, desc);
    Datum json = FunctionCall1(const_cast<FmgrInfo *>(&entry->to_jsonb), row);
    if (entry->exclude != nullptr) {
        json = DirectFunctionCall2(jsonb_delete_array, json, PointerGetDatum(entry->exclude));
    }
    return DatumGetJsonbP(json);
}

// Whether function is pat_audit() (whatever schema the extension is in).
bool is_pat_audit(Oid function) {
    HeapTuple proc = SearchSysCache1(PROCOID, ObjectIdGetDatum(function));
    if (!HeapTupleIsValid(proc)) {
        return false;
    }
    auto *row = reinterpret_cast<Form_pg_proc>(GETSTRUCT(proc));
    bool matches = row->prolang == ClanguageId;
    if (matches) {
        bool is_null = false;
        Datum source = SysCacheGetAttr(PROCOID, proc, Anum_pg_proc_prosrc, &is_null);
        matches = !is_null && strcmp(TextDatumGetCString(source), "pat_audit") == 0;
    }
    ReleaseSysCache(proc);
    return matches;
}

// Whether row is a pat_audit() trigger of its own table, not a partition's clone of one (a
// clone goes with its parent's trigger).
bool is_own_pat_audit_trigger(const pat::pg::TriggerRow &row) {
    return row.parent == InvalidOid && is_pat_audit(row.function);
}

// One {"trigger": name, "enabled": state} object.
Jsonb *trigger_state(const char *name, char enabled) {
    pat::pg::JsonObject state;
    state.add_string("trigger", name);
    char enabled_text[2] = {enabled, '\0'};
    state.add_string("enabled", enabled_text);
    return state.finish();
}

// Records that trigger (a pat_audit() trigger of table) is being disabled (to state 'D', or 'R':
// fires in replica sessions only) or dropped (state 0).
void record_trigger_change(Oid table, const char *trigger, char enabled, char new_state) {
    pat::pg::AuditEntry entry;
    entry.action = new_state == 0 ? "audit_trigger_dropped" : "audit_trigger_disabled";
    Relation relation = table_open(table, AccessShareLock);
    entry.table_name = qualified_name(audited_table(relation));
    table_close(relation, AccessShareLock);
    entry.old_data = trigger_state(trigger, enabled);
    entry.new_data = new_state == 0 ? nullptr : trigger_state(trigger, new_state);
    pat::pg::attribute_to_token_context(entry);
    entry.actor = pat::pg::audit_actor_for(entry.user_id);
    pat::pg::append_audit_entry(entry);
}

// For each pat_audit() trigger of table (named: only that one) still in another state than
// new_state, records the change.
void record_pat_audit_triggers(Oid table, const char *only_name, char new_state) {
    Relation triggers = table_open(TriggerRelationId, AccessShareLock);
    ScanKeyData key;
    ScanKeyInit(&key, Anum_pg_trigger_tgrelid, BTEqualStrategyNumber, F_OIDEQ,
                ObjectIdGetDatum(table));
    SysScanDesc scan =
        systable_beginscan(triggers, TriggerRelidNameIndexId, true, nullptr, 1, &key);
    HeapTuple tuple;
    while ((tuple = systable_getnext(scan)) != nullptr) {
        auto *row = reinterpret_cast<Form_pg_trigger>(GETSTRUCT(tuple));
        // Back to firing on origin only is a switch-off (for replica sessions) only from ALWAYS.
        bool weaker = new_state == TRIGGER_FIRES_ON_ORIGIN ? row->tgenabled == TRIGGER_FIRES_ALWAYS
                                                           : row->tgenabled != new_state;
        if ((only_name != nullptr && strcmp(NameStr(row->tgname), only_name) != 0) || !weaker ||
            !is_pat_audit(row->tgfoid)) {
            continue;
        }
        record_trigger_change(table, NameStr(row->tgname), row->tgenabled, new_state);
    }
    systable_endscan(scan);
    table_close(triggers, AccessShareLock);
}

// The pat_audit() row trigger of table (its own or a clone) that still fires in this session
// (tgenabled and session_replication_role), or nullptr; found in its relcache entry. With
// truncate, the statement-level TRUNCATE trigger instead.
const Trigger *firing_pat_audit_trigger(Relation relation, bool truncate) {
    TriggerDesc *triggers = relation->trigdesc;
    for (int i = 0; triggers != nullptr && i < triggers->numtriggers; ++i) {
        const Trigger *trigger = &triggers->triggers[i];
        bool fires = trigger->tgenabled == TRIGGER_FIRES_ALWAYS ||
                     (trigger->tgenabled == TRIGGER_FIRES_ON_ORIGIN) ==
                         (SessionReplicationRole != SESSION_REPLICATION_ROLE_REPLICA);
        bool is_truncate = TRIGGER_FOR_TRUNCATE(trigger->tgtype);
        if (fires && trigger->tgenabled != TRIGGER_DISABLED && is_truncate == truncate &&
            is_pat_audit(trigger->tgfoid)) {
            return trigger;
        }
    }
    return nullptr;
}

// ALTER TABLE ... DETACH PARTITION of a table whose rows pat_audit() records: the partition's
// rows are no longer audited (its clone of the trigger goes), recorded as
// audit_partition_detached of the audited (root) table.
void record_partition_detach(Oid table, PartitionCmd *command) {
    Oid partition = RangeVarGetRelid(command->name, NoLock, true);
    if (!OidIsValid(partition)) {
        return;
    }
    Relation relation = table_open(table, AccessShareLock);
    bool audited = firing_pat_audit_trigger(relation, false) != nullptr;
    text *root_name = audited ? qualified_name(audited_table(relation)) : nullptr;
    table_close(relation, AccessShareLock);
    if (!audited) {
        return;
    }
    pat::pg::AuditEntry entry;
    entry.action = "audit_partition_detached";
    entry.table_name = root_name;
    pat::pg::JsonObject detached;
    detached.add_string("partition", text_to_cstring(qualified_name(partition)));
    entry.new_data = detached.finish();
    pat::pg::attribute_to_token_context(entry);
    entry.actor = pat::pg::audit_actor_for(entry.user_id);
    pat::pg::append_audit_entry(entry);
}

// What a DDL statement is about to do to pat_audit() triggers, recorded before it runs (the rows
// roll back with it if it fails).
void record_trigger_changes(Node *statement) {
    if (IsA(statement, AlterTableStmt)) {
        auto *alter = castNode(AlterTableStmt, statement);
        Oid table = RangeVarGetRelid(alter->relation, NoLock, true);
        if (!OidIsValid(table)) {
            return;
        }
        ListCell *cell;
        foreach (cell, alter->cmds) {
            auto *command = castNode(AlterTableCmd, lfirst(cell));
            switch (command->subtype) {
                case AT_DisableTrig:
                    record_pat_audit_triggers(table, command->name, TRIGGER_DISABLED);
                    break;
                case AT_EnableReplicaTrig:
                    record_pat_audit_triggers(table, command->name, TRIGGER_FIRES_ON_REPLICA);
                    break;
                case AT_EnableTrig:
                    record_pat_audit_triggers(table, command->name, TRIGGER_FIRES_ON_ORIGIN);
                    break;
                case AT_EnableTrigAll:
                case AT_EnableTrigUser:
                    record_pat_audit_triggers(table, nullptr, TRIGGER_FIRES_ON_ORIGIN);
                    break;
                case AT_DisableTrigAll:
                case AT_DisableTrigUser:
                    record_pat_audit_triggers(table, nullptr, TRIGGER_DISABLED);
                    break;
                case AT_DetachPartition:
                    record_partition_detach(table, castNode(PartitionCmd, command->def));
                    break;
                default:
                    break;
            }
        }
    }
    // Drops (DROP TRIGGER, DROP TABLE, and DROP SCHEMA ... CASCADE or DROP OWNED, which the
    // event trigger cannot see through) are recorded by the utility guard as each pat_audit()
    // trigger is dropped: note_trigger_drop().
}

}  // namespace

// pat_audit(): AFTER INSERT OR UPDATE OR DELETE FOR EACH ROW, or AFTER TRUNCATE FOR EACH
// STATEMENT. Records the change against the transaction's token; outside a token context only
// with the argument 'always'.
PAT_FUNCTION(pat_audit) {
    TriggerData *trigger = pat::pg::trigger_call(fcinfo, "pat_audit()");
    TriggerEvent event = trigger->tg_event;
    bool truncate = TRIGGER_FIRED_BY_TRUNCATE(event);
    if (!TRIGGER_FIRED_AFTER(event) || TRIGGER_FIRED_FOR_ROW(event) == truncate) {
        throw pat::Error(pat::sqlstate::kTriggerProtocolViolated,
                         "pat_audit() must fire AFTER INSERT, UPDATE or DELETE FOR EACH ROW, or "
                         "AFTER TRUNCATE FOR EACH STATEMENT",
                         "", "Attach it with pat_audit_table().");
    }
    const AuditedTrigger *audited = audited_trigger(trigger);
    if (pat::pg::current_token_context() == nullptr && !audited->always) {
        return PointerGetDatum(nullptr);
    }

    pat::pg::AuditEntry entry;
    entry.table_name = audited->table_name;
    HeapTuple old_row = nullptr;
    HeapTuple new_row = nullptr;
    if (truncate) {
        entry.action = "truncate";
    } else if (TRIGGER_FIRED_BY_INSERT(event)) {
        entry.action = "insert";
        new_row = trigger->tg_trigtuple;
    } else if (TRIGGER_FIRED_BY_UPDATE(event)) {
        entry.action = "update";
        old_row = trigger->tg_trigtuple;
        new_row = trigger->tg_newtuple;
    } else {
        entry.action = "delete";
        old_row = trigger->tg_trigtuple;
    }
    pat::pg::register_audit_callbacks();
    TupleDesc desc = RelationGetDescr(trigger->tg_relation);
    call_pg([&] {
        pat::pg::attribute_to_token_context(entry);
        entry.actor = pat::pg::audit_actor_for(entry.user_id);
        entry.old_data = old_row != nullptr ? row_jsonb(audited, old_row, desc) : nullptr;
        entry.new_data = new_row != nullptr ? row_jsonb(audited, new_row, desc) : nullptr;
        pat::pg::append_audit_entry(entry);
    });
    return PointerGetDatum(nullptr);
}

// pat.audit_trigger_changes(): the event trigger (ddl_command_start of ALTER TABLE, DROP
// TRIGGER and DROP TABLE) that records a pat_audit() trigger being disabled and a partition
// detached from an audited table, with the role that does it. Drops are recorded by the utility
// guard whatever the statement (note_trigger_drop).
PAT_FUNCTION(pat_audit_trigger_changes) {
    if (!CALLED_AS_EVENT_TRIGGER(fcinfo)) {
        throw pat::Error(pat::sqlstate::kTriggerProtocolViolated,
                         "pat.audit_trigger_changes() must be called as an event trigger");
    }
    auto *data = reinterpret_cast<EventTriggerData *>(fcinfo->context);
    pat::pg::register_audit_callbacks();
    call_pg([&] { record_trigger_changes(data->parsetree); });
    PG_RETURN_VOID();
}

namespace pat::pg {

namespace {

// A pat_audit() trigger being dropped, noted while its table still exists.
struct DroppedTrigger {
    char *table_name;  // the audited (root) table, quoted and qualified
    char *trigger;
    char enabled;
};

// DroppedTrigger pointers in TopTransactionContext; NIL again at every transaction's end.
List *dropped_triggers = NIL;
bool drop_callback_registered = false;

// Recorded in table, then trigger name order, as the tables' triggers are listed.
int compare_dropped(const ListCell *a, const ListCell *b) {
    const auto *x = static_cast<const DroppedTrigger *>(lfirst(a));
    const auto *y = static_cast<const DroppedTrigger *>(lfirst(b));
    int by_table = strcmp(x->table_name, y->table_name);
    return by_table != 0 ? by_table : strcmp(x->trigger, y->trigger);
}

void forget_at_transaction_end(XactEvent event, void *) {
    if (ends_transaction(event)) {
        dropped_triggers = NIL;
    }
}

}  // namespace

bool find_trigger_row(Oid trigger, TriggerRow *row) {
    if (!OidIsValid(trigger)) {
        return false;
    }
    Relation triggers = table_open(TriggerRelationId, AccessShareLock);
    ScanKeyData key;
    ScanKeyInit(&key, Anum_pg_trigger_oid, BTEqualStrategyNumber, F_OIDEQ,
                ObjectIdGetDatum(trigger));
    SysScanDesc scan = systable_beginscan(triggers, TriggerOidIndexId, true, nullptr, 1, &key);
    HeapTuple tuple = systable_getnext(scan);
    bool found = tuple != nullptr;
    if (found) {
        auto *form = reinterpret_cast<Form_pg_trigger>(GETSTRUCT(tuple));
        *row = TriggerRow{form->tgrelid, form->tgparentid, form->tgfoid,
                          form->tgtype,  form->tgenabled,  form->tgname};
    }
    systable_endscan(scan);
    table_close(triggers, AccessShareLock);
    return found;
}

void note_trigger_drop(Oid trigger) {
    TriggerRow row;
    // A partition's clone goes with its parent's trigger or with the partition (DETACH is
    // recorded as such).
    if (!find_trigger_row(trigger, &row) || !is_own_pat_audit_trigger(row)) {
        return;
    }
    if (!drop_callback_registered) {
        RegisterXactCallback(forget_at_transaction_end, nullptr);
        drop_callback_registered = true;
    }
    Oid table = row.table;
    if (get_rel_relispartition(table)) {
        table = llast_oid(get_partition_ancestors(table));
    }
    MemoryContext caller = MemoryContextSwitchTo(TopTransactionContext);
    auto *dropped = static_cast<DroppedTrigger *>(palloc(sizeof(DroppedTrigger)));
    dropped->table_name = text_to_cstring(qualified_name(table));
    dropped->trigger = pstrdup(NameStr(row.name));
    dropped->enabled = row.enabled;
    dropped_triggers = lappend(dropped_triggers, dropped);
    MemoryContextSwitchTo(caller);
}

int noted_trigger_drops() {
    return list_length(dropped_triggers);
}

void forget_trigger_drops(int mark) {
    dropped_triggers = list_truncate(dropped_triggers, mark);
}

void record_noted_trigger_drops() {
    if (dropped_triggers == NIL) {
        return;
    }
    List *noted = dropped_triggers;
    dropped_triggers = NIL;
    // DROP EXTENSION pg_pat ... CASCADE (or DROP SCHEMA of pg_pat's schema) took the log along.
    if (!OidIsValid(get_extension_oid("pg_pat", true)) ||
        !OidIsValid(find_pat_relation("audit_log"))) {
        return;
    }
    register_audit_callbacks();
    list_sort(noted, compare_dropped);
    ListCell *cell;
    foreach (cell, noted) {
        auto *dropped = static_cast<DroppedTrigger *>(lfirst(cell));
        AuditEntry entry;
        entry.action = "audit_trigger_dropped";
        entry.table_name = cstring_to_text(dropped->table_name);
        entry.old_data = trigger_state(dropped->trigger, dropped->enabled);
        attribute_to_token_context(entry);
        entry.actor = audit_actor_for(entry.user_id);
        append_audit_entry(entry);
    }
}

void record_trigger_replacement(CreateTrigStmt *statement) {
    if (!statement->replace) {
        return;
    }
    Oid table = RangeVarGetRelid(statement->relation, NoLock, true);
    if (!OidIsValid(table)) {
        return;
    }
    TriggerRow existing;
    if (!find_trigger_row(get_trigger_oid(table, statement->trigname, true), &existing) ||
        !is_own_pat_audit_trigger(existing)) {
        return;
    }
    char enabled = existing.enabled;
    int16 old_type = existing.type;
    // Still pat_audit(), for every change it recorded, at the same level, unconditionally:
    // pat_audit_table() replacing its own trigger (new arguments) is not a switch-off.
    Oid function = LookupFuncName(statement->funcname, 0, nullptr, true);
    constexpr int16 kEvents =
        TRIGGER_TYPE_INSERT | TRIGGER_TYPE_UPDATE | TRIGGER_TYPE_DELETE | TRIGGER_TYPE_TRUNCATE;
    int16 old_events = old_type & kEvents;
    bool same_level = ((old_type & TRIGGER_TYPE_ROW) != 0) == statement->row;
    bool same_timing = (old_type & TRIGGER_TYPE_TIMING_MASK) == statement->timing;
    bool keeps_auditing = OidIsValid(function) && is_pat_audit(function) &&
                          statement->whenClause == nullptr && statement->columns == NIL &&
                          (statement->events & old_events) == old_events && same_level &&
                          same_timing;
    if (keeps_auditing) {
        return;
    }
    Relation relation = table_open(table, AccessShareLock);
    text *root_name = qualified_name(audited_table(relation));
    table_close(relation, AccessShareLock);
    AuditEntry entry;
    entry.action = "audit_trigger_replaced";
    entry.table_name = root_name;
    entry.old_data = trigger_state(statement->trigname, enabled);
    JsonObject replacement;
    replacement.add_string("trigger", statement->trigname);
    replacement.add_string("function", OidIsValid(function)
                                           ? format_procedure(function)
                                           : NameListToString(statement->funcname));
    replacement.add_string("when", statement->whenClause == nullptr ? nullptr : "conditional");
    entry.new_data = replacement.finish();
    register_audit_callbacks();
    attribute_to_token_context(entry);
    entry.actor = audit_actor_for(entry.user_id);
    append_audit_entry(entry);
}

void fire_pat_audit_always(CreateTrigStmt *statement) {
    Oid table = RangeVarGetRelid(statement->relation, NoLock, true);
    Oid trigger =
        OidIsValid(table) ? get_trigger_oid(table, statement->trigname, true) : InvalidOid;
    TriggerRow row;
    if (!find_trigger_row(trigger, &row) || row.enabled != TRIGGER_FIRES_ON_ORIGIN ||
        !is_own_pat_audit_trigger(row)) {
        return;
    }
    // The lock CREATE TRIGGER holds already; partitions' clones follow.
    Relation relation = table_open(table, ShareRowExclusiveLock);
    compat::set_trigger_firing(relation, statement->trigname, TRIGGER_FIRES_ALWAYS,
                               ShareRowExclusiveLock);
    table_close(relation, NoLock);
}

void record_partition_truncates(TruncateStmt *statement) {
    ListCell *cell;
    foreach (cell, statement->relations) {
        Oid partition = RangeVarGetRelid(castNode(RangeVar, lfirst(cell)), NoLock, true);
        if (!OidIsValid(partition) || !get_rel_relispartition(partition)) {
            continue;
        }
        // Audited by a TRUNCATE trigger of its own (pat_audit_table() on the partition itself).
        Relation own = table_open(partition, AccessShareLock);
        bool audited_itself = firing_pat_audit_trigger(own, true) != nullptr;
        table_close(own, AccessShareLock);
        if (audited_itself) {
            continue;
        }
        // The nearest ancestor whose TRUNCATE trigger is pat_audit() and fires: its row.
        List *ancestors = get_partition_ancestors(partition);
        ListCell *ancestor_cell;
        foreach (ancestor_cell, ancestors) {
            Relation ancestor = table_open(lfirst_oid(ancestor_cell), AccessShareLock);
            const Trigger *trigger = firing_pat_audit_trigger(ancestor, true);
            bool always = false;
            for (int i = 0; trigger != nullptr && i < trigger->tgnargs; ++i) {
                always = always || strcmp(trigger->tgargs[i], "always") == 0;
            }
            text *root_name =
                trigger != nullptr ? qualified_name(audited_table(ancestor)) : nullptr;
            table_close(ancestor, AccessShareLock);
            if (trigger == nullptr) {
                continue;
            }
            if (current_token_context() != nullptr || always) {
                AuditEntry entry;
                entry.action = "truncate";
                entry.table_name = root_name;
                JsonObject truncated;
                truncated.add_string("partition", text_to_cstring(qualified_name(partition)));
                entry.new_data = truncated.finish();
                register_audit_callbacks();
                attribute_to_token_context(entry);
                entry.actor = audit_actor_for(entry.user_id);
                append_audit_entry(entry);
            }
            break;
        }
    }
}

}  // namespace pat::pg
