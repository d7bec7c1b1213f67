/* Warden plugin SDK for C: requests to the MCP client (the import `client`
 * of warden:plugin@0.2.0: sampling, elicitation, roots); see warden.h.
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

warden_client_status warden_sample_text(warden_call *call, const char *system_prompt,
                                        const char *prompt, uint32_t max_tokens,
                                        const char **text, const char **error) {
    *text = NULL;
    if (error) {
        *error = NULL;
    }
    warden_plugin_client_sampling_request_t req = {.max_tokens = max_tokens};
    warden_plugin_client_message_t *msg = calloc(1, sizeof *msg);
    bool ok = msg != NULL;
    if (ok) {
        req.messages.ptr = msg;
        req.messages.len = 1;
        msg->role = WARDEN_PLUGIN_CLIENT_ROLE_USER;
        msg->content.tag = WARDEN_PLUGIN_TYPES_CONTENT_TEXT;
        ok = warden_abi_cstr(&msg->content.val.text, prompt) &&
             warden_abi_opt_cstr(&req.system_prompt, system_prompt);
    }
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
    warden_client_status status = WARDEN_CLIENT_OK;
    if (resp.content.tag != WARDEN_PLUGIN_TYPES_CONTENT_TEXT) {
        status = fail(error, "the model's answer is not text");
    } else if (!(*text = call_str(call, &resp.content.val.text))) {
        status = fail(error, OOM);
    }
    warden_plugin_client_sampling_response_free(&resp);
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
    warden_client_status status = WARDEN_CLIENT_OK;
    if (resp.tag == WARDEN_PLUGIN_CLIENT_ELICITATION_RESPONSE_ACCEPT) {
        *action = WARDEN_ELICIT_ACCEPT;
        if (content) {
            /* A form's answer is an object; the host always sends one. */
            *content = resp.val.accept.is_some ? call_str(call, &resp.val.accept.val) : "{}";
            if (!*content) {
                status = fail(error, OOM);
            }
        }
    } else if (resp.tag == WARDEN_PLUGIN_CLIENT_ELICITATION_RESPONSE_DECLINE) {
        *action = WARDEN_ELICIT_DECLINE;
    }
    warden_plugin_client_elicitation_response_free(&resp);
    return status;
}

warden_client_status warden_elicit_form(warden_call *call, const char *message,
                                        const char *schema, warden_elicit_action *action,
                                        const char **content, const char **error) {
    warden_plugin_client_elicitation_request_t req = {
        .tag = WARDEN_PLUGIN_CLIENT_ELICITATION_REQUEST_FORM};
    bool ok = warden_abi_cstr(&req.val.form.message, message) &&
              warden_abi_cstr(&req.val.form.requested_schema, schema);
    return elicit(call, &req, ok, action, content, error);
}

warden_client_status warden_elicit_url(warden_call *call, const char *message, const char *url,
                                       warden_elicit_action *action, const char **error) {
    warden_plugin_client_elicitation_request_t req = {
        .tag = WARDEN_PLUGIN_CLIENT_ELICITATION_REQUEST_URL};
    bool ok = warden_abi_cstr(&req.val.url.message, message) &&
              warden_abi_cstr(&req.val.url.url, url);
    return elicit(call, &req, ok, action, NULL, error);
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
    size_t n = list.len;
    warden_root *out = n ? warden_alloc(call, n * sizeof *out) : NULL;
    bool ok = n == 0 || out;
    for (size_t i = 0; ok && i < n; i++) {
        const warden_plugin_client_root_t *r = &list.ptr[i];
        out[i].uri = call_str(call, &r->uri);
        out[i].name = r->name.is_some ? call_str(call, &r->name.val) : NULL;
        ok = out[i].uri && (!r->name.is_some || out[i].name);
    }
    warden_plugin_client_list_root_free(&list);
    if (!ok) {
        return fail(error, OOM);
    }
    *roots = out;
    *count = n;
    return WARDEN_CLIENT_OK;
}
