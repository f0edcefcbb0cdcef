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
//
// The rule both keep: no ereport() longjmp may cross a C++ frame that owns an object with a
// destructor (the destructor would never run). It is checked, not left to comments:
//  * At compile time, call_pg() refuses a result type with a destructor: such a result is built
//    inside fn, across the PostgreSQL calls fn makes.
//  * In assert builds (USE_ASSERT_CHECKING), owned_blocks.cpp's operator new and delete track
//    the heap blocks the glue and core make (containers, smart pointers; not std::string's
//    buffers, which libstdc++ makes in its own code). call_pg() and guarded() note where they were
//    entered and catch every longjmp from inside; a block made since then and still alive when
//    a longjmp arrives (its owner's destructor skipped), or when a bridge helper that may raise
//    is called (check_may_raise()), ends the backend with a FATAL naming the place. In other
//    builds the checks compile to nothing: the validate path pays for none of it.
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

#ifdef USE_ASSERT_CHECKING
// Where a call_pg() or guarded() was entered, for the checks above: the serial number the next
// tracked heap block gets, the frame entered before and the BackendAllocations depth (both
// restored when this one is left, also by a longjmp).
struct OwningFrame {
    uint64 first_serial;
    uint64 outer_first_serial;
    int backend_depth;
};
OwningFrame enter_owning_frame() noexcept;
void leave_owning_frame(const OwningFrame &frame) noexcept;
// A longjmp reached the call_pg() or guarded() (catcher) of frame: FATAL when a block made since
// frame was entered is still alive, otherwise leaves frame.
void leave_owning_frame_after_longjmp(const OwningFrame &frame, const char *catcher) noexcept;
void check_nothing_owned(const char *helper) noexcept;
#endif

// Called first by each bridge helper that may raise (helper: its name): in assert builds, FATAL
// when a heap block made since the innermost call_pg() or guarded() was entered is alive, that is
// when the helper's caller is not plain PostgreSQL code. Nothing otherwise.
inline void check_may_raise([[maybe_unused]] const char *helper) noexcept {
#ifdef USE_ASSERT_CHECKING
    check_nothing_owned(helper);
#endif
}

// The heap blocks made while one lives belong to backend state (a cache, a setting, the
// transaction's token context), not to the frame that made them: the checks above leave them out.
class BackendAllocations {
  public:
#ifdef USE_ASSERT_CHECKING
    BackendAllocations() noexcept;
    ~BackendAllocations();
#else
    BackendAllocations() noexcept {}
#endif
    BackendAllocations(const BackendAllocations &) = delete;
    BackendAllocations &operator=(const BackendAllocations &) = delete;
};

// Runs fn, which calls into PostgreSQL, turning an ereport(ERROR) into a thrown PgError.
// fn is plain PostgreSQL code: it owns no object with a destructor across a PostgreSQL call, and
// so returns none either.
template <typename Fn>
auto call_pg(Fn &&fn) -> decltype(fn()) {
    using Result = decltype(fn());
    static_assert(std::is_void_v<Result> || std::is_trivially_destructible_v<Result>,
                  "call_pg: fn must return a type without a destructor (build C++ objects from "
                  "what it returns, outside it)");
    sigjmp_buf *const saved_stack = PG_exception_stack;
    ErrorContextCallback *const saved_context = error_context_stack;
    MemoryContext const caller_memory = CurrentMemoryContext;
#ifdef USE_ASSERT_CHECKING
    const OwningFrame frame = enter_owning_frame();
#endif
    sigjmp_buf local;
    if (sigsetjmp(local, 0) == 0) {
        PG_exception_stack = &local;
        try {
            if constexpr (std::is_void_v<Result>) {
                fn();
                PG_exception_stack = saved_stack;
#ifdef USE_ASSERT_CHECKING
                leave_owning_frame(frame);
#endif
                return;
            } else {
                Result result = fn();
                PG_exception_stack = saved_stack;
#ifdef USE_ASSERT_CHECKING
                leave_owning_frame(frame);
#endif
                return result;
            }
        } catch (...) {
            // A C++ exception from inside fn: the handler must not point at this dead frame.
            PG_exception_stack = saved_stack;
            error_context_stack = saved_context;
#ifdef USE_ASSERT_CHECKING
            leave_owning_frame(frame);
#endif
            throw;
        }
    }
    PG_exception_stack = saved_stack;
    error_context_stack = saved_context;
#ifdef USE_ASSERT_CHECKING
    leave_owning_frame_after_longjmp(frame, "call_pg()");
#endif
    throw_pending_pg_error(caller_memory);
}

// Runs body (returning Datum) so that no exception escapes and errors become ereport(). In
// assert builds it also catches a longjmp from body (a PostgreSQL error body let through) to
// check that it skipped no destructor, then lets it go on.
template <typename Body>
Datum guarded(Body &&body) noexcept {
    sigjmp_buf *const entry_stack = PG_exception_stack;
    PendingError pending;
#ifdef USE_ASSERT_CHECKING
    ErrorContextCallback *const entry_context = error_context_stack;
    const OwningFrame frame = enter_owning_frame();
    sigjmp_buf local;
    if (sigsetjmp(local, 0) != 0) {
        PG_exception_stack = entry_stack;
        error_context_stack = entry_context;
        leave_owning_frame_after_longjmp(frame, "a PAT_FUNCTION body");
        PG_RE_THROW();
    }
    PG_exception_stack = &local;
    sigjmp_buf *const body_stack = &local;
#else
    sigjmp_buf *const body_stack = entry_stack;
#endif
    try {
        Datum result = body();
        check_exception_stack(body_stack);
#ifdef USE_ASSERT_CHECKING
        PG_exception_stack = entry_stack;
        leave_owning_frame(frame);
#endif
        return result;
    } catch (...) {
        capture_current_exception(pending);
    }
    check_exception_stack(body_stack);
#ifdef USE_ASSERT_CHECKING
    PG_exception_stack = entry_stack;
    leave_owning_frame(frame);
#endif
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
