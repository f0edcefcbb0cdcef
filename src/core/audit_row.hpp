// What one audit row may hold.
#pragma once

#include <cstddef>
#include <string_view>

namespace pat {

// The most JSON text an audit row's old_data or new_data may print as: 64 MB. Every value in
// the log must read back, dump and restore as text, and PostgreSQL builds a value's text, and
// COPY a whole row's line, in one buffer of at most 1 GB; two such columns, with COPY's
// escaping, stay well below it.
inline constexpr std::size_t kAuditDataMaxTextBytes = 64 * 1024 * 1024;

// Throws pat::Error (54000) when column (old_data or new_data) of an audit row would print as
// text_bytes bytes of JSON, more than kAuditDataMaxTextBytes.
void check_audit_data_text(std::string_view column, std::size_t text_bytes);

}  // namespace pat
