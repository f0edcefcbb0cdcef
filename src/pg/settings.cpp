// Every pat.* configuration parameter. All are superuser-only (PGC_SUSET, or set in
// postgresql.conf: PGC_SIGHUP, PGC_POSTMASTER for what sizes shared memory; the digest keys are
// also hidden from other roles and kept out of the server log), so that an application role
// cannot lift a lifetime policy, change what tokens look like, read a key or slow pg_pat's
// workers down.
#include "pg/settings.hpp"

#include <cstdlib>

#include "core/scope.hpp"
#include "core/time_range.hpp"
#include "core/token.hpp"
#include "pg/bridge/compat.hpp"
#include "pg/bridge/datetime.hpp"
#include "pg/bridge/guard.hpp"

namespace pat::pg {

static char *token_prefix_setting = nullptr;
static char *max_lifetime_setting = nullptr;
static char *digest_key_setting = nullptr;
static char *previous_keys_setting = nullptr;
// Digesters for digest_key_setting followed by the previous keys, rebuilt when either changes.
static std::vector<pat::TokenDigester> digesters;
static std::vector<std::string> fingerprints;
static bool digesters_valid = false;
static uint64 keys_generation = 1;
static char *manage_scope_setting = nullptr;
static char *delegate_scope_setting = nullptr;
static char *max_delegated_lifetime_setting = nullptr;
static int max_delegation_depth_setting = 3;
static int max_active_tokens_setting = 0;
static int usage_max_entries_setting = 250000;
static int rate_limit_max_entries_setting = 100000;
static int token_cache_size_setting = 1000000;
static int token_cache_memory_kb_setting = 80 * 1024;
static char *usage_forward_conninfo_setting = nullptr;
static int client_addresses_setting = static_cast<int>(pat::pg::ClientAddresses::notify);
static const struct config_enum_entry client_addresses_options[] = {
    {"off", static_cast<int>(pat::pg::ClientAddresses::off), false},
    {"record", static_cast<int>(pat::pg::ClientAddresses::record), false},
    {"notify", static_cast<int>(pat::pg::ClientAddresses::notify), false},
    {nullptr, 0, false},
};

// Keys shorter than this are passwords, not keys.
static constexpr size_t kMinKeyChars = 32;
// In pat.digest_previous_keys: the unkeyed SHA-256 used while no key was set.
static constexpr std::string_view kPlainDigestName = "sha256";
// The parsed pat.max_lifetime and pat.max_inactivity; null when unset.
static Interval *max_lifetime = nullptr;
// The parsed pat.max_delegated_lifetime; null when unset.
static Interval *max_delegated_lifetime = nullptr;
static char *max_inactivity_setting = nullptr;
static Interval *max_inactivity = nullptr;
// The parsed pat.audit_min_retention; null when unset.
static char *audit_min_retention_setting = nullptr;
static Interval *audit_min_retention = nullptr;
// The maintenance launcher's schedule and how many workers it may run at once.
static int usage_flush_interval_setting = 60000;
static int audit_link_delay_setting = 500;
static int lifecycle_interval_setting = 60000;
static int max_maintenance_workers_setting = 2;

// Rejects a prefix that could not be told apart from the random part.
static bool check_token_prefix(char **newval, void **extra, GucSource source) {
    if (*newval == nullptr || !pat::is_valid_token_prefix(*newval)) {
        GUC_check_errdetail("A prefix is up to 64 ASCII letters, digits, \"_\" or \"-\".");
        return false;
    }
    return true;
}

// Accepts an empty value (unset) or a positive interval, parsed once here; name is the
// setting's, for the message.
static bool check_optional_interval(const char *name, char **newval, void **extra) {
    if (*newval == nullptr || (*newval)[0] == '\0') {
        *extra = nullptr;
        return true;
    }
    Interval span;
    if (!parse_interval(*newval, &span)) {
        GUC_check_errdetail("%s must be an interval such as '90 days', or empty.", name);
        return false;
    }
    if (span.month < 0 || span.day < 0 || span.time < 0 ||
        (span.month == 0 && span.day == 0 && span.time == 0)) {
        GUC_check_errdetail("%s must be positive.", name);
        return false;
    }
    // Bounded, so that now() plus or minus it is a time (time_range.hpp).
    std::optional<int64> length = pat::interval_span(span.month, span.day, span.time);
    if (!length || *length > pat::kLongestSettingSpan) {
        GUC_check_errdetail("%s must be at most 1000 years.", name);
        return false;
    }
    auto *parsed = static_cast<Interval *>(compat::alloc_setting_extra(sizeof(Interval)));
    if (parsed == nullptr) {
        return false;
    }
    *parsed = span;
    *extra = parsed;
    return true;
}

static bool check_max_lifetime(char **newval, void **extra, GucSource) {
    return check_optional_interval("pat.max_lifetime", newval, extra);
}

static bool check_max_delegated_lifetime(char **newval, void **extra, GucSource) {
    return check_optional_interval("pat.max_delegated_lifetime", newval, extra);
}

static bool check_max_inactivity(char **newval, void **extra, GucSource) {
    return check_optional_interval("pat.max_inactivity", newval, extra);
}

static bool check_audit_min_retention(char **newval, void **extra, GucSource) {
    return check_optional_interval("pat.audit_min_retention", newval, extra);
}

// The names of the settings that hold keys.
static constexpr char kDigestKeyName[] = "pat.digest_key";
static constexpr char kPreviousKeysName[] = "pat.digest_previous_keys";

// A refused key setting's message without its value: PostgreSQL's own ("invalid value for
// parameter \"%s\": \"%s\"") would write the key to the server log and to the client.
static void refuse_key_setting(const char *name) {
    GUC_check_errmsg("invalid value for parameter \"%s\" (the value is not shown)", name);
}

// A key is empty (plain SHA-256) or at least 32 characters.
static bool check_digest_key(char **newval, void **extra, GucSource source) {
    size_t length = *newval == nullptr ? 0 : strlen(*newval);
    if (length != 0 && length < kMinKeyChars) {
        refuse_key_setting(kDigestKeyName);
        GUC_check_errdetail("pat.digest_key must be empty or at least 32 characters.");
        return false;
    }
    return true;
}

// The parsed pat.digest_previous_keys: count, then each key NUL-terminated, in one malloc'd
// block (a GUC's extra must be one free()-able chunk).
struct PreviousKeys {
    int count;
    char keys[FLEXIBLE_ARRAY_MEMBER];
};
static const PreviousKeys *previous_keys = nullptr;

// A list of former keys, parsed once with PostgreSQL's list parser (items trimmed, a key
// holding a comma or spaces at its ends double-quoted), each at least 32 characters or
// "sha256".
static bool check_previous_keys(char **newval, void **extra, GucSource source) {
    char *raw = pstrdup(*newval == nullptr ? "" : *newval);
    List *items = NIL;
    if (!SplitGUCList(raw, ',', &items)) {
        refuse_key_setting(kPreviousKeysName);
        GUC_check_errdetail("pat.digest_previous_keys must be a comma-separated list.");
        return false;
    }
    size_t bytes = offsetof(PreviousKeys, keys);
    ListCell *cell;
    foreach (cell, items) {
        const char *key = static_cast<const char *>(lfirst(cell));
        if (key != kPlainDigestName && strlen(key) < kMinKeyChars) {
            refuse_key_setting(kPreviousKeysName);
            GUC_check_errdetail(
                "Each former key must be at least 32 characters, or \"sha256\" for tokens made "
                "before any key was set.");
            return false;
        }
        bytes += strlen(key) + 1;
    }
    auto *parsed = static_cast<PreviousKeys *>(compat::alloc_setting_extra(bytes));
    if (parsed == nullptr) {
        return false;
    }
    parsed->count = list_length(items);
    char *next = parsed->keys;
    foreach (cell, items) {
        const char *key = static_cast<const char *>(lfirst(cell));
        size_t length = strlen(key) + 1;
        memcpy(next, key, length);
        next += length;
    }
    *extra = parsed;
    return true;
}

static void assign_previous_keys(const char *, void *extra) {
    previous_keys = static_cast<const PreviousKeys *>(extra);
    digesters_valid = false;
    ++keys_generation;
}

static void invalidate_digesters(const char *, void *) {
    digesters_valid = false;
    ++keys_generation;
}

// What SHOW, current_setting() and pg_settings give for a key setting (value: the setting's
// string, current: pat.digest_key rather than the former keys): the value for a superuser, the
// keys' fingerprints behind a mask for any other role. PostgreSQL opens GUC_SUPERUSER_ONLY
// settings to pg_read_all_settings, and so to pg_monitor, the role monitoring agents are given;
// this is what keeps the keys from them. The result is copied by the caller.
static const char *show_key_setting(const char *value, bool current) noexcept {
    if (superuser()) {
        return value != nullptr ? value : "";
    }
    static std::string shown;
    BackendAllocations kept;
    try {
        const std::vector<std::string> &configured = digest_key_fingerprints();
        std::vector<std::string> listed;
        if (!current) {
            listed.assign(configured.begin() + 1, configured.end());
        } else if (value != nullptr && value[0] != '\0') {
            listed.push_back(configured.front());
        }
        shown = pat::masked_keys(listed);
        return shown.c_str();
    } catch (...) {
        return "********";
    }
}

static const char *show_digest_key() {
    return show_key_setting(digest_key_setting, true);
}

static const char *show_previous_keys() {
    return show_key_setting(previous_keys_setting, false);
}

// Which key setting a logged "parameter \"%s\" changed to \"%s\"" is about: the name comes
// before the value, so the first key setting named in the message; nullptr for none.
static const char *changed_key_setting(const char *message) {
    const char *digest_key = strstr(message, kDigestKeyName);
    const char *previous_keys = strstr(message, kPreviousKeysName);
    if (digest_key != nullptr && (previous_keys == nullptr || digest_key < previous_keys)) {
        return kDigestKeyName;
    }
    return previous_keys != nullptr ? kPreviousKeysName : nullptr;
}

static emit_log_hook_type next_emit_log_hook = nullptr;

// The postmaster logs each setting a reload changes with its new value, and PostgreSQL has no
// flag to hold a value back: for the key settings the line keeps the name and loses the value.
// The message is rewritten in place, since it is always longer than its replacement (no
// allocation while an error is being reported).
static void hide_changed_keys(ErrorData *edata) {
    static const char kChangedFormat[] = "parameter \"%s\" changed to \"%s\"";
    if (edata->message_id != nullptr && edata->message != nullptr &&
        strcmp(edata->message_id, kChangedFormat) == 0) {
        const char *name = changed_key_setting(edata->message);
        if (name != nullptr) {
            size_t room = strlen(edata->message) + 1;
            size_t needed = snprintf(edata->message, room,
                                     "parameter \"%s\" changed (the value is not logged)", name);
            if (needed >= room) {
                snprintf(edata->message, room, "parameter \"%s\" changed", name);
            }
        }
    }
    if (next_emit_log_hook != nullptr) {
        next_emit_log_hook(edata);
    }
}

// A scope name, or empty: then no token may manage tokens.
static bool check_manage_scope(char **newval, void **extra, GucSource source) {
    if (*newval != nullptr && **newval != '\0' && !pat::is_valid_scope_name(*newval)) {
        GUC_check_errdetail("pat.manage_scope must be a scope name, or empty.");
        return false;
    }
    return true;
}

static void assign_max_lifetime(const char *newval, void *extra) {
    max_lifetime = static_cast<Interval *>(extra);
}

static void assign_max_delegated_lifetime(const char *, void *extra) {
    max_delegated_lifetime = static_cast<Interval *>(extra);
}

static bool check_delegate_scope(char **newval, void **extra, GucSource source) {
    if (*newval != nullptr && **newval != '\0' && !pat::is_valid_scope_name(*newval)) {
        GUC_check_errdetail("pat.delegate_scope must be a scope name, or empty.");
        return false;
    }
    return true;
}

static void assign_max_inactivity(const char *newval, void *extra) {
    max_inactivity = static_cast<Interval *>(extra);
}

static void assign_audit_min_retention(const char *, void *extra) {
    audit_min_retention = static_cast<Interval *>(extra);
}

void define_settings() {
    DefineCustomStringVariable("pat.token_prefix", "Prefix of newly created tokens.",
                               "Tokens issued under an earlier prefix stay valid.",
                               &token_prefix_setting, "pat_", PGC_SUSET, 0, check_token_prefix,
                               nullptr, nullptr);
    DefineCustomStringVariable(
        "pat.max_lifetime", "Longest lifetime a new token may have; empty for no limit.",
        "When set, tokens that never expire are refused.", &max_lifetime_setting, "", PGC_SUSET, 0,
        check_max_lifetime, assign_max_lifetime, nullptr);
    DefineCustomStringVariable(
        kDigestKeyName, "Server key: token digests become HMAC-SHA-256 under it.",
        "Set in postgresql.conf; a stolen table dump alone then cannot confirm a token.",
        &digest_key_setting, "", PGC_SIGHUP,
        GUC_SUPERUSER_ONLY | GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE, check_digest_key,
        invalidate_digesters, show_digest_key);
    DefineCustomStringVariable(
        kPreviousKeysName,
        "Former digest keys, comma-separated, still accepted for tokens made under them.",
        "\"sha256\" stands for tokens made before any key was set.", &previous_keys_setting, "",
        PGC_SIGHUP, GUC_LIST_INPUT | GUC_SUPERUSER_ONLY | GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE,
        check_previous_keys, assign_previous_keys, show_previous_keys);
    next_emit_log_hook = emit_log_hook;
    emit_log_hook = hide_changed_keys;
    DefineCustomStringVariable(
        "pat.manage_scope",
        "Scope a personal access token needs to manage tokens in its own transaction.",
        "Inside a token context the management functions act only on the authenticated user's "
        "tokens, and only for a token holding this scope; empty: for none.",
        &manage_scope_setting, "tokens:manage", PGC_SUSET, 0, check_manage_scope, nullptr, nullptr);
    DefineCustomStringVariable(
        "pat.delegate_scope",
        "Scope a personal access token needs to mint child tokens with pat_delegate().",
        "Separate from pat.manage_scope: an agent may mint narrower, shorter-lived tokens for its "
        "sub-agents without seeing or editing its user's other tokens; empty: for none.",
        &delegate_scope_setting, "tokens:delegate", PGC_SUSET, 0, check_delegate_scope, nullptr,
        nullptr);
    DefineCustomStringVariable(
        "pat.max_delegated_lifetime",
        "Longest lifetime a token made with pat_delegate() may have; empty for no limit.",
        "A child never outlives its parent either.", &max_delegated_lifetime_setting, "1 day",
        PGC_SUSET, 0, check_max_delegated_lifetime, assign_max_delegated_lifetime, nullptr);
    DefineCustomIntVariable(
        "pat.max_delegation_depth",
        "How many delegations deep a token may be (a root token is at depth 0).",
        "pat_delegate() refuses a child deeper than this (54000); 0 turns delegation off.",
        &max_delegation_depth_setting, 3, 0, 100, PGC_SUSET, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "pat.max_active_tokens_per_user",
        "Most active tokens one user may hold; pat_create and pat_rotate refuse more (54000).",
        "0: no limit. A rotation with no overlap does not count the token it revokes.",
        &max_active_tokens_setting, 0, 0, INT_MAX, PGC_SUSET, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "pat.usage_flush_interval",
        "How often pg_pat's background worker writes usage from shared memory to the tables.",
        "A crash loses at most the usage of one interval.", &usage_flush_interval_setting, 60000,
        100, 3600 * 1000, PGC_SIGHUP, GUC_UNIT_MS, nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "pat.audit_link_delay",
        "How long after a commit pg_pat's background worker links its audit rows into the hash "
        "chain.",
        "Rows committed within the delay are linked together, in one pass; until then they wait "
        "in pat.audit_pending.",
        &audit_link_delay_setting, 500, 0, 60 * 1000, PGC_SIGHUP, GUC_UNIT_MS, nullptr, nullptr,
        nullptr);
    DefineCustomIntVariable("pat.lifecycle_interval",
                            "How often pg_pat's background worker queues expiry notices and "
                            "applies pat.max_inactivity.",
                            nullptr, &lifecycle_interval_setting, 60000, 100, 24 * 3600 * 1000,
                            PGC_SIGHUP, GUC_UNIT_MS, nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "pat.max_maintenance_workers",
        "Most pg_pat workers running at once, each in its own database, beside pg_pat's launcher.",
        "Each takes one of max_worker_processes, which parallel query and logical replication "
        "share. Two let a database whose work takes long (a large audit backlog, a lock) hold up "
        "the others no longer than one worker's slot, while leaving the other slots free; raise "
        "it for many busy databases.",
        &max_maintenance_workers_setting, 2, 1, kMaxMaintenanceWorkersLimit, PGC_SIGHUP, 0, nullptr,
        nullptr, nullptr);
    DefineCustomStringVariable(
        "pat.max_inactivity",
        "pg_pat's background worker revokes active tokens unused for longer; empty: never.",
        "A token never used counts from its creation.", &max_inactivity_setting, "", PGC_SUSET, 0,
        check_max_inactivity, assign_max_inactivity, nullptr);
    DefineCustomStringVariable(
        "pat.audit_min_retention",
        "Audit rows younger than this are kept: pat_audit_purge() refuses a shorter older_than.",
        "Only a superuser can change it; empty: no minimum.", &audit_min_retention_setting,
        "7 days", PGC_SUSET, 0, check_audit_min_retention, assign_audit_min_retention, nullptr);
    DefineCustomIntVariable(
        "pat.token_cache_size",
        "Entries each backend keeps in its own validation cache; 0 turns caching off for it.",
        "A backend's own cache holds users' roles, and the tokens too big for the shared "
        "cache; on a standby, every token it checks. A committed change drops only the tokens "
        "and users it reaches.",
        &token_cache_size_setting, 1000000, 0, 10000000, PGC_SUSET, 0, nullptr, nullptr, nullptr);
    // 80 MB: about 240,000 tokens in the shared cache (an entry with its limits takes about 320
    // bytes), so a server with a few hundred thousand active tokens needs no tuning, while the
    // shared memory claimed at start stays small beside shared_buffers.
    DefineCustomIntVariable(
        "pat.token_cache_memory",
        "Memory of the server's shared token cache, claimed at start; 0 turns caching off.",
        "When it is full, entries unused since the last eviction go first. On a standby, each "
        "backend caches on its own, within this bound.",
        &token_cache_memory_kb_setting, 80 * 1024, 0, MAX_KILOBYTES, PGC_POSTMASTER, GUC_UNIT_KB,
        nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "pat.usage_max_entries",
        "Tokens (per day) whose usage shared memory holds between two flushes.",
        "Checks of further tokens are counted for the whole database until the next flush.",
        &usage_max_entries_setting, 250000, 100, 100000000, PGC_POSTMASTER, 0, nullptr, nullptr,
        nullptr);
    DefineCustomIntVariable(
        "pat.rate_limit_max_entries",
        "Tokens and users with a rate limit or credits whose state shared memory holds.",
        "State that says no more than its absence is forgotten to make room; when none can be, "
        "checks needing a new entry are refused as rate_limited.",
        &rate_limit_max_entries_setting, 100000, 100, 100000000, PGC_POSTMASTER, 0, nullptr,
        nullptr, nullptr);
    DefineCustomStringVariable(
        "pat.usage_forward_conninfo",
        "How a standby's usage worker connects to the primary; empty: primary_conninfo.",
        "The role needs EXECUTE on pat_merge_usage (the admin profile has it).",
        &usage_forward_conninfo_setting, "", PGC_SIGHUP, GUC_SUPERUSER_ONLY, nullptr, nullptr,
        nullptr);
    // A policy on personal data: only a superuser sets it (per server, database or role), not
    // the application's sessions.
    DefineCustomEnumVariable(
        "pat.client_addresses",
        "Whether checks record the client addresses they are given: off, record or notify.",
        "record keeps each token's last 5 distinct client addresses (pat_validate's and "
        "pat_authenticate's client_addr, valid checks only), written by the usage flush and shown "
        "by pat_list and pat_token_activity; notify also queues a new_address notice for an "
        "address the token has not been used from; off records no address (they are personal "
        "data), and the flush writes none still pending.",
        &client_addresses_setting, static_cast<int>(pat::pg::ClientAddresses::notify),
        client_addresses_options, PGC_SUSET, 0, nullptr, nullptr, nullptr);
}

int usage_max_entries() {
    return usage_max_entries_setting;
}

int rate_limit_max_entries() {
    return rate_limit_max_entries_setting;
}

int token_cache_size() {
    return token_cache_size_setting;
}

int token_cache_memory_kb() {
    return token_cache_memory_kb_setting;
}

ClientAddresses client_addresses() {
    return static_cast<ClientAddresses>(client_addresses_setting);
}

const char *usage_forward_conninfo() {
    return usage_forward_conninfo_setting != nullptr ? usage_forward_conninfo_setting : "";
}

std::string_view token_prefix() {
    return token_prefix_setting != nullptr ? token_prefix_setting : "pat_";
}

const std::vector<pat::TokenDigester> &token_digesters() {
    if (!digesters_valid) {
        BackendAllocations kept;
        digesters.clear();
        fingerprints.clear();
        std::string_view current = digest_key_setting != nullptr ? digest_key_setting : "";
        digesters.emplace_back(current);
        fingerprints.push_back(pat::key_fingerprint(current));
        const char *key = previous_keys != nullptr ? previous_keys->keys : nullptr;
        for (int i = 0; previous_keys != nullptr && i < previous_keys->count; ++i) {
            std::string_view name = key;
            std::string_view former = name == kPlainDigestName ? std::string_view() : name;
            digesters.emplace_back(former);
            fingerprints.push_back(pat::key_fingerprint(former));
            key += name.size() + 1;
        }
        digesters_valid = true;
    }
    return digesters;
}

const std::vector<std::string> &digest_key_fingerprints() {
    token_digesters();
    return fingerprints;
}

uint64 digest_keys_generation() {
    return keys_generation;
}

std::optional<int64> max_active_tokens_per_user() {
    if (max_active_tokens_setting <= 0) {
        return std::nullopt;
    }
    return max_active_tokens_setting;
}

int usage_flush_interval_ms() {
    return usage_flush_interval_setting;
}

int audit_link_delay_ms() {
    return audit_link_delay_setting;
}

int lifecycle_interval_ms() {
    return lifecycle_interval_setting;
}

int max_maintenance_workers() {
    return max_maintenance_workers_setting;
}

std::string_view manage_scope() {
    return manage_scope_setting != nullptr ? manage_scope_setting : "";
}

std::string_view delegate_scope() {
    return delegate_scope_setting != nullptr ? delegate_scope_setting : "";
}

int max_delegation_depth() {
    return max_delegation_depth_setting;
}

std::optional<TimestampTz> latest_delegated_expiry(TimestampTz now) {
    if (max_delegated_lifetime == nullptr) {
        return std::nullopt;
    }
    return plus_interval(now, max_delegated_lifetime, "now() + pat.max_delegated_lifetime");
}

std::optional<TimestampTz> latest_allowed_expiry(TimestampTz now) {
    if (max_lifetime == nullptr) {
        return std::nullopt;
    }
    return plus_interval(now, max_lifetime, "now() + pat.max_lifetime");
}

const Interval *max_inactivity_interval() {
    return max_inactivity;
}

const Interval *audit_min_retention_interval() {
    return audit_min_retention;
}

}  // namespace pat::pg
