// Functions named like pg_pat's token and scope functions in other schemas on the search_path:
// a call whose argument types match one better, or that finds it first, runs it instead and
// hands it the token (or answers the application's scope check). pg_pat ships varchar
// overloads (the type drivers bind), which only wins against one later on the search_path.
#pragma once

#include "pg/bridge/postgres.hpp"

namespace pat::pg {

// Warns, at most once per session, when a function named like one of pg_pat's token or scope
// functions is in another schema on the search_path than pg_pat's own function being called
// (fcinfo). Looks only on the first call, after a change to pg_proc and after search_path was set:
// nothing on other calls.
void warn_of_lookalike_functions(FunctionCallInfo fcinfo);

}  // namespace pat::pg
