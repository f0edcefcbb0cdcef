// The audit tables' utility guard; see audit_guard.hpp.
#include "pg/audit/audit_guard.hpp"

#include "pg/audit/link_schedule.hpp"
#include "pg/audit/audit_table.hpp"
#include "pg/audit/audit_writer.hpp"
#include "pg/bridge/postgres.hpp"
#include "pg/bridge/spi_support.hpp"
#include "pg/bridge/utility_hook.hpp"

namespace pat::pg {

namespace {

object_access_hook_type previous_object_access = nullptr;
bool copying = false;

bool is_audit_table(Oid relation) {
    return OidIsValid(relation) && (relation == known_pat_relation("audit_log") ||
                                    relation == known_pat_relation("audit_pending") ||
                                    relation == known_pat_relation("audit_chain_head") ||
                                    relation == known_pat_relation("audit_head"));
}

// Whether an object belongs to pg_pat (a member of the extension): matched by OID, so renaming
// it first changes nothing.
bool is_pat_member(Oid class_id, Oid object_id) {
    if (!OidIsValid(object_id)) {
        return false;
    }
    Oid extension = get_extension_oid("pg_pat", true);
    return OidIsValid(extension) && getExtensionOfObject(class_id, object_id) == extension;
}

// Whether trigger is one of pg_pat's own: on a table of pg_pat, running a function of pg_pat
// (a trigger is no extension member itself; one a user adds to pat.tokens runs the user's
// function).
bool is_pat_trigger(Oid table, Oid trigger) {
    TriggerRow row;
    return is_pat_member(RelationRelationId, table) && find_trigger_row(trigger, &row) &&
           is_pat_member(ProcedureRelationId, row.function);
}

// Whether table has any of pg_pat's triggers.
bool has_pat_trigger(Oid table) {
    if (!is_pat_member(RelationRelationId, table)) {
        return false;
    }
    Relation triggers = table_open(TriggerRelationId, AccessShareLock);
    ScanKeyData key;
    ScanKeyInit(&key, Anum_pg_trigger_tgrelid, BTEqualStrategyNumber, F_OIDEQ,
                ObjectIdGetDatum(table));
    SysScanDesc scan =
        systable_beginscan(triggers, TriggerRelidNameIndexId, true, nullptr, 1, &key);
    bool found = false;
    HeapTuple tuple;
    while (!found && (tuple = systable_getnext(scan)) != nullptr) {
        found = is_pat_member(ProcedureRelationId,
                              reinterpret_cast<Form_pg_trigger>(GETSTRUCT(tuple))->tgfoid);
    }
    systable_endscan(scan);
    table_close(triggers, AccessShareLock);
    return found;
}

// The relation a statement alters, or InvalidOid for one that alters none of interest.
Oid altered_relation(Node *statement) {
    RangeVar *relation = nullptr;
    switch (nodeTag(statement)) {
        case T_AlterTableStmt:
            relation = castNode(AlterTableStmt, statement)->relation;
            break;
        case T_RenameStmt:
            relation = castNode(RenameStmt, statement)->relation;
            break;
        case T_AlterObjectSchemaStmt:
            relation = castNode(AlterObjectSchemaStmt, statement)->relation;
            break;
        default:
            break;
    }
    return relation == nullptr ? InvalidOid : RangeVarGetRelid(relation, NoLock, true);
}

void refuse(const char *what, const char *detail) {
    ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                    errmsg("%s can only be changed by pg_pat's extension scripts", what),
                    errdetail("%s It is refused for every role, superusers included.", detail),
                    errhint("Update the extension with ALTER EXTENSION pg_pat UPDATE.")));
}

// Refuses a change of a routine or event trigger of pg_pat named by a RENAME, SET SCHEMA or
// OWNER TO statement (object as the statement gives it).
void guard_member_object(ObjectType type, Node *object) {
    if (object == nullptr || (type != OBJECT_FUNCTION && type != OBJECT_PROCEDURE &&
                              type != OBJECT_ROUTINE && type != OBJECT_EVENT_TRIGGER)) {
        return;
    }
    Relation relation = nullptr;
    ObjectAddress address = get_object_address(type, object, &relation, AccessShareLock, true);
    if (relation != nullptr) {
        table_close(relation, NoLock);
    }
    if (is_pat_member(address.classId, address.objectId)) {
        refuse(getObjectDescription(&address, false),
               type == OBJECT_EVENT_TRIGGER
                   ? "Disabling it would let pat_audit() triggers be disabled unrecorded."
                   : "pg_pat's functions keep the audit log and the tokens as the API promises.");
    }
}

// Refuses a change of one of pg_pat's triggers (named) on table.
void guard_pat_trigger(Oid table, const char *name) {
    if (!OidIsValid(table) || name == nullptr) {
        return;
    }
    Oid trigger = get_trigger_oid(table, name, true);
    if (is_pat_trigger(table, trigger)) {
        ObjectAddress address = {TriggerRelationId, trigger, 0};
        refuse(getObjectDescription(&address, false),
               "pg_pat's triggers keep the audit log append-only and the token lifecycle "
               "recorded.");
    }
}

// The refusals of changes to pg_pat's own objects outside its scripts, for every role: the
// audit tables' definitions, pg_pat's triggers, routines and event trigger, and the extension's
// membership (ALTER EXTENSION pg_pat DROP would free any of them).
void guard_pat_objects(Node *tree) {
    Oid altered = altered_relation(tree);
    if (is_audit_table(altered)) {
        refuse(psprintf("pat.%s", get_rel_name(altered)),
               "ALTER TABLE can rewrite, hide or rename audit rows without any row trigger.");
    }
    switch (nodeTag(tree)) {
        case T_AlterTableStmt: {
            auto *alter = castNode(AlterTableStmt, tree);
            ListCell *cell;
            foreach (cell, alter->cmds) {
                auto *command = castNode(AlterTableCmd, lfirst(cell));
                switch (command->subtype) {
                    case AT_EnableTrig:
                    case AT_EnableAlwaysTrig:
                    case AT_EnableReplicaTrig:
                    case AT_DisableTrig:
                        guard_pat_trigger(altered, command->name);
                        break;
                    case AT_EnableTrigAll:
                    case AT_DisableTrigAll:
                    case AT_EnableTrigUser:
                    case AT_DisableTrigUser:
                        if (has_pat_trigger(altered)) {
                            refuse(psprintf("the triggers of %s",
                                            quote_qualified_identifier(
                                                get_namespace_name(get_rel_namespace(altered)),
                                                get_rel_name(altered))),
                                   "pg_pat's triggers keep the audit log append-only and the "
                                   "token lifecycle recorded.");
                        }
                        break;
                    default:
                        break;
                }
            }
            break;
        }
        case T_RenameStmt: {
            auto *rename = castNode(RenameStmt, tree);
            if (rename->renameType == OBJECT_TRIGGER) {
                guard_pat_trigger(altered, rename->subname);
            } else {
                guard_member_object(rename->renameType, rename->object);
            }
            break;
        }
        case T_AlterObjectSchemaStmt: {
            auto *move = castNode(AlterObjectSchemaStmt, tree);
            guard_member_object(move->objectType, move->object);
            break;
        }
        case T_AlterOwnerStmt: {
            auto *owner = castNode(AlterOwnerStmt, tree);
            guard_member_object(owner->objectType, owner->object);
            break;
        }
        case T_AlterFunctionStmt: {
            auto *function = castNode(AlterFunctionStmt, tree);
            guard_member_object(function->objtype, reinterpret_cast<Node *>(function->func));
            break;
        }
        case T_AlterEventTrigStmt: {
            auto *event = castNode(AlterEventTrigStmt, tree);
            guard_member_object(OBJECT_EVENT_TRIGGER,
                                reinterpret_cast<Node *>(makeString(event->trigname)));
            break;
        }
        case T_CreateTrigStmt: {
            auto *create = castNode(CreateTrigStmt, tree);
            if (create->replace) {
                guard_pat_trigger(RangeVarGetRelid(create->relation, NoLock, true),
                                  create->trigname);
            }
            break;
        }
        case T_DropStmt: {
            auto *drop = castNode(DropStmt, tree);
            if (drop->removeType != OBJECT_TRIGGER) {
                break;
            }
            ListCell *cell;
            foreach (cell, drop->objects) {
                List *names = castNode(List, lfirst(cell));
                if (list_length(names) >= 2) {
                    RangeVar *table = makeRangeVarFromNameList(
                        list_truncate(list_copy(names), list_length(names) - 1));
                    guard_pat_trigger(RangeVarGetRelid(table, NoLock, true), strVal(llast(names)));
                }
            }
            break;
        }
        case T_AlterExtensionContentsStmt: {
            auto *contents = castNode(AlterExtensionContentsStmt, tree);
            Oid extension = get_extension_oid(contents->extname, true);
            if (OidIsValid(extension) && extension == get_extension_oid("pg_pat", true)) {
                refuse("the members of extension pg_pat",
                       "An object dropped from the extension could then be replaced or dropped.");
            }
            break;
        }
        default:
            break;
    }
}

// The object access hook: notes each pat_audit() trigger dropped, whatever the statement (a
// DROP SCHEMA ... CASCADE or DROP OWNED reaches it through dependencies), recorded once the
// statement succeeds; and refuses CREATE OR REPLACE FUNCTION of one of pg_pat's functions
// (found by OID once it is replaced: the statement's argument list is only resolved there)
// outside pg_pat's scripts.
void on_object_access(ObjectAccessType access, Oid class_id, Oid object_id, int sub_id,
                      void *argument) {
    if (previous_object_access != nullptr) {
        previous_object_access(access, class_id, object_id, sub_id, argument);
    }
    if (access == OAT_DROP && class_id == TriggerRelationId && IsTransactionState() &&
        OidIsValid(get_extension_oid("pg_pat", true))) {
        note_trigger_drop(object_id);
    }
    if (access == OAT_POST_CREATE && class_id == ProcedureRelationId && !creating_extension &&
        !IsBinaryUpgrade && IsTransactionState() && is_pat_member(ProcedureRelationId, object_id)) {
        ObjectAddress address = {ProcedureRelationId, object_id, 0};
        refuse(getObjectDescription(&address, false),
               "pg_pat's functions keep the audit log and the tokens as the API promises.");
    }
}

void guard_audit_tables(UtilityCall *call) {
    // Any utility statement (DDL, DROP EXTENSION, but also SAVEPOINT or COMMIT) first closes
    // what the audit writer keeps open.
    close_kept_audit_tables();
    Node *tree = call->statement->utilityStmt;
    bool copy_in = false;
    if (!creating_extension) {
        // pg_upgrade's schema restore recreates the members one by one (CREATE, ALTER TABLE ...
        // ENABLE ALWAYS TRIGGER, ALTER EXTENSION ... ADD), as only an extension script may.
        if (!IsBinaryUpgrade) {
            guard_pat_objects(tree);
        }
        if (IsA(tree, CopyStmt)) {
            auto *copy = castNode(CopyStmt, tree);
            copy_in = copy->is_from && copy->relation != nullptr &&
                      is_audit_table(RangeVarGetRelid(copy->relation, NoLock, true));
        }
    }
    bool pat_installed = !creating_extension &&
                         (IsA(tree, CreateTrigStmt) || IsA(tree, TruncateStmt)) &&
                         OidIsValid(get_extension_oid("pg_pat", true));
    if (pat_installed && IsA(tree, CreateTrigStmt)) {
        record_trigger_replacement(castNode(CreateTrigStmt, tree));
    }
    // The copying flag is set only for a COPY into the audit tables and unset however it ends;
    // the trigger drops a failed statement noted are forgotten.
    bool was_copying = copying;
    int dropped_mark = noted_trigger_drops();
    copying = copying || copy_in;
    PG_TRY();
    { run_rest_of_utility(call); }
    PG_CATCH();
    {
        copying = was_copying;
        forget_trigger_drops(dropped_mark);
        PG_RE_THROW();
    }
    PG_END_TRY();
    copying = was_copying;
    record_noted_trigger_drops();
    if (pat_installed && IsA(tree, CreateTrigStmt)) {
        fire_pat_audit_always(castNode(CreateTrigStmt, tree));
    }
    if (pat_installed && IsA(tree, TruncateStmt)) {
        record_partition_truncates(castNode(TruncateStmt, tree));
    }
    // A prepared transaction's audit rows are committed by whichever session runs COMMIT
    // PREPARED, which wrote none itself: it tells the linker.
    if (IsA(tree, TransactionStmt) &&
        castNode(TransactionStmt, tree)->kind == TRANS_STMT_COMMIT_PREPARED) {
        note_audit_commit();
    }
}

}  // namespace

void setup_audit_guard() {
    add_utility_handler(guard_audit_tables);
    previous_object_access = object_access_hook;
    object_access_hook = on_object_access;
}

bool copying_into_audit_tables() {
    return copying;
}

}  // namespace pat::pg
