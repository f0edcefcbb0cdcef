// Result rows of SQL-callable functions: a function's row type kept per backend, and set
// results handed to the executor as one materialized tuplestore.
#pragma once

#include "pg/bridge/postgres.hpp"

namespace pat::pg {

// The calling function's blessed result row type, built once per backend rather than once per query
// execution (fn_extra lives only as long as one execution's FmgrInfo). Any change to pg_proc marks
// them stale; one is replaced on its function's next call.
TupleDesc result_type(FunctionCallInfo fcinfo);

// Starts a set result of rows of type (the caller's result_type) and returns the tuplestore to put
// them in; the function then returns (Datum) 0.
Tuplestorestate *begin_result_rows(FunctionCallInfo fcinfo, TupleDesc type);

// Puts every row of SPI_tuptable into rows as it is (its columns those of type). Inside SPI.
void put_spi_rows(Tuplestorestate *rows, TupleDesc type);

}  // namespace pat::pg
