// pat_test_longjmp_rule(how): breaks the longjmp rule (guard.hpp) on purpose, or keeps it, so
// that TAP 008 can see the assert build's check end the backend for each way of breaking it and
// let every legitimate path through. Compiled into assert builds only, and in no SQL script: the
// test creates the function itself.
#include "pg/bridge/guard.hpp"

#ifdef USE_ASSERT_CHECKING

#include <cstring>
#include <vector>

#include "core/error.hpp"
#include "pg/bridge/spi_support.hpp"

namespace {

// Where the test's vectors are published, so that the compiler cannot elide their heap block.
std::vector<int> *volatile published = nullptr;
std::vector<int> kept_by_backend;

// 22P02, raised by PostgreSQL's int4 input function.
int32 raise_pg_error() {
    return DatumGetInt32(DirectFunctionCall1(int4in, CStringGetDatum("not a number")));
}

}  // namespace

PAT_FUNCTION(pat_test_longjmp_rule) {
    const char *how = text_to_cstring(PG_GETARG_TEXT_PP(0));
    if (strcmp(how, "nothing owned") == 0) {  // plain PostgreSQL code: the error goes through
        return Int32GetDatum(raise_pg_error());
    }
    if (strcmp(how, "owned outside call_pg") == 0) {  // the rule kept: unwound as PgError
        std::vector<int> owned(16, 1);
        published = &owned;
        return Int32GetDatum(owned[0] + pat::pg::call_pg([] { return raise_pg_error(); }));
    }
    if (strcmp(how, "kept for backend") == 0) {  // backend state is not the frame's
        {
            pat::pg::BackendAllocations kept;
            kept_by_backend.resize(kept_by_backend.size() + 64);
        }
        return Int32GetDatum(raise_pg_error());
    }
    if (strcmp(how, "owned in body") == 0) {  // broken: the longjmp skips owned's destructor
        std::vector<int> owned(16, 1);
        published = &owned;
        return Int32GetDatum(owned[0] + raise_pg_error());
    }
    if (strcmp(how, "owned in call_pg") == 0) {  // broken inside fn
        return Int32GetDatum(pat::pg::call_pg([] {
            std::vector<int> owned(16, 1);
            published = &owned;
            return owned[0] + raise_pg_error();
        }));
    }
    if (strcmp(how, "owned at helper") == 0) {  // broken before any error: a may-raise helper
        std::vector<int> owned(16, 1);
        published = &owned;
        return ObjectIdGetDatum(pat::pg::pat_relation("tokens", "none") + owned[0]);
    }
    throw pat::Error(pat::sqlstate::kInvalidParameterValue, "unknown way");
}

#endif  // USE_ASSERT_CHECKING
