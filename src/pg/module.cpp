// Module entry: settings and transaction callbacks, set up once per backend.
#include "pg/guard.hpp"
#include "pg/settings.hpp"
#include "pg/token_cache.hpp"
#include "pg/token_context.hpp"

extern "C" {
PG_MODULE_MAGIC;

void _PG_init(void);

void _PG_init(void) {
    pat::pg::define_settings();
    pat::pg::register_token_context_callbacks();
    pat::pg::setup_token_cache();
}
}
