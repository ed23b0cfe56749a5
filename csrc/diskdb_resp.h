/*
 * diskdb_resp: a zero-copy, incremental RESP request parser (C99, freestanding).
 *
 * The caller owns the input buffer and the output arrays; the parser keeps no state between calls
 * and allocates nothing. The full rules, shared with the Rust parser, are in docs/protocol.md.
 */
#ifndef DISKDB_RESP_H
#define DISKDB_RESP_H

#include <stddef.h>
#include <stdint.h>

/* Return codes of diskdb_parse_request (a positive value is the number of bytes consumed). */
#define DISKDB_INCOMPLETE (-1)      /* need more input */
#define DISKDB_NEED_ARENA (-2)      /* output arrays too small: see need_args / need_scratch */
#define DISKDB_E_INVALID_MBULK (-10) /* invalid multibulk length */
#define DISKDB_E_INVALID_BULK (-11)  /* invalid bulk length */
#define DISKDB_E_EXPECTED_DOLLAR (-12) /* expected '$', got err_byte */
#define DISKDB_E_UNBALANCED (-13)    /* unbalanced quotes in request */
#define DISKDB_E_TOO_BIG_INLINE (-14) /* too big inline request */
#define DISKDB_E_TOO_BIG_MBULK (-15) /* too big mbulk count string */
#define DISKDB_E_TOO_BIG_BULK (-16)  /* too big bulk count string */

/* One argument: a slice of the input buffer, or of the scratch area for unescaped inline text. */
typedef struct {
    const uint8_t *ptr;
    size_t len;
} diskdb_arg;

typedef struct {
    uint64_t max_bulk_len; /* Redis: proto-max-bulk-len, 512 MB */
    uint64_t max_args;     /* 1024*1024 (Redis 7.0: INT_MAX; see docs/protocol.md) */
    size_t max_inline;     /* Redis: PROTO_INLINE_MAX_SIZE, 64 KB */
} diskdb_limits;

typedef struct {
    /* in: caller-provided arena */
    diskdb_arg *args;
    size_t args_cap;
    uint8_t *scratch;
    size_t scratch_cap;
    /* out */
    size_t argc;         /* arguments of the parsed request (may be 0) */
    size_t need_args;    /* on DISKDB_NEED_ARENA: required args_cap */
    size_t need_scratch; /* on DISKDB_NEED_ARENA: required scratch_cap */
    uint8_t err_byte;    /* on DISKDB_E_EXPECTED_DOLLAR: the byte found instead of '$' */
} diskdb_request;

/*
 * Parses one request from buf[0..len). Returns bytes consumed (> 0) for a complete request,
 * or one of the negative codes above. Never reads outside buf[0..len), never writes outside
 * the arena arrays, and never overflows an integer, whatever the input.
 */
ptrdiff_t diskdb_parse_request(const uint8_t *buf, size_t len, const diskdb_limits *limits,
                               diskdb_request *req);

#endif
