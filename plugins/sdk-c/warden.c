/* Warden plugin SDK for C: see warden.h.
 *
 * The first part (string builder, JSON writer and reader) is plain C. The
 * second part implements the world `plugin`'s export `warden:plugin/tools`
 * over the plugin's table `warden_tools`, against the bindings that
 * `wit-bindgen c` generates (plugin.h); it is left out when
 * WARDEN_SDK_NO_BINDINGS is defined (host-native tests of the first part). */
#include "warden.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ======================================================================== */
/* UTF-8                                                                    */
/* ======================================================================== */

/* Length of the valid UTF-8 sequence at p (1-4), or 0 when it is invalid. */
static size_t utf8_seq(const unsigned char *p, size_t n) {
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

static const char REPLACEMENT[] = "\xEF\xBF\xBD"; /* U+FFFD */

/* ======================================================================== */
/* String builder                                                           */
/* ======================================================================== */

static bool buf_reserve(warden_buf *b, size_t extra) {
    if (b->oom) {
        return false;
    }
    if (extra > SIZE_MAX / 2 - b->len) {
        b->oom = true;
        return false;
    }
    size_t need = b->len + extra + 1; /* + NUL */
    if (need <= b->cap) {
        return true;
    }
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) {
        cap *= 2;
    }
    char *p = realloc(b->ptr, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    b->ptr = p;
    b->cap = cap;
    return true;
}

void warden_buf_append(warden_buf *b, const char *data, size_t len) {
    if (!buf_reserve(b, len)) {
        return;
    }
    if (len) {
        memcpy(b->ptr + b->len, data, len);
    }
    b->len += len;
    b->ptr[b->len] = '\0';
}

void warden_buf_puts(warden_buf *b, const char *s) { warden_buf_append(b, s, strlen(s)); }

void warden_buf_putc(warden_buf *b, char c) { warden_buf_append(b, &c, 1); }

void warden_buf_vprintf(warden_buf *b, const char *fmt, va_list ap) {
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) {
        b->oom = true;
        return;
    }
    if (!buf_reserve(b, (size_t)n)) {
        return;
    }
    vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void warden_buf_printf(warden_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    warden_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

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
            size_t n = utf8_seq(p + i, len - i);
            if (n == 0) {
                warden_buf_puts(b, REPLACEMENT);
                i++;
            } else {
                warden_buf_append(b, s + i, n);
                i += n;
            }
        }
    }
    warden_buf_putc(b, '"');
}

void warden_buf_free(warden_buf *b) {
    free(b->ptr);
    b->ptr = NULL;
    b->len = b->cap = 0;
    b->oom = false;
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

#ifndef WARDEN_SDK_NO_BINDINGS
/* ======================================================================== */
/* The call: arguments and results                                          */
/* ======================================================================== */

#include "plugin.h"

typedef struct alloc_node {
    struct alloc_node *next;
    max_align_t data[];
} alloc_node;

struct warden_call {
    const warden_tool *tool;
    const char *args;
    size_t args_len;
    alloc_node *allocs;
    /* Text blocks, in order. */
    warden_buf *texts;
    size_t n_texts, cap_texts;
    warden_buf structured;
    bool has_structured;
    /* 0: none; else WARDEN_PLUGIN_TYPES_TOOL_ERROR_* + 1. */
    int error_kind;
    warden_buf error;
};

const char *warden_tool_name(const warden_call *call) { return call->tool->name; }

const char *warden_args_json(const warden_call *call, size_t *len) {
    *len = call->args_len;
    return call->args;
}

void *warden_alloc(warden_call *call, size_t size) {
    if (size > SIZE_MAX - sizeof(alloc_node)) {
        return NULL;
    }
    alloc_node *node = malloc(sizeof(alloc_node) + size);
    if (!node) {
        return NULL;
    }
    node->next = call->allocs;
    call->allocs = node;
    return node->data;
}

static void set_error(warden_call *call, int kind, const char *fmt, va_list ap) {
    if (call->error_kind) {
        return; /* the first error wins */
    }
    call->error_kind = kind + 1;
    warden_buf_vprintf(&call->error, fmt, ap);
}

void warden_invalid(warden_call *call, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    set_error(call, WARDEN_PLUGIN_TYPES_TOOL_ERROR_INVALID_ARGUMENTS, fmt, ap);
    va_end(ap);
}

void warden_failed(warden_call *call, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    set_error(call, WARDEN_PLUGIN_TYPES_TOOL_ERROR_FAILED, fmt, ap);
    va_end(ap);
}

static void invalid(warden_call *call, const char *fmt, ...) WARDEN_PRINTF(2, 3);
static void invalid(warden_call *call, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    set_error(call, WARDEN_PLUGIN_TYPES_TOOL_ERROR_INVALID_ARGUMENTS, fmt, ap);
    va_end(ap);
}

bool warden_has_error(const warden_call *call) { return call->error_kind != 0; }

static warden_buf *new_text(warden_call *call) {
    if (call->n_texts == call->cap_texts) {
        size_t cap = call->cap_texts ? call->cap_texts * 2 : 4;
        warden_buf *t = realloc(call->texts, cap * sizeof *t);
        if (!t) {
            return NULL;
        }
        call->texts = t;
        call->cap_texts = cap;
    }
    warden_buf *b = &call->texts[call->n_texts++];
    *b = (warden_buf){0};
    return b;
}

void warden_text_n(warden_call *call, const char *text, size_t len) {
    warden_buf *b = new_text(call);
    if (b) {
        warden_buf_append(b, text, len);
    }
}

void warden_text(warden_call *call, const char *fmt, ...) {
    warden_buf *b = new_text(call);
    if (!b) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    warden_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

void warden_structured(warden_call *call, const char *json, size_t len) {
    warden_buf_free(&call->structured);
    warden_buf_append(&call->structured, json, len);
    call->has_structured = true;
}

/* Looks a key up; on malformed arguments sets the error and returns false. */
static bool lookup(warden_call *call, const char *key, warden_json_value *v) {
    const char *error = NULL;
    if (warden_json_get(call->args, call->args_len, key, v, &error) != 0) {
        invalid(call, "malformed arguments: %s", error);
        return false;
    }
    return true;
}

static bool present(const warden_json_value *v) {
    return v->type != WARDEN_JSON_ABSENT && v->type != WARDEN_JSON_NULL;
}

static bool get_str(warden_call *call, const char *key, bool required, const char *fallback,
                    const char **value, size_t *len, bool allow_nul) {
    warden_json_value v;
    if (!lookup(call, key, &v)) {
        return false;
    }
    if (!present(&v)) {
        if (required) {
            invalid(call, "missing argument `%s`", key);
            return false;
        }
        *value = fallback;
        if (len) {
            *len = fallback ? strlen(fallback) : 0;
        }
        return true;
    }
    if (v.type != WARDEN_JSON_STRING) {
        invalid(call, "argument `%s` must be a string", key);
        return false;
    }
    long n = warden_json_decode_str(&v, NULL, 0);
    if (n < 0) {
        invalid(call, "argument `%s`: malformed string", key);
        return false;
    }
    char *s = warden_alloc(call, (size_t)n + 1);
    if (!s) {
        warden_failed(call, "out of memory reading argument `%s`", key);
        return false;
    }
    warden_json_decode_str(&v, s, (size_t)n + 1);
    if (!allow_nul && memchr(s, '\0', (size_t)n)) {
        invalid(call, "argument `%s` must not contain U+0000", key);
        return false;
    }
    *value = s;
    if (len) {
        *len = (size_t)n;
    }
    return true;
}

bool warden_arg_str(warden_call *call, const char *key, const char **value) {
    return get_str(call, key, true, NULL, value, NULL, false);
}

bool warden_arg_str_or(warden_call *call, const char *key, const char *fallback,
                       const char **value) {
    return get_str(call, key, false, fallback, value, NULL, false);
}

bool warden_arg_bytes(warden_call *call, const char *key, const char **value, size_t *len) {
    return get_str(call, key, true, NULL, value, len, true);
}

static bool get_int(warden_call *call, const char *key, bool required, int64_t fallback,
                    int64_t *value) {
    warden_json_value v;
    if (!lookup(call, key, &v)) {
        return false;
    }
    if (!present(&v)) {
        if (required) {
            invalid(call, "missing argument `%s`", key);
            return false;
        }
        *value = fallback;
        return true;
    }
    if (v.type != WARDEN_JSON_NUMBER || warden_json_to_int(&v, value) != 0) {
        invalid(call, "argument `%s` must be an integer (64-bit)", key);
        return false;
    }
    return true;
}

bool warden_arg_int(warden_call *call, const char *key, int64_t *value) {
    return get_int(call, key, true, 0, value);
}

bool warden_arg_int_or(warden_call *call, const char *key, int64_t fallback, int64_t *value) {
    return get_int(call, key, false, fallback, value);
}

static bool get_bool(warden_call *call, const char *key, bool required, bool fallback,
                     bool *value) {
    warden_json_value v;
    if (!lookup(call, key, &v)) {
        return false;
    }
    if (!present(&v)) {
        if (required) {
            invalid(call, "missing argument `%s`", key);
            return false;
        }
        *value = fallback;
        return true;
    }
    if (v.type != WARDEN_JSON_TRUE && v.type != WARDEN_JSON_FALSE) {
        invalid(call, "argument `%s` must be true or false", key);
        return false;
    }
    *value = v.type == WARDEN_JSON_TRUE;
    return true;
}

bool warden_arg_bool(warden_call *call, const char *key, bool *value) {
    return get_bool(call, key, true, false, value);
}

bool warden_arg_bool_or(warden_call *call, const char *key, bool fallback, bool *value) {
    return get_bool(call, key, false, fallback, value);
}

bool warden_arg_has(warden_call *call, const char *key) {
    warden_json_value v;
    const char *error;
    return warden_json_get(call->args, call->args_len, key, &v, &error) == 0 && present(&v);
}

/* ======================================================================== */
/* Canonical ABI glue                                                       */
/* ======================================================================== */

/* A malloc'ed copy of `len` bytes as valid UTF-8 (invalid sequences become
 * U+FFFD), for the canonical ABI, which traps on invalid UTF-8. Results are
 * freed by the generated post-return functions with free(). */
static bool abi_string(plugin_string_t *out, const char *s, size_t len) {
    const unsigned char *p = (const unsigned char *)s;
    size_t bad = 0;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_seq(p + i, len - i);
        if (n == 0) {
            bad++;
            i++;
        } else {
            i += n;
        }
    }
    size_t size = len + 2 * bad; /* each bad byte (1) becomes 3 bytes */
    if (size == 0) {
        /* Like the generated *_dup: nothing allocated, and the generated
         * *_free and post-return functions free nothing when len is 0. */
        out->ptr = NULL;
        out->len = 0;
        return true;
    }
    uint8_t *dst = malloc(size);
    if (!dst) {
        out->ptr = NULL;
        out->len = 0;
        return false;
    }
    if (bad == 0) {
        memcpy(dst, s, len);
    } else {
        size_t o = 0;
        for (size_t i = 0; i < len;) {
            size_t n = utf8_seq(p + i, len - i);
            if (n == 0) {
                memcpy(dst + o, REPLACEMENT, 3);
                o += 3;
                i++;
            } else {
                memcpy(dst + o, p + i, n);
                o += n;
                i += n;
            }
        }
    }
    out->ptr = dst;
    out->len = size;
    return true;
}

static bool abi_cstr(plugin_string_t *out, const char *s) { return abi_string(out, s, strlen(s)); }

static bool abi_opt_cstr(plugin_option_string_t *out, const char *s) {
    out->is_some = s != NULL;
    if (!s) {
        return true;
    }
    return abi_cstr(&out->val, s);
}

static plugin_option_bool_t hint(unsigned flags, unsigned yes, unsigned no) {
    plugin_option_bool_t o = {0};
    if (flags & yes) {
        o.is_some = true;
        o.val = true;
    } else if (flags & no) {
        o.is_some = true;
        o.val = false;
    }
    return o;
}

void exports_warden_plugin_tools_list_tools(exports_warden_plugin_tools_list_tool_descriptor_t *ret) {
    size_t n = warden_tools_count;
    ret->ptr = n ? calloc(n, sizeof *ret->ptr) : NULL;
    ret->len = 0;
    if (n && !ret->ptr) {
        abort(); /* out of memory while describing: nothing sensible to return */
    }
    for (size_t i = 0; i < n; i++) {
        const warden_tool *t = &warden_tools[i];
        exports_warden_plugin_tools_tool_descriptor_t *d = &ret->ptr[i];
        bool ok = abi_cstr(&d->name, t->name) && abi_opt_cstr(&d->title, t->title) &&
                  abi_cstr(&d->description, t->description ? t->description : "") &&
                  abi_cstr(&d->input_schema, t->input_schema ? t->input_schema
                                                             : "{\"type\":\"object\"}") &&
                  abi_opt_cstr(&d->output_schema, t->output_schema);
        if (!ok) {
            abort();
        }
        d->annotations.read_only = hint(t->flags, WARDEN_READ_ONLY, 0);
        d->annotations.destructive = hint(t->flags, WARDEN_DESTRUCTIVE, WARDEN_NOT_DESTRUCTIVE);
        d->annotations.idempotent = hint(t->flags, WARDEN_IDEMPOTENT, 0);
        d->annotations.open_world = hint(t->flags, WARDEN_OPEN_WORLD, WARDEN_CLOSED_WORLD);
        ret->len = i + 1;
    }
}

static void call_free(warden_call *call) {
    while (call->allocs) {
        alloc_node *next = call->allocs->next;
        free(call->allocs);
        call->allocs = next;
    }
    for (size_t i = 0; i < call->n_texts; i++) {
        warden_buf_free(&call->texts[i]);
    }
    free(call->texts);
    warden_buf_free(&call->structured);
    warden_buf_free(&call->error);
}

static bool set_tool_error(exports_warden_plugin_tools_tool_error_t *err, uint8_t tag,
                           const char *msg, size_t len) {
    err->tag = tag;
    /* Every case of tool-error carries a string in the same place. */
    if (!abi_string(&err->val.invalid_arguments, msg, len)) {
        abort();
    }
    return false;
}

bool exports_warden_plugin_tools_call_tool(plugin_string_t *name, plugin_string_t *arguments,
                                           exports_warden_plugin_tools_tool_output_t *ret,
                                           exports_warden_plugin_tools_tool_error_t *err) {
    /* The arguments are ours (canonical ABI: an export owns its parameters). */
    const warden_tool *tool = NULL;
    for (size_t i = 0; i < warden_tools_count; i++) {
        const char *n = warden_tools[i].name;
        if (strlen(n) == name->len && memcmp(n, name->ptr, name->len) == 0) {
            tool = &warden_tools[i];
            break;
        }
    }
    if (!tool) {
        warden_buf msg = {0};
        warden_buf_puts(&msg, "no tool named ");
        warden_buf_json_str(&msg, (const char *)name->ptr, name->len);
        set_tool_error(err, WARDEN_PLUGIN_TYPES_TOOL_ERROR_UNKNOWN_TOOL,
                       msg.ptr ? msg.ptr : "unknown tool", msg.ptr ? msg.len : 12);
        warden_buf_free(&msg);
        plugin_string_free(name);
        plugin_string_free(arguments);
        return false;
    }

    warden_call call = {0};
    call.tool = tool;
    call.args = (const char *)arguments->ptr;
    call.args_len = arguments->len;
    tool->fn(&call);

    bool ok;
    if (call.error_kind) {
        const char *msg = call.error.ptr ? call.error.ptr : "error";
        size_t len = call.error.ptr ? call.error.len : 5;
        ok = set_tool_error(err, (uint8_t)(call.error_kind - 1), msg, len);
    } else {
        bool oom = call.structured.oom;
        for (size_t i = 0; i < call.n_texts; i++) {
            oom |= call.texts[i].oom;
        }
        if (oom) {
            static const char OOM[] = "out of memory while building the result";
            ok = set_tool_error(err, WARDEN_PLUGIN_TYPES_TOOL_ERROR_FAILED, OOM, sizeof OOM - 1);
        } else {
            ret->content.len = call.n_texts;
            ret->content.ptr = call.n_texts ? calloc(call.n_texts, sizeof *ret->content.ptr) : NULL;
            if (call.n_texts && !ret->content.ptr) {
                abort();
            }
            for (size_t i = 0; i < call.n_texts; i++) {
                ret->content.ptr[i].tag = WARDEN_PLUGIN_TYPES_CONTENT_TEXT;
                const warden_buf *t = &call.texts[i];
                if (!abi_string(&ret->content.ptr[i].val.text, t->ptr ? t->ptr : "", t->len)) {
                    abort();
                }
            }
            ret->structured.is_some = call.has_structured;
            if (call.has_structured &&
                !abi_string(&ret->structured.val, call.structured.ptr ? call.structured.ptr : "null",
                            call.structured.ptr ? call.structured.len : 4)) {
                abort();
            }
            ok = true;
        }
    }
    call_free(&call);
    plugin_string_free(name);
    plugin_string_free(arguments);
    return ok;
}

/* ======================================================================== */
/* Imports: log and progress                                                */
/* ======================================================================== */

void warden_log(warden_log_level level, const char *fmt, ...) {
    warden_buf b = {0};
    va_list ap;
    va_start(ap, fmt);
    warden_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    plugin_string_t msg;
    if (b.oom || !abi_string(&msg, b.ptr ? b.ptr : "", b.len)) {
        warden_buf_free(&b);
        return;
    }
    /* An import borrows its arguments: we free them afterwards. */
    warden_plugin_log_log((warden_plugin_log_level_t)level, &msg);
    plugin_string_free(&msg);
    warden_buf_free(&b);
}

void warden_progress(double progress, double total, const char *msg) {
    plugin_string_t m;
    if (msg && !abi_cstr(&m, msg)) {
        return;
    }
    /* Options are passed as pointers, NULL for none; the import borrows them. */
    warden_plugin_progress_report(progress, total >= 0 ? &total : NULL, msg ? &m : NULL);
    if (msg) {
        plugin_string_free(&m);
    }
}
#endif /* WARDEN_SDK_NO_BINDINGS */
