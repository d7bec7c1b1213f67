/* Warden plugin SDK for C: what warden.c, warden_json.c and warden_client.c
 * share beyond warden.h. Internal; not part of the API. */
#ifndef WARDEN_INTERNAL_H
#define WARDEN_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

/* U+FFFD, which stands in for each byte of invalid UTF-8. */
#define WARDEN_UTF8_REPLACEMENT "\xEF\xBF\xBD"

/* Length of the valid UTF-8 sequence at p (1-4), or 0 when it is invalid or
 * cut short by n (bytes left, at least 1). Defined in warden_json.c. */
size_t warden_utf8_seq(const unsigned char *p, size_t n);

#ifndef WARDEN_SDK_NO_BINDINGS
#include "plugin.h"

/* Defined in warden.c. A malloc'ed copy of `len` bytes as valid UTF-8
 * (invalid sequences become U+FFFD), for the canonical ABI, which traps on
 * invalid UTF-8; empty is NULL, length 0, as the generated *_dup make it.
 * False when out of memory (then `out` is empty). */
bool warden_abi_string(plugin_string_t *out, const char *s, size_t len);
/* The same for a C string (NULL counts as ""), and for an optional one. */
bool warden_abi_cstr(plugin_string_t *out, const char *s);
bool warden_abi_opt_cstr(plugin_option_string_t *out, const char *s);
#endif

#endif
