/* The `checksum` example plugin, written in C with plugins/sdk-c: checksums
 * (CRC-32, Adler-32, FNV-1a 64, SHA-256) of files in the directory granted at
 * /data, and of strings.
 *
 * Tools (the host exposes them as `checksum_NAME`):
 *   list    files under /data with their sizes (bounded)
 *   file    the digest of one file, streamed in chunks
 *   text    the digest of a string (its UTF-8 bytes)
 *   verify  whether a file's digest matches an expected one
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hashes.h"
#include "warden.h"

#define ROOT "/data"
#define LIST_DEFAULT 200
#define LIST_MAX 1000
#define LIST_MAX_DEPTH 16
/* Directory entries `list` looks at in all, whatever it returns. */
#define LIST_SCAN_MAX 20000
#define CHUNK (64 * 1024)
#define PROGRESS_EVERY (8 * 1024 * 1024)

/* ---- arguments -------------------------------------------------------------- */

/* The guest path for `path`: relative paths are taken under /data, absolute
 * ones must be /data or below it; `..` is refused. NULL after setting
 * invalid-arguments. The result belongs to the call. */
static const char *resolve(warden_call *call, const char *path) {
    size_t len = strlen(path);
    if (len == 0) {
        warden_invalid(call, "`path` is empty; give a path under " ROOT);
        return NULL;
    }
    const char *rest = path;
    if (path[0] == '/') {
        size_t root = strlen(ROOT);
        if (strncmp(path, ROOT, root) != 0 || (path[root] != '\0' && path[root] != '/')) {
            warden_invalid(call, "`%s` is outside " ROOT "; this plugin only reads files under " ROOT,
                           path);
            return NULL;
        }
        rest = path + root;
    }
    char *out = warden_alloc(call, strlen(ROOT) + len + 2);
    if (!out) {
        warden_failed(call, "out of memory");
        return NULL;
    }
    strcpy(out, ROOT);
    size_t n = strlen(ROOT);
    /* Copy the components, dropping empty ones and `.`, refusing `..`. */
    while (*rest) {
        while (*rest == '/') {
            rest++;
        }
        const char *end = strchr(rest, '/');
        size_t clen = end ? (size_t)(end - rest) : strlen(rest);
        if (clen == 2 && rest[0] == '.' && rest[1] == '.') {
            warden_invalid(call, "`%s`: `..` is not allowed in paths", path);
            return NULL;
        }
        if (clen > 0 && !(clen == 1 && rest[0] == '.')) {
            out[n++] = '/';
            memcpy(out + n, rest, clen);
            n += clen;
        }
        rest += clen;
    }
    out[n] = '\0';
    return out;
}

static bool get_algorithm(warden_call *call, hash_alg *alg) {
    const char *name;
    if (!warden_arg_str_or(call, "algorithm", "sha256", &name)) {
        return false;
    }
    if (hash_parse(name, alg) != 0) {
        warden_invalid(call, "unknown algorithm `%s`; use crc32, adler32, fnv1a64 or sha256", name);
        return false;
    }
    return true;
}

/* ---- hashing a file --------------------------------------------------------------- */

typedef struct {
    char hex[HASH_HEX_MAX];
    uint64_t bytes;
} digest;

/* Streams the file through the hasher; false after setting `failed` with
 * the OS's reason. */
static bool hash_file(warden_call *call, const char *path, hash_alg alg, digest *out) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        warden_failed(call, "cannot open %s: %s", path, strerror(errno));
        return false;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        warden_failed(call, "cannot stat %s: %s", path, strerror(errno));
        close(fd);
        return false;
    }
    if (!S_ISREG(st.st_mode)) {
        warden_failed(call, "%s is not a regular file", path);
        close(fd);
        return false;
    }
    static unsigned char buf[CHUNK];
    hasher h;
    hasher_init(&h, alg);
    uint64_t total = 0, next_report = PROGRESS_EVERY;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            warden_failed(call, "cannot read %s: %s", path, strerror(errno));
            close(fd);
            return false;
        }
        if (n == 0) {
            break;
        }
        hasher_update(&h, buf, (size_t)n);
        total += (uint64_t)n;
        if (total >= next_report) {
            warden_progress((double)total, st.st_size > 0 ? (double)st.st_size : -1, NULL);
            next_report += PROGRESS_EVERY;
        }
    }
    close(fd);
    hasher_finish_hex(&h, out->hex);
    out->bytes = total;
    return true;
}

static void digest_result(warden_call *call, const char *path, hash_alg alg, const digest *d) {
    if (path) {
        warden_text(call, "%s %s  %s (%llu bytes)", hash_name(alg), d->hex, path,
                    (unsigned long long)d->bytes);
    } else {
        warden_text(call, "%s %s (%llu bytes)", hash_name(alg), d->hex, (unsigned long long)d->bytes);
    }
    warden_json j = {0};
    warden_json_object(&j);
    if (path) {
        warden_json_key(&j, "path");
        warden_json_str(&j, path);
    }
    warden_json_key(&j, "algorithm");
    warden_json_str(&j, hash_name(alg));
    warden_json_key(&j, "digest");
    warden_json_str(&j, d->hex);
    warden_json_key(&j, "bytes");
    warden_json_uint(&j, d->bytes);
    warden_json_end(&j);
    warden_structured(call, j.buf.ptr, j.buf.len);
    warden_buf_free(&j.buf);
}

/* ---- tools -------------------------------------------------------------------- */

#define ALGORITHM_SCHEMA                                                            \
    "\"algorithm\": {\"type\": \"string\", \"enum\": " HASH_NAMES_JSON ", "         \
    "\"default\": \"sha256\", \"description\": \"Checksum algorithm (default sha256)\"}"

#define PATH_SCHEMA                                                                 \
    "\"path\": {\"type\": \"string\", \"description\": \"A file under /data: "      \
    "relative to /data, or absolute (/data/...)\"}"

#define DIGEST_OUTPUT_SCHEMA(extra_props, extra_required)                           \
    "{\"type\": \"object\", \"properties\": {"                                      \
    "\"algorithm\": {\"type\": \"string\"}, \"digest\": {\"type\": \"string\"}, "   \
    "\"bytes\": {\"type\": \"integer\", \"minimum\": 0}" extra_props "}, "          \
    "\"required\": [\"algorithm\", \"digest\", \"bytes\"" extra_required "]}"

static void file(warden_call *call) {
    const char *arg, *path;
    hash_alg alg;
    if (!warden_arg_str(call, "path", &arg) || !(path = resolve(call, arg)) ||
        !get_algorithm(call, &alg)) {
        return;
    }
    digest d;
    if (hash_file(call, path, alg, &d)) {
        digest_result(call, path, alg, &d);
    }
}

static void text(warden_call *call) {
    const char *s;
    size_t len;
    hash_alg alg;
    if (!warden_arg_bytes(call, "text", &s, &len) || !get_algorithm(call, &alg)) {
        return;
    }
    hasher h;
    hasher_init(&h, alg);
    hasher_update(&h, s, len);
    digest d = {.bytes = len};
    hasher_finish_hex(&h, d.hex);
    digest_result(call, NULL, alg, &d);
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static void verify(warden_call *call) {
    const char *arg, *path, *expected;
    hash_alg alg;
    if (!warden_arg_str(call, "path", &arg) || !(path = resolve(call, arg)) ||
        !get_algorithm(call, &alg) || !warden_arg_str(call, "expected", &expected)) {
        return;
    }
    /* The expected digest: hex, any case, surrounding spaces ignored. */
    while (*expected == ' ' || *expected == '\t' || *expected == '\n') {
        expected++;
    }
    size_t len = strlen(expected);
    while (len > 0 && (expected[len - 1] == ' ' || expected[len - 1] == '\t' ||
                       expected[len - 1] == '\n')) {
        len--;
    }
    size_t want = hash_hex_len(alg);
    char norm[HASH_HEX_MAX];
    if (len != want) {
        warden_invalid(call, "`expected` must be %zu hex digits for %s, got %zu characters", want,
                       hash_name(alg), len);
        return;
    }
    for (size_t i = 0; i < len; i++) {
        int v = hex_value(expected[i]);
        if (v < 0) {
            warden_invalid(call, "`expected` must be hex digits (0-9, a-f)");
            return;
        }
        norm[i] = "0123456789abcdef"[v];
    }
    norm[len] = '\0';

    digest d;
    if (!hash_file(call, path, alg, &d)) {
        return;
    }
    bool match = strcmp(norm, d.hex) == 0;
    warden_text(call, "%s: %s %s %s (%s %s, %llu bytes)", path, hash_name(alg),
                match ? "matches" : "does NOT match", norm, match ? "digest" : "actual", d.hex,
                (unsigned long long)d.bytes);
    warden_json j = {0};
    warden_json_object(&j);
    warden_json_key(&j, "match");
    warden_json_bool(&j, match);
    warden_json_key(&j, "path");
    warden_json_str(&j, path);
    warden_json_key(&j, "algorithm");
    warden_json_str(&j, hash_name(alg));
    warden_json_key(&j, "expected");
    warden_json_str(&j, norm);
    warden_json_key(&j, "digest");
    warden_json_str(&j, d.hex);
    warden_json_key(&j, "bytes");
    warden_json_uint(&j, d.bytes);
    warden_json_end(&j);
    warden_structured(call, j.buf.ptr, j.buf.len);
    warden_buf_free(&j.buf);
}

/* ---- list ---------------------------------------------------------------------- */

typedef struct {
    warden_call *call;
    int64_t limit;
    int64_t count;
    uint64_t total_bytes;
    long scanned;
    bool truncated;
    bool failed;
    warden_buf lines;
    warden_json json;
} walk;

static int compare_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists `dir` (a guest path) and below; `rel` is its path relative to the
 * root of the listing ("" at the top). */
static void walk_dir(walk *w, const char *dir, const char *rel, int depth) {
    DIR *d = opendir(dir);
    if (!d) {
        if (depth == 0) {
            warden_failed(w->call, "cannot list %s: %s", dir, strerror(errno));
            w->failed = true;
        } else {
            warden_log(WARDEN_LOG_WARN, "skipping %s: %s", dir, strerror(errno));
            w->truncated = true;
        }
        return;
    }
    /* Read the names first (sorted, and only one directory open at a time). */
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    int read_error = 0;
    for (;;) {
        errno = 0;
        if ((e = readdir(d)) == NULL) {
            read_error = errno;
            break;
        }
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            continue;
        }
        if (++w->scanned > LIST_SCAN_MAX) {
            w->truncated = true;
            break;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            char **grown = realloc(names, cap * sizeof *names);
            if (!grown) {
                break;
            }
            names = grown;
        }
        names[n] = strdup(e->d_name);
        if (names[n]) {
            n++;
        }
    }
    closedir(d);
    if (read_error) {
        /* A partial listing of the top directory would mislead; below it, skip. */
        if (depth == 0) {
            warden_failed(w->call, "cannot list %s: %s", dir, strerror(read_error));
            w->failed = true;
        } else {
            warden_log(WARDEN_LOG_WARN, "listing %s stopped: %s", dir, strerror(read_error));
            w->truncated = true;
        }
    }
    if (n > 1) {
        qsort(names, n, sizeof *names, compare_names);
    }

    for (size_t i = 0; i < n; i++) {
        if (w->failed) {
            break;
        }
        warden_buf child = {0}, child_rel = {0};
        warden_buf_printf(&child, "%s/%s", dir, names[i]);
        warden_buf_printf(&child_rel, "%s%s%s", rel, *rel ? "/" : "", names[i]);
        struct stat st;
        if (child.oom || child_rel.oom) {
            warden_failed(w->call, "out of memory");
            w->failed = true;
        } else if (lstat(child.ptr, &st) != 0) {
            warden_log(WARDEN_LOG_WARN, "skipping %s: %s", child.ptr, strerror(errno));
        } else if (S_ISDIR(st.st_mode)) {
            if (depth + 1 < LIST_MAX_DEPTH) {
                walk_dir(w, child.ptr, child_rel.ptr, depth + 1);
            } else {
                w->truncated = true;
            }
        } else if (S_ISREG(st.st_mode)) {
            if (w->count >= w->limit) {
                w->truncated = true;
            } else {
                w->count++;
                w->total_bytes += (uint64_t)st.st_size;
                warden_buf_printf(&w->lines, "%12lld  %s\n", (long long)st.st_size, child_rel.ptr);
                warden_json_object(&w->json);
                warden_json_key(&w->json, "path");
                warden_json_str(&w->json, child_rel.ptr);
                warden_json_key(&w->json, "size");
                warden_json_int(&w->json, (int64_t)st.st_size);
                warden_json_end(&w->json);
            }
        }
        warden_buf_free(&child);
        warden_buf_free(&child_rel);
    }
    for (size_t i = 0; i < n; i++) {
        free(names[i]);
    }
    free(names);
}

static void list(warden_call *call) {
    const char *arg, *dir;
    walk w = {.call = call};
    if (!warden_arg_str_or(call, "path", ROOT, &arg) || !(dir = resolve(call, arg)) ||
        !warden_arg_int_or(call, "limit", LIST_DEFAULT, &w.limit)) {
        return;
    }
    if (w.limit < 1 || w.limit > LIST_MAX) {
        warden_invalid(call, "`limit` must be between 1 and %d", LIST_MAX);
        return;
    }
    warden_json_object(&w.json);
    warden_json_key(&w.json, "root");
    warden_json_str(&w.json, dir);
    warden_json_key(&w.json, "files");
    warden_json_array(&w.json);
    walk_dir(&w, dir, "", 0);
    warden_json_end(&w.json);
    warden_json_key(&w.json, "count");
    warden_json_int(&w.json, w.count);
    warden_json_key(&w.json, "total_bytes");
    warden_json_uint(&w.json, w.total_bytes);
    warden_json_key(&w.json, "truncated");
    warden_json_bool(&w.json, w.truncated);
    warden_json_end(&w.json);
    if (!w.failed) {
        warden_text(call, "%s%lld file(s) under %s, %llu bytes%s", w.lines.ptr ? w.lines.ptr : "",
                    (long long)w.count, dir, (unsigned long long)w.total_bytes,
                    w.truncated ? " (truncated: raise `limit` or list a subdirectory)" : "");
        warden_structured(call, w.json.buf.ptr, w.json.buf.len);
    }
    warden_buf_free(&w.lines);
    warden_buf_free(&w.json.buf);
}

/* ---- the tool table ------------------------------------------------------------ */

WARDEN_TOOLS(
    WARDEN_TOOL_OUT(list,
        "List the files under /data (recursively, sorted, at most `limit`) with their sizes "
        "in bytes. Paths are relative to the listed directory.",
        "{\"type\": \"object\", \"properties\": {"
        "\"path\": {\"type\": \"string\", \"description\": \"Directory to list, under /data "
        "(default /data)\"}, "
        "\"limit\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 1000, \"default\": 200, "
        "\"description\": \"Most files to return\"}}, \"additionalProperties\": false}",
        "{\"type\": \"object\", \"properties\": {"
        "\"root\": {\"type\": \"string\"}, "
        "\"files\": {\"type\": \"array\", \"items\": {\"type\": \"object\", \"properties\": {"
        "\"path\": {\"type\": \"string\"}, \"size\": {\"type\": \"integer\"}}, "
        "\"required\": [\"path\", \"size\"]}}, "
        "\"count\": {\"type\": \"integer\"}, \"total_bytes\": {\"type\": \"integer\"}, "
        "\"truncated\": {\"type\": \"boolean\"}}, "
        "\"required\": [\"root\", \"files\", \"count\", \"total_bytes\", \"truncated\"]}",
        WARDEN_READ_ONLY | WARDEN_IDEMPOTENT | WARDEN_CLOSED_WORLD),
    WARDEN_TOOL_OUT(file,
        "Checksum of a file under /data: crc32, adler32, fnv1a64 or sha256 (default), as "
        "lowercase hex, with the file's size in bytes.",
        "{\"type\": \"object\", \"properties\": {" PATH_SCHEMA ", " ALGORITHM_SCHEMA "}, "
        "\"required\": [\"path\"], \"additionalProperties\": false}",
        DIGEST_OUTPUT_SCHEMA(", \"path\": {\"type\": \"string\"}", ", \"path\""),
        WARDEN_READ_ONLY | WARDEN_IDEMPOTENT | WARDEN_CLOSED_WORLD),
    WARDEN_TOOL_OUT(text,
        "Checksum of a string (its UTF-8 bytes): crc32, adler32, fnv1a64 or sha256 (default), "
        "as lowercase hex.",
        "{\"type\": \"object\", \"properties\": {"
        "\"text\": {\"type\": \"string\", \"description\": \"The text to checksum\"}, "
        ALGORITHM_SCHEMA "}, \"required\": [\"text\"], \"additionalProperties\": false}",
        DIGEST_OUTPUT_SCHEMA("", ""),
        WARDEN_READ_ONLY | WARDEN_IDEMPOTENT | WARDEN_CLOSED_WORLD),
    WARDEN_TOOL_OUT(verify,
        "Check a file under /data against an expected checksum (hex, any case): returns "
        "match true or false with the actual digest.",
        "{\"type\": \"object\", \"properties\": {" PATH_SCHEMA ", " ALGORITHM_SCHEMA ", "
        "\"expected\": {\"type\": \"string\", \"description\": \"The expected digest in hex\"}}, "
        "\"required\": [\"path\", \"expected\"], \"additionalProperties\": false}",
        "{\"type\": \"object\", \"properties\": {"
        "\"match\": {\"type\": \"boolean\"}, \"path\": {\"type\": \"string\"}, "
        "\"algorithm\": {\"type\": \"string\"}, \"expected\": {\"type\": \"string\"}, "
        "\"digest\": {\"type\": \"string\"}, \"bytes\": {\"type\": \"integer\"}}, "
        "\"required\": [\"match\", \"path\", \"algorithm\", \"expected\", \"digest\", \"bytes\"]}",
        WARDEN_READ_ONLY | WARDEN_IDEMPOTENT | WARDEN_CLOSED_WORLD),
);
