// The version of pg_pat's schema in the current database (core/schema_version.hpp), as
// pg_extension says: read once, then kept until a pg_extension row changes in any session
// (CREATE, ALTER ... UPDATE or DROP EXTENSION), which every backend hears of through the
// invalidation of the row.
#pragma once

#include "core/schema_version.hpp"
#include "pg/bridge/postgres.hpp"

namespace pat::pg {

// kAbsent where pg_pat is not created. Reads the catalog the first time and after a change.
pat::SchemaVersion schema_version();

// Whether the current database's schema has what came with since (a pat::schema_since
// constant). As schema_version().
bool schema_has(pat::SchemaVersion since);

}  // namespace pat::pg
