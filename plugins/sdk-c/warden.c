/* Warden plugin SDK for C: see warden.h.
 *
 * The string builder, then the bindings glue: the world `plugin`'s export
 * `warden:plugin/tools` over the plugin's table `warden_tools` (tool
 * dispatch, argument getters, results, errors) and the imports log and
 * progress, against the bindings that `wit-bindgen c` generates (plugin.h).
 * The JSON reader and writer are in warden_json.c, the import `client` in
 * warden_client.c. The glue is left out when WARDEN_SDK_NO_BINDINGS is
 * defined (host-native tests of the plain C part). */
#include "warden.h"
#include "warden_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

void warden_buf_free(warden_buf *b) {
    free(b->ptr);
    b->ptr = NULL;
    b->len = b->cap = 0;
    b->oom = false;
}

#ifndef WARDEN_SDK_NO_BINDINGS
/* ======================================================================== */
/* The call: arguments and results                                          */
/* ======================================================================== */

typedef struct alloc_node {
    struct alloc_node *next;
    max_align_t data[];
} alloc_node;

struct warden_call {
    const warden_tool *tool;
    const char *args;
    size_t args_len;
    alloc_node *allocs;
    /* Text blocks and links, in order, as the canonical ABI wants them. */
    warden_plugin_types_content_t *content;
    size_t n_content, cap_content;
    bool oom; /* some content was dropped for want of memory */
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

/* Appends `item`, which the call then owns; frees it when out of memory. */
static void add_content(warden_call *call, warden_plugin_types_content_t *item, bool ok) {
    if (ok && call->n_content == call->cap_content) {
        size_t cap = call->cap_content ? call->cap_content * 2 : 4;
        warden_plugin_types_content_t *c = realloc(call->content, cap * sizeof *c);
        ok = c != NULL;
        if (ok) {
            call->content = c;
            call->cap_content = cap;
        }
    }
    if (!ok) {
        warden_plugin_types_content_free(item);
        call->oom = true;
        return;
    }
    call->content[call->n_content++] = *item;
}

void warden_text_n(warden_call *call, const char *text, size_t len) {
    warden_plugin_types_content_t item = {.tag = WARDEN_PLUGIN_TYPES_CONTENT_TEXT};
    add_content(call, &item, warden_abi_string(&item.val.text, text, len));
}

void warden_text(warden_call *call, const char *fmt, ...) {
    warden_buf b = {0};
    va_list ap;
    va_start(ap, fmt);
    warden_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    if (b.oom) {
        call->oom = true;
    } else {
        warden_text_n(call, b.ptr ? b.ptr : "", b.len);
    }
    warden_buf_free(&b);
}

void warden_resource_link(warden_call *call, const char *uri, const char *name,
                          const char *title, const char *description,
                          const char *mime_type, int64_t size) {
    warden_plugin_types_content_t item = {.tag = WARDEN_PLUGIN_TYPES_CONTENT_RESOURCE_LINK};
    warden_plugin_types_resource_link_t *link = &item.val.resource_link;
    link->size.is_some = size >= 0;
    link->size.val = size >= 0 ? (uint64_t)size : 0;
    bool ok = warden_abi_cstr(&link->uri, uri) && warden_abi_cstr(&link->name, name) &&
              warden_abi_opt_cstr(&link->title, title) &&
              warden_abi_opt_cstr(&link->description, description) &&
              warden_abi_opt_cstr(&link->mime_type, mime_type);
    add_content(call, &item, ok);
}

void warden_structured(warden_call *call, const char *json, size_t len) {
    warden_buf_free(&call->structured);
    warden_buf_append(&call->structured, json, len);
    call->has_structured = true;
}

static bool present(const warden_json_value *v) {
    return v->type != WARDEN_JSON_ABSENT && v->type != WARDEN_JSON_NULL;
}

/* The lookup every argument getter starts with. Returns 1 with the value in
 * `v` when the key is present (neither absent nor null); 0 when it is absent
 * or null and not required (the getter gives its fallback); -1 after setting
 * invalid-arguments (malformed arguments, or a required key missing). */
static int find_arg(warden_call *call, const char *key, bool required, warden_json_value *v) {
    const char *error = NULL;
    if (warden_json_get(call->args, call->args_len, key, v, &error) != 0) {
        invalid(call, "malformed arguments: %s", error);
        return -1;
    }
    if (present(v)) {
        return 1;
    }
    if (required) {
        invalid(call, "missing argument `%s`", key);
        return -1;
    }
    return 0;
}

static bool get_str(warden_call *call, const char *key, bool required, const char *fallback,
                    const char **value, size_t *len, bool allow_nul) {
    warden_json_value v;
    int found = find_arg(call, key, required, &v);
    if (found == 0) {
        *value = fallback;
        if (len) {
            *len = fallback ? strlen(fallback) : 0;
        }
    }
    if (found <= 0) {
        return found == 0;
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
    int found = find_arg(call, key, required, &v);
    if (found == 0) {
        *value = fallback;
    }
    if (found <= 0) {
        return found == 0;
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
    int found = find_arg(call, key, required, &v);
    if (found == 0) {
        *value = fallback;
    }
    if (found <= 0) {
        return found == 0;
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

/* See warden_internal.h. Results are freed by the generated post-return
 * functions with free(). */
bool warden_abi_string(plugin_string_t *out, const char *s, size_t len) {
    const unsigned char *p = (const unsigned char *)s;
    size_t bad = 0;
    for (size_t i = 0; i < len;) {
        size_t n = warden_utf8_seq(p + i, len - i);
        if (n == 0) {
            bad++;
            i++;
        } else {
            i += n;
        }
    }
    size_t size = len + 2 * bad; /* each bad byte (1) becomes 3 bytes */
    /* Empty allocates nothing: the generated *_free and post-return functions
     * free nothing when len is 0. */
    uint8_t *dst = size ? malloc(size) : NULL;
    out->ptr = dst;
    out->len = dst ? size : 0;
    if (!dst) {
        return size == 0;
    }
    if (bad == 0) {
        memcpy(dst, s, len);
    } else {
        size_t o = 0;
        for (size_t i = 0; i < len;) {
            size_t n = warden_utf8_seq(p + i, len - i);
            if (n == 0) {
                memcpy(dst + o, WARDEN_UTF8_REPLACEMENT, 3);
                o += 3;
                i++;
            } else {
                memcpy(dst + o, p + i, n);
                o += n;
                i += n;
            }
        }
    }
    return true;
}

bool warden_abi_cstr(plugin_string_t *out, const char *s) {
    return warden_abi_string(out, s ? s : "", s ? strlen(s) : 0);
}

bool warden_abi_opt_cstr(plugin_option_string_t *out, const char *s) {
    out->is_some = s != NULL;
    return !s || warden_abi_cstr(&out->val, s);
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

/* The client features in `flags` (WARDEN_REQUIRES_*). */
static void requires(unsigned flags, warden_plugin_types_list_client_feature_t *out) {
    static const unsigned FLAGS[] = {WARDEN_REQUIRES_SAMPLING, WARDEN_REQUIRES_ELICITATION,
                                     WARDEN_REQUIRES_ROOTS};
    static const warden_plugin_types_client_feature_t FEATURES[] = {
        WARDEN_PLUGIN_TYPES_CLIENT_FEATURE_SAMPLING, WARDEN_PLUGIN_TYPES_CLIENT_FEATURE_ELICITATION,
        WARDEN_PLUGIN_TYPES_CLIENT_FEATURE_ROOTS};
    out->ptr = NULL;
    out->len = 0;
    for (size_t i = 0; i < sizeof FLAGS / sizeof FLAGS[0]; i++) {
        if (!(flags & FLAGS[i])) {
            continue;
        }
        if (!out->ptr && !(out->ptr = malloc(sizeof FEATURES))) {
            abort();
        }
        out->ptr[out->len++] = FEATURES[i];
    }
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
        bool ok = warden_abi_cstr(&d->name, t->name) &&
                  warden_abi_opt_cstr(&d->title, t->title) &&
                  warden_abi_cstr(&d->description, t->description) &&
                  warden_abi_cstr(&d->input_schema, t->input_schema ? t->input_schema
                                                                    : "{\"type\":\"object\"}") &&
                  warden_abi_opt_cstr(&d->output_schema, t->output_schema);
        if (!ok) {
            abort();
        }
        d->annotations.read_only = hint(t->flags, WARDEN_READ_ONLY, 0);
        d->annotations.destructive = hint(t->flags, WARDEN_DESTRUCTIVE, WARDEN_NOT_DESTRUCTIVE);
        d->annotations.idempotent = hint(t->flags, WARDEN_IDEMPOTENT, 0);
        d->annotations.open_world = hint(t->flags, WARDEN_OPEN_WORLD, WARDEN_CLOSED_WORLD);
        requires(t->flags, &d->requires_);
        ret->len = i + 1;
    }
}

static void call_free(warden_call *call) {
    while (call->allocs) {
        alloc_node *next = call->allocs->next;
        free(call->allocs);
        call->allocs = next;
    }
    for (size_t i = 0; i < call->n_content; i++) {
        warden_plugin_types_content_free(&call->content[i]);
    }
    free(call->content);
    warden_buf_free(&call->structured);
    warden_buf_free(&call->error);
}

static bool set_tool_error(exports_warden_plugin_tools_tool_error_t *err, uint8_t tag,
                           const char *msg, size_t len) {
    err->tag = tag;
    /* Every case of tool-error carries a string in the same place. */
    if (!warden_abi_string(&err->val.invalid_arguments, msg, len)) {
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
    } else if (call.oom || call.structured.oom) {
        static const char OOM[] = "out of memory while building the result";
        ok = set_tool_error(err, WARDEN_PLUGIN_TYPES_TOOL_ERROR_FAILED, OOM, sizeof OOM - 1);
    } else {
        /* The content is handed over as it is (an empty list is NULL). */
        ret->content.ptr = call.n_content ? call.content : NULL;
        ret->content.len = call.n_content;
        if (call.n_content) {
            call.content = NULL;
            call.n_content = 0;
        }
        ret->structured.is_some = call.has_structured;
        if (call.has_structured &&
            !warden_abi_string(&ret->structured.val,
                               call.structured.ptr ? call.structured.ptr : "null",
                               call.structured.ptr ? call.structured.len : 4)) {
            abort();
        }
        ok = true;
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
    if (b.oom || !warden_abi_string(&msg, b.ptr ? b.ptr : "", b.len)) {
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
    if (msg && !warden_abi_cstr(&m, msg)) {
        return;
    }
    /* Options are passed as pointers, NULL for none; the import borrows them. */
    warden_plugin_progress_report(progress, total >= 0 ? &total : NULL, msg ? &m : NULL);
    if (msg) {
        plugin_string_free(&m);
    }
}
#endif /* WARDEN_SDK_NO_BINDINGS */