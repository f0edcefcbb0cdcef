// Parsing interval and timestamptz text without raising an error for text that is neither, and
// adding an interval to a timestamptz with the overflow checked.
#pragma once

#include "pg/bridge/postgres.hpp"

namespace pat::pg {

// True and *result set when text is a PostgreSQL interval ('30 days', 'P30D'). Cannot raise:
// the parser only returns error codes.
bool parse_interval(const char *text, Interval *result);

// True and *result set when text is a PostgreSQL timestamptz ('2027-03-01', 'infinity').
// May still raise for a recognised but invalid time zone name.
bool parse_timestamptz(const char *text, TimestampTz *result);

// now() + span, raising 22008 if it overflows.
TimestampTz now_plus(Interval *span);
// at + span as timestamptz_pl_interval adds them (months and days in the session's time zone,
// then the time), raising 22008 "<what> is out of range" when the result leaves the range.
TimestampTz plus_interval(TimestampTz at, const Interval *span, const char *what);
}  // namespace pat::pg
