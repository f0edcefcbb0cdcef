// Digest key fingerprints: the one new tokens get, the configured ones for pat_key_status(),
// and the WARNING when active tokens were made under a key this server lacks.
#include "pg/tokens/key_status.hpp"

#include <string>
#include <vector>

#include "pg/tokens/api_support.hpp"
#include "pg/bridge/convert.hpp"
#include "pg/bridge/guard.hpp"
#include "pg/bridge/schema_version.hpp"
#include "pg/settings.hpp"
#include "pg/bridge/spi_support.hpp"

namespace pat::pg {

namespace {

// The distinct key ids of pat.tokens, found by skipping through tokens_key_id_idx (a handful
// of keys among millions of tokens: one index descent per key), that are not configured and
// still have an active token.
const char kMissingKeys[] =
    "WITH RECURSIVE k(key_id) AS ("
    " SELECT pg_catalog.min(t.key_id) FROM pat.tokens t"
    " UNION ALL"
    " SELECT (SELECT pg_catalog.min(t.key_id) FROM pat.tokens t"
    "  WHERE t.key_id OPERATOR(pg_catalog.>) k.key_id)"
    " FROM k WHERE k.key_id IS NOT NULL)"
    " SELECT k.key_id FROM k"
    " WHERE k.key_id IS NOT NULL AND NOT k.key_id OPERATOR(pg_catalog.=) ANY ($1)"
    " AND EXISTS (SELECT FROM pat.tokens t"
    "  WHERE t.key_id OPERATOR(pg_catalog.=) k.key_id AND t.revoked_at IS NULL"
    "  AND (t.expires_at IS NULL OR t.expires_at OPERATOR(pg_catalog.>) $2))"
    " ORDER BY 1";
KeptPlan missing_keys_plan = {kMissingKeys, 2, {TEXTARRAYOID, TIMESTAMPTZOID}};

// The key configuration last surveyed in this backend (0: none yet), and the keys warned of.
uint64 surveyed_generation = 0;
std::vector<std::string> warned_keys;

bool tokens_have_key_id() {
    return call_pg([] { return schema_has(pat::schema_since::kTokenKeyId); });
}

}  // namespace

text *current_key_id() {
    if (!tokens_have_key_id()) {
        return nullptr;
    }
    return make_text(digest_key_fingerprints().front());
}

void warn_of_missing_keys() {
    if (surveyed_generation == digest_keys_generation()) {
        return;
    }
    surveyed_generation = digest_keys_generation();
    if (!tokens_have_key_id()) {
        return;
    }
    ArrayType *configured = make_text_array(digest_key_fingerprints());
    TimestampTz now = policy_clock();
    // The keys, copied into the caller's memory before SPI's goes (the query yields no NULL).
    struct MissingKeys {
        char **keys;
        uint64 count;
    };
    MissingKeys missing = with_owner_spi([&] {
        Datum values[2] = {PointerGetDatum(configured), TimestampTzGetDatum(now)};
        uint64 count = run_kept_plan(missing_keys_plan, values, nullptr, true, SPI_OK_SELECT);
        auto **keys = static_cast<char **>(SPI_palloc(sizeof(char *) * (count + 1)));
        for (uint64 i = 0; i < count; ++i) {
            bool is_null = false;
            Datum key = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &is_null);
            std::string_view value = text_view(DatumGetTextPP(key));
            keys[i] = static_cast<char *>(SPI_palloc(value.size() + 1));
            memcpy(keys[i], value.data(), value.size());
            keys[i][value.size()] = '\0';
        }
        return MissingKeys{keys, count};
    });
    for (uint64 i = 0; i < missing.count; ++i) {
        const char *key = missing.keys[i];
        bool already = false;
        for (const std::string &warned : warned_keys) {
            already = already || warned == key;
        }
        if (already) {
            continue;
        }
        {
            BackendAllocations kept;
            warned_keys.push_back(key);
        }
        call_pg([&] {
            ereport(WARNING,
                    (errcode(ERRCODE_CONFIG_FILE_ERROR),
                     errmsg("active personal access tokens were made under digest key %s, which "
                            "is not configured",
                            key),
                     errdetail("Checks of those tokens answer not_found."),
                     errhint("Set pat.digest_key (or list the key in pat.digest_previous_keys) "
                             "as on the server the tokens were made on; pat_key_status() lists "
                             "the keys.")));
        });
    }
}

}  // namespace pat::pg

// pat.configured_key_ids(): the fingerprints of pat.digest_key and pat.digest_previous_keys,
// current first (for pat_key_status()).
PAT_FUNCTION(pat_configured_key_ids) {
    PG_RETURN_ARRAYTYPE_P(pat::pg::make_text_array(pat::pg::digest_key_fingerprints()));
}
