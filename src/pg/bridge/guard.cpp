// Turning C++ exceptions into PostgreSQL errors.
#include "pg/bridge/guard.hpp"

#include <cstring>
#include <new>
#include <string>

#include "core/error.hpp"

namespace pat::pg {

const char *PgError::what() const noexcept {
    return data_ != nullptr && data_->message != nullptr ? data_->message : "PostgreSQL error";
}

// Copies text into a fixed buffer, truncating.
static void copy_text(char *buffer, size_t size, const char *text) noexcept {
    if (text == nullptr) {
        buffer[0] = '\0';
        return;
    }
    strncpy(buffer, text, size - 1);
    buffer[size - 1] = '\0';
}

void capture_current_exception(PendingError &pending) noexcept {
    try {
        throw;
    } catch (const PgError &e) {
        pending.pg_error = e.data();
    } catch (const pat::Error &e) {
        const char *s = e.sqlstate();
        pending.sqlerrcode = MAKE_SQLSTATE(s[0], s[1], s[2], s[3], s[4]);
        pending.file = e.file();
        pending.line = e.line();
        copy_text(pending.message, sizeof pending.message, e.what());
        copy_text(pending.detail, sizeof pending.detail, e.detail().c_str());
        copy_text(pending.hint, sizeof pending.hint, e.hint().c_str());
    } catch (const std::bad_alloc &) {
        pending.sqlerrcode = ERRCODE_OUT_OF_MEMORY;
        copy_text(pending.message, sizeof pending.message, "out of memory in pg_pat");
    } catch (const std::exception &e) {
        pending.sqlerrcode = ERRCODE_INTERNAL_ERROR;
        copy_text(pending.message, sizeof pending.message, "internal error in pg_pat: ");
        size_t used = strlen(pending.message);
        copy_text(pending.message + used, sizeof pending.message - used, e.what());
    } catch (...) {
        pending.sqlerrcode = ERRCODE_INTERNAL_ERROR;
        copy_text(pending.message, sizeof pending.message, "unknown internal error in pg_pat");
    }
}

void raise_pending(const PendingError &pending) {
    if (pending.pg_error != nullptr) {
        ReThrowError(pending.pg_error);  // keeps PostgreSQL's own file and line
    }
    // ereport() by hand, to report the C++ file and line the error was thrown at.
    if (errstart(ERROR, TEXTDOMAIN)) {
        errcode(pending.sqlerrcode);
        errmsg_internal("%s", pending.message);
        if (pending.detail[0]) {
            errdetail_internal("%s", pending.detail);
        }
        if (pending.hint[0]) {
            errhint("%s", pending.hint);
        }
        errfinish(pending.file, pending.line, "pg_pat");
    }
    pg_unreachable();
}

void throw_pending_pg_error(MemoryContext caller_memory) {
    sigjmp_buf *const saved_stack = PG_exception_stack;
    ErrorData *volatile data = nullptr;  // set between sigsetjmp and a longjmp
    sigjmp_buf local;
    if (sigsetjmp(local, 0) == 0) {
        PG_exception_stack = &local;
        MemoryContextSwitchTo(caller_memory);
        data = CopyErrorData();
    }
    PG_exception_stack = saved_stack;
    MemoryContextSwitchTo(caller_memory);
    FlushErrorState();
    if (data == nullptr) {
        throw std::bad_alloc();
    }
    throw PgError(data);
}

void check_exception_stack(sigjmp_buf *entry) noexcept {
    if (PG_exception_stack != entry) {
        PG_exception_stack = entry;
        ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                        errmsg_internal("pg_pat left PostgreSQL's error handler changed")));
    }
}

}  // namespace pat::pg
