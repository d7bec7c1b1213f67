/* Warden plugin SDK for C: what warden.c and warden_json.c share beyond
 * warden.h. Internal; not part of the API. */
#ifndef WARDEN_INTERNAL_H
#define WARDEN_INTERNAL_H

#include <stddef.h>

/* U+FFFD, which stands in for each byte of invalid UTF-8. */
#define WARDEN_UTF8_REPLACEMENT "\xEF\xBF\xBD"

/* Length of the valid UTF-8 sequence at p (1-4), or 0 when it is invalid or
 * cut short by n (bytes left, at least 1). Defined in warden_json.c. */
size_t warden_utf8_seq(const unsigned char *p, size_t n);

#endif
