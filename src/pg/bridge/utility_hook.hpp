// pg_pat's one ProcessUtility hook. Each wing that must see utility statements (the audit
// guard, the lifecycle schedule) adds a handler from its setup function; the hook runs them in
// the order added, each around the rest, and the statement itself last: through the hook
// installed before pg_pat's, or PostgreSQL's own ProcessUtility.
#pragma once

#include "pg/bridge/postgres.hpp"

namespace pat::pg {

// One utility statement on its way through the handlers: ProcessUtility's arguments.
struct UtilityCall {
    PlannedStmt *statement;
    const char *query;
    bool read_only_tree;
    ProcessUtilityContext context;
    ParamListInfo params;
    QueryEnvironment *environment;
    DestReceiver *destination;
    QueryCompletion *completion;
    int next_handler;  // the handler run_rest_of_utility runs next
};

// A handler: does what it must before and after the statement, and runs the statement (with
// the handlers after it) by calling run_rest_of_utility exactly once, unless it refuses it.
using UtilityHandler = void (*)(UtilityCall *call);

// Adds a handler; from _PG_init only.
void add_utility_handler(UtilityHandler handler);

// Runs the handlers after the calling one, then the statement.
void run_rest_of_utility(UtilityCall *call);

}  // namespace pat::pg
