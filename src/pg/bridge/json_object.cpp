// The jsonb object builder; see json_object.hpp.
#include "pg/bridge/json_object.hpp"

namespace pat::pg {

Field field(HeapTuple tuple, TupleDesc desc, int attno) {
    Field f;
    f.value = heap_getattr(tuple, attno, desc, &f.is_null);
    return f;
}

JsonObject::JsonObject() {
    pushJsonbValue(&state_, WJB_BEGIN_OBJECT, nullptr);
}

void JsonObject::add_string(const char *key, const char *value) {
    push_key(key);
    if (value == nullptr) {
        push_null(WJB_VALUE);
    } else {
        push_string(WJB_VALUE, value, static_cast<int>(strlen(value)));
    }
}

void JsonObject::add_text(const char *key, const Field &f) {
    push_key(key);
    if (f.is_null) {
        push_null(WJB_VALUE);
        return;
    }
    const text *value = DatumGetTextPP(f.value);
    push_string(WJB_VALUE, VARDATA_ANY(value), static_cast<int>(VARSIZE_ANY_EXHDR(value)));
}

void JsonObject::add_text_array(const char *key, const Field &f) {
    push_key(key);
    if (f.is_null) {
        push_null(WJB_VALUE);
        return;
    }
    Datum *elements = nullptr;
    bool *nulls = nullptr;
    int count = 0;
    deconstruct_array(DatumGetArrayTypeP(f.value), TEXTOID, -1, false, TYPALIGN_INT, &elements,
                      &nulls, &count);
    pushJsonbValue(&state_, WJB_BEGIN_ARRAY, nullptr);
    for (int i = 0; i < count; ++i) {
        if (nulls[i]) {
            push_null(WJB_ELEM);
        } else {
            const text *element = DatumGetTextPP(elements[i]);
            push_string(WJB_ELEM, VARDATA_ANY(element),
                        static_cast<int>(VARSIZE_ANY_EXHDR(element)));
        }
    }
    pushJsonbValue(&state_, WJB_END_ARRAY, nullptr);
}

void JsonObject::add_timestamptz(const char *key, const Field &f) {
    push_key(key);
    if (f.is_null) {
        push_null(WJB_VALUE);
        return;
    }
    char buffer[MAXDATELEN + 1];
    JsonEncodeDateTime(buffer, f.value, TIMESTAMPTZOID, nullptr);
    push_string(WJB_VALUE, pstrdup(buffer), static_cast<int>(strlen(buffer)));
}

Jsonb *JsonObject::finish() {
    return JsonbValueToJsonb(pushJsonbValue(&state_, WJB_END_OBJECT, nullptr));
}

void JsonObject::push_key(const char *key) {
    push_string(WJB_KEY, key, static_cast<int>(strlen(key)));
}

void JsonObject::push_string(JsonbIteratorToken token, const char *data, int len) {
    JsonbValue value;
    value.type = jbvString;
    value.val.string.val = const_cast<char *>(data);
    value.val.string.len = len;
    pushJsonbValue(&state_, token, &value);
}

void JsonObject::push_null(JsonbIteratorToken token) {
    JsonbValue value;
    value.type = jbvNull;
    pushJsonbValue(&state_, token, &value);
}

}  // namespace pat::pg
