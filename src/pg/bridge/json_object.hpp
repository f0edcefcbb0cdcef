// A jsonb object built key by key, as jsonb_build_object() would build it from the same values: the
// old_data and new_data of the audit rows pg_pat writes itself (token lifecycle, role and scope
// changes, trigger changes). It owns only palloc'd memory, so a frame holding one may call
// PostgreSQL directly.
#pragma once

#include "pg/bridge/postgres.hpp"

namespace pat::pg {

// A column's value as heap_getattr gives it.
struct Field {
    Datum value;
    bool is_null;
};

Field field(HeapTuple tuple, TupleDesc desc, int attno);

class JsonObject {
  public:
    JsonObject();

    void add_string(const char *key, const char *value);  // value nullptr: JSON null
    void add_text(const char *key, const Field &f);
    void add_text_array(const char *key, const Field &f);
    void add_timestamptz(const char *key, const Field &f);

    Jsonb *finish();

  private:
    void push_key(const char *key);
    void push_string(JsonbIteratorToken token, const char *data, int len);
    void push_null(JsonbIteratorToken token);

    JsonbParseState *state_ = nullptr;
};

}  // namespace pat::pg
