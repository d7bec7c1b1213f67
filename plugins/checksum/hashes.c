/* Checksum algorithms: see hashes.h. */
#include "hashes.h"

#include <string.h>

static const char *const NAMES[] = {"crc32", "adler32", "fnv1a64", "sha256"};

int hash_parse(const char *name, hash_alg *alg) {
    for (size_t i = 0; i < sizeof NAMES / sizeof NAMES[0]; i++) {
        if (strcmp(name, NAMES[i]) == 0) {
            *alg = (hash_alg)i;
            return 0;
        }
    }
    return -1;
}

const char *hash_name(hash_alg alg) { return NAMES[alg]; }

size_t hash_hex_len(hash_alg alg) {
    switch (alg) {
    case HASH_CRC32:
    case HASH_ADLER32:
        return 8;
    case HASH_FNV1A64:
        return 16;
    case HASH_SHA256:
        return 64;
    }
    return 0;
}

/* ---- CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320) ---------------- */

static uint32_t crc_table[256];
static int crc_table_ready;

static void crc32_table_init(void) {
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++) {
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        }
        crc_table[n] = c;
    }
    crc_table_ready = 1;
}

static uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t len) {
    if (!crc_table_ready) {
        crc32_table_init();
    }
    crc = ~crc;
    while (len--) {
        crc = crc_table[(crc ^ *p++) & 0xFF] ^ (crc >> 8);
    }
    return ~crc;
}

/* ---- Adler-32 (RFC 1950) ---------------------------------------------------- */

#define ADLER_MOD 65521u
/* Largest n such that 255n(n+1)/2 + (n+1)(MOD-1) <= 2^32-1 (zlib's NMAX). */
#define ADLER_NMAX 5552

static void adler32_update(uint32_t *a, uint32_t *b, const uint8_t *p, size_t len) {
    while (len > 0) {
        size_t n = len < ADLER_NMAX ? len : ADLER_NMAX;
        len -= n;
        while (n--) {
            *a += *p++;
            *b += *a;
        }
        *a %= ADLER_MOD;
        *b %= ADLER_MOD;
    }
}

/* ---- FNV-1a, 64-bit ------------------------------------------------------- */

#define FNV64_OFFSET 0xcbf29ce484222325ull
#define FNV64_PRIME 0x100000001b3ull

static uint64_t fnv1a64_update(uint64_t h, const uint8_t *p, size_t len) {
    while (len--) {
        h ^= *p++;
        h *= FNV64_PRIME;
    }
    return h;
}

/* ---- SHA-256 (FIPS 180-4) --------------------------------------------------- */

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_block(uint32_t s[8], const uint8_t *p) {
    uint32_t w[64];
    for (int i = 0; i < 16; i++) {
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
    }
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROTR(w[i - 15], 7) ^ ROTR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROTR(w[i - 2], 17) ^ ROTR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = s[0], b = s[1], c = s[2], d = s[3], e = s[4], f = s[5], g = s[6], h = s[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = h + (ROTR(e, 6) ^ ROTR(e, 11) ^ ROTR(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
        uint32_t t2 = (ROTR(a, 2) ^ ROTR(a, 13) ^ ROTR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        h = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    s[0] += a;
    s[1] += b;
    s[2] += c;
    s[3] += d;
    s[4] += e;
    s[5] += f;
    s[6] += g;
    s[7] += h;
}

static void sha256_init(sha256_ctx *c) {
    static const uint32_t IV[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(c->state, IV, sizeof IV);
    c->bytes = 0;
    c->fill = 0;
}

static void sha256_update(sha256_ctx *c, const uint8_t *p, size_t len) {
    c->bytes += len;
    if (c->fill > 0) {
        size_t n = 64 - c->fill < len ? 64 - c->fill : len;
        memcpy(c->block + c->fill, p, n);
        c->fill += n;
        p += n;
        len -= n;
        if (c->fill < 64) {
            return;
        }
        sha256_block(c->state, c->block);
        c->fill = 0;
    }
    for (; len >= 64; p += 64, len -= 64) {
        sha256_block(c->state, p);
    }
    memcpy(c->block, p, len);
    c->fill = len;
}

static void sha256_final(sha256_ctx *c, uint8_t out[32]) {
    uint64_t bits = c->bytes * 8;
    c->block[c->fill++] = 0x80;
    if (c->fill > 56) {
        memset(c->block + c->fill, 0, 64 - c->fill);
        sha256_block(c->state, c->block);
        c->fill = 0;
    }
    memset(c->block + c->fill, 0, 56 - c->fill);
    for (int i = 0; i < 8; i++) {
        c->block[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
    }
    sha256_block(c->state, c->block);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(c->state[i] >> 24);
        out[4 * i + 1] = (uint8_t)(c->state[i] >> 16);
        out[4 * i + 2] = (uint8_t)(c->state[i] >> 8);
        out[4 * i + 3] = (uint8_t)c->state[i];
    }
}

/* ---- the common interface ----------------------------------------------------- */

void hasher_init(hasher *h, hash_alg alg) {
    h->alg = alg;
    switch (alg) {
    case HASH_CRC32:
        h->u.crc32 = 0;
        break;
    case HASH_ADLER32:
        h->u.adler32.a = 1;
        h->u.adler32.b = 0;
        break;
    case HASH_FNV1A64:
        h->u.fnv1a64 = FNV64_OFFSET;
        break;
    case HASH_SHA256:
        sha256_init(&h->u.sha256);
        break;
    }
}

void hasher_update(hasher *h, const void *data, size_t len) {
    const uint8_t *p = data;
    switch (h->alg) {
    case HASH_CRC32:
        h->u.crc32 = crc32_update(h->u.crc32, p, len);
        break;
    case HASH_ADLER32:
        adler32_update(&h->u.adler32.a, &h->u.adler32.b, p, len);
        break;
    case HASH_FNV1A64:
        h->u.fnv1a64 = fnv1a64_update(h->u.fnv1a64, p, len);
        break;
    case HASH_SHA256:
        sha256_update(&h->u.sha256, p, len);
        break;
    }
}

static void to_hex(const uint8_t *bytes, size_t n, char *hex) {
    static const char DIGITS[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        hex[2 * i] = DIGITS[bytes[i] >> 4];
        hex[2 * i + 1] = DIGITS[bytes[i] & 15];
    }
    hex[2 * n] = '\0';
}

static void be_hex(uint64_t v, size_t bytes, char *hex) {
    uint8_t b[8];
    for (size_t i = 0; i < bytes; i++) {
        b[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
    }
    to_hex(b, bytes, hex);
}

void hasher_finish_hex(hasher *h, char hex[HASH_HEX_MAX]) {
    switch (h->alg) {
    case HASH_CRC32:
        be_hex(h->u.crc32, 4, hex);
        break;
    case HASH_ADLER32:
        be_hex((uint64_t)h->u.adler32.b << 16 | h->u.adler32.a, 4, hex);
        break;
    case HASH_FNV1A64:
        be_hex(h->u.fnv1a64, 8, hex);
        break;
    case HASH_SHA256: {
        uint8_t out[32];
        sha256_final(&h->u.sha256, out);
        to_hex(out, 32, hex);
        break;
    }
    }
}
