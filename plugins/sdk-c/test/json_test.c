/* Host-native unit test of the SDK's JSON reader, writer and string builder
 * (no bindings needed):
 *
 *   python -m ziglang cc -std=c11 -Wall -Wextra -DWARDEN_SDK_NO_BINDINGS \
 *       -I plugins/sdk-c plugins/sdk-c/test/json_test.c plugins/sdk-c/warden_json.c \
 *       plugins/sdk-c/warden.c -o /tmp/json_test
 *   /tmp/json_test
 *
 * `plugins/sdk-c/test/run` does exactly that with the pinned toolchain. */
#include "warden.h"

#include <stdio.h>
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

static warden_json_value get(const char *json, const char *key, int *rc, const char **err) {
    warden_json_value v;
    *err = NULL;
    *rc = warden_json_get(json, strlen(json), key, &v, err);
    return v;
}

static int str_eq(warden_json_value v, const char *expected) {
    char out[256];
    long n = warden_json_decode_str(&v, out, sizeof out);
    return n >= 0 && (size_t)n == strlen(expected) && strcmp(out, expected) == 0;
}

static void test_reader(void) {
    int rc;
    const char *err;
    warden_json_value v;

    const char *doc = " { \"path\" : \"a\\/b\\n\\u00e9\\ud83d\\ude00\", \"n\": -42, \"big\": 1e3,"
                      " \"f\": 2.5, \"t\": true, \"no\": false, \"z\": null,"
                      " \"nested\": {\"path\": [1, {\"x\": []}, \"s\"]}, \"k\\u0065y\": 7 } ";
    v = get(doc, "path", &rc, &err);
    CHECK(rc == 0 && v.type == WARDEN_JSON_STRING);
    CHECK(str_eq(v, "a/b\n\xC3\xA9\xF0\x9F\x98\x80"));
    v = get(doc, "n", &rc, &err);
    int64_t i = 0;
    CHECK(rc == 0 && v.type == WARDEN_JSON_NUMBER && warden_json_to_int(&v, &i) == 0 && i == -42);
    v = get(doc, "big", &rc, &err);
    CHECK(warden_json_to_int(&v, &i) == 0 && i == 1000);
    v = get(doc, "f", &rc, &err);
    CHECK(v.type == WARDEN_JSON_NUMBER && warden_json_to_int(&v, &i) != 0);
    CHECK(get(doc, "t", &rc, &err).type == WARDEN_JSON_TRUE);
    CHECK(get(doc, "no", &rc, &err).type == WARDEN_JSON_FALSE);
    CHECK(get(doc, "z", &rc, &err).type == WARDEN_JSON_NULL);
    v = get(doc, "nested", &rc, &err);
    CHECK(v.type == WARDEN_JSON_OBJECT && v.len == strlen("{\"path\": [1, {\"x\": []}, \"s\"]}"));
    CHECK(get(doc, "key", &rc, &err).type == WARDEN_JSON_NUMBER); /* escaped key */
    v = get(doc, "missing", &rc, &err);
    CHECK(rc == 0 && v.type == WARDEN_JSON_ABSENT);
    CHECK(get("{}", "a", &rc, &err).type == WARDEN_JSON_ABSENT && rc == 0);

    /* The last of repeated keys wins. */
    v = get("{\"a\": 1, \"a\": \"two\"}", "a", &rc, &err);
    CHECK(rc == 0 && str_eq(v, "two"));

    /* Integers at the edges of int64. */
    v = get("{\"a\": 9223372036854775807}", "a", &rc, &err);
    CHECK(warden_json_to_int(&v, &i) == 0 && i == INT64_MAX);
    v = get("{\"a\": -9223372036854775808}", "a", &rc, &err);
    CHECK(warden_json_to_int(&v, &i) == 0 && i == INT64_MIN);
    v = get("{\"a\": 9223372036854775808}", "a", &rc, &err);
    CHECK(warden_json_to_int(&v, &i) != 0);
    v = get("{\"a\": 1e300}", "a", &rc, &err);
    CHECK(warden_json_to_int(&v, &i) != 0);

    /* Lone surrogates decode to U+FFFD. */
    v = get("{\"a\": \"x\\ud800y\"}", "a", &rc, &err);
    CHECK(str_eq(v, "x\xEF\xBF\xBDy"));

    /* Malformed documents are refused with a reason. */
    const char *bad[] = {
        "", "[]", "{", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{\"a\":01}", "{\"a\":1} x",
        "{\"a\":\"\\x\"}", "{\"a\":\"\\u12\"}", "{\"a\":\"unterminated}", "{\"a\":tru}",
        "{\"a\":-}", "{\"a\":1.}", "{\"a\":\"tab\there\"}", "{a:1}", "{\"a\":[1 2]}",
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        v = get(bad[k], "a", &rc, &err);
        if (!(rc == -1 && err != NULL && v.type == WARDEN_JSON_ABSENT)) {
            fprintf(stderr, "accepted malformed: %s\n", bad[k]);
        }
        CHECK(rc == -1 && err != NULL);
    }

    /* Nesting is bounded. */
    char deep[200];
    size_t n = 0;
    n += (size_t)sprintf(deep, "{\"a\":");
    for (int d = 0; d < 40; d++) deep[n++] = '[';
    for (int d = 0; d < 40; d++) deep[n++] = ']';
    deep[n++] = '}';
    deep[n] = '\0';
    v = get(deep, "a", &rc, &err);
    CHECK(rc == -1 && err && strstr(err, "deep"));

    /* Lengths are honoured: the text past `len` is not read. */
    const char *cut = "{\"a\":1}garbage";
    CHECK(warden_json_get(cut, 7, "a", &v, &err) == 0 && v.type == WARDEN_JSON_NUMBER);

    /* decode with a short buffer reports the full length and stays terminated. */
    v = get("{\"a\":\"hello\"}", "a", &rc, &err);
    char small[3];
    CHECK(warden_json_decode_str(&v, small, sizeof small) == 5 && strcmp(small, "he") == 0);
    CHECK(warden_json_decode_str(&v, NULL, 0) == 5);
}

static void test_builder(void) {
    warden_buf b = {0};
    warden_buf_puts(&b, "x=");
    warden_buf_printf(&b, "%d/%s", 42, "y");
    CHECK(b.len == 6 && strcmp(b.ptr, "x=42/y") == 0);
    warden_buf_free(&b);

    warden_buf_json_str(&b, "q\"\\\n\t\x01\x7f\xC3\xA9", 9);
    CHECK(strcmp(b.ptr, "\"q\\\"\\\\\\n\\t\\u0001\x7f\xC3\xA9\"") == 0);
    warden_buf_free(&b);

    /* Invalid UTF-8 is replaced, never copied through. */
    warden_buf_json_str(&b, "a\xFF" "b\xC3", 4);
    CHECK(strcmp(b.ptr, "\"a\xEF\xBF\xBD" "b\xEF\xBF\xBD\"") == 0);
    warden_buf_free(&b);

    /* A large append grows the buffer. */
    for (int k = 0; k < 10000; k++) warden_buf_puts(&b, "0123456789");
    CHECK(b.len == 100000 && !b.oom && b.ptr[b.len] == '\0');
    warden_buf_free(&b);
}

static void test_writer(void) {
    warden_json j = {0};
    warden_json_object(&j);
    warden_json_key(&j, "s");
    warden_json_str(&j, "a\"b");
    warden_json_key(&j, "n");
    warden_json_int(&j, -3);
    warden_json_key(&j, "u");
    warden_json_uint(&j, 18446744073709551615ull);
    warden_json_key(&j, "list");
    warden_json_array(&j);
    warden_json_bool(&j, true);
    warden_json_null(&j);
    warden_json_object(&j);
    warden_json_end(&j);
    warden_json_array(&j);
    warden_json_end(&j);
    warden_json_double(&j, 0.5);
    warden_json_raw(&j, "{\"r\":1}", 7);
    warden_json_end(&j);
    warden_json_key(&j, "last");
    warden_json_bool(&j, false);
    warden_json_end(&j);
    const char *want = "{\"s\":\"a\\\"b\",\"n\":-3,\"u\":18446744073709551615,"
                       "\"list\":[true,null,{},[],0.5,{\"r\":1}],\"last\":false}";
    CHECK(!j.buf.oom && j.depth == 0);
    CHECK(j.buf.ptr && strcmp(j.buf.ptr, want) == 0);
    if (j.buf.ptr && strcmp(j.buf.ptr, want) != 0) fprintf(stderr, "got %s\n", j.buf.ptr);

    /* What the writer produced, the reader reads back. */
    warden_json_value v;
    const char *err;
    CHECK(warden_json_get(j.buf.ptr, j.buf.len, "s", &v, &err) == 0 && str_eq(v, "a\"b"));
    CHECK(warden_json_get(j.buf.ptr, j.buf.len, "last", &v, &err) == 0 && v.type == WARDEN_JSON_FALSE);
    warden_buf_free(&j.buf);

    /* Misuse is flagged, not written. */
    warden_json m = {0};
    warden_json_key(&m, "k"); /* a key outside an object */
    CHECK(m.buf.oom);
    warden_buf_free(&m.buf);
}

int main(void) {
    test_reader();
    test_builder();
    test_writer();
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
