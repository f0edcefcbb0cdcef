// Parsing interval and timestamptz text without raising an error for text that is neither.
#include "pg/bridge/datetime.hpp"

#include "core/time_range.hpp"
#include "pg/bridge/compat.hpp"
#include "pg/bridge/guard.hpp"

// The core's range is PostgreSQL's, which it cannot include.
static_assert(pat::kTimestampMin == MIN_TIMESTAMP);
static_assert(pat::kTimestampEnd == END_TIMESTAMP);
static_assert(pat::kTimestampMinusInfinity == DT_NOBEGIN);
static_assert(pat::kTimestampInfinity == DT_NOEND);

namespace pat::pg {

bool parse_interval(const char *text, Interval *result) {
    char workbuf[256];
    // Longer text is not an interval worth reading, and must not be cut short and then parsed.
    if (strlen(text) >= sizeof workbuf) {
        return false;
    }
    char *fields[MAXDATEFIELDS];
    int field_types[MAXDATEFIELDS];
    int field_count = 0;
    int value_type = 0;
    struct pg_itm_in parts = {};
    int error = ParseDateTime(text, workbuf, sizeof workbuf, fields, field_types, MAXDATEFIELDS,
                              &field_count);
    if (error == 0) {
        error = DecodeInterval(fields, field_types, field_count, INTERVAL_FULL_RANGE, &value_type,
                               &parts);
    }
    if (error == DTERR_BAD_FORMAT) {
        // ISO 8601 durations are tried on the original text, as interval_in does.
        char iso_copy[256];
        strlcpy(iso_copy, text, sizeof iso_copy);
        error = DecodeISO8601Interval(iso_copy, &value_type, &parts);
    }
    return error == 0 && value_type == DTK_DELTA && itmin2interval(&parts, result) == 0;
}

bool parse_timestamptz(const char *text, TimestampTz *result) {
    char workbuf[MAXDATELEN + MAXDATEFIELDS];
    char *fields[MAXDATEFIELDS];
    int field_types[MAXDATEFIELDS];
    int field_count = 0;
    int value_type = 0;
    struct pg_tm parts = {};
    fsec_t fraction = 0;
    int zone = 0;
    int error = ParseDateTime(text, workbuf, sizeof workbuf, fields, field_types, MAXDATEFIELDS,
                              &field_count);
    if (error == 0) {
        error = compat::decode_date_time(fields, field_types, field_count, &value_type, &parts,
                                         &fraction, &zone);
    }
    if (error != 0) {
        return false;
    }
    switch (value_type) {
        case DTK_DATE:
            return tm2timestamp(&parts, fraction, &zone, result) == 0;
        case DTK_LATE:
            TIMESTAMP_NOEND(*result);
            return true;
        case DTK_EARLY:
            TIMESTAMP_NOBEGIN(*result);
            return true;
        case DTK_EPOCH:
            *result = SetEpochTimestamp();
            return true;
        default:
            return false;
    }
}

TimestampTz now_plus(Interval *span) {
    return plus_interval(GetCurrentTransactionStartTimestamp(), span, "now() + the interval");
}

TimestampTz plus_interval(TimestampTz at, const Interval *span, const char *what) {
    // The calendar part is PostgreSQL's (it checks its result); the time part is added here,
    // checked: timestamptz_pl_interval adds it unchecked, and an overflow wraps into range.
    TimestampTz calendar = at;
    if (span->month != 0 || span->day != 0) {
        Interval calendar_part = *span;
        calendar_part.time = 0;
        calendar = call_pg([&] {
            return DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
                                                           TimestampTzGetDatum(at),
                                                           IntervalPGetDatum(&calendar_part)));
        });
    }
    return pat::require_in_range(pat::checked_add(calendar, span->time), what);
}

}  // namespace pat::pg
