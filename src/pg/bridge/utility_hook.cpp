// pg_pat's one ProcessUtility hook; see utility_hook.hpp.
#include "pg/bridge/utility_hook.hpp"

namespace pat::pg {

namespace {

// The audit guard and the lifecycle schedule: room for a few more.
constexpr int kMaxHandlers = 4;
UtilityHandler handlers[kMaxHandlers];
int handler_count = 0;
ProcessUtility_hook_type previous_process_utility = nullptr;

void run_utility_handlers(PlannedStmt *statement, const char *query, bool read_only_tree,
                          ProcessUtilityContext context, ParamListInfo params,
                          QueryEnvironment *environment, DestReceiver *destination,
                          QueryCompletion *completion) {
    UtilityCall call = {statement,   query,       read_only_tree, context, params,
                        environment, destination, completion,     0};
    run_rest_of_utility(&call);
}

}  // namespace

void add_utility_handler(UtilityHandler handler) {
    if (handler_count == kMaxHandlers) {
        elog(ERROR, "pg_pat has more utility handlers than its hook lists");
    }
    if (handler_count == 0) {
        previous_process_utility = ProcessUtility_hook;
        ProcessUtility_hook = run_utility_handlers;
    }
    handlers[handler_count++] = handler;
}

void run_rest_of_utility(UtilityCall *call) {
    if (call->next_handler < handler_count) {
        handlers[call->next_handler++](call);
    } else if (previous_process_utility != nullptr) {
        previous_process_utility(call->statement, call->query, call->read_only_tree, call->context,
                                 call->params, call->environment, call->destination,
                                 call->completion);
    } else {
        standard_ProcessUtility(call->statement, call->query, call->read_only_tree, call->context,
                                call->params, call->environment, call->destination,
                                call->completion);
    }
}

}  // namespace pat::pg
