// The hash of an audit row and the size of its JSON text; see audit_hash.hpp.
#include "pg/audit/audit_hash.hpp"

#include <string_view>

#include "core/audit_row.hpp"
#include "core/digest.hpp"
#include "pg/bridge/convert.hpp"
#include "pg/bridge/guard.hpp"

namespace pat::pg {

namespace {

// JSON text as jsonb prints it (JsonbToCString, escape_json), handed to sink.put(data, len) in
// pieces; an emitter returns early once sink.enough() (a counter past its limit).

template <typename Sink>
void put(Sink &sink, std::string_view piece) {
    sink.put(piece.data(), piece.size());
}

template <typename Sink>
void emit_string(Sink &sink, const char *value, size_t len) {
    put(sink, "\"");
    const char *run = value;
    const char *end = value + len;
    for (const char *p = value; p < end; ++p) {
        char escaped[16];
        const char *replacement = nullptr;
        switch (*p) {
            case '\b':
                replacement = "\\b";
                break;
            case '\f':
                replacement = "\\f";
                break;
            case '\n':
                replacement = "\\n";
                break;
            case '\r':
                replacement = "\\r";
                break;
            case '\t':
                replacement = "\\t";
                break;
            case '"':
                replacement = "\\\"";
                break;
            case '\\':
                replacement = "\\\\";
                break;
            default:
                if (static_cast<unsigned char>(*p) < ' ') {
                    snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<int>(*p));
                    replacement = escaped;
                }
                break;
        }
        if (replacement != nullptr) {
            sink.put(run, static_cast<size_t>(p - run));
            put(sink, replacement);
            run = p + 1;
        }
    }
    sink.put(run, static_cast<size_t>(end - run));
    put(sink, "\"");
}

template <typename Sink>
void emit_text(Sink &sink, const text *value) {
    if (value == nullptr) {
        put(sink, "null");
    } else {
        emit_string(sink, VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value));
    }
}

template <typename Sink>
void emit_numeric(Sink &sink, Datum numeric) {
    char *printed = DatumGetCString(DirectFunctionCall1(numeric_out, numeric));
    put(sink, printed);
    pfree(printed);
}

template <typename Sink>
void emit_scalar(Sink &sink, const JsonbValue &value) {
    switch (value.type) {
        case jbvNull:
            put(sink, "null");
            break;
        case jbvString:
            emit_string(sink, value.val.string.val, value.val.string.len);
            break;
        case jbvNumeric:
            emit_numeric(sink, NumericGetDatum(value.val.numeric));
            break;
        case jbvBool:
            put(sink, value.val.boolean ? "true" : "false");
            break;
        default:
            elog(ERROR, "unknown jsonb scalar type");
    }
}

// JsonbToCStringWorker without indentation, token by token.
template <typename Sink>
void emit_jsonb(Sink &sink, Jsonb *value) {
    if (value == nullptr) {
        put(sink, "null");
        return;
    }
    JsonbIterator *it = JsonbIteratorInit(&value->root);
    JsonbValue v;
    JsonbIteratorToken type = WJB_DONE;
    bool first = true;
    bool raw_scalar = false;
    bool redo = false;
    while (redo || (type = JsonbIteratorNext(&it, &v, false)) != WJB_DONE) {
        redo = false;
        if (sink.enough()) {
            return;  // the iterator's memory goes with the caller's context
        }
        CHECK_FOR_INTERRUPTS();
        switch (type) {
            case WJB_BEGIN_ARRAY:
                if (!first)
                    put(sink, ", ");
                if (!v.val.array.rawScalar) {
                    put(sink, "[");
                } else {
                    raw_scalar = true;
                }
                first = true;
                break;
            case WJB_BEGIN_OBJECT:
                if (!first)
                    put(sink, ", ");
                put(sink, "{");
                first = true;
                break;
            case WJB_KEY:
                if (!first)
                    put(sink, ", ");
                first = true;
                emit_scalar(sink, v);
                put(sink, ": ");
                type = JsonbIteratorNext(&it, &v, false);
                if (type == WJB_VALUE) {
                    first = false;
                    emit_scalar(sink, v);
                } else {
                    redo = true;  // a nested object or array, printed by the next round
                }
                break;
            case WJB_ELEM:
                if (!first)
                    put(sink, ", ");
                first = false;
                emit_scalar(sink, v);
                break;
            case WJB_END_ARRAY:
                if (!raw_scalar)
                    put(sink, "]");
                first = false;
                break;
            case WJB_END_OBJECT:
                put(sink, "}");
                first = false;
                break;
            default:
                elog(ERROR, "unknown jsonb iterator token type");
        }
    }
}

template <typename Sink>
void emit_int64(Sink &sink, const int64 *value) {
    if (value == nullptr) {
        put(sink, "null");
        return;
    }
    char printed[32];
    snprintf(printed, sizeof printed, INT64_FORMAT, *value);
    put(sink, printed);
}

// The text of jsonb_build_array(...)::text of the row's columns: elements joined by ", ".
template <typename Sink>
void emit_row(Sink &sink, const AuditRowColumns &row) {
    put(sink, "[");
    emit_int64(sink, row.seq);
    put(sink, ", ");
    if (row.occurred_at == nullptr) {
        put(sink, "null");
    } else {
        emit_numeric(sink, DirectFunctionCall2(extract_timestamptz, CStringGetTextDatum("epoch"),
                                               TimestampTzGetDatum(*row.occurred_at)));
    }
    put(sink, ", ");
    emit_text(sink, row.user_id);
    put(sink, ", ");
    if (row.token_id == nullptr) {
        put(sink, "null");
    } else {
        char *printed = DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(row.token_id)));
        emit_string(sink, printed, strlen(printed));
        pfree(printed);
    }
    for (const text *value : {row.token_name, row.actor, row.action, row.table_name}) {
        put(sink, ", ");
        emit_text(sink, value);
    }
    for (Jsonb *value : {row.old_data, row.new_data}) {
        put(sink, ", ");
        emit_jsonb(sink, value);
    }
    for (const text *value : {row.db_role, row.session_role}) {
        put(sink, ", ");
        emit_text(sink, value);
    }
    put(sink, ", ");
    emit_int64(sink, row.txid);
    put(sink, "]");
}

// Counts the bytes of the text, up to a little past limit.
struct CountingSink {
    size_t limit;
    size_t count = 0;
    void put(const char *, size_t len) { count += len; }
    bool enough() const { return count > limit; }
};

// How the text's stored bytes relate to UTF-8 in this database.
enum class TextEncoding {
    kUtf8,      // they are UTF-8
    kSqlAscii,  // any bytes: UTF-8 where they validate as such
    kConverted  // another encoding, converted to UTF-8 (where a character has an equivalent)
};

// Pieces handed to the digest at most this long, cut at character boundaries.
constexpr int kHashChunk = 64 * 1024;
char *hash_buffer = nullptr;           // kHashChunk bytes, in TopMemoryContext
unsigned char *utf8_buffer = nullptr;  // its UTF-8 form, at most MAX_CONVERSION_GROWTH times longer

// Feeds the text to the digest in chunks, with each chunk's UTF-8 form. Plain PostgreSQL code
// but for digest.add(), which throws pat::Error only (its caller runs it inside call_pg).
struct HashingSink {
    pat::AuditRowDigest *digest;
    TextEncoding encoding;
    Oid conversion;  // kConverted: the database encoding's conversion to UTF-8 (may be invalid)
    bool still_utf8 = true;
    int used = 0;

    bool enough() const { return false; }

    void put(const char *data, size_t len) {
        while (len > 0) {
            size_t room = static_cast<size_t>(kHashChunk - used);
            size_t take = len < room ? len : room;
            memcpy(hash_buffer + used, data, take);
            used += static_cast<int>(take);
            data += take;
            len -= take;
            if (used == kHashChunk) {
                flush(false);
            }
        }
    }

    // Where the last whole character of the buffer ends: the rest waits for the next chunk,
    // so that each chunk converts (or validates) on its own as it would in the whole text.
    int whole_characters() const {
        int end = 0;
        while (end < used) {
            const char *at = hash_buffer + end;
            int len = encoding == TextEncoding::kSqlAscii
                          ? pg_utf_mblen(reinterpret_cast<const unsigned char *>(at))
                          : pg_mblen(at);
            if (end + len > used) {
                break;
            }
            end += len;
        }
        return end;
    }

    void flush(bool last) {
        int cut = last || encoding == TextEncoding::kUtf8 ? used : whole_characters();
        std::string_view stored(hash_buffer, static_cast<size_t>(cut));
        std::string_view utf8;
        if (still_utf8 && encoding == TextEncoding::kSqlAscii) {
            still_utf8 = pg_verify_mbstr(PG_UTF8, hash_buffer, cut, true);
            utf8 = stored;
        } else if (still_utf8 && encoding == TextEncoding::kConverted) {
            still_utf8 = false;
            if (OidIsValid(conversion) && cut > 0) {
                int destlen = cut * MAX_CONVERSION_GROWTH + 1;
                int converted =
                    pg_do_encoding_conversion_buf(conversion, GetDatabaseEncoding(), PG_UTF8,
                                                  reinterpret_cast<unsigned char *>(hash_buffer),
                                                  cut, utf8_buffer, destlen, true);
                if (converted == cut) {
                    still_utf8 = true;
                    utf8 = std::string_view(reinterpret_cast<char *>(utf8_buffer),
                                            strlen(reinterpret_cast<char *>(utf8_buffer)));
                }
            } else {
                still_utf8 = OidIsValid(conversion);
            }
        } else {
            utf8 = stored;
        }
        digest->add(stored, still_utf8 ? &utf8 : nullptr);
        memmove(hash_buffer, hash_buffer + cut, static_cast<size_t>(used - cut));
        used -= cut;
    }
};

// A jsonb value whose stored form is at most this long prints as at most 33 MB of JSON, less
// than the limit: a number takes at least 9 bytes (its entry and a one-digit numeric) and
// prints as at most 147,457 characters, a byte of a string as at most 6 (\u0001).
constexpr size_t kJsonbAlwaysFits = 2048;

}  // namespace

bytea *audit_row_hash(const AuditRowColumns &row) {
    int database_encoding = GetDatabaseEncoding();
    TextEncoding encoding = database_encoding == PG_UTF8        ? TextEncoding::kUtf8
                            : database_encoding == PG_SQL_ASCII ? TextEncoding::kSqlAscii
                                                                : TextEncoding::kConverted;
    Oid conversion = encoding == TextEncoding::kConverted
                         ? FindDefaultConversionProc(database_encoding, PG_UTF8)
                         : InvalidOid;
    if (hash_buffer == nullptr) {
        hash_buffer = static_cast<char *>(MemoryContextAlloc(TopMemoryContext, kHashChunk));
    }
    if (encoding == TextEncoding::kConverted && utf8_buffer == nullptr) {
        utf8_buffer = static_cast<unsigned char *>(
            MemoryContextAlloc(TopMemoryContext, kHashChunk * MAX_CONVERSION_GROWTH + 1));
    }
    std::string_view prev =
        row.prev_hash == nullptr
            ? std::string_view()
            : std::string_view(VARDATA_ANY(row.prev_hash), VARSIZE_ANY_EXHDR(row.prev_hash));
    pat::Digest hash{};
    (void)guarded([&]() -> Datum {
        pat::AuditRowDigest digest(prev, encoding == TextEncoding::kUtf8);
        call_pg([&] {
            HashingSink sink{&digest, encoding, conversion};
            emit_row(sink, row);
            sink.flush(true);
        });
        hash = digest.finish();
        return 0;
    });
    return make_bytea(hash.data(), hash.size());
}

void check_audit_data(const char *column, Jsonb *value) {
    if (value == nullptr || VARSIZE(value) <= kJsonbAlwaysFits) {
        return;
    }
    CountingSink counter{pat::kAuditDataMaxTextBytes};
    emit_jsonb(counter, value);
    (void)guarded([&]() -> Datum {
        pat::check_audit_data_text(column, counter.count);
        return 0;
    });
}

}  // namespace pat::pg

// pat.audit_hash(prev_hash, seq, occurred_at, user_id, token_id, token_name, actor, action,
// table_name, old_data, new_data, db_role, session_role, txid): the row_hash of an audit row,
// as the linker computes it. No argument is required (NULL hashes as JSON null).
PAT_FUNCTION(pat_audit_hash) {
    using pat::pg::call_pg;
    auto arg_text = [&](int n) -> const text * {
        return PG_ARGISNULL(n) ? nullptr : call_pg([&] { return PG_GETARG_TEXT_PP(n); });
    };
    auto arg_jsonb = [&](int n) -> Jsonb * {
        return PG_ARGISNULL(n) ? nullptr : call_pg([&] { return PG_GETARG_JSONB_P(n); });
    };
    int64 seq = PG_ARGISNULL(1) ? 0 : PG_GETARG_INT64(1);
    TimestampTz occurred_at = PG_ARGISNULL(2) ? 0 : PG_GETARG_TIMESTAMPTZ(2);
    int64 txid = PG_ARGISNULL(13) ? 0 : PG_GETARG_INT64(13);
    pat::pg::AuditRowColumns row;
    row.prev_hash = PG_ARGISNULL(0) ? nullptr : call_pg([&] { return PG_GETARG_BYTEA_PP(0); });
    row.seq = PG_ARGISNULL(1) ? nullptr : &seq;
    row.occurred_at = PG_ARGISNULL(2) ? nullptr : &occurred_at;
    row.user_id = arg_text(3);
    row.token_id = PG_ARGISNULL(4) ? nullptr : PG_GETARG_UUID_P(4);
    row.token_name = arg_text(5);
    row.actor = arg_text(6);
    row.action = arg_text(7);
    row.table_name = arg_text(8);
    row.old_data = arg_jsonb(9);
    row.new_data = arg_jsonb(10);
    row.db_role = arg_text(11);
    row.session_role = arg_text(12);
    row.txid = PG_ARGISNULL(13) ? nullptr : &txid;
    return PointerGetDatum(call_pg([&] { return pat::pg::audit_row_hash(row); }));
}
