// Chaining ProcessUtility_hook: each of pg_pat's utility hooks runs the hook installed before
// it, or PostgreSQL's own ProcessUtility.
#pragma once

#include "pg/bridge/postgres.hpp"

namespace pat::pg {

inline void run_next_utility(ProcessUtility_hook_type next, PlannedStmt *statement,
                             const char *query, bool read_only_tree, ProcessUtilityContext context,
                             ParamListInfo params, QueryEnvironment *environment,
                             DestReceiver *destination, QueryCompletion *completion) {
    if (next != nullptr) {
        next(statement, query, read_only_tree, context, params, environment, destination,
             completion);
    } else {
        standard_ProcessUtility(statement, query, read_only_tree, context, params, environment,
                                destination, completion);
    }
}

}  // namespace pat::pg
