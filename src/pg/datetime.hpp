// Parsing interval and timestamptz text without raising an error for text that is neither.
#pragma once

#include "pg/postgres.hpp"

namespace pat::pg {

// True and *result set when text is a PostgreSQL interval ('30 days', 'P30D'). Cannot raise:
// the parser only returns error codes.
bool parse_interval(const char *text, Interval *result);

// True and *result set when text is a PostgreSQL timestamptz ('2027-03-01', 'infinity').
// May still raise for a recognised but invalid time zone name.
bool parse_timestamptz(const char *text, TimestampTz *result);

}  // namespace pat::pg
