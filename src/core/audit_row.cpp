// What one audit row may hold; see audit_row.hpp.
#include "audit_row.hpp"

#include <string>

#include "error.hpp"

namespace pat {

void check_audit_data_text(std::string_view column, std::size_t text_bytes) {
    if (text_bytes <= kAuditDataMaxTextBytes)
        return;
    throw Error(sqlstate::kProgramLimitExceeded, "audit row too large",
                "Its " + std::string(column) + " would be " + std::to_string(text_bytes) +
                    " bytes of JSON text; an audit row's old_data and new_data may be at most " +
                    std::to_string(kAuditDataMaxTextBytes) +
                    " bytes (64 MB) each, so that the log always reads back and restores.",
                "Leave large columns out of the audit: pat_audit_table(table, exclude => "
                "'{column}').");
}

}  // namespace pat
