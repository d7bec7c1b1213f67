/* Warden plugin SDK for C: the bounded JSON reader and writer (see warden.h).
 *
 * Plain C with no bindings: JSON string escaping (invalid UTF-8 becomes
 * U+FFFD), the writer over a warden_buf (the string builder is in warden.c)
 * and the allocation-free reader the argument getters use. */
#include "warden.h"
#include "warden_internal.h"

#include <stdlib.h>
#include <string.h>

/* ======================================================================== */
/* UTF-8                                                                    */
/* ======================================================================== */

/* See warden_internal.h: warden.c checks the strings it hands the canonical
 * ABI with it too. */
size_t warden_utf8_seq(const unsigned char *p, size_t n) {
    unsigned char c = p[0];
    if (c < 0x80) {
        return 1;
    }
    size_t len;
    uint32_t min, cp;
    if ((c & 0xE0) == 0xC0) {
        len = 2, min = 0x80, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3, min = 0x800, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4, min = 0x10000, cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len) {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80) {
            return 0;
        }
        cp = cp << 6 | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        return 0;
    }
    return len;
}

static size_t utf8_put(uint32_t cp, char *out) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* ======================================================================== */
/* JSON strings                                                             */
/* ======================================================================== */

void warden_buf_json_str(warden_buf *b, const char *s, size_t len) {
    static const char HEX[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    warden_buf_putc(b, '"');
    size_t i = 0;
    while (i < len) {
        unsigned char c = p[i];
        const char *esc = NULL;
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        default: break;
        }
        if (esc) {
            warden_buf_puts(b, esc);
            i++;
        } else if (c < 0x20) {
            char u[6] = {'\\', 'u', '0', '0', HEX[c >> 4], HEX[c & 15]};
            warden_buf_append(b, u, 6);
            i++;
        } else {
            /* Copy a run of plain characters; invalid UTF-8 becomes U+FFFD. */
            size_t n = warden_utf8_seq(p + i, len - i);
            if (n == 0) {
                warden_buf_puts(b, WARDEN_UTF8_REPLACEMENT);
                i++;
            } else {
                warden_buf_append(b, s + i, n);
                i += n;
            }
        }
    }
    warden_buf_putc(b, '"');
}

/* ======================================================================== */
/* JSON writer                                                              */
/* ======================================================================== */

static void json_before_value(warden_json *j) {
    if (j->after_key) {
        j->after_key = false;
        return;
    }
    if (j->need_comma[j->depth]) {
        warden_buf_putc(&j->buf, ',');
    }
    j->need_comma[j->depth] = true;
}

static void json_open(warden_json *j, char open, char close) {
    json_before_value(j);
    if (j->depth >= WARDEN_JSON_MAX_DEPTH) {
        j->buf.oom = true; /* misuse: too deep */
        return;
    }
    warden_buf_putc(&j->buf, open);
    j->depth++;
    j->need_comma[j->depth] = false;
    j->closers[j->depth] = close;
}

void warden_json_object(warden_json *j) { json_open(j, '{', '}'); }

void warden_json_array(warden_json *j) { json_open(j, '[', ']'); }

void warden_json_end(warden_json *j) {
    if (j->depth == 0 || j->after_key) {
        j->buf.oom = true; /* misuse: nothing open, or a key without value */
        return;
    }
    warden_buf_putc(&j->buf, j->closers[j->depth]);
    j->depth--;
}

void warden_json_key(warden_json *j, const char *key) {
    if (j->depth == 0 || j->closers[j->depth] != '}' || j->after_key) {
        j->buf.oom = true; /* misuse: a key outside an object */
        return;
    }
    if (j->need_comma[j->depth]) {
        warden_buf_putc(&j->buf, ',');
    }
    j->need_comma[j->depth] = true;
    warden_buf_json_str(&j->buf, key, strlen(key));
    warden_buf_putc(&j->buf, ':');
    j->after_key = true;
}

void warden_json_str_n(warden_json *j, const char *s, size_t len) {
    json_before_value(j);
    warden_buf_json_str(&j->buf, s, len);
}

void warden_json_str(warden_json *j, const char *s) { warden_json_str_n(j, s, strlen(s)); }

void warden_json_int(warden_json *j, int64_t v) {
    json_before_value(j);
    warden_buf_printf(&j->buf, "%lld", (long long)v);
}

void warden_json_uint(warden_json *j, uint64_t v) {
    json_before_value(j);
    warden_buf_printf(&j->buf, "%llu", (unsigned long long)v);
}

void warden_json_double(warden_json *j, double v) {
    json_before_value(j);
    if (v != v || v > 1.7976931348623157e308 || v < -1.7976931348623157e308) {
        warden_buf_puts(&j->buf, "null"); /* NaN and infinities have no JSON form */
    } else {
        warden_buf_printf(&j->buf, "%.17g", v);
    }
}

void warden_json_bool(warden_json *j, bool v) {
    json_before_value(j);
    warden_buf_puts(&j->buf, v ? "true" : "false");
}

void warden_json_null(warden_json *j) {
    json_before_value(j);
    warden_buf_puts(&j->buf, "null");
}

void warden_json_raw(warden_json *j, const char *json, size_t len) {
    json_before_value(j);
    warden_buf_append(&j->buf, json, len);
}

/* ======================================================================== */
/* JSON reader                                                              */
/* ======================================================================== */

typedef struct {
    const char *p, *end;
    const char *error;
} reader;

static bool fail(reader *r, const char *error) {
    if (!r->error) {
        r->error = error;
    }
    return false;
}

static void skip_ws(reader *r) {
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r')) {
        r->p++;
    }
}

static int hex4(const char *p, const char *end, uint32_t *out) {
    if (end - p < 4) {
        return -1;
    }
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') {
            v |= (uint32_t)(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            v |= (uint32_t)(c - 'a' + 10);
        } else if (c >= 'A' && c <= 'F') {
            v |= (uint32_t)(c - 'A' + 10);
        } else {
            return -1;
        }
    }
    *out = v;
    return 0;
}

/* At '"': checks the string and moves past the closing quote. */
static bool skip_string(reader *r) {
    r->p++;
    while (r->p < r->end) {
        unsigned char c = (unsigned char)*r->p;
        if (c == '"') {
            r->p++;
            return true;
        }
        if (c < 0x20) {
            return fail(r, "control character in a string");
        }
        if (c == '\\') {
            if (r->end - r->p < 2) {
                break;
            }
            char e = r->p[1];
            if (e == 'u') {
                uint32_t v;
                if (hex4(r->p + 2, r->end, &v) != 0) {
                    return fail(r, "malformed \\u escape");
                }
                r->p += 6;
            } else if (strchr("\"\\/bfnrt", e) && e != '\0') {
                r->p += 2;
            } else {
                return fail(r, "malformed escape in a string");
            }
        } else {
            r->p++;
        }
    }
    return fail(r, "unterminated string");
}

static bool skip_digits(reader *r) {
    const char *start = r->p;
    while (r->p < r->end && *r->p >= '0' && *r->p <= '9') {
        r->p++;
    }
    return r->p > start;
}

static bool skip_number(reader *r) {
    if (r->p < r->end && *r->p == '-') {
        r->p++;
    }
    if (r->p < r->end && *r->p == '0') {
        r->p++;
    } else if (!skip_digits(r)) {
        return fail(r, "malformed number");
    }
    if (r->p < r->end && *r->p == '.') {
        r->p++;
        if (!skip_digits(r)) {
            return fail(r, "malformed number");
        }
    }
    if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
        r->p++;
        if (r->p < r->end && (*r->p == '+' || *r->p == '-')) {
            r->p++;
        }
        if (!skip_digits(r)) {
            return fail(r, "malformed number");
        }
    }
    return true;
}

static bool skip_literal(reader *r, const char *lit) {
    size_t n = strlen(lit);
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, lit, n) != 0) {
        return fail(r, "unexpected character");
    }
    r->p += n;
    return true;
}

/* Moves past one value (after whitespace) and reports its type. */
static bool skip_value(reader *r, int depth, warden_json_type *type) {
    skip_ws(r);
    if (r->p >= r->end) {
        return fail(r, "unexpected end of input");
    }
    switch (*r->p) {
    case '"':
        *type = WARDEN_JSON_STRING;
        return skip_string(r);
    case 't':
        *type = WARDEN_JSON_TRUE;
        return skip_literal(r, "true");
    case 'f':
        *type = WARDEN_JSON_FALSE;
        return skip_literal(r, "false");
    case 'n':
        *type = WARDEN_JSON_NULL;
        return skip_literal(r, "null");
    case '[':
    case '{': {
        bool object = *r->p == '{';
        char close = object ? '}' : ']';
        *type = object ? WARDEN_JSON_OBJECT : WARDEN_JSON_ARRAY;
        if (depth >= WARDEN_JSON_MAX_DEPTH) {
            return fail(r, "nested too deeply");
        }
        r->p++;
        skip_ws(r);
        if (r->p < r->end && *r->p == close) {
            r->p++;
            return true;
        }
        for (;;) {
            warden_json_type inner;
            if (object) {
                skip_ws(r);
                if (r->p >= r->end || *r->p != '"') {
                    return fail(r, "expected a key");
                }
                if (!skip_string(r)) {
                    return false;
                }
                skip_ws(r);
                if (r->p >= r->end || *r->p != ':') {
                    return fail(r, "expected ':'");
                }
                r->p++;
            }
            if (!skip_value(r, depth + 1, &inner)) {
                return false;
            }
            skip_ws(r);
            if (r->p < r->end && *r->p == ',') {
                r->p++;
                continue;
            }
            if (r->p < r->end && *r->p == close) {
                r->p++;
                return true;
            }
            return fail(r, object ? "expected ',' or '}'" : "expected ',' or ']'");
        }
    }
    default:
        if (*r->p == '-' || (*r->p >= '0' && *r->p <= '9')) {
            *type = WARDEN_JSON_NUMBER;
            return skip_number(r);
        }
        return fail(r, "unexpected character");
    }
}

long warden_json_decode_str(const warden_json_value *value, char *out, size_t cap) {
    if (value->type != WARDEN_JSON_STRING || value->len < 2) {
        return -1;
    }
    const char *p = value->start + 1, *end = value->start + value->len - 1;
    size_t n = 0;
#define EMIT(bytes, count)                                     \
    do {                                                       \
        for (size_t k_ = 0; k_ < (count); k_++) {              \
            if (out && n + k_ + 1 < cap) out[n + k_] = (bytes)[k_]; \
        }                                                      \
        n += (count);                                          \
    } while (0)
    while (p < end) {
        if (*p != '\\') {
            EMIT(p, 1);
            p++;
            continue;
        }
        if (end - p < 2) {
            return -1;
        }
        char e = p[1];
        char c;
        switch (e) {
        case '"': c = '"'; break;
        case '\\': c = '\\'; break;
        case '/': c = '/'; break;
        case 'b': c = '\b'; break;
        case 'f': c = '\f'; break;
        case 'n': c = '\n'; break;
        case 'r': c = '\r'; break;
        case 't': c = '\t'; break;
        case 'u': {
            uint32_t cp;
            if (hex4(p + 2, end, &cp) != 0) {
                return -1;
            }
            p += 6;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                uint32_t lo;
                if (end - p >= 6 && p[0] == '\\' && p[1] == 'u' && hex4(p + 2, end, &lo) == 0 &&
                    lo >= 0xDC00 && lo <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    p += 6;
                } else {
                    cp = 0xFFFD; /* lone high surrogate */
                }
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                cp = 0xFFFD; /* lone low surrogate */
            }
            char u[4];
            size_t len = utf8_put(cp, u);
            EMIT(u, len);
            continue;
        }
        default:
            return -1;
        }
        EMIT(&c, 1);
        p += 2;
    }
#undef EMIT
    if (out && cap > 0) {
        out[n < cap ? n : cap - 1] = '\0';
    }
    return (long)n;
}

int warden_json_get(const char *json, size_t len, const char *key, warden_json_value *value,
                    const char **error) {
    reader r = {json, json + len, NULL};
    value->type = WARDEN_JSON_ABSENT;
    value->start = NULL;
    value->len = 0;
    size_t key_len = strlen(key);
    skip_ws(&r);
    if (r.p >= r.end || *r.p != '{') {
        *error = "the arguments are not a JSON object";
        return -1;
    }
    r.p++;
    skip_ws(&r);
    if (r.p < r.end && *r.p == '}') {
        r.p++;
    } else {
        for (;;) {
            skip_ws(&r);
            if (r.p >= r.end || *r.p != '"') {
                fail(&r, "expected a key");
                break;
            }
            warden_json_value k = {WARDEN_JSON_STRING, r.p, 0};
            if (!skip_string(&r)) {
                break;
            }
            k.len = (size_t)(r.p - k.start);
            skip_ws(&r);
            if (r.p >= r.end || *r.p != ':') {
                fail(&r, "expected ':'");
                break;
            }
            r.p++;
            skip_ws(&r);
            warden_json_value v = {WARDEN_JSON_ABSENT, r.p, 0};
            if (!skip_value(&r, 1, &v.type)) {
                break;
            }
            v.len = (size_t)(r.p - v.start);
            /* Compare the decoded key; keys longer than the buffer never match. */
            char name[256];
            long n = warden_json_decode_str(&k, name, sizeof name);
            if (n < 0) {
                fail(&r, "malformed escape in a key");
                break;
            }
            if ((size_t)n == key_len && (size_t)n < sizeof name && memcmp(name, key, key_len) == 0) {
                *value = v;
            }
            skip_ws(&r);
            if (r.p < r.end && *r.p == ',') {
                r.p++;
                continue;
            }
            if (r.p < r.end && *r.p == '}') {
                r.p++;
                break;
            }
            fail(&r, "expected ',' or '}'");
            break;
        }
    }
    if (!r.error) {
        skip_ws(&r);
        if (r.p != r.end) {
            fail(&r, "unexpected text after the object");
        }
    }
    if (r.error) {
        *error = r.error;
        value->type = WARDEN_JSON_ABSENT;
        return -1;
    }
    return 0;
}

int warden_json_to_int(const warden_json_value *value, int64_t *out) {
    if (value->type != WARDEN_JSON_NUMBER || value->len == 0) {
        return -1;
    }
    const char *p = value->start, *end = value->start + value->len;
    bool plain = true;
    for (const char *q = p; q < end; q++) {
        if (*q == '.' || *q == 'e' || *q == 'E') {
            plain = false;
        }
    }
    if (plain) {
        bool neg = *p == '-';
        if (neg) {
            p++;
        }
        uint64_t v = 0;
        uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
        for (; p < end; p++) {
            uint64_t d = (uint64_t)(*p - '0');
            if (v > (limit - d) / 10) {
                return -1;
            }
            v = v * 10 + d;
        }
        *out = neg ? (int64_t)(0 - v) : (int64_t)v;
        return 0;
    }
    /* 5.0, 1e3, 2.50e1: integral values written with a fraction or exponent. */
    char tmp[64];
    if (value->len >= sizeof tmp) {
        return -1;
    }
    memcpy(tmp, value->start, value->len);
    tmp[value->len] = '\0';
    double d = strtod(tmp, NULL);
    if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) || d != (double)(int64_t)d) {
        return -1;
    }
    *out = (int64_t)d;
    return 0;
}
