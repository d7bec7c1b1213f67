/* Warden plugin SDK for C: requests to the MCP client (the import `client`
 * of warden:plugin@0.2.0: sampling, elicitation, roots, one at a time or in
 * a batch); see warden.h.
 *
 * An import borrows its arguments: each request is built from malloc'ed
 * copies and freed with the generated *_free function after the import
 * returns. The answer is copied into the call's memory and freed the same
 * way. */
#include "warden.h"
#include "warden_internal.h"

#include <stdlib.h>
#include <string.h>

static const char OOM[] = "out of memory";

/* A NUL-terminated copy of `s` in the call's memory, or NULL when out of
 * memory. */
static const char *call_str(warden_call *call, const plugin_string_t *s) {
    char *out = warden_alloc(call, s->len + 1);
    if (out) {
        if (s->len) {
            memcpy(out, s->ptr, s->len);
        }
        out[s->len] = '\0';
    }
    return out;
}

static warden_client_status fail(const char **error, const char *message) {
    if (error) {
        *error = message;
    }
    return WARDEN_CLIENT_FAILED;
}

/* The status and message of the host's error `e`, which is freed. */
static warden_client_status client_error(warden_call *call, warden_plugin_client_client_error_t *e,
                                         const char **error) {
    static const warden_client_status STATUS[] = {
        [WARDEN_PLUGIN_CLIENT_CLIENT_ERROR_UNSUPPORTED] = WARDEN_CLIENT_UNSUPPORTED,
        [WARDEN_PLUGIN_CLIENT_CLIENT_ERROR_DENIED] = WARDEN_CLIENT_DENIED,
        [WARDEN_PLUGIN_CLIENT_CLIENT_ERROR_LIMIT_EXCEEDED] = WARDEN_CLIENT_LIMIT_EXCEEDED,
        [WARDEN_PLUGIN_CLIENT_CLIENT_ERROR_FAILED] = WARDEN_CLIENT_FAILED,
    };
    warden_client_status status =
        e->tag < sizeof STATUS / sizeof STATUS[0] ? STATUS[e->tag] : WARDEN_CLIENT_FAILED;
    if (error) {
        /* Every case of client-error carries a string in the same place. */
        const char *message = call_str(call, &e->val.unsupported);
        *error = message ? message : OOM;
    }
    warden_plugin_client_client_error_free(e);
    return status;
}

/* The sampling request of one user message `prompt`. False when out of
 * memory; `req` is freed with the generated *_free either way. */
static bool sampling_request(warden_plugin_client_sampling_request_t *req,
                             const char *system_prompt, const char *prompt,
                             uint32_t max_tokens) {
    *req = (warden_plugin_client_sampling_request_t){.max_tokens = max_tokens};
    warden_plugin_client_message_t *msg = calloc(1, sizeof *msg);
    if (!msg) {
        return false;
    }
    req->messages.ptr = msg;
    req->messages.len = 1;
    msg->role = WARDEN_PLUGIN_CLIENT_ROLE_USER;
    msg->content.tag = WARDEN_PLUGIN_TYPES_CONTENT_TEXT;
    return warden_abi_cstr(&msg->content.val.text, prompt) &&
           warden_abi_opt_cstr(&req->system_prompt, system_prompt);
}

/* The model's answer `resp` as text; `resp` is freed. */
static warden_client_status sampled_text(warden_call *call,
                                         warden_plugin_client_sampling_response_t *resp,
                                         const char **text, const char **error) {
    warden_client_status status = WARDEN_CLIENT_OK;
    if (resp->content.tag != WARDEN_PLUGIN_TYPES_CONTENT_TEXT) {
        status = fail(error, "the model's answer is not text");
    } else if (!(*text = call_str(call, &resp->content.val.text))) {
        status = fail(error, OOM);
    }
    warden_plugin_client_sampling_response_free(resp);
    return status;
}

warden_client_status warden_sample_text(warden_call *call, const char *system_prompt,
                                        const char *prompt, uint32_t max_tokens,
                                        const char **text, const char **error) {
    *text = NULL;
    if (error) {
        *error = NULL;
    }
    warden_plugin_client_sampling_request_t req;
    bool ok = sampling_request(&req, system_prompt, prompt, max_tokens);
    warden_plugin_client_sampling_response_t resp;
    warden_plugin_client_client_error_t err;
    bool answered = ok && warden_plugin_client_sample(&req, &resp, &err);
    warden_plugin_client_sampling_request_free(&req);
    if (!ok) {
        return fail(error, OOM);
    }
    if (!answered) {
        return client_error(call, &err, error);
    }
    return sampled_text(call, &resp, text, error);
}

static bool form_request(warden_plugin_client_elicitation_request_t *req, const char *message,
                         const char *schema) {
    *req = (warden_plugin_client_elicitation_request_t){
        .tag = WARDEN_PLUGIN_CLIENT_ELICITATION_REQUEST_FORM};
    return warden_abi_cstr(&req->val.form.message, message) &&
           warden_abi_cstr(&req->val.form.requested_schema, schema);
}

static bool url_request(warden_plugin_client_elicitation_request_t *req, const char *message,
                        const char *url) {
    *req = (warden_plugin_client_elicitation_request_t){
        .tag = WARDEN_PLUGIN_CLIENT_ELICITATION_REQUEST_URL};
    return warden_abi_cstr(&req->val.url.message, message) &&
           warden_abi_cstr(&req->val.url.url, url);
}

/* What the person did, from `resp` (freed here); `*action` must already be
 * WARDEN_ELICIT_CANCEL and `*content` NULL. `content` is NULL for a URL
 * request. */
static warden_client_status elicited(warden_call *call,
                                     warden_plugin_client_elicitation_response_t *resp,
                                     warden_elicit_action *action, const char **content,
                                     const char **error) {
    warden_client_status status = WARDEN_CLIENT_OK;
    if (resp->tag == WARDEN_PLUGIN_CLIENT_ELICITATION_RESPONSE_ACCEPT) {
        *action = WARDEN_ELICIT_ACCEPT;
        if (content) {
            /* A form's answer is an object; the host always sends one. */
            *content = resp->val.accept.is_some ? call_str(call, &resp->val.accept.val) : "{}";
            if (!*content) {
                status = fail(error, OOM);
            }
        }
    } else if (resp->tag == WARDEN_PLUGIN_CLIENT_ELICITATION_RESPONSE_DECLINE) {
        *action = WARDEN_ELICIT_DECLINE;
    }
    warden_plugin_client_elicitation_response_free(resp);
    return status;
}

/* Sends `req` (built unless `ok` is false; freed here) and gives the answer.
 * `content` is NULL for a URL request. */
static warden_client_status elicit(warden_call *call, warden_plugin_client_elicitation_request_t *req,
                                   bool ok, warden_elicit_action *action, const char **content,
                                   const char **error) {
    *action = WARDEN_ELICIT_CANCEL;
    if (content) {
        *content = NULL;
    }
    if (error) {
        *error = NULL;
    }
    warden_plugin_client_elicitation_response_t resp;
    warden_plugin_client_client_error_t err;
    bool answered = ok && warden_plugin_client_elicit(req, &resp, &err);
    warden_plugin_client_elicitation_request_free(req);
    if (!ok) {
        return fail(error, OOM);
    }
    if (!answered) {
        return client_error(call, &err, error);
    }
    return elicited(call, &resp, action, content, error);
}

warden_client_status warden_elicit_form(warden_call *call, const char *message,
                                        const char *schema, warden_elicit_action *action,
                                        const char **content, const char **error) {
    warden_plugin_client_elicitation_request_t req;
    bool ok = form_request(&req, message, schema);
    return elicit(call, &req, ok, action, content, error);
}

warden_client_status warden_elicit_url(warden_call *call, const char *message, const char *url,
                                       warden_elicit_action *action, const char **error) {
    warden_plugin_client_elicitation_request_t req;
    bool ok = url_request(&req, message, url);
    return elicit(call, &req, ok, action, NULL, error);
}

/* The roots in `list` (freed here), copied into the call's memory. */
static warden_client_status listed_roots(warden_call *call, warden_plugin_client_list_root_t *list,
                                         const warden_root **roots, size_t *count,
                                         const char **error) {
    size_t n = list->len;
    warden_root *out = n ? warden_alloc(call, n * sizeof *out) : NULL;
    bool ok = n == 0 || out;
    for (size_t i = 0; ok && i < n; i++) {
        const warden_plugin_client_root_t *r = &list->ptr[i];
        out[i].uri = call_str(call, &r->uri);
        out[i].name = r->name.is_some ? call_str(call, &r->name.val) : NULL;
        ok = out[i].uri && (!r->name.is_some || out[i].name);
    }
    warden_plugin_client_list_root_free(list);
    if (!ok) {
        return fail(error, OOM);
    }
    *roots = out;
    *count = n;
    return WARDEN_CLIENT_OK;
}

warden_client_status warden_list_roots(warden_call *call, const warden_root **roots,
                                       size_t *count, const char **error) {
    *roots = NULL;
    *count = 0;
    if (error) {
        *error = NULL;
    }
    warden_plugin_client_list_root_t list;
    warden_plugin_client_client_error_t err;
    if (!warden_plugin_client_list_roots(&list, &err)) {
        return client_error(call, &err, error);
    }
    return listed_roots(call, &list, roots, count, error);
}

/* ---- batches ---------------------------------------------------------------- */

static bool known_kind(warden_request_kind kind) {
    return (unsigned)kind <= WARDEN_REQUEST_ROOTS;
}

/* The WIT form of `r` (of a known kind); false when out of memory. */
static bool batch_request(warden_plugin_client_request_t *out, const warden_request *r) {
    switch (r->kind) {
    case WARDEN_REQUEST_SAMPLE:
        out->tag = WARDEN_PLUGIN_CLIENT_REQUEST_SAMPLE;
        return sampling_request(&out->val.sample, r->sample.system_prompt, r->sample.prompt,
                                r->sample.max_tokens);
    case WARDEN_REQUEST_FORM:
        out->tag = WARDEN_PLUGIN_CLIENT_REQUEST_ELICIT;
        return form_request(&out->val.elicit, r->form.message, r->form.schema);
    case WARDEN_REQUEST_URL:
        out->tag = WARDEN_PLUGIN_CLIENT_REQUEST_ELICIT;
        return url_request(&out->val.elicit, r->url.message, r->url.url);
    case WARDEN_REQUEST_ROOTS:
        out->tag = WARDEN_PLUGIN_CLIENT_REQUEST_LIST_ROOTS;
        return true;
    }
    return true;
}

/* The answer to a request of `kind` in `result` (freed here). */
static warden_client_status batch_answer(warden_call *call, warden_request_kind kind,
                                         warden_plugin_client_result_answer_client_error_t *result,
                                         warden_answer *a) {
    if (result->is_err) {
        return client_error(call, &result->val.err, &a->error);
    }
    warden_plugin_client_answer_t *ok = &result->val.ok;
    switch (kind) {
    case WARDEN_REQUEST_SAMPLE:
        if (ok->tag == WARDEN_PLUGIN_CLIENT_ANSWER_SAMPLED) {
            return sampled_text(call, &ok->val.sampled, &a->text, &a->error);
        }
        break;
    case WARDEN_REQUEST_FORM:
        if (ok->tag == WARDEN_PLUGIN_CLIENT_ANSWER_ELICITED) {
            return elicited(call, &ok->val.elicited, &a->action, &a->content, &a->error);
        }
        break;
    case WARDEN_REQUEST_URL:
        if (ok->tag == WARDEN_PLUGIN_CLIENT_ANSWER_ELICITED) {
            return elicited(call, &ok->val.elicited, &a->action, NULL, &a->error);
        }
        break;
    case WARDEN_REQUEST_ROOTS:
        if (ok->tag == WARDEN_PLUGIN_CLIENT_ANSWER_ROOTS) {
            return listed_roots(call, &ok->val.roots, &a->roots, &a->count, &a->error);
        }
        break;
    }
    warden_plugin_client_answer_free(ok);
    return fail(&a->error, "the host answered with another kind of answer");
}

size_t warden_ask_all(warden_call *call, const warden_request *requests, size_t count,
                      warden_answer *answers) {
    /* Requests of an unknown kind are answered here and never sent; the
     * others go in order, so the i-th known request is the i-th sent. */
    size_t sent = 0;
    for (size_t i = 0; i < count; i++) {
        answers[i] = (warden_answer){.status = WARDEN_CLIENT_OK, .action = WARDEN_ELICIT_CANCEL};
        if (known_kind(requests[i].kind)) {
            sent++;
        } else {
            answers[i].status = fail(&answers[i].error, "not a warden_request_kind");
        }
    }
    warden_plugin_client_list_tuple2_string_request_t batch = {0};
    bool ok = true;
    if (sent) {
        batch.ptr = calloc(sent, sizeof *batch.ptr);
        ok = batch.ptr != NULL;
        batch.len = ok ? sent : 0;
    }
    for (size_t i = 0, j = 0; ok && i < count; i++) {
        if (known_kind(requests[i].kind)) {
            warden_plugin_client_tuple2_string_request_t *item = &batch.ptr[j++];
            ok = warden_abi_cstr(&item->f0, requests[i].key) &&
                 batch_request(&item->f1, &requests[i]);
        }
    }
    warden_plugin_client_list_result_answer_client_error_t results = {0};
    if (ok && sent) {
        warden_plugin_client_ask(&batch, &results);
    }
    warden_plugin_client_list_tuple2_string_request_free(&batch);
    size_t answered = 0, j = 0;
    for (size_t i = 0; i < count; i++) {
        warden_answer *a = &answers[i];
        if (!known_kind(requests[i].kind)) {
            continue;
        }
        if (!ok) {
            a->status = fail(&a->error, OOM);
        } else if (j == results.len) {
            a->status = fail(&a->error, "the host gave no answer");
        } else {
            a->status = batch_answer(call, requests[i].kind, &results.ptr[j++], a);
        }
        answered += a->status == WARDEN_CLIENT_OK;
    }
    for (; j < results.len; j++) {
        warden_plugin_client_result_answer_client_error_free(&results.ptr[j]);
    }
    free(results.ptr);
    return answered;
}
