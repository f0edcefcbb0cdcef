// The bridge between C++ exceptions and PostgreSQL errors, in both directions.
//
// Into PostgreSQL: every SQL-callable function is declared with PAT_FUNCTION, whose body runs
// inside guarded(): any C++ exception is caught there and reported with ereport() only after the
// catch block has ended, so no longjmp leaves a C++ frame that still owns something.
//
// Out of PostgreSQL: a PostgreSQL call that may ereport while C++ objects are alive goes through
// call_pg(), which catches the longjmp, copies the error and throws it as PgError; guarded()
// re-raises it unchanged (same SQLSTATE, message, context). A PgError must always reach
// guarded(): the transaction is still in an error state and only PostgreSQL's abort cleans it.
#pragma once

#include "pg/bridge/postgres.hpp"

#include <csetjmp>
#include <exception>
#include <type_traits>
#include <utility>

namespace pat::pg {

class PgError : public std::exception {
  public:
    explicit PgError(ErrorData *data) noexcept : data_(data) {}
    ErrorData *data() const noexcept { return data_; }
    const char *what() const noexcept override;

  private:
    ErrorData *data_;
};

// What a caught C++ exception becomes. Fixed buffers: building it must not allocate, since an
// allocation failure there could not be reported.
struct PendingError {
    ErrorData *pg_error = nullptr;
    int sqlerrcode = 0;
    char message[1024] = {};
    char detail[1024] = {};
    char hint[512] = {};
    const char *file = __FILE__;  // where it was thrown (a string literal: static storage)
    int line = __LINE__;
};

// Fills pending from the exception being handled; call only inside a catch block.
void capture_current_exception(PendingError &pending) noexcept;

// Raises pending as a PostgreSQL ERROR; never returns.
[[noreturn]] void raise_pending(const PendingError &pending);

// Copies the error PostgreSQL is handling (into caller_memory), clears it and throws it as
// PgError. If copying fails too (out of memory), throws std::bad_alloc instead: the copy runs
// under its own handler, so its failure cannot longjmp past the C++ frames above.
[[noreturn]] void throw_pending_pg_error(MemoryContext caller_memory);

// Raises XX000 when PG_exception_stack is not entry: a handler left pointing at a dead frame
// would make the next error jump into it.
void check_exception_stack(sigjmp_buf *entry) noexcept;

// Runs fn, which calls into PostgreSQL, turning an ereport(ERROR) into a thrown PgError.
// fn itself must not own objects with destructors across the PostgreSQL call.
template <typename Fn>
auto call_pg(Fn &&fn) -> decltype(fn()) {
    using Result = decltype(fn());
    sigjmp_buf *const saved_stack = PG_exception_stack;
    ErrorContextCallback *const saved_context = error_context_stack;
    MemoryContext const caller_memory = CurrentMemoryContext;
    sigjmp_buf local;
    if (sigsetjmp(local, 0) == 0) {
        PG_exception_stack = &local;
        try {
            if constexpr (std::is_void_v<Result>) {
                fn();
                PG_exception_stack = saved_stack;
                return;
            } else {
                Result result = fn();
                PG_exception_stack = saved_stack;
                return result;
            }
        } catch (...) {
            // A C++ exception from inside fn: the handler must not point at this dead frame.
            PG_exception_stack = saved_stack;
            error_context_stack = saved_context;
            throw;
        }
    }
    PG_exception_stack = saved_stack;
    error_context_stack = saved_context;
    throw_pending_pg_error(caller_memory);
}

// Runs body (returning Datum) so that no exception escapes and errors become ereport().
template <typename Body>
Datum guarded(Body &&body) noexcept {
    sigjmp_buf *const entry_stack = PG_exception_stack;
    PendingError pending;
    try {
        Datum result = body();
        check_exception_stack(entry_stack);
        return result;
    } catch (...) {
        capture_current_exception(pending);
    }
    check_exception_stack(entry_stack);
    raise_pending(pending);
}

}  // namespace pat::pg

// Declares the SQL-callable C function `name`; the block that follows is its body, run guarded.
#define PAT_FUNCTION(name)                                                            \
    static Datum name##_body(PG_FUNCTION_ARGS);                                       \
    extern "C" {                                                                      \
    PG_FUNCTION_INFO_V1(name);                                                        \
    Datum name(PG_FUNCTION_ARGS) {                                                    \
        return pat::pg::guarded([fcinfo]() -> Datum { return name##_body(fcinfo); }); \
    }                                                                                 \
    }                                                                                 \
    static Datum name##_body(PG_FUNCTION_ARGS)
