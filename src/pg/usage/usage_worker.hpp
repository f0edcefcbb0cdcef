// pg_pat's background workers: a launcher that wakes every pat.usage_flush_interval and, for
// each database with pending usage, starts a short-lived worker connected to that database which
// writes it out (or, on a standby, forwards it to the primary) and exits. Short-lived, so no
// worker holds a database open: DROP DATABASE and CREATE DATABASE ... TEMPLATE are not blocked.
#pragma once

namespace pat::pg {

// Defines pat.usage_flush_interval and registers the launcher; from _PG_init only.
void setup_usage_worker();

}  // namespace pat::pg
