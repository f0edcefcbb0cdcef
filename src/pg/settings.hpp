// The pat.* configuration parameters.
#pragma once

#include "pg/bridge/postgres.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/digest.hpp"

namespace pat::pg {

// Defines every pat.* setting and installs the log hook that keeps the digest keys out of the
// server log.
void define_settings();

// pat.token_prefix: what new tokens start with.
std::string_view token_prefix();

// The digest functions a presented token is tried with, current first: pat.digest_key (empty:
// plain SHA-256), then each of pat.digest_previous_keys ("sha256" stands for plain SHA-256), so
// rotation keeps old tokens valid. The first is the one new tokens are stored under.
const std::vector<pat::TokenDigester> &token_digesters();

// The fingerprints (pat::key_fingerprint) of token_digesters(), in the same order; the first is
// stored with each new token.
const std::vector<std::string> &digest_key_fingerprints();

// Changes whenever pat.digest_key or pat.digest_previous_keys does (a reload).
uint64 digest_keys_generation();

// pat.manage_scope: the scope a token needs to manage tokens inside its own transaction.
std::string_view manage_scope();

// pat.delegate_scope: the scope a token needs to mint child tokens (pat_delegate).
std::string_view delegate_scope();

// pat.max_delegation_depth: how deep a delegated token may be (a root token is at depth 0).
int max_delegation_depth();

// now + pat.max_delegated_lifetime, or nullopt when unset.
std::optional<TimestampTz> latest_delegated_expiry(TimestampTz now);

// pat.max_active_tokens_per_user, or nullopt when unset (0).
std::optional<int64> max_active_tokens_per_user();

// pat.max_inactivity, or nullptr when unset.
const Interval *max_inactivity_interval();

// pat.audit_min_retention (only a superuser sets it), or nullptr when unset.
const Interval *audit_min_retention_interval();

// pat.usage_flush_interval, pat.audit_link_delay and pat.lifecycle_interval: when the
// maintenance launcher starts a worker for each duty (workers/launcher.hpp).
int usage_flush_interval_ms();
int audit_link_delay_ms();
int lifecycle_interval_ms();

// pat.max_maintenance_workers: how many workers the launcher runs at once; a reload may change
// it up to this bound, which sizes the launcher's tables of workers in shared memory.
constexpr int kMaxMaintenanceWorkersLimit = 64;
int max_maintenance_workers();

// now + pat.max_lifetime, or nullopt when no maximum lifetime is set.
std::optional<TimestampTz> latest_allowed_expiry(TimestampTz now);

// pat.token_cache_size (entries of each backend's own cache) and pat.token_cache_memory (kB of
// the server's shared cache, fixed at start; each backend's own cache on a standby); either 0
// turns caching off.
int token_cache_size();
int token_cache_memory_kb();

// pat.usage_max_entries: tokens (per day) whose usage shared memory holds between two flushes;
// read when shared memory is sized.
int usage_max_entries();

// pat.rate_limit_max_entries: tokens and users with a rate limit or credits whose limiter state
// shared memory holds (limiter_store.hpp).
int rate_limit_max_entries();

// pat.usage_forward_conninfo: how a standby forwards usage to the primary ("": primary_conninfo).
const char *usage_forward_conninfo();

// pat.client_addresses: whether checks record the client addresses they are given (a token's
// last five, written by the usage flush), and whether the flush queues a new_address notice
// for an address a token never used. Client addresses are personal data: off records none.
enum class ClientAddresses { off, record, notify };
ClientAddresses client_addresses();

}  // namespace pat::pg
