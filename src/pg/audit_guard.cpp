// The audit tables' utility guard; see audit_guard.hpp.
#include "pg/audit_guard.hpp"

#include "pg/audit_linker.hpp"
#include "pg/audit_writer.hpp"
#include "pg/postgres.hpp"
#include "pg/spi_support.hpp"
#include "pg/utility_hook.hpp"

namespace pat::pg {

namespace {

ProcessUtility_hook_type previous_process_utility = nullptr;
bool copying = false;

// The event trigger that records pat_audit() triggers being disabled or dropped.
constexpr const char kEventTrigger[] = "pat_audit_trigger_changes";

bool is_audit_table(Oid relation) {
    return OidIsValid(relation) && (relation == known_pat_relation("audit_log") ||
                                    relation == known_pat_relation("audit_pending") ||
                                    relation == known_pat_relation("audit_chain_head"));
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

void guard_audit_tables(PlannedStmt *statement, const char *query, bool read_only_tree,
                        ProcessUtilityContext context, ParamListInfo params,
                        QueryEnvironment *environment, DestReceiver *destination,
                        QueryCompletion *completion) {
    // Any utility statement (DDL, DROP EXTENSION, but also SAVEPOINT or COMMIT) first closes
    // what the audit writer keeps open.
    close_kept_audit_tables();
    Node *tree = statement->utilityStmt;
    bool copy_in = false;
    if (!creating_extension) {
        Oid altered = altered_relation(tree);
        if (is_audit_table(altered)) {
            refuse(psprintf("pat.%s", get_rel_name(altered)),
                   "ALTER TABLE can rewrite, hide or rename audit rows without any row trigger.");
        }
        if (IsA(tree, AlterEventTrigStmt) &&
            strcmp(castNode(AlterEventTrigStmt, tree)->trigname, kEventTrigger) == 0) {
            refuse("pg_pat's event trigger",
                   "Disabling it would let pat_audit() triggers be disabled unrecorded.");
        }
        if (IsA(tree, CopyStmt)) {
            auto *copy = castNode(CopyStmt, tree);
            copy_in = copy->is_from && copy->relation != nullptr &&
                      is_audit_table(RangeVarGetRelid(copy->relation, NoLock, true));
        }
    }
    if (!copy_in) {
        run_next_utility(previous_process_utility, statement, query, read_only_tree, context,
                         params, environment, destination, completion);
    } else {
        // Only a COPY into the audit tables needs the flag, unset however it ends.
        bool was_copying = copying;
        copying = true;
        PG_TRY();
        {
            run_next_utility(previous_process_utility, statement, query, read_only_tree, context,
                             params, environment, destination, completion);
        }
        PG_FINALLY();
        { copying = was_copying; }
        PG_END_TRY();
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
    previous_process_utility = ProcessUtility_hook;
    ProcessUtility_hook = guard_audit_tables;
}

bool copying_into_audit_tables() {
    return copying;
}

}  // namespace pat::pg
