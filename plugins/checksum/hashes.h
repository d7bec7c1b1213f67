/* Checksum algorithms for the `checksum` plugin: CRC-32 (zlib's), Adler-32,
 * FNV-1a 64-bit and SHA-256, each streaming (init, update any number of
 * times, finish). No external libraries. */
#ifndef CHECKSUM_HASHES_H
#define CHECKSUM_HASHES_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    HASH_CRC32,
    HASH_ADLER32,
    HASH_FNV1A64,
    HASH_SHA256,
} hash_alg;

/* The algorithm names, as the tools' schemas list them. */
#define HASH_NAMES_JSON "[\"crc32\", \"adler32\", \"fnv1a64\", \"sha256\"]"

typedef struct {
    uint32_t state[8];
    uint64_t bytes;
    uint8_t block[64];
    size_t fill;
} sha256_ctx;

typedef struct {
    hash_alg alg;
    union {
        uint32_t crc32;
        struct {
            uint32_t a, b;
        } adler32;
        uint64_t fnv1a64;
        sha256_ctx sha256;
    } u;
} hasher;

/* Longest digest in hex (SHA-256), plus the terminating NUL. */
#define HASH_HEX_MAX 65

/* Looks an algorithm up by name; 0 on success, -1 for an unknown name. */
int hash_parse(const char *name, hash_alg *alg);
const char *hash_name(hash_alg alg);
/* Digest length in hex digits. */
size_t hash_hex_len(hash_alg alg);

void hasher_init(hasher *h, hash_alg alg);
void hasher_update(hasher *h, const void *data, size_t len);
/* Writes the digest as lowercase hex (big-endian for the 32/64-bit sums, as
 * `printf("%08x", zlib.crc32(...))` prints them) and a NUL into `hex`. */
void hasher_finish_hex(hasher *h, char hex[HASH_HEX_MAX]);

#endif
