/*
 * Tests for diskdb_resp.c: a table of requests with their expected outcome, each also checked
 * under a growing arena, on every strict prefix and with bytes appended; programmatic tests for
 * limits, string2ll, the arena protocol and pipelining; and a differential fuzz against a
 * transcription of Redis's own code over every prefix of generated inputs.
 *
 * Every parse runs on exact-size heap copies of the input and of the arena, so that
 * AddressSanitizer (make sanitize) catches any read or write outside them.
 */
#include "diskdb_resp.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INC DISKDB_INCOMPLETE
#define ARENA DISKDB_NEED_ARENA
#define E_MBULK DISKDB_E_INVALID_MBULK
#define E_BULK DISKDB_E_INVALID_BULK
#define E_DOLLAR DISKDB_E_EXPECTED_DOLLAR
#define E_UNBAL DISKDB_E_UNBALANCED
#define E_INLINE DISKDB_E_TOO_BIG_INLINE
#define E_BIGMB DISKDB_E_TOO_BIG_MBULK
#define E_BIGB DISKDB_E_TOO_BIG_BULK

static const diskdb_limits REDIS = {512ull * 1024 * 1024, 1024 * 1024, 64 * 1024};
static const diskdb_limits SMALL = {10, 5, 16};
static const diskdb_limits UNLIMITED = {UINT64_MAX, UINT64_MAX, SIZE_MAX};

static int passed, failed;

/* ---------------------------------------------------------------- outcomes */

typedef struct {
    const char *s;
    size_t n;
} bytes;
#define B(x) {x, sizeof(x) - 1}

/* What one parse produced, with the arguments copied out. */
typedef struct {
    ptrdiff_t ret;
    size_t argc, need_args, need_scratch;
    uint8_t err_byte;
    size_t *lens;
    uint8_t *data;
    size_t data_len, lens_cap, data_cap;
    const char *bad; /* a broken invariant, if any */
} outcome;

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (p == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

static void o_init(outcome *o)
{
    memset(o, 0, sizeof *o);
}

static void o_free(outcome *o)
{
    free(o->lens);
    free(o->data);
    o_init(o);
}

static void o_push(outcome *o, uint8_t c)
{
    if (o->data_len == o->data_cap) {
        o->data_cap = o->data_cap * 2 + 64;
        o->data = xrealloc(o->data, o->data_cap);
    }
    o->data[o->data_len++] = c;
}

static void o_arg_end(outcome *o, size_t len)
{
    if (o->argc == o->lens_cap) {
        o->lens_cap = o->lens_cap * 2 + 8;
        o->lens = xrealloc(o->lens, o->lens_cap * sizeof *o->lens);
    }
    o->lens[o->argc++] = len;
}

static void o_arg(outcome *o, const uint8_t *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        o_push(o, p[i]);
    o_arg_end(o, n);
}

static int o_eq(const outcome *a, const outcome *b)
{
    if (a->ret != b->ret || a->argc != b->argc || a->err_byte != b->err_byte ||
        a->data_len != b->data_len)
        return 0;
    if (a->ret == ARENA && (a->need_args != b->need_args || a->need_scratch != b->need_scratch))
        return 0;
    if (a->argc && memcmp(a->lens, b->lens, a->argc * sizeof *a->lens) != 0)
        return 0;
    return a->data_len == 0 || memcmp(a->data, b->data, a->data_len) == 0;
}

static const char *code_name(ptrdiff_t r)
{
    switch (r) {
    case INC: return "INCOMPLETE";
    case ARENA: return "NEED_ARENA";
    case E_MBULK: return "INVALID_MBULK";
    case E_BULK: return "INVALID_BULK";
    case E_DOLLAR: return "EXPECTED_DOLLAR";
    case E_UNBAL: return "UNBALANCED";
    case E_INLINE: return "TOO_BIG_INLINE";
    case E_BIGMB: return "TOO_BIG_MBULK";
    case E_BIGB: return "TOO_BIG_BULK";
    default: return r > 0 ? "consumed" : "?";
    }
}

static void show_bytes(const uint8_t *p, size_t n)
{
    size_t i;
    putchar('"');
    for (i = 0; i < n && i < 160; i++) {
        if (p[i] == '"' || p[i] == '\\')
            printf("\\%c", p[i]);
        else if (p[i] >= 0x20 && p[i] < 0x7f)
            putchar(p[i]);
        else
            printf("\\x%02x", p[i]);
    }
    putchar('"');
    if (n > 160)
        printf("... (%zu bytes)", n);
}

static void show_outcome(const char *label, const outcome *o)
{
    size_t i, off = 0;
    printf("    %s: %s %td", label, code_name(o->ret), o->ret);
    if (o->ret == E_DOLLAR)
        printf(" err_byte=0x%02x", o->err_byte);
    if (o->ret == ARENA)
        printf(" need_args=%zu need_scratch=%zu", o->need_args, o->need_scratch);
    if (o->bad)
        printf(" BROKEN: %s", o->bad);
    for (i = 0; i < o->argc && i < 10; i++) {
        printf(i ? ", " : " [");
        show_bytes(o->lens[i] ? o->data + off : (const uint8_t *)"", o->lens[i]);
        off += o->lens[i];
    }
    printf(o->argc > 10 ? ", ...]\n" : o->argc ? "]\n" : "\n");
}

/* ---------------------------------------------------------------- running the parser */

static int within(const uint8_t *p, size_t n, const uint8_t *base, size_t cap)
{
    return base != NULL && p >= base && p <= base + cap && n <= (size_t)(base + cap - p);
}

/* One call with exact-size copies; checks the invariants every call must keep. */
static void run_once(const uint8_t *in, size_t len, const diskdb_limits *lim, size_t args_cap,
                     size_t scratch_cap, outcome *o)
{
    uint8_t *buf = len ? xrealloc(NULL, len) : NULL;
    diskdb_arg *args = args_cap ? xrealloc(NULL, args_cap * sizeof *args) : NULL;
    uint8_t *scratch = scratch_cap ? xrealloc(NULL, scratch_cap) : NULL;
    diskdb_request req;
    size_t i;

    o_init(o);
    if (len)
        memcpy(buf, in, len);
    if (args_cap)
        memset(args, 0xa5, args_cap * sizeof *args);
    if (scratch_cap)
        memset(scratch, 0xa5, scratch_cap);
    memset(&req, 0x5a, sizeof req);
    req.args = args;
    req.args_cap = args_cap;
    req.scratch = scratch;
    req.scratch_cap = scratch_cap;

    o->ret = diskdb_parse_request(buf, len, lim, &req);
    o->err_byte = req.err_byte;
    o->need_args = req.need_args;
    o->need_scratch = req.need_scratch;

    if (o->ret > 0) {
        if ((size_t)o->ret > len)
            o->bad = "consumed more than len";
        else if (req.argc > args_cap)
            o->bad = "argc > args_cap";
        for (i = 0; !o->bad && i < req.argc; i++) {
            const diskdb_arg *a = &args[i];
            if (a->ptr == NULL)
                o->bad = "NULL argument pointer";
            else if (buf[0] == '*' && !within(a->ptr, a->len, buf, (size_t)o->ret))
                o->bad = "multibulk argument not a slice of the request";
            else if (buf[0] != '*' && a->len && !within(a->ptr, a->len, scratch, scratch_cap))
                o->bad = "inline argument not in scratch";
            else
                o_arg(o, a->ptr, a->len);
        }
        if (req.need_args || req.need_scratch)
            o->bad = "need_* set on success";
    } else {
        if (req.argc != 0)
            o->bad = "argc != 0 without a request";
        if (o->ret == ARENA) {
            if (req.need_args <= args_cap && req.need_scratch <= scratch_cap)
                o->bad = "NEED_ARENA without a need beyond the arena";
            for (i = 0; i < args_cap * sizeof *args; i++)
                if (((uint8_t *)args)[i] != 0xa5)
                    o->bad = "NEED_ARENA wrote into args";
            for (i = 0; i < scratch_cap; i++)
                if (scratch[i] != 0xa5)
                    o->bad = "NEED_ARENA wrote into scratch";
        } else if (req.need_args || req.need_scratch) {
            o->bad = "need_* set without NEED_ARENA";
        }
    }
    if (o->ret != E_DOLLAR && req.err_byte != 0)
        o->bad = "err_byte set without EXPECTED_DOLLAR";
    free(buf);
    free(args);
    free(scratch);
}

/* The caller's loop: start with no arena, grow it to what NEED_ARENA asks, call again. */
static void run_grow(const uint8_t *in, size_t len, const diskdb_limits *lim, outcome *o)
{
    size_t args_cap = 0, scratch_cap = 0, rounds = 0;

    for (;;) {
        run_once(in, len, lim, args_cap, scratch_cap, o);
        if (o->ret != ARENA || o->bad)
            return;
        if (++rounds > 1) {
            o->bad = "NEED_ARENA twice in a row";
            return;
        }
        if (o->need_args > ((size_t)1 << 22) || o->need_scratch > ((size_t)1 << 26))
            return; /* too big to allocate here: leave the NEED_ARENA as the outcome */
        if (o->need_args > args_cap)
            args_cap = o->need_args;
        if (o->need_scratch > scratch_cap)
            scratch_cap = o->need_scratch;
        o_free(o);
    }
}

#define ROOMY_ARGS 64
static void run_roomy(const uint8_t *in, size_t len, const diskdb_limits *lim, outcome *o)
{
    run_once(in, len, lim, ROOMY_ARGS, len + 1, o);
}

static void report(const char *name, int ok)
{
    if (ok) {
        passed++;
    } else {
        failed++;
        printf("FAIL %s\n", name);
    }
}

/* ---------------------------------------------------------------- the table */

#define ALL 0       /* .ret: the whole input is one request */
#define NO_PREFIX 1 /* a prefix may legitimately fail differently (see the case) */

typedef struct {
    const char *name;
    bytes in;
    const diskdb_limits *lim; /* NULL: Redis defaults */
    ptrdiff_t ret;            /* ALL (0): the whole input is one request */
    bytes argv[8];            /* the expected arguments, up to the first with s == NULL */
    uint8_t err_byte;
    size_t need_args, need_scratch; /* with ret == ARENA, under the roomy arena */
    int flags;
} tcase;

static const tcase cases[] = {
    /* multibulk: valid */
    {"mb ping", B("*1\r\n$4\r\nPING\r\n"), .argv = {B("PING")}},
    {"mb set", B("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n"),
     .argv = {B("SET"), B("key"), B("value")}},
    {"mb empty bulk", B("*2\r\n$0\r\n\r\n$1\r\nx\r\n"), .argv = {B(""), B("x")}},
    {"mb binary bulk", B("*1\r\n$6\r\na\r\n\0\"b\r\n"), .argv = {B("a\r\n\0\"b")}},
    {"mb data with '$' and '*'", B("*2\r\n$2\r\n*1\r\n$2\r\n$3\r\n"), .argv = {B("*1"), B("$3")}},
    {"mb *0", B("*0\r\n"), .ret = ALL},
    {"mb *-1", B("*-1\r\n"), .ret = ALL},
    {"mb *-5 then more", B("*-5\r\nPING\r\n"), .ret = 5},
    {"mb count INT64_MIN", B("*-9223372036854775808\r\n"), .ret = ALL},
    {"mb pipelined", B("*1\r\n$1\r\na\r\n*1\r\n$1\r\nb\r\n"), .ret = 11, .argv = {B("a")}},
    {"mb 2 args, trailing request", B("*2\r\n$1\r\na\r\n$1\r\nb\r\nPING\r\n"), .ret = 18,
     .argv = {B("a"), B("b")}},
    /* Redis leniencies: the byte after a header's '\r', and the 2 bytes after a bulk, are not
     * checked. */
    {"lenient: count line \\rX", B("*1\rX$3\r\nfoo\r\n"), .argv = {B("foo")}},
    {"lenient: bulk header \\r?", B("*1\r\n$3\r?foo\r\n"), .argv = {B("foo")}},
    {"lenient: bulk trailer XY", B("*1\r\n$3\r\nfooXY"), .argv = {B("foo")}},
    {"lenient: \\r\\r everywhere", B("*2\r\r$1\r\raXY$1\r\rbXY"), .argv = {B("a"), B("b")}},
    {"lenient: $0 trailer", B("*1\r\n$0\r\nXX"), .argv = {B("")}},
    {"mb max_args at limit", B("*5\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n"),
     &SMALL, .argv = {B("a"), B("b"), B("c"), B("d"), B("e")}},
    {"mb max_bulk_len at limit", B("*1\r\n$10\r\n0123456789\r\n"), &SMALL,
     .argv = {B("0123456789")}},

    /* multibulk: incomplete */
    {"mb *", B("*"), .ret = INC},
    {"mb *1", B("*1"), .ret = INC},
    {"mb *1\\r", B("*1\r"), .ret = INC},
    {"mb *1\\n (no \\r)", B("*1\n"), .ret = INC},
    {"mb no header byte", B("*1\r\n"), .ret = INC},
    {"mb header without \\r", B("*1\r\n$3"), .ret = INC},
    {"mb header \\r needs a byte", B("*1\r\n$3\r"), .ret = INC},
    {"mb '$' not checked before \\r", B("*1\r\nx"), .ret = INC},
    {"mb short data", B("*1\r\n$3\r\nfo"), .ret = INC},
    {"mb missing trailer", B("*1\r\n$3\r\nfoo"), .ret = INC},
    {"mb half trailer", B("*1\r\n$3\r\nfoo\r"), .ret = INC},
    {"mb second arg missing", B("*2\r\n$1\r\na\r\n"), .ret = INC},
    {"mb huge bulk announced", B("*1\r\n$9223372036854775807\r\n"), &UNLIMITED, .ret = INC},
    {"mb max_bulk_len 512MB", B("*1\r\n$536870912\r\n"), .ret = INC},
    {"mb max_args at limit, body missing", B("*5\r\n"), &SMALL, .ret = INC},
    /* a NUL before the '\r' hides it (strchr) */
    {"NUL in count line", B("*1\0\r\n$1\r\na\r\n"), .ret = INC},
    {"NUL in bulk header", B("*1\r\n$1\0\r\na\r\n"), .ret = INC},
    {"NUL as header byte", B("*1\r\n\0$1\r\na\r\n"), .ret = INC},
    {"NUL in bulk data is data", B("*1\r\n$3\r\n\0\0\0\r\n"), .argv = {B("\0\0\0")}},

    /* multibulk: invalid count */
    {"count x", B("*x\r\n"), .ret = E_MBULK},
    {"count empty", B("*\r\n"), .ret = E_MBULK},
    {"count -", B("*-\r\n"), .ret = E_MBULK},
    {"count -0", B("*-0\r\n"), .ret = E_MBULK},
    {"count 00", B("*00\r\n"), .ret = E_MBULK},
    {"count 01", B("*01\r\n"), .ret = E_MBULK},
    {"count +1", B("*+1\r\n"), .ret = E_MBULK},
    {"count ' 1'", B("* 1\r\n"), .ret = E_MBULK},
    {"count '1 '", B("*1 \r\n"), .ret = E_MBULK},
    {"count 1\\n", B("*1\n\r\n"), .ret = E_MBULK},
    {"count INT64_MAX+1", B("*9223372036854775808\r\n"), &UNLIMITED, .ret = E_MBULK},
    {"count INT64_MIN-1", B("*-9223372036854775809\r\n"), .ret = E_MBULK},
    {"count > max_args", B("*6\r\n"), &SMALL, .ret = E_MBULK},
    {"count > 1024*1024", B("*1048577\r\n"), .ret = E_MBULK},
    {"count error before body", B("*x\r\n$1\r\n"), .ret = E_MBULK},

    /* multibulk: invalid bulk length */
    {"bulk -1", B("*1\r\n$-1\r\n"), .ret = E_BULK},
    {"bulk empty", B("*1\r\n$\r\n"), .ret = E_BULK},
    {"bulk -0", B("*1\r\n$-0\r\n"), .ret = E_BULK},
    {"bulk 01", B("*1\r\n$01\r\n"), .ret = E_BULK},
    {"bulk +1", B("*1\r\n$+1\r\n"), .ret = E_BULK},
    {"bulk ' 1'", B("*1\r\n$ 1\r\n"), .ret = E_BULK},
    {"bulk '1 '", B("*1\r\n$1 \r\n"), .ret = E_BULK},
    {"bulk x", B("*1\r\n$x\r\n"), .ret = E_BULK},
    {"bulk INT64_MAX+1", B("*1\r\n$9223372036854775808\r\n"), &UNLIMITED, .ret = E_BULK},
    {"bulk > max_bulk_len", B("*1\r\n$11\r\n"), &SMALL, .ret = E_BULK},
    {"bulk > 512MB", B("*1\r\n$536870913\r\n"), .ret = E_BULK},
    {"bulk error, rest missing", B("*3\r\n$x\r\n"), .ret = E_BULK},
    {"bulk error in 2nd arg", B("*2\r\n$1\r\na\r\n$-5\r\n"), .ret = E_BULK},

    /* multibulk: expected '$' */
    {"dollar: f", B("*1\r\nfoo\r\n"), .ret = E_DOLLAR, .err_byte = 'f'},
    {"dollar: empty header", B("*1\r\n\r\n"), .ret = E_DOLLAR, .err_byte = '\r'},
    {"dollar: *", B("*1\r\n*1\r\n"), .ret = E_DOLLAR, .err_byte = '*'},
    {"dollar: space", B("*1\r\n $1\r\n"), .ret = E_DOLLAR, .err_byte = ' '},
    {"dollar: \\n", B("*1\r\n\n$1\r\n"), .ret = E_DOLLAR, .err_byte = '\n'},
    {"dollar: 0xff", B("*1\r\n\xff\r\n"), .ret = E_DOLLAR, .err_byte = 0xff},
    {"dollar: in 2nd arg", B("*2\r\n$3\r\nfoo\r\nbar\r\n"), .ret = E_DOLLAR, .err_byte = 'b'},
    {"dollar: ':' after a good arg", B("*2\r\n$1\r\na\r\n:1\r\n"), .ret = E_DOLLAR,
     .err_byte = ':'},

    /* multibulk: too big header lines (max_inline 16) */
    {"mbulk count 16 bytes, no \\r", B("*123456789012345"), &SMALL, .ret = INC},
    {"mbulk count 17 bytes, no \\r", B("*1234567890123456"), &SMALL, .ret = E_BIGMB},
    {"mbulk NUL hides \\r, 17 bytes", B("*1\0\r\n$1\r\na\r\nxyzab"), &SMALL, .ret = E_BIGMB},
    {"mbulk count \\r after 16 bytes", B("*000000000000000000000\r\n"), &SMALL, .ret = E_MBULK,
     .flags = NO_PREFIX},
    {"bulk header 16 bytes, no \\r", B("*1\r\n$123456789012345"), &SMALL, .ret = INC},
    {"bulk header 17 bytes, no \\r", B("*1\r\n$1234567890123456"), &SMALL, .ret = E_BIGB},
    {"bulk header of 2nd arg too big", B("*2\r\n$1\r\na\r\n$1234567890123456"), &SMALL,
     .ret = E_BIGB},
    {"bulk header \\r after 16 bytes", B("*1\r\n$00000000000000000000\r\n"), &SMALL,
     .ret = E_BULK, .flags = NO_PREFIX},
    {"bulk header far \\r, no '$'", B("*1\r\nxxxxxxxxxxxxxxxxxxxx\r\n"), &SMALL, .ret = E_DOLLAR,
     .err_byte = 'x', .flags = NO_PREFIX},

    /* multibulk: arena too small (roomy arena has 64 args) */
    {"arena: *65", B("*65\r\n"), .ret = ARENA, .need_args = 65},
    {"arena: *1048576", B("*1048576\r\n$1\r\n"), .ret = ARENA, .need_args = 1048576},

    /* inline: valid */
    {"inline PING\\r\\n", B("PING\r\n"), .argv = {B("PING")}},
    {"inline PING\\n", B("PING\n"), .argv = {B("PING")}},
    {"inline empty \\r\\n", B("\r\n"), .ret = ALL},
    {"inline empty \\n", B("\n"), .ret = ALL},
    {"inline only spaces", B("   \t \r\n"), .ret = ALL},
    {"inline \\r line", B("\r\r\n"), .ret = ALL},
    {"inline set", B("set a b\r\n"), .argv = {B("set"), B("a"), B("b")}},
    {"inline spacing", B("  set   a\tb  \r\n"), .argv = {B("set"), B("a"), B("b")}},
    {"inline inner \\r", B("a\rb\r\n"), .argv = {B("a"), B("b")}},
    {"inline one trailing \\r dropped", B("a\r\r\n"), .argv = {B("a")}},
    {"inline pipelined", B("PING\r\nPING\r\n"), .ret = 6, .argv = {B("PING")}},
    {"inline starting with $", B("$3\r\n"), .argv = {B("$3")}},
    {"inline starting with space *", B(" *1\r\n"), .argv = {B("*1")}},
    {"inline unquoted backslash", B("a\\nb\n"), .argv = {B("a\\nb")}},
    {"inline bytes >= 0x80", B("\xff\xfe \x80\n"), .argv = {B("\xff\xfe"), B("\x80")}},
    /* Redis: \v and \f are skipped between tokens but do not end an unquoted one */
    {"inline \\v \\f inside a token", B("\va\fb\v\n"), .argv = {B("a\fb\v")}},
    {"inline \\v \\f between tokens", B("a \v\f b\n"), .argv = {B("a"), B("b")}},
    {"inline \\v after closing quote", B("'a'\vb\fc\n"), .argv = {B("a"), B("b\fc")}},
    {"dq: hello world", B("\"hello world\"\r\n"), .argv = {B("hello world")}},
    {"dq: empty", B("\"\"\n"), .argv = {B("")}},
    {"dq/sq: two empty", B("'' \"\"\n"), .argv = {B(""), B("")}},
    {"dq: \\xHH", B("\"\\x41\\x4a\\x6B\\xfF\"\n"), .argv = {B("AJk\xff")}},
    {"dq: \\x00", B("\"\\x00\"\n"), .argv = {B("\0")}},
    {"dq: \\xZZ", B("\"\\xZZ\"\n"), .argv = {B("xZZ")}},
    {"dq: \\x4 at end", B("\"\\x4\"\n"), .argv = {B("x4")}},
    {"dq: \\x4g", B("\"\\x4g\"\n"), .argv = {B("x4g")}},
    {"dq: \\X41", B("\"\\X41\"\n"), .argv = {B("X41")}},
    {"dq: escapes", B("\"\\n\\r\\t\\b\\a\\\\\\\"\\q\\'\"\n"), .argv = {B("\n\r\t\b\a\\\"q'")}},
    {"dq: raw \\r inside", B("\"a\r\"\r\n"), .argv = {B("a\r")}},
    {"dq: single quote inside", B("\"a'b\"\n"), .argv = {B("a'b")}},
    {"dq: then tab", B("\"a\"\tb\n"), .argv = {B("a"), B("b")}},
    {"dq: then \\v", B("\"a\"\vb\n"), .argv = {B("a"), B("b")}},
    {"dq: then \\r\\n", B("\"a\"\r\n"), .argv = {B("a")}},
    {"dq: then \\r\\r\\n", B("\"a\"\r\r\n"), .argv = {B("a")}},
    {"sq: \\'", B("'a\\'b'\n"), .argv = {B("a'b")}},
    {"sq: other escapes literal", B("'a\\nb\\x41'\n"), .argv = {B("a\\nb\\x41")}},
    {"sq: double quote inside", B("'a\"b'\n"), .argv = {B("a\"b")}},
    {"sq: \\\\ stays", B("'a\\\\b'\n"), .argv = {B("a\\\\b")}},
    {"quote opens mid-token: a\"b c\"", B("a\"b c\"\n"), .argv = {B("ab c")}},
    {"quote opens mid-token: a'b c'", B("a'b c'\n"), .argv = {B("ab c")}},
    {"quote mid-token then space", B("a\"\" b\n"), .argv = {B("a"), B("b")}},
    {"mixed", B("SET \"k 1\" 'v''' x\n"), .ret = E_UNBAL},
    {"mixed ok", B("SET \"k 1\" 'v\\'' x\n"), .argv = {B("SET"), B("k 1"), B("v'"), B("x")}},

    /* inline: unbalanced */
    {"unbal: \"a\"b", B("\"a\"b\n"), .ret = E_UNBAL},
    {"unbal: \"a\"\"b\"", B("\"a\"\"b\"\n"), .ret = E_UNBAL},
    {"unbal: open \"", B("\"a\n"), .ret = E_UNBAL},
    {"unbal: lone \"", B("\"\n"), .ret = E_UNBAL},
    {"unbal: open '", B("'a\n"), .ret = E_UNBAL},
    {"unbal: 'a'b", B("'a'b\n"), .ret = E_UNBAL},
    {"unbal: escaped closing \"", B("\"a\\\"\n"), .ret = E_UNBAL},
    {"unbal: trailing backslash", B("\"a\\\n"), .ret = E_UNBAL},
    {"unbal: trailing backslash before \\r", B("\"a\\\r\n"), .ret = E_UNBAL},
    {"unbal: escaped closing '", B("'a\\'\n"), .ret = E_UNBAL},
    {"unbal: a\"b", B("a\"b\n"), .ret = E_UNBAL},
    {"unbal: 2nd token", B("get \"a\" \"b\n"), .ret = E_UNBAL},
    {"unbal: dq then \\r inside line", B("\"a\"\rb\"\n"), .ret = E_UNBAL},

    /* inline: limits (max_inline 16) and NUL */
    {"inline 16 bytes + \\n", B("aaaaaaaaaaaaaaaa\n"), &SMALL, .argv = {B("aaaaaaaaaaaaaaaa")}},
    {"inline 15 + \\r\\n", B("aaaaaaaaaaaaaaa\r\n"), &SMALL, .argv = {B("aaaaaaaaaaaaaaa")}},
    {"inline 17 bytes + \\n", B("aaaaaaaaaaaaaaaaa\n"), &SMALL, .ret = E_INLINE},
    {"inline 16 + \\r\\n", B("aaaaaaaaaaaaaaaa\r\n"), &SMALL, .ret = E_INLINE},
    {"inline 16 bytes, no \\n", B("aaaaaaaaaaaaaaaa"), &SMALL, .ret = INC},
    {"inline 17 bytes, no \\n", B("aaaaaaaaaaaaaaaaa"), &SMALL, .ret = E_INLINE},
    {"inline NUL hides \\n", B("a\0\nb\n"), .ret = INC},
    {"inline NUL hides \\n, 17 bytes", B("a\0\nbbbbbbbbbbbbb\n"), &SMALL, .ret = E_INLINE},
    {"inline NUL first", B("\0\n"), .ret = INC},
    {"inline unbalanced at limit", B("\"aaaaaaaaaaaaaa\n"), &SMALL, .ret = E_UNBAL},
};

static void check_case(const tcase *t)
{
    const diskdb_limits *lim = t->lim ? t->lim : &REDIS;
    const uint8_t *in = (const uint8_t *)t->in.s;
    size_t n = t->in.n, k, i, argc = 0;
    ptrdiff_t want = t->ret ? t->ret : (ptrdiff_t)n;
    outcome o, g, p;
    int ok = 1;

    run_roomy(in, n, lim, &o);
    if (o.bad || o.ret != want)
        ok = 0;
    if (want > 0) {
        size_t off = 0;
        while (argc < 8 && t->argv[argc].s != NULL)
            argc++;
        if (o.argc != argc)
            ok = 0;
        for (i = 0; ok && i < argc; i++) {
            if (o.lens[i] != t->argv[i].n ||
                (o.lens[i] && memcmp(o.data + off, t->argv[i].s, o.lens[i]) != 0))
                ok = 0;
            off += o.lens[i];
        }
    }
    if (want == E_DOLLAR && o.err_byte != t->err_byte)
        ok = 0;
    if (want == ARENA && (o.need_args != t->need_args || o.need_scratch != t->need_scratch))
        ok = 0;
    if (!ok) {
        printf("FAIL %s: input ", t->name);
        show_bytes(in, n);
        printf("\n    want %s %td\n", code_name(want), want);
        show_outcome("got", &o);
    }

    /* The same through the grow-the-arena loop. */
    if (ok && want != ARENA) {
        run_grow(in, n, lim, &g);
        if (!o_eq(&o, &g) || g.bad) {
            ok = 0;
            printf("FAIL %s: differs with a growing arena\n", t->name);
            show_outcome("grow", &g);
        }
        o_free(&g);
    }

    /* Every strict prefix of the request is INCOMPLETE, or the same error (or NEED_ARENA) as
     * the whole input. */
    for (k = 0; ok && !(t->flags & NO_PREFIX) && k < (want > 0 ? (size_t)want : n); k++) {
        if (n > 512 && k > 64 && k < n - 64 && k % 1021 != 0)
            continue;
        run_roomy(in, k, lim, &p);
        if (p.bad || !(p.ret == INC || (want < 0 && o_eq(&p, &o)))) {
            ok = 0;
            printf("FAIL %s: prefix of %zu bytes\n", t->name, k);
            show_outcome("prefix", &p);
        }
        o_free(&p);
    }

    /* A complete request is not affected by what follows it. */
    if (ok && want > 0) {
        static const char *const tails[] = {"*1\r\n$1\r\nx\r\n", "\"\0\r\n", "\n"};
        for (i = 0; ok && i < 3; i++) {
            size_t tl = i == 1 ? 4 : strlen(tails[i]);
            uint8_t *b = xrealloc(NULL, n + tl);
            memcpy(b, in, n);
            memcpy(b + n, tails[i], tl);
            run_roomy(b, n + tl, lim, &p);
            if (!o_eq(&p, &o) || p.bad) {
                ok = 0;
                printf("FAIL %s: changed by appended bytes\n", t->name);
                show_outcome("extended", &p);
            }
            o_free(&p);
            free(b);
        }
    }
    o_free(&o);
    report(t->name, ok);
}

/* ---------------------------------------------------------------- programmatic tests */

/* Expects `want` (and, for a request, a single argument of `arg_len` bytes of `fill`). */
static void expect(const char *name, const uint8_t *in, size_t n, const diskdb_limits *lim,
                   ptrdiff_t want, size_t argc, size_t arg_len)
{
    outcome o;
    int ok;

    run_roomy(in, n, lim, &o);
    ok = !o.bad && o.ret == want && o.argc == argc && (argc == 0 || o.lens[0] == arg_len);
    if (!ok) {
        printf("FAIL %s: want %s %td\n", name, code_name(want), want);
        show_outcome("got", &o);
    }
    o_free(&o);
    report(name, ok);
}

static uint8_t *filled(const char *head, size_t fill_n, uint8_t fill, const char *tail,
                       size_t *n)
{
    size_t h = strlen(head), t = strlen(tail);
    uint8_t *b = xrealloc(NULL, h + fill_n + t);
    memcpy(b, head, h);
    memset(b + h, fill, fill_n);
    memcpy(b + h + fill_n, tail, t);
    *n = h + fill_n + t;
    return b;
}

static void test_redis_limits(void)
{
    size_t n;
    uint8_t *b;

    /* 64 KB inline line: at the limit, and one past it. */
    b = filled("", 65536, 'a', "\n", &n);
    expect("inline 65536 bytes", b, n, &REDIS, (ptrdiff_t)n, 1, 65536);
    free(b);
    b = filled("", 65535, 'a', "\r\n", &n);
    expect("inline 65535 + \\r\\n", b, n, &REDIS, (ptrdiff_t)n, 1, 65535);
    free(b);
    b = filled("", 65536, 'a', "\r\n", &n);
    expect("inline 65536 + \\r\\n", b, n, &REDIS, E_INLINE, 0, 0);
    free(b);
    b = filled("", 65537, 'a', "\n", &n);
    expect("inline 65537 bytes", b, n, &REDIS, E_INLINE, 0, 0);
    free(b);
    b = filled("", 65536, 'a', "", &n);
    expect("inline 65536 bytes, no \\n", b, n, &REDIS, INC, 0, 0);
    free(b);
    b = filled("", 65537, 'a', "", &n);
    expect("inline 65537 bytes, no \\n", b, n, &REDIS, E_INLINE, 0, 0);
    free(b);

    /* header lines */
    b = filled("*", 65535, '1', "", &n);
    expect("count line 65536 bytes, no \\r", b, n, &REDIS, INC, 0, 0);
    free(b);
    b = filled("*", 65536, '1', "", &n);
    expect("count line 65537 bytes, no \\r", b, n, &REDIS, E_BIGMB, 0, 0);
    free(b);
    b = filled("*", 65536, '1', "\r\n", &n);
    expect("count line 65537 bytes, then \\r", b, n, &REDIS, E_MBULK, 0, 0);
    free(b);
    b = filled("*1\r\n$", 65535, '1', "", &n);
    expect("bulk header 65536 bytes, no \\r", b, n, &REDIS, INC, 0, 0);
    free(b);
    b = filled("*1\r\n$", 65536, '1', "", &n);
    expect("bulk header 65537 bytes, no \\r", b, n, &REDIS, E_BIGB, 0, 0);
    free(b);

    /* a 1 MB bulk, then the same with a bulk longer than max_inline split mid-data */
    b = filled("*1\r\n$1048576\r\n", 1048576, 'z', "\r\n", &n);
    expect("1 MB bulk", b, n, &REDIS, (ptrdiff_t)n, 1, 1048576);
    expect("1 MB bulk, 1 byte short", b, n - 1, &REDIS, INC, 0, 0);
    expect("1 MB bulk, header only", b, 15, &REDIS, INC, 0, 0);
    free(b);

    /* 1024*1024 arguments with a growing arena */
    {
        size_t count = 1024 * 1024, i;
        outcome o;
        int ok;
        n = 11 + count * 7;
        b = xrealloc(NULL, n);
        memcpy(b, "*1048576\r\n", 10);
        for (i = 0; i < count; i++)
            memcpy(b + 10 + i * 7, "$1\r\nx\r\n", 7);
        b[n - 1] = '!';
        run_grow(b, n, &REDIS, &o);
        ok = !o.bad && o.ret == (ptrdiff_t)(n - 1) && o.argc == count && o.data_len == count;
        if (!ok)
            show_outcome("got", &o);
        report("1048576 arguments, growing arena", ok);
        o_free(&o);
        free(b);
    }
}

/* string2ll through the parser: the count gives the value (need_args, or an empty request),
 * the bulk length its validity as a length. */
static void test_string2ll(void)
{
    static const struct {
        const char *s;
        int ok;
        int64_t v;
    } t[] = {
        {"0", 1, 0},
        {"1", 1, 1},
        {"-1", 1, -1},
        {"10", 1, 10},
        {"", 0, 0},
        {"-", 0, 0},
        {"-0", 0, 0},
        {"00", 0, 0},
        {"01", 0, 0},
        {"-01", 0, 0},
        {"+1", 0, 0},
        {" 1", 0, 0},
        {"1 ", 0, 0},
        {"1a", 0, 0},
        {"1-", 0, 0},
        {"--1", 0, 0},
        {"9223372036854775807", 1, INT64_MAX},
        {"9223372036854775808", 0, 0},
        {"9999999999999999999", 0, 0},
        {"-9223372036854775807", 1, -INT64_MAX},
        {"-9223372036854775808", 1, INT64_MIN},
        {"-9223372036854775809", 0, 0},
        {"18446744073709551615", 0, 0},
        {"18446744073709551616", 0, 0},
        {"99999999999999999999", 0, 0},
        {"-99999999999999999999", 0, 0},
        {"100000000000000000000", 0, 0},
        {"00000000000000000001", 0, 0},
        {"1000000000000000000", 1, 1000000000000000000},
        {"-1000000000000000000", 1, -1000000000000000000},
    };
    size_t i;

    for (i = 0; i < sizeof t / sizeof t[0]; i++) {
        char in[64], name[96];
        size_t n;
        outcome o;
        int ok;
        ptrdiff_t want;

        /* as a count: *N\r\n */
        n = (size_t)snprintf(in, sizeof in, "*%s\r\n", t[i].s);
        run_once((const uint8_t *)in, n, &UNLIMITED, 0, 0, &o);
        if (!t[i].ok)
            ok = o.ret == E_MBULK;
        else if (t[i].v <= 0)
            ok = o.ret == (ptrdiff_t)n && o.argc == 0;
        else
            ok = o.ret == ARENA && (uint64_t)o.need_args == (uint64_t)t[i].v;
        ok = ok && !o.bad;
        snprintf(name, sizeof name, "string2ll \"%s\" as a count", t[i].s);
        if (!ok)
            show_outcome(name, &o);
        report(name, ok);
        o_free(&o);

        /* as a bulk length: valid and >= 0 waits for the data */
        n = (size_t)snprintf(in, sizeof in, "*1\r\n$%s\r\n", t[i].s);
        run_once((const uint8_t *)in, n, &UNLIMITED, 1, 0, &o);
        want = t[i].ok && t[i].v >= 0 ? INC : E_BULK;
        ok = !o.bad && o.ret == want;
        snprintf(name, sizeof name, "string2ll \"%s\" as a bulk length", t[i].s);
        if (!ok)
            show_outcome(name, &o);
        report(name, ok);
        o_free(&o);
    }
    /* a small value, end to end */
    {
        static const char in[] = "*1\r\n$12\r\nhello world!\r\n";
        expect("string2ll 12 as a bulk length", (const uint8_t *)in, sizeof in - 1, &REDIS,
               (ptrdiff_t)sizeof in - 1, 1, 12);
    }
}

/* The arena protocol, call by call. */
static void arena_step(const char *name, const char *in, size_t n, size_t args_cap,
                       size_t scratch_cap, ptrdiff_t want, size_t need_args, size_t need_scratch)
{
    outcome o;
    int ok;

    run_once((const uint8_t *)in, n, &REDIS, args_cap, scratch_cap, &o);
    ok = !o.bad && o.ret == want &&
         (want != ARENA || (o.need_args == need_args && o.need_scratch == need_scratch));
    if (!ok) {
        printf("FAIL %s: want %s %td (need %zu, %zu)\n", name, code_name(want), want, need_args,
               need_scratch);
        show_outcome("got", &o);
    }
    o_free(&o);
    report(name, ok);
}
#define STEP(name, lit, a, s, want, na, ns) arena_step(name, lit, sizeof lit - 1, a, s, want, na, ns)

static void test_arena(void)
{
    STEP("mb arena 0 -> need 3", "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n", 0, 0, ARENA, 3, 0);
    STEP("mb arena 2 -> need 3", "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n", 2, 99, ARENA, 3, 0);
    STEP("mb arena 3 -> ok", "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n", 3, 0, 25, 0, 0);
    STEP("mb arena checked before the body", "*3\r\n$1\r\na", 0, 0, ARENA, 3, 0);
    STEP("mb then incomplete", "*3\r\n$1\r\na", 3, 0, INC, 0, 0);
    STEP("mb arena before a body error", "*2\r\nxx\r\n", 1, 0, ARENA, 2, 0);
    STEP("mb then the body error", "*2\r\nxx\r\n", 2, 0, E_DOLLAR, 0, 0);
    STEP("mb count error before arena", "*2x\r\n", 0, 0, E_MBULK, 0, 0);
    STEP("mb *0 needs no arena", "*0\r\n", 0, 0, 4, 0, 0);
    STEP("inline arena 0", "set \"a b\" c\r\n", 0, 0, ARENA, 3, 7);
    STEP("inline scratch short", "set \"a b\" c\r\n", 3, 6, ARENA, 3, 7);
    STEP("inline args short", "set \"a b\" c\r\n", 2, 7, ARENA, 3, 7);
    STEP("inline exact arena", "set \"a b\" c\r\n", 3, 7, 13, 0, 0);
    STEP("inline scratch counts unescaped bytes", "\"\\x41\\x42\"\n", 1, 1, ARENA, 1, 2);
    STEP("inline unescaped fits", "\"\\x41\\x42\"\n", 1, 2, 11, 0, 0);
    STEP("inline error before arena", "set \"a b c\r\n", 0, 0, E_UNBAL, 0, 0);
    STEP("inline zero tokens need no arena", "  \r\n", 0, 0, 4, 0, 0);
    STEP("inline empty tokens need no scratch", "\"\" ''\n", 2, 0, 6, 0, 0);
    STEP("inline incomplete before arena", "set a", 0, 0, INC, 0, 0);

    /* NULL arrays count as no room, whatever the capacity says. */
    {
        static const char mb[] = "*1\r\n$1\r\na\r\n", il[] = "ab\n";
        diskdb_request req;
        uint8_t scratch[8];
        diskdb_arg args[2];
        ptrdiff_t r;
        int ok;

        memset(&req, 0, sizeof req);
        req.args_cap = 5;
        r = diskdb_parse_request((const uint8_t *)mb, sizeof mb - 1, &REDIS, &req);
        report("NULL args with args_cap 5", r == ARENA && req.need_args == 1);

        memset(&req, 0, sizeof req);
        req.args = args;
        req.args_cap = 2;
        req.scratch_cap = 5;
        r = diskdb_parse_request((const uint8_t *)il, sizeof il - 1, &REDIS, &req);
        report("NULL scratch with scratch_cap 5", r == ARENA && req.need_scratch == 2);

        /* empty inline arguments without scratch point at something non-NULL */
        memset(&req, 0, sizeof req);
        req.args = args;
        req.args_cap = 2;
        r = diskdb_parse_request((const uint8_t *)"'' \"\"\n", 6, &REDIS, &req);
        ok = r == 6 && req.argc == 2 && args[0].ptr != NULL && args[0].len == 0 &&
             args[1].ptr != NULL && args[1].len == 0;
        report("empty inline arguments without scratch", ok);

        /* len == 0 with a NULL buffer */
        memset(&req, 0, sizeof req);
        r = diskdb_parse_request(NULL, 0, &REDIS, &req);
        report("empty input", r == INC);

        /* outputs are reset on every call */
        memset(&req, 0x77, sizeof req);
        req.args = args;
        req.args_cap = 2;
        req.scratch = scratch;
        req.scratch_cap = sizeof scratch;
        r = diskdb_parse_request((const uint8_t *)"*x\r\n", 4, &REDIS, &req);
        report("outputs reset on error", r == E_MBULK && req.argc == 0 && req.need_args == 0 &&
                                            req.need_scratch == 0 && req.err_byte == 0);
    }
}

/* A server loop over pipelined requests of both kinds. */
static void test_pipeline(void)
{
    static const char in[] = "PING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n\r\n*0\r\n"
                             "set \"a b\" c\n*-1\r\n*1\r\n$3\r\nend\r\n";
    static const struct {
        size_t used, argc;
        const char *first;
    } want[] = {{6, 1, "PING"}, {22, 2, "ECHO"}, {2, 0, NULL},   {4, 0, NULL},
                {12, 3, "set"}, {5, 0, NULL},    {13, 1, "end"}};
    size_t pos = 0, i;
    int ok = 1;
    diskdb_arg args[4];
    uint8_t scratch[64];
    diskdb_request req;

    for (i = 0; ok && i < sizeof want / sizeof want[0]; i++) {
        ptrdiff_t r;
        memset(&req, 0, sizeof req);
        req.args = args;
        req.args_cap = 4;
        req.scratch = scratch;
        req.scratch_cap = sizeof scratch;
        r = diskdb_parse_request((const uint8_t *)in + pos, sizeof in - 1 - pos, &REDIS, &req);
        if (r != (ptrdiff_t)want[i].used || req.argc != want[i].argc ||
            (want[i].first && (args[0].len != strlen(want[i].first) ||
                               memcmp(args[0].ptr, want[i].first, args[0].len) != 0))) {
            printf("FAIL pipeline request %zu: got %td argc %zu\n", i, r, req.argc);
            ok = 0;
        }
        pos += (size_t)(r > 0 ? r : 0);
    }
    ok = ok && pos == sizeof in - 1;
    report("pipeline of 7 requests", ok);
}

/* len is capped at PTRDIFF_MAX and positions never overflow: with an enormous len the parser
 * reads only what it needs (AddressSanitizer checks the buffer is not overrun). */
static void test_huge_len(void)
{
    static const struct {
        bytes in;
        ptrdiff_t want;
    } t[] = {{B("*0\r\n"), 4},
             {B("*1\r\n$1\r\na\r\n"), 11},
             {B("PING\r\n"), 6},
             {B("*1\0"), E_BIGMB},
             {B("*1\r\n$3\0"), E_BIGB},
             {B("ab\0"), E_INLINE}};
    size_t lens[] = {(size_t)PTRDIFF_MAX, (size_t)PTRDIFF_MAX + 1, SIZE_MAX};
    size_t i, j;

    for (i = 0; i < sizeof t / sizeof t[0]; i++) {
        for (j = 0; j < 3; j++) {
            diskdb_arg args[2];
            uint8_t scratch[8];
            diskdb_request req;
            ptrdiff_t r;
            char name[64];
            uint8_t *b = xrealloc(NULL, t[i].in.n);
            memcpy(b, t[i].in.s, t[i].in.n);
            memset(&req, 0, sizeof req);
            req.args = args;
            req.args_cap = 2;
            req.scratch = scratch;
            req.scratch_cap = sizeof scratch;
            r = diskdb_parse_request(b, lens[j], &REDIS, &req);
            snprintf(name, sizeof name, "huge len: case %zu, len %zu", i, lens[j]);
            report(name, r == t[i].want);
            free(b);
        }
    }
    /* a bulk length next to INT64_MAX with max_bulk_len unlimited and len = SIZE_MAX */
    {
        static const char in[] = "*1\r\n$9223372036854775807\r\nab";
        diskdb_arg args[1];
        diskdb_request req;
        ptrdiff_t r;
        uint8_t *b = xrealloc(NULL, sizeof in - 1);
        memcpy(b, in, sizeof in - 1);
        memset(&req, 0, sizeof req);
        req.args = args;
        req.args_cap = 1;
        r = diskdb_parse_request(b, sizeof in - 1, &UNLIMITED, &req);
        report("bulk INT64_MAX, short buffer", r == INC);
        free(b);
    }
}

/* ---------------------------------------------------------------- reference model */

/* Redis 7.0's code, transcribed with libc and pointers, run once over the whole buffer (a single
 * read). Two changes, both from docs/protocol.md: the limits are parameters (Redis checks the
 * count against INT_MAX), and an inline line longer than max_inline is an error even when its
 * '\n' has arrived. -DMODEL_SPEC_WS=1 ends unquoted tokens at any isspace() byte, as a literal
 * reading of docs/protocol.md would, instead of at Redis's ' ', '\n', '\r', '\t'. */
#ifndef MODEL_SPEC_WS
#define MODEL_SPEC_WS 0
#endif

static int m_string2ll(const char *s, size_t slen, long long *value)
{
    const char *p = s;
    size_t plen = 0;
    int negative = 0;
    unsigned long long v;

    if (plen == slen || slen >= 21)
        return 0;
    if (slen == 1 && p[0] == '0') {
        *value = 0;
        return 1;
    }
    if (p[0] == '-') {
        negative = 1;
        p++;
        plen++;
        if (plen == slen)
            return 0;
    }
    if (p[0] >= '1' && p[0] <= '9') {
        v = (unsigned long long)(p[0] - '0');
        p++;
        plen++;
    } else {
        return 0;
    }
    while (plen < slen && p[0] >= '0' && p[0] <= '9') {
        if (v > (ULLONG_MAX / 10))
            return 0;
        v *= 10;
        if (v > (ULLONG_MAX - (unsigned long long)(p[0] - '0')))
            return 0;
        v += (unsigned long long)(p[0] - '0');
        p++;
        plen++;
    }
    if (plen < slen)
        return 0;
    if (negative) {
        if (v > ((unsigned long long)(-(LLONG_MIN + 1)) + 1))
            return 0;
        *value = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v;
    } else {
        if (v > LLONG_MAX)
            return 0;
        *value = (long long)v;
    }
    return 1;
}

static int m_is_hex_digit(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int m_hex_digit_to_int(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return 0;
}

static int m_isspace(char c)
{
    return isspace((unsigned char)c);
}

/* sdssplitargs: 1 and the tokens in o, or 0 for unbalanced quotes. */
static int m_splitargs(const char *line, outcome *o)
{
    const char *p = line;

    while (1) {
        while (*p && m_isspace(*p))
            p++;
        if (*p) {
            int inq = 0, insq = 0, done = 0;
            size_t start = o->data_len;
            while (!done) {
                if (inq) {
                    if (*p == '\\' && *(p + 1) == 'x' && m_is_hex_digit(*(p + 2)) &&
                        m_is_hex_digit(*(p + 3))) {
                        o_push(o, (uint8_t)(m_hex_digit_to_int(*(p + 2)) * 16 +
                                            m_hex_digit_to_int(*(p + 3))));
                        p += 3;
                    } else if (*p == '\\' && *(p + 1)) {
                        char c;
                        p++;
                        switch (*p) {
                        case 'n': c = '\n'; break;
                        case 'r': c = '\r'; break;
                        case 't': c = '\t'; break;
                        case 'b': c = '\b'; break;
                        case 'a': c = '\a'; break;
                        default: c = *p; break;
                        }
                        o_push(o, (uint8_t)c);
                    } else if (*p == '"') {
                        if (*(p + 1) && !m_isspace(*(p + 1)))
                            return 0;
                        done = 1;
                    } else if (!*p) {
                        return 0;
                    } else {
                        o_push(o, (uint8_t)*p);
                    }
                } else if (insq) {
                    if (*p == '\\' && *(p + 1) == '\'') {
                        p++;
                        o_push(o, '\'');
                    } else if (*p == '\'') {
                        if (*(p + 1) && !m_isspace(*(p + 1)))
                            return 0;
                        done = 1;
                    } else if (!*p) {
                        return 0;
                    } else {
                        o_push(o, (uint8_t)*p);
                    }
                } else {
                    switch (*p) {
                    case ' ':
                    case '\n':
                    case '\r':
                    case '\t':
                    case '\0':
                        done = 1;
                        break;
#if MODEL_SPEC_WS
                    case '\v':
                    case '\f':
                        done = 1;
                        break;
#endif
                    case '"':
                        inq = 1;
                        break;
                    case '\'':
                        insq = 1;
                        break;
                    default:
                        o_push(o, (uint8_t)*p);
                        break;
                    }
                }
                if (*p)
                    p++;
            }
            o_arg_end(o, o->data_len - start);
        } else {
            return 1;
        }
    }
}

static ptrdiff_t m_parse(const char *qb, size_t len, const diskdb_limits *lim, outcome *o)
{
    const char *newline;
    long long ll;
    size_t pos;

    if (len == 0)
        return INC;
    if (qb[0] == '*') {
        /* processMultibulkBuffer */
        unsigned long long multibulklen;
        newline = strchr(qb, '\r');
        if (newline == NULL)
            return len > lim->max_inline ? E_BIGMB : INC;
        if (newline - qb > (ptrdiff_t)len - 2)
            return INC;
        if (!m_string2ll(qb + 1, (size_t)(newline - (qb + 1)), &ll) ||
            (ll > 0 && (unsigned long long)ll > lim->max_args))
            return E_MBULK;
        pos = (size_t)(newline - qb) + 2;
        if (ll <= 0)
            return (ptrdiff_t)pos;
        multibulklen = (unsigned long long)ll;
        while (multibulklen) {
            newline = strchr(qb + pos, '\r');
            if (newline == NULL)
                return len - pos > lim->max_inline ? E_BIGB : INC;
            if (newline - (qb + pos) > (ptrdiff_t)(len - pos) - 2)
                return INC;
            if (qb[pos] != '$') {
                o->err_byte = (uint8_t)qb[pos];
                return E_DOLLAR;
            }
            if (!m_string2ll(qb + pos + 1, (size_t)(newline - (qb + pos + 1)), &ll) || ll < 0 ||
                (unsigned long long)ll > lim->max_bulk_len)
                return E_BULK;
            pos = (size_t)(newline - qb) + 2;
            if ((unsigned long long)(len - pos) < (unsigned long long)ll + 2)
                return INC;
            o_arg(o, (const uint8_t *)qb + pos, (size_t)ll);
            pos += (size_t)ll + 2;
            multibulklen--;
        }
        return (ptrdiff_t)pos;
    } else {
        /* processInlineBuffer */
        size_t querylen, linefeed_chars = 1;
        char *aux;
        int ok;
        newline = strchr(qb, '\n');
        if (newline == NULL)
            return len > lim->max_inline ? E_INLINE : INC;
        if ((size_t)(newline - qb) > lim->max_inline) /* DiskDB: a long line is always an error */
            return E_INLINE;
        if (newline != qb && *(newline - 1) == '\r') {
            newline--;
            linefeed_chars++;
        }
        querylen = (size_t)(newline - qb);
        aux = xrealloc(NULL, querylen + 1);
        memcpy(aux, qb, querylen);
        aux[querylen] = 0;
        ok = m_splitargs(aux, o);
        free(aux);
        if (!ok)
            return E_UNBAL;
        return (ptrdiff_t)(querylen + linefeed_chars);
    }
}

static void model(const uint8_t *in, size_t len, const diskdb_limits *lim, outcome *o)
{
    char *qb = xrealloc(NULL, len + 1);
    o_init(o);
    if (len)
        memcpy(qb, in, len);
    qb[len] = 0;
    o->ret = m_parse(qb, len, lim, o);
    if (o->ret <= 0) { /* arguments of an unfinished request are not reported */
        o->argc = 0;
        o->data_len = 0;
    }
    free(qb);
}

/* ---------------------------------------------------------------- fuzz */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 32);
}

static size_t rn(size_t n)
{
    return (size_t)rnd() % n;
}

#define FUZZ_CAP 160
typedef struct {
    uint8_t b[FUZZ_CAP];
    size_t n;
} fbuf;

static void f_add(fbuf *f, const char *s, size_t n)
{
    while (n-- && f->n < FUZZ_CAP)
        f->b[f->n++] = (uint8_t)*s++;
}
static void f_str(fbuf *f, const char *s)
{
    f_add(f, s, strlen(s));
}

static const char ALPHA[] = "*$\r\n0123456789-+ \t\v\f\"'\\xXaAfFgz\0\xff";

static uint8_t rand_byte(void)
{
    return (uint8_t)ALPHA[rn(sizeof ALPHA - 1)];
}

static void f_number(fbuf *f)
{
    static const char *const odd[] = {"", "-", "-0", "00", "01", "+1", " 1", "1 ", "x",
                                      "-1", "-2", "9223372036854775808", "99"};
    char tmp[24];
    if (rn(6) == 0) {
        f_str(f, odd[rn(sizeof odd / sizeof odd[0])]);
    } else {
        snprintf(tmp, sizeof tmp, "%zu", rn(7));
        f_str(f, tmp);
    }
}

static void gen_multibulk(fbuf *f)
{
    size_t argc = rn(5), i, j, len;
    char tmp[24];
    f_str(f, "*");
    if (rn(8) == 0) {
        f_number(f);
    } else {
        snprintf(tmp, sizeof tmp, "%zu", argc);
        f_str(f, tmp);
    }
    f_str(f, rn(10) ? "\r\n" : "\rX");
    for (i = 0; i < argc; i++) {
        len = rn(9);
        f_str(f, "$");
        if (rn(10) == 0) {
            f_number(f);
        } else {
            snprintf(tmp, sizeof tmp, "%zu", len);
            f_str(f, tmp);
        }
        f_str(f, rn(10) ? "\r\n" : "\r\r");
        for (j = 0; j < len; j++) {
            uint8_t c = rand_byte();
            f_add(f, (const char *)&c, 1);
        }
        f_str(f, rn(10) ? "\r\n" : "ab");
    }
}

static void gen_inline(fbuf *f)
{
    static const char *const pieces[] = {
        "set", "a", "\"", "'", "\\", "\\x41", "\\x4", "\\xg1", "\\n", "\\'", "\\\"", " ",
        "  ", "\t", "\v", "\f", "\r", "\"a b\"", "'c d'", "\"\"", "''", "x\"y z\"", "\xff"};
    size_t k = rn(7), i;
    for (i = 0; i < k; i++)
        f_str(f, pieces[rn(sizeof pieces / sizeof pieces[0])]);
    f_str(f, rn(3) ? "\r\n" : "\n");
}

static void gen(fbuf *f)
{
    size_t muts, i;
    f->n = 0;
    switch (rn(4)) {
    case 0:
        for (i = rn(40); i > 0; i--) {
            uint8_t c = rand_byte();
            f_add(f, (const char *)&c, 1);
        }
        break;
    case 1: gen_multibulk(f); break;
    case 2: gen_inline(f); break;
    default:
        if (rn(2)) gen_multibulk(f); else gen_inline(f);
        if (rn(2)) gen_multibulk(f); else gen_inline(f);
        break;
    }
    for (muts = rn(4) == 0 ? rn(3) + 1 : 0; muts > 0 && f->n > 0; muts--) {
        size_t at = rn(f->n);
        switch (rn(3)) {
        case 0: f->b[at] = rand_byte(); break;
        case 1: memmove(f->b + at, f->b + at + 1, f->n - at - 1); f->n--; break;
        default:
            if (f->n < FUZZ_CAP) {
                memmove(f->b + at + 1, f->b + at, f->n - at);
                f->b[at] = rand_byte();
                f->n++;
            }
        }
    }
}

static void test_fuzz(size_t iterations)
{
    static const diskdb_limits lims[] = {
        {8, 4, 24}, {12, 6, 10}, {1000, 64, 64}, {0, 1, 0}, {3, 2, 5}};
    size_t it, k, shown = 0, parses = 0, complete = 0, errors[17] = {0};
    int ok = 1;
    fbuf f;

    for (it = 0; it < iterations; it++) {
        const diskdb_limits *lim = &lims[rn(sizeof lims / sizeof lims[0])];
        gen(&f);
        for (k = 0; k <= f.n; k++) {
            outcome m, g, r;
            model(f.b, k, lim, &m);
            run_grow(f.b, k, lim, &g);
            run_roomy(f.b, k, lim, &r);
            parses++;
            if (g.ret > 0)
                complete++;
            else if (-g.ret < 17)
                errors[-g.ret]++;
            if (!o_eq(&m, &g) || g.bad || r.bad || (r.ret != ARENA && !o_eq(&r, &g))) {
                ok = 0;
                if (shown++ < 10) {
                    printf("FAIL fuzz (limits %llu/%llu/%zu): input ",
                           (unsigned long long)lim->max_bulk_len,
                           (unsigned long long)lim->max_args, lim->max_inline);
                    show_bytes(f.b, k);
                    printf("\n");
                    show_outcome("redis model", &m);
                    show_outcome("parser     ", &g);
                    show_outcome("roomy arena", &r);
                }
            }
            o_free(&m);
            o_free(&g);
            o_free(&r);
        }
    }
    printf("fuzz: %zu inputs, %zu parses (%zu complete, incomplete %zu, invalid mbulk %zu, "
           "invalid bulk %zu, dollar %zu, unbalanced %zu, too big %zu/%zu/%zu)\n",
           iterations, parses, complete, errors[1], errors[10], errors[11], errors[12],
           errors[13], errors[14], errors[15], errors[16]);
    report("fuzz against the Redis model, every prefix", ok);
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    size_t i, iterations = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 100000;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_case(&cases[i]);
    printf("table: %zu cases\n", sizeof cases / sizeof cases[0]);
    test_string2ll();
    test_arena();
    test_pipeline();
    test_huge_len();
    test_redis_limits();
    test_fuzz(iterations);
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
