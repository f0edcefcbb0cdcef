// Turning C++ exceptions into PostgreSQL errors.
#include "pg/guard.hpp"

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
        ReThrowError(pending.pg_error);
    }
    ereport(ERROR, (errcode(pending.sqlerrcode), errmsg_internal("%s", pending.message),
                    pending.detail[0] ? errdetail_internal("%s", pending.detail) : 0,
                    pending.hint[0] ? errhint("%s", pending.hint) : 0));
    pg_unreachable();
}

}  // namespace pat::pg
