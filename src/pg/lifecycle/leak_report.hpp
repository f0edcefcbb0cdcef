// Leak reports (pat_report_leaked), the patterns scanners need (pat_scanner_rules), and the
// record of prefixes tokens were issued under (pat.token_prefixes) those patterns cover.
#pragma once

#include "pg/bridge/postgres.hpp"

namespace pat::pg {

// Records pat.token_prefix in pat.token_prefixes the first time this backend issues under it (in a
// database that has the table, 1.8 on). Inside begin_owner_spi.
void remember_token_prefix();

// Registers the transaction callbacks that forget a recorded prefix rolled back; from _PG_init.
void setup_leak_report();

}  // namespace pat::pg
