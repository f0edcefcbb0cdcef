// Notices to token owners (pat.notices, an outbox): queued in the transaction of the event that
// makes them due, so a notice commits with its cause or not at all, and announced with NOTIFY
// pat_notices at commit. The rules (which expiry notice is due) are the core's (notice.hpp).
#pragma once

#include "pg/bridge/postgres.hpp"

#include <optional>

#include "core/notice.hpp"

namespace pat::pg {

// Whether this database's pg_pat has notices (schema_since::kNotices).
bool has_notices();

// Queues a notice about a token, unless one of that kind is queued already (then false), and sends
// NOTIFY pat_notices at commit. details may be nullptr ({}). Inside begin_owner_spi.
bool queue_notice(pat::NoticeKind kind, text *user_id, pg_uuid_t *token_id, text *token_name,
                  TimestampTz due_at, Jsonb *details);

// What an expiry round did.
struct ExpiryRound {
    int queued;  // notices
    int64 read;  // candidate tokens
};

// Queues the expiry notices due at now (core's due_expiry_notice). In full without since; with
// since, the time of a complete earlier round, only from the tokens one of whose notices fell
// due in between (core's expiry_round_ranges). Opens its own SPI as the owner of pg_pat's
// tables; may throw PgError.
ExpiryRound queue_expiry_notices(TimestampTz now, std::optional<TimestampTz> since);

// An event about the token in columns 1 to 3 of tuple (token_id, user_id, name): queues the notice
// of kind and, when it is new, appends the audit row of the same name with details as new_data (the
// notice, one per token and kind, makes both happen once). Whether it was new. Inside
// begin_owner_spi.
bool record_token_event(pat::NoticeKind kind, HeapTuple tuple, TupleDesc desc, TimestampTz due_at,
                        Jsonb *details);

// A uuid as text (palloc'd cstring).
char *uuid_cstring(pg_uuid_t *id);

}  // namespace pat::pg
