/* Host-native unit test of the SDK's bindings glue (warden.c and
 * warden_client.c over the bindings `wit-bindgen c` generates): tool
 * descriptors with `requires`, results with resource links, and the client
 * requests, one at a time and in a batch, against a fake host. `test/run` generates the bindings, compiles
 * their plugin.c natively with the import wrappers below renamed away, and
 * links this file in their place. */
#include "warden.h"

#include "plugin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int passed, failed;

#define CHECK(cond)                                                       \
    do {                                                                  \
        if (cond) {                                                       \
            passed++;                                                     \
        } else {                                                          \
            failed++;                                                     \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                 \
    } while (0)

static bool str_is(const plugin_string_t *s, const char *want) {
    return s->len == strlen(want) && (s->len == 0 || memcmp(s->ptr, want, s->len) == 0);
}

static bool opt_is(const plugin_option_string_t *s, const char *want) {
    return want ? s->is_some && str_is(&s->val, want) : !s->is_some;
}

/* ---- the fake host -------------------------------------------------------
 * Each import checks nothing itself: it copies what it was sent into `seen`
 * and answers with `answer` (an error when answer_error is set), malloc'ed
 * as the generated lifting code would. */

static struct {
    char text[256], system[256], schema[256], url[256];
    size_t n_messages;
    int role, content_tag, tag;
    uint32_t max_tokens;
    bool has_system;
    int logs;
} seen;

static int answer_error = -1; /* a client-error tag, or -1 */
static int answer_tag;        /* content tag (sample) or elicitation-response tag */
static const char *answer_text;

static void copy(char *out, const plugin_string_t *s) {
    size_t n = s->len < 255 ? s->len : 255;
    memcpy(out, s->ptr, n);
    out[n] = '\0';
}

static void dup(plugin_string_t *out, const char *s) { plugin_string_dup(out, s); }

static bool answer_err(warden_plugin_client_client_error_t *err) {
    err->tag = (uint8_t)answer_error;
    dup(&err->val.failed, "no answer: test");
    return false;
}

void warden_plugin_log_log(warden_plugin_log_level_t level, plugin_string_t *message) {
    (void)level;
    (void)message;
    seen.logs++;
}

void warden_plugin_progress_report(double progress, double *total, plugin_string_t *message) {
    (void)progress;
    (void)total;
    (void)message;
}

bool warden_plugin_client_sample(warden_plugin_client_sampling_request_t *request,
                                 warden_plugin_client_sampling_response_t *ret,
                                 warden_plugin_client_client_error_t *err) {
    seen.n_messages = request->messages.len;
    if (request->messages.len) {
        seen.role = request->messages.ptr[0].role;
        seen.content_tag = request->messages.ptr[0].content.tag;
        copy(seen.text, &request->messages.ptr[0].content.val.text);
    }
    seen.has_system = request->system_prompt.is_some;
    if (seen.has_system) {
        copy(seen.system, &request->system_prompt.val);
    }
    seen.max_tokens = request->max_tokens;
    if (answer_error >= 0) {
        return answer_err(err);
    }
    *ret = (warden_plugin_client_sampling_response_t){.role = WARDEN_PLUGIN_CLIENT_ROLE_ASSISTANT};
    ret->content.tag = (uint8_t)answer_tag;
    if (answer_tag == WARDEN_PLUGIN_TYPES_CONTENT_TEXT) {
        dup(&ret->content.val.text, answer_text);
    } else {
        ret->content.val.blob.data.ptr = malloc(3);
        ret->content.val.blob.data.len = 3;
        memcpy(ret->content.val.blob.data.ptr, "PNG", 3);
        dup(&ret->content.val.blob.mime_type, "image/png");
    }
    dup(&ret->model, "fake-model");
    ret->stop_reason.is_some = true;
    dup(&ret->stop_reason.val, "endTurn");
    return true;
}

bool warden_plugin_client_elicit(warden_plugin_client_elicitation_request_t *request,
                                 warden_plugin_client_elicitation_response_t *ret,
                                 warden_plugin_client_client_error_t *err) {
    seen.tag = request->tag;
    if (request->tag == WARDEN_PLUGIN_CLIENT_ELICITATION_REQUEST_FORM) {
        copy(seen.text, &request->val.form.message);
        copy(seen.schema, &request->val.form.requested_schema);
    } else {
        copy(seen.text, &request->val.url.message);
        copy(seen.url, &request->val.url.url);
    }
    if (answer_error >= 0) {
        return answer_err(err);
    }
    ret->tag = (uint8_t)answer_tag;
    if (answer_tag == WARDEN_PLUGIN_CLIENT_ELICITATION_RESPONSE_ACCEPT) {
        ret->val.accept.is_some = answer_text != NULL;
        if (answer_text) {
            dup(&ret->val.accept.val, answer_text);
        }
    }
    return true;
}

bool warden_plugin_client_list_roots(warden_plugin_client_list_root_t *ret,
                                     warden_plugin_client_client_error_t *err) {
    if (answer_error >= 0) {
        return answer_err(err);
    }
    ret->len = 2;
    ret->ptr = calloc(2, sizeof *ret->ptr);
    dup(&ret->ptr[0].uri, "file:///work/a");
    ret->ptr[0].name.is_some = true;
    dup(&ret->ptr[0].name.val, "a");
    dup(&ret->ptr[1].uri, "file:///work/b");
    return true;
}

/* `ask` records each request of the batch in `asked` and answers it as the
 * single imports would (sample: answer_text as text; form: accept with
 * answer_text; URL: decline; roots: one root), or with the client-error
 * ask_errors[i] when it is set (>= 0), or with roots to anything when
 * ask_mismatch[i] is set. ask_short answers that many fewer requests. */
static struct {
    size_t calls, n;
    char key[8][72], text[8][64], extra[8][64];
    int tag[8], elicit_tag[8];
    uint32_t max_tokens[8];
    bool has_system[8];
} asked;
static int ask_errors[8];
static bool ask_mismatch[8];
static size_t ask_short;

void warden_plugin_client_ask(warden_plugin_client_list_tuple2_string_request_t *requests,
                              warden_plugin_client_list_result_answer_client_error_t *ret) {
    size_t n = requests->len;
    asked.calls++;
    asked.n = n;
    ret->len = n - ask_short;
    ret->ptr = calloc(n, sizeof *ret->ptr);
    for (size_t i = 0; i < n && i < 8; i++) {
        const warden_plugin_client_request_t *r = &requests->ptr[i].f1;
        copy(asked.key[i], &requests->ptr[i].f0);
        asked.tag[i] = r->tag;
        if (r->tag == WARDEN_PLUGIN_CLIENT_REQUEST_SAMPLE) {
            copy(asked.text[i], &r->val.sample.messages.ptr[0].content.val.text);
            asked.has_system[i] = r->val.sample.system_prompt.is_some;
            asked.max_tokens[i] = r->val.sample.max_tokens;
        } else if (r->tag == WARDEN_PLUGIN_CLIENT_REQUEST_ELICIT) {
            asked.elicit_tag[i] = r->val.elicit.tag;
            if (r->val.elicit.tag == WARDEN_PLUGIN_CLIENT_ELICITATION_REQUEST_FORM) {
                copy(asked.text[i], &r->val.elicit.val.form.message);
                copy(asked.extra[i], &r->val.elicit.val.form.requested_schema);
            } else {
                copy(asked.text[i], &r->val.elicit.val.url.message);
                copy(asked.extra[i], &r->val.elicit.val.url.url);
            }
        }
        if (i >= ret->len) {
            continue;
        }
        warden_plugin_client_result_answer_client_error_t *out = &ret->ptr[i];
        warden_plugin_client_answer_t *a = &out->val.ok;
        if (ask_errors[i] >= 0) {
            out->is_err = true;
            out->val.err.tag = (uint8_t)ask_errors[i];
            dup(&out->val.err.val.failed, "no answer: batch");
        } else if (ask_mismatch[i] || r->tag == WARDEN_PLUGIN_CLIENT_REQUEST_LIST_ROOTS) {
            a->tag = WARDEN_PLUGIN_CLIENT_ANSWER_ROOTS;
            a->val.roots.len = 1;
            a->val.roots.ptr = calloc(1, sizeof *a->val.roots.ptr);
            dup(&a->val.roots.ptr[0].uri, "file:///work/c");
        } else if (r->tag == WARDEN_PLUGIN_CLIENT_REQUEST_SAMPLE) {
            a->tag = WARDEN_PLUGIN_CLIENT_ANSWER_SAMPLED;
            a->val.sampled.content.tag = WARDEN_PLUGIN_TYPES_CONTENT_TEXT;
            dup(&a->val.sampled.content.val.text, answer_text);
            dup(&a->val.sampled.model, "fake-model");
        } else if (r->val.elicit.tag == WARDEN_PLUGIN_CLIENT_ELICITATION_REQUEST_FORM) {
            a->tag = WARDEN_PLUGIN_CLIENT_ANSWER_ELICITED;
            a->val.elicited.tag = WARDEN_PLUGIN_CLIENT_ELICITATION_RESPONSE_ACCEPT;
            a->val.elicited.val.accept.is_some = true;
            dup(&a->val.elicited.val.accept.val, answer_text);
        } else {
            a->tag = WARDEN_PLUGIN_CLIENT_ANSWER_ELICITED;
            a->val.elicited.tag = WARDEN_PLUGIN_CLIENT_ELICITATION_RESPONSE_DECLINE;
        }
    }
}

/* ---- tools ---------------------------------------------------------------- */

/* What the last client tool got back. */
static struct {
    warden_client_status status;
    char error[256], value[256];
    warden_elicit_action action;
    size_t count;
} got;

/* Keeps what a tool got (call memory ends with the call). */
static void keep(const char *value, const char *error) {
    snprintf(got.value, sizeof got.value, "%s", value ? value : "(null)");
    snprintf(got.error, sizeof got.error, "%s", error ? error : "(null)");
}

static void results(warden_call *call) {
    warden_text(call, "first %d", 1);
    warden_resource_link(call, "docs://guide.md", "guide.md", "The guide", NULL, "text/markdown", 1234);
    warden_resource_link(call, "https://example.com/x", "x", NULL, "bad \xFF utf-8", NULL, -1);
    warden_text_n(call, "last", 4);
    warden_log(WARDEN_LOG_INFO, "results");
}

static void failing(warden_call *call) {
    warden_text(call, "dropped");
    warden_resource_link(call, "docs://a", "a", NULL, NULL, NULL, 0);
    warden_failed(call, "it broke: %s", "reason");
}

static void sample(warden_call *call) {
    const char *text, *error;
    got.status = warden_sample_text(call, "Be brief.", "Summarize", 200, &text, &error);
    keep(text, error);
}

static void sample_plain(warden_call *call) {
    const char *text;
    got.status = warden_sample_text(call, NULL, "Hi", 5, &text, NULL);
    keep(text, NULL);
}

static void form(warden_call *call) {
    const char *content, *error;
    got.status = warden_elicit_form(call, "Your name?", "{\"type\":\"object\"}", &got.action,
                                    &content, &error);
    keep(content, error);
}

static void url(warden_call *call) {
    const char *error;
    got.status = warden_elicit_url(call, "Sign in", "https://example.com/login", &got.action,
                                   &error);
    keep(NULL, error);
}

static void roots(warden_call *call) {
    const warden_root *r;
    const char *error;
    got.status = warden_list_roots(call, &r, &got.count, &error);
    keep("", error);
    for (size_t i = 0; i < got.count; i++) {
        size_t n = strlen(got.value);
        snprintf(got.value + n, sizeof got.value - n, "%s%s=%s", i ? " " : "", r[i].uri,
                 r[i].name ? r[i].name : "-");
    }
}

#define SCHEMA "{\"type\":\"object\"}"

/* What the batch tool got back, one line per answer. */
static struct {
    size_t empty, answered;
    char line[6][160];
} got_batch;

static const warden_request BATCH[] = {
    {.key = "summary", .kind = WARDEN_REQUEST_SAMPLE,
     .sample = {.system_prompt = "Be brief.", .prompt = "Summarize", .max_tokens = 200}},
    {.key = "name", .kind = WARDEN_REQUEST_FORM, .form = {.message = "Your name?", .schema = SCHEMA}},
    {.key = "login", .kind = WARDEN_REQUEST_URL,
     .url = {.message = "Sign in", .url = "https://example.com/login"}},
    {.key = "odd", .kind = (warden_request_kind)42},
    {.key = "roots", .kind = WARDEN_REQUEST_ROOTS},
    {.key = "again", .kind = WARDEN_REQUEST_SAMPLE, .sample = {.prompt = "Again", .max_tokens = 5}},
};
#define BATCH_LEN (sizeof BATCH / sizeof BATCH[0])

static void batch(warden_call *call) {
    warden_answer a[BATCH_LEN];
    got_batch.empty = warden_ask_all(call, NULL, 0, NULL); /* asks nothing */
    got_batch.answered = warden_ask_all(call, BATCH, BATCH_LEN, a);
    for (size_t i = 0; i < BATCH_LEN; i++) {
        snprintf(got_batch.line[i], sizeof got_batch.line[i], "%d %s|%s|%d|%s|%zu:%s",
                 (int)a[i].status, a[i].error ? a[i].error : "-", a[i].text ? a[i].text : "-",
                 (int)a[i].action, a[i].content ? a[i].content : "-", a[i].count,
                 a[i].count ? a[i].roots[0].uri : "-");
    }
}

WARDEN_TOOLS(
    WARDEN_TOOL(results, "Returns links", SCHEMA, WARDEN_READ_ONLY),
    WARDEN_TOOL(failing, "Fails", SCHEMA, 0),
    WARDEN_TOOL(sample, "Samples", SCHEMA, WARDEN_REQUIRES_SAMPLING),
    WARDEN_TOOL(sample_plain, "Samples", SCHEMA, 0),
    WARDEN_TOOL_OUT(form, "Asks", SCHEMA, SCHEMA, WARDEN_IDEMPOTENT | WARDEN_REQUIRES_ELICITATION),
    WARDEN_TOOL(url, "Asks", SCHEMA, WARDEN_REQUIRES_ROOTS | WARDEN_REQUIRES_ELICITATION |
                                         WARDEN_REQUIRES_SAMPLING),
    WARDEN_TOOL(roots, "Lists roots", SCHEMA, WARDEN_REQUIRES_ROOTS),
    WARDEN_TOOL(batch, "Asks several things", SCHEMA, 0),
);

/* Calls a tool as the host would: the export owns its parameters. */
static bool call(const char *name, exports_warden_plugin_tools_tool_output_t *out,
                 exports_warden_plugin_tools_tool_error_t *err) {
    plugin_string_t n, a;
    plugin_string_dup(&n, name);
    plugin_string_dup(&a, "{}");
    memset(&got, 0, sizeof got);
    memset(&seen, 0, sizeof seen);
    memset(&got_batch, 0, sizeof got_batch);
    memset(&asked, 0, sizeof asked);
    return exports_warden_plugin_tools_call_tool(&n, &a, out, err);
}

/* Calls a tool that must succeed, and frees its result. */
static void run(const char *name) {
    exports_warden_plugin_tools_tool_output_t out;
    exports_warden_plugin_tools_tool_error_t err;
    bool ok = call(name, &out, &err);
    CHECK(ok);
    if (ok) {
        exports_warden_plugin_tools_tool_output_free(&out);
    } else {
        exports_warden_plugin_tools_tool_error_free(&err);
    }
}

/* ---- tests ---------------------------------------------------------------- */

static void test_descriptors(void) {
    exports_warden_plugin_tools_list_tool_descriptor_t list;
    exports_warden_plugin_tools_list_tools(&list);
    CHECK(list.len == 8);
    const warden_plugin_types_tool_descriptor_t *d = list.ptr;
    CHECK(str_is(&d[0].name, "results") && d[0].requires_.len == 0 && d[0].requires_.ptr == NULL);
    CHECK(d[0].annotations.read_only.is_some && d[0].annotations.read_only.val);
    CHECK(d[2].requires_.len == 1 &&
          d[2].requires_.ptr[0] == WARDEN_PLUGIN_TYPES_CLIENT_FEATURE_SAMPLING);
    CHECK(d[4].requires_.len == 1 &&
          d[4].requires_.ptr[0] == WARDEN_PLUGIN_TYPES_CLIENT_FEATURE_ELICITATION);
    CHECK(d[4].annotations.idempotent.is_some && !d[4].annotations.read_only.is_some);
    CHECK(opt_is(&d[4].output_schema, SCHEMA));
    /* In WIT order, whatever the order of the flags. */
    CHECK(d[5].requires_.len == 3 &&
          d[5].requires_.ptr[0] == WARDEN_PLUGIN_TYPES_CLIENT_FEATURE_SAMPLING &&
          d[5].requires_.ptr[1] == WARDEN_PLUGIN_TYPES_CLIENT_FEATURE_ELICITATION &&
          d[5].requires_.ptr[2] == WARDEN_PLUGIN_TYPES_CLIENT_FEATURE_ROOTS);
    CHECK(d[6].requires_.len == 1 &&
          d[6].requires_.ptr[0] == WARDEN_PLUGIN_TYPES_CLIENT_FEATURE_ROOTS);
    exports_warden_plugin_tools_list_tool_descriptor_free(&list);
}

static void test_results(void) {
    exports_warden_plugin_tools_tool_output_t out;
    exports_warden_plugin_tools_tool_error_t err;
    CHECK(call("results", &out, &err));
    CHECK(out.content.len == 4 && !out.structured.is_some && seen.logs == 1);
    if (out.content.len == 4) {
        const warden_plugin_types_content_t *c = out.content.ptr;
        CHECK(c[0].tag == WARDEN_PLUGIN_TYPES_CONTENT_TEXT && str_is(&c[0].val.text, "first 1"));
        CHECK(c[1].tag == WARDEN_PLUGIN_TYPES_CONTENT_RESOURCE_LINK);
        const warden_plugin_types_resource_link_t *l = &c[1].val.resource_link;
        CHECK(str_is(&l->uri, "docs://guide.md") && str_is(&l->name, "guide.md"));
        CHECK(opt_is(&l->title, "The guide") && opt_is(&l->description, NULL) &&
              opt_is(&l->mime_type, "text/markdown"));
        CHECK(l->size.is_some && l->size.val == 1234);
        l = &c[2].val.resource_link;
        CHECK(c[2].tag == WARDEN_PLUGIN_TYPES_CONTENT_RESOURCE_LINK && !l->size.is_some);
        CHECK(opt_is(&l->description, "bad \xEF\xBF\xBD utf-8") && opt_is(&l->title, NULL));
        CHECK(c[3].tag == WARDEN_PLUGIN_TYPES_CONTENT_TEXT && str_is(&c[3].val.text, "last"));
    }
    exports_warden_plugin_tools_tool_output_free(&out);

    /* An error replaces the content. */
    CHECK(!call("failing", &out, &err));
    CHECK(err.tag == WARDEN_PLUGIN_TYPES_TOOL_ERROR_FAILED &&
          str_is(&err.val.failed, "it broke: reason"));
    exports_warden_plugin_tools_tool_error_free(&err);

    CHECK(!call("nope", &out, &err));
    CHECK(err.tag == WARDEN_PLUGIN_TYPES_TOOL_ERROR_UNKNOWN_TOOL &&
          str_is(&err.val.unknown_tool, "no tool named \"nope\""));
    exports_warden_plugin_tools_tool_error_free(&err);
}

static void test_sampling(void) {
    answer_error = -1;
    answer_tag = WARDEN_PLUGIN_TYPES_CONTENT_TEXT;
    answer_text = "A summary.";
    run("sample");
    CHECK(got.status == WARDEN_CLIENT_OK && strcmp(got.error, "(null)") == 0 && strcmp(got.value, "A summary.") == 0);
    CHECK(seen.n_messages == 1 && seen.role == WARDEN_PLUGIN_CLIENT_ROLE_USER &&
          seen.content_tag == WARDEN_PLUGIN_TYPES_CONTENT_TEXT);
    CHECK(strcmp(seen.text, "Summarize") == 0 && seen.has_system &&
          strcmp(seen.system, "Be brief.") == 0 && seen.max_tokens == 200);

    run("sample_plain");
    CHECK(got.status == WARDEN_CLIENT_OK && !seen.has_system && seen.max_tokens == 5);

    answer_tag = WARDEN_PLUGIN_TYPES_CONTENT_BLOB;
    run("sample");
    CHECK(got.status == WARDEN_CLIENT_FAILED && strstr(got.error, "not text"));
    CHECK(strcmp(got.value, "(null)") == 0);

    static const struct {
        int tag;
        warden_client_status status;
    } errors[] = {
        {WARDEN_PLUGIN_CLIENT_CLIENT_ERROR_UNSUPPORTED, WARDEN_CLIENT_UNSUPPORTED},
        {WARDEN_PLUGIN_CLIENT_CLIENT_ERROR_DENIED, WARDEN_CLIENT_DENIED},
        {WARDEN_PLUGIN_CLIENT_CLIENT_ERROR_LIMIT_EXCEEDED, WARDEN_CLIENT_LIMIT_EXCEEDED},
        {WARDEN_PLUGIN_CLIENT_CLIENT_ERROR_FAILED, WARDEN_CLIENT_FAILED},
    };
    for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++) {
        answer_error = errors[i].tag;
        run("sample");
        CHECK(got.status == errors[i].status && strcmp(got.error, "no answer: test") == 0);
    }
    run("sample_plain"); /* no error wanted */
    CHECK(got.status == WARDEN_CLIENT_FAILED);
    answer_error = -1;
}

static void test_elicitation(void) {
    answer_error = -1;
    answer_tag = WARDEN_PLUGIN_CLIENT_ELICITATION_RESPONSE_ACCEPT;
    answer_text = "{\"name\":\"Ada\"}";
    run("form");
    CHECK(seen.tag == WARDEN_PLUGIN_CLIENT_ELICITATION_REQUEST_FORM);
    CHECK(strcmp(seen.text, "Your name?") == 0 && strcmp(seen.schema, "{\"type\":\"object\"}") == 0);
    CHECK(got.status == WARDEN_CLIENT_OK && got.action == WARDEN_ELICIT_ACCEPT &&
          strcmp(got.value, "{\"name\":\"Ada\"}") == 0);

    answer_text = NULL; /* accepted without content: an empty object */
    run("form");
    CHECK(got.action == WARDEN_ELICIT_ACCEPT && strcmp(got.value, "{}") == 0);

    answer_tag = WARDEN_PLUGIN_CLIENT_ELICITATION_RESPONSE_DECLINE;
    run("form");
    CHECK(got.status == WARDEN_CLIENT_OK && got.action == WARDEN_ELICIT_DECLINE &&
          strcmp(got.value, "(null)") == 0);

    answer_tag = WARDEN_PLUGIN_CLIENT_ELICITATION_RESPONSE_CANCEL;
    run("url");
    CHECK(seen.tag == WARDEN_PLUGIN_CLIENT_ELICITATION_REQUEST_URL);
    CHECK(strcmp(seen.text, "Sign in") == 0 && strcmp(seen.url, "https://example.com/login") == 0);
    CHECK(got.status == WARDEN_CLIENT_OK && got.action == WARDEN_ELICIT_CANCEL);

    answer_tag = WARDEN_PLUGIN_CLIENT_ELICITATION_RESPONSE_ACCEPT;
    run("url");
    CHECK(got.action == WARDEN_ELICIT_ACCEPT);

    answer_error = WARDEN_PLUGIN_CLIENT_CLIENT_ERROR_LIMIT_EXCEEDED;
    run("form");
    CHECK(got.status == WARDEN_CLIENT_LIMIT_EXCEEDED && got.action == WARDEN_ELICIT_CANCEL &&
          strcmp(got.value, "(null)") == 0);
    answer_error = -1;
}

static void test_roots(void) {
    answer_error = -1;
    run("roots");
    CHECK(got.status == WARDEN_CLIENT_OK && got.count == 2);
    CHECK(strcmp(got.value, "file:///work/a=a file:///work/b=-") == 0);

    answer_error = WARDEN_PLUGIN_CLIENT_CLIENT_ERROR_DENIED;
    run("roots");
    CHECK(got.status == WARDEN_CLIENT_DENIED && got.count == 0 &&
          strcmp(got.error, "no answer: test") == 0);
    answer_error = -1;
}

static void test_batch(void) {
    answer_text = "{\"name\":\"Ada\"}";
    for (size_t i = 0; i < 8; i++) {
        ask_errors[i] = -1;
        ask_mismatch[i] = false;
    }
    ask_short = 0;
    run("batch");
    /* The unknown kind is never sent: five requests, in order, in one call. */
    CHECK(got_batch.empty == 0 && asked.calls == 1 && asked.n == 5);
    CHECK(strcmp(asked.key[0], "summary") == 0 && strcmp(asked.key[1], "name") == 0 &&
          strcmp(asked.key[2], "login") == 0 && strcmp(asked.key[3], "roots") == 0 &&
          strcmp(asked.key[4], "again") == 0);
    CHECK(asked.tag[0] == WARDEN_PLUGIN_CLIENT_REQUEST_SAMPLE &&
          strcmp(asked.text[0], "Summarize") == 0 && asked.has_system[0] &&
          asked.max_tokens[0] == 200);
    CHECK(asked.tag[1] == WARDEN_PLUGIN_CLIENT_REQUEST_ELICIT &&
          asked.elicit_tag[1] == WARDEN_PLUGIN_CLIENT_ELICITATION_REQUEST_FORM &&
          strcmp(asked.text[1], "Your name?") == 0 && strcmp(asked.extra[1], SCHEMA) == 0);
    CHECK(asked.tag[2] == WARDEN_PLUGIN_CLIENT_REQUEST_ELICIT &&
          asked.elicit_tag[2] == WARDEN_PLUGIN_CLIENT_ELICITATION_REQUEST_URL &&
          strcmp(asked.text[2], "Sign in") == 0 &&
          strcmp(asked.extra[2], "https://example.com/login") == 0);
    CHECK(asked.tag[3] == WARDEN_PLUGIN_CLIENT_REQUEST_LIST_ROOTS);
    CHECK(!asked.has_system[4] && asked.max_tokens[4] == 5);
    CHECK(got_batch.answered == 5);
    CHECK(strcmp(got_batch.line[0], "0 -|{\"name\":\"Ada\"}|2|-|0:-") == 0);
    CHECK(strcmp(got_batch.line[1], "0 -|-|0|{\"name\":\"Ada\"}|0:-") == 0);
    CHECK(strcmp(got_batch.line[2], "0 -|-|1|-|0:-") == 0);
    CHECK(strcmp(got_batch.line[3], "4 not a warden_request_kind|-|2|-|0:-") == 0);
    CHECK(strcmp(got_batch.line[4], "0 -|-|2|-|1:file:///work/c") == 0);

    /* Refusals, an answer of another kind, and a host that answers short. */
    ask_errors[0] = WARDEN_PLUGIN_CLIENT_CLIENT_ERROR_DENIED;
    ask_errors[3] = WARDEN_PLUGIN_CLIENT_CLIENT_ERROR_LIMIT_EXCEEDED;
    ask_mismatch[1] = true;
    ask_short = 1;
    run("batch");
    CHECK(asked.n == 5 && got_batch.answered == 1);
    CHECK(strcmp(got_batch.line[0], "2 no answer: batch|-|2|-|0:-") == 0);
    CHECK(strcmp(got_batch.line[1], "4 the host answered with another kind of answer|-|2|-|0:-") == 0);
    CHECK(strcmp(got_batch.line[2], "0 -|-|1|-|0:-") == 0);
    CHECK(strcmp(got_batch.line[4], "3 no answer: batch|-|2|-|0:-") == 0);
    CHECK(strcmp(got_batch.line[5], "4 the host gave no answer|-|2|-|0:-") == 0);
    for (size_t i = 0; i < 8; i++) {
        ask_errors[i] = -1;
        ask_mismatch[i] = false;
    }
    ask_short = 0;
}

int main(void) {
    test_descriptors();
    test_results();
    test_sampling();
    test_elicitation();
    test_roots();
    test_batch();
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
