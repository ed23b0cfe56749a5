/*
 * diskdb_resp: RESP request parser. The rules are in docs/protocol.md: Redis 7.0's
 * processMultibulkBuffer, processInlineBuffer, sdssplitargs and string2ll, leniencies included.
 *
 * Freestanding on purpose (it is also built for wasm32 and must import nothing): no libc, so the
 * small loops below stand in for strchr and memcpy. Every position is a size_t index checked
 * against len before use, and every length comparison is done by subtraction, so no input can
 * make an index or a sum overflow.
 */
#include "diskdb_resp.h"

/*
 * Index of the first `c` in buf[from..to), or `to` when there is none. A NUL ends the search as
 * "not found": Redis looks with strchr over its NUL-terminated query buffer, which cannot see past
 * a NUL byte.
 */
static size_t find_byte(const uint8_t *buf, size_t from, size_t to, uint8_t c)
{
    for (; from < to; from++) {
        if (buf[from] == c)
            return from;
        if (buf[from] == 0)
            return to;
    }
    return to;
}

/* Redis's string2ll: "0", or an optional '-', a digit 1-9 and digits, fitting in int64_t. */
static int string2ll(const uint8_t *s, size_t n, int64_t *out)
{
    size_t i = 0;
    int negative = 0;
    uint64_t v, d;

    if (n == 0 || n > 20) /* Redis: slen >= LONG_STR_SIZE (21) */
        return 0;
    if (n == 1 && s[0] == '0') {
        *out = 0;
        return 1;
    }
    if (s[0] == '-') {
        negative = 1;
        if (++i == n)
            return 0;
    }
    if (s[i] < '1' || s[i] > '9') /* no "-0", no leading zeros */
        return 0;
    v = (uint64_t)(s[i++] - '0');
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    if (negative) {
        if (v > (uint64_t)INT64_MAX + 1)
            return 0;
        /* -v without overflowing at INT64_MIN */
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX)
            return 0;
        *out = (int64_t)v;
    }
    return 1;
}

/*
 * The common case of a header line at buf[at..len), without a search: `prefix`, then "0" or a
 * digit 1-9 and at most 17 more digits, then '\r' and one more byte. Stores the value and the
 * position after the line and returns 1; returns 0 for anything else, which the general path then
 * handles. Where this answers, the general path would answer the same: no '\r' or NUL comes
 * earlier, and string2ll accepts these digits with this value (18 digits cannot overflow).
 */
static int quick_header(const uint8_t *buf, size_t len, size_t at, uint8_t prefix,
                        uint64_t *value, size_t *next)
{
    size_t i, end;
    uint64_t v;
    uint8_t d;

    if (len - at < 2 || buf[at] != prefix)
        return 0;
    v = (uint8_t)(buf[at + 1] - '0');
    if (v > 9)
        return 0;
    end = len - at - 2 > 18 ? at + 2 + 18 : len;
    for (i = at + 2; i < end; i++) {
        d = (uint8_t)(buf[i] - '0');
        if (d <= 9 && v != 0) {
            v = v * 10 + d;
        } else if (buf[i] == '\r' && len - i >= 2) {
            *value = v;
            *next = i + 2;
            return 1;
        } else {
            return 0; /* a leading zero, another byte, or nothing after the '\r' */
        }
    }
    return 0;
}

static ptrdiff_t parse_multibulk(const uint8_t *buf, size_t len, const diskdb_limits *lim,
                                 diskdb_request *req, size_t args_cap)
{
    size_t r, p, q, i, n;
    int64_t v;
    uint64_t u;

    if (quick_header(buf, len, 0, '*', &u, &p)) {
        if (u > lim->max_args)
            return DISKDB_E_INVALID_MBULK;
        if (u == 0)
            return (ptrdiff_t)p;
    } else {
        /* The count line. The byte after '\r' is not checked to be '\n': Redis skips it. */
        r = find_byte(buf, 0, len, '\r');
        if (r == len)
            return len > lim->max_inline ? DISKDB_E_TOO_BIG_MBULK : DISKDB_INCOMPLETE;
        if (len - r < 2)
            return DISKDB_INCOMPLETE;
        if (!string2ll(buf + 1, r - 1, &v) || (v > 0 && (uint64_t)v > lim->max_args))
            return DISKDB_E_INVALID_MBULK;
        p = r + 2;
        if (v <= 0) /* "*0", "*-1": Redis accepts and skips them */
            return (ptrdiff_t)p;
        u = (uint64_t)v;
    }

    /* The arena is checked here, before the body, so that NEED_ARENA never depends on how much of
     * the body has arrived; a body error is then reported on the retry. */
    if (u > args_cap) {
        req->need_args = u > SIZE_MAX ? SIZE_MAX : (size_t)u;
        return DISKDB_NEED_ARENA;
    }
    n = (size_t)u;

    for (i = 0; i < n; i++) {
        if (quick_header(buf, len, p, '$', &u, &q)) {
            if (u > lim->max_bulk_len)
                return DISKDB_E_INVALID_BULK;
        } else {
            r = find_byte(buf, p, len, '\r');
            if (r == len)
                return len - p > lim->max_inline ? DISKDB_E_TOO_BIG_BULK : DISKDB_INCOMPLETE;
            if (len - r < 2)
                return DISKDB_INCOMPLETE;
            if (buf[p] != '$') {
                req->err_byte = buf[p];
                return DISKDB_E_EXPECTED_DOLLAR;
            }
            /* r > p here, since buf[p] is '$' and buf[r] is '\r'. */
            if (!string2ll(buf + p + 1, r - p - 1, &v) || v < 0 ||
                (uint64_t)v > lim->max_bulk_len)
                return DISKDB_E_INVALID_BULK;
            u = (uint64_t)v;
            q = r + 2;
        }
        /* As in Redis, the two bytes after the data are required but not checked to be "\r\n". */
        if ((uint64_t)(len - q) < u + 2)
            return DISKDB_INCOMPLETE;
        req->args[i].ptr = buf + q;
        req->args[i].len = (size_t)u;
        p = q + (size_t)u + 2;
    }
    req->argc = n;
    return (ptrdiff_t)p;
}

/* isspace() in the C locale, which is what Redis runs with. */
static int is_space(uint8_t c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

static int is_hex(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static uint8_t hex_val(uint8_t c)
{
    if (c <= '9')
        return (uint8_t)(c - '0');
    return (uint8_t)((c | 0x20) - 'a' + 10);
}

/* The line holds no NUL (the search for '\n' stops at one), so 0 past its end plays the part of
 * the C string terminator that sdssplitargs looks at. */
static uint8_t at(const uint8_t *s, size_t n, size_t i)
{
    return i < n ? s[i] : 0;
}

/* Appends one unescaped byte, if there is room: a pass with no room only measures. */
static void put(uint8_t *out, size_t cap, size_t *nb, uint8_t c)
{
    if (*nb < cap)
        out[*nb] = c;
    (*nb)++;
}

/*
 * sdssplitargs over s[0..n), transcribed with indexes. Counts the arguments (*argc) and their
 * unescaped bytes (*bytes); stores them only within args_cap / out_cap, so the caller can measure
 * with zero capacities first and then fill an arena known to be big enough.
 */
static int split_args(const uint8_t *s, size_t n, diskdb_arg *args, size_t args_cap, uint8_t *out,
                      size_t out_cap, size_t *argc, size_t *bytes)
{
    size_t i = 0, na = 0, nb = 0, start;
    int inq, insq, done;
    uint8_t c;

    for (;;) {
        while (i < n && is_space(s[i]))
            i++;
        if (i == n)
            break;
        start = nb;
        inq = insq = done = 0;
        while (!done) {
            c = at(s, n, i);
            if (inq) {
                if (c == '\\' && at(s, n, i + 1) == 'x' && is_hex(at(s, n, i + 2)) &&
                    is_hex(at(s, n, i + 3))) {
                    put(out, out_cap, &nb, (uint8_t)(hex_val(s[i + 2]) * 16 + hex_val(s[i + 3])));
                    i += 3;
                } else if (c == '\\' && at(s, n, i + 1) != 0) {
                    i++;
                    switch (s[i]) {
                    case 'n': c = '\n'; break;
                    case 'r': c = '\r'; break;
                    case 't': c = '\t'; break;
                    case 'b': c = '\b'; break;
                    case 'a': c = '\a'; break;
                    default: c = s[i]; break;
                    }
                    put(out, out_cap, &nb, c);
                } else if (c == '"') {
                    /* The closing quote must be followed by whitespace or the end of the line. */
                    if (at(s, n, i + 1) != 0 && !is_space(at(s, n, i + 1)))
                        return DISKDB_E_UNBALANCED;
                    done = 1;
                } else if (c == 0) {
                    return DISKDB_E_UNBALANCED; /* no closing quote (or a trailing '\') */
                } else {
                    put(out, out_cap, &nb, c);
                }
            } else if (insq) {
                if (c == '\\' && at(s, n, i + 1) == '\'') {
                    i++;
                    put(out, out_cap, &nb, '\'');
                } else if (c == '\'') {
                    if (at(s, n, i + 1) != 0 && !is_space(at(s, n, i + 1)))
                        return DISKDB_E_UNBALANCED;
                    done = 1;
                } else if (c == 0) {
                    return DISKDB_E_UNBALANCED;
                } else {
                    put(out, out_cap, &nb, c);
                }
            } else if (c == 0 || c == ' ' || c == '\t' || c == '\r' || c == '\n') {
                /* Redis's switch, not isspace(): '\v' and '\f' stay inside an unquoted token,
                 * though they separate tokens and may follow a closing quote. */
                done = 1;
            } else if (c == '"') {
                inq = 1; /* a quote anywhere in an unquoted token opens quoting: a"b c" is ab c */
            } else if (c == '\'') {
                insq = 1;
            } else {
                put(out, out_cap, &nb, c);
            }
            if (i < n)
                i++;
        }
        if (na < args_cap) {
            /* An empty argument may have no scratch to point into: give it the line instead. */
            args[na].ptr = out != NULL ? out + start : s;
            args[na].len = nb - start;
        }
        na++;
    }
    *argc = na;
    *bytes = nb;
    return 0;
}

static ptrdiff_t parse_inline(const uint8_t *buf, size_t len, const diskdb_limits *lim,
                              diskdb_request *req, size_t args_cap, size_t scratch_cap)
{
    /* Only the first max_inline + 1 bytes are searched, so a line longer than max_inline is an
     * error however the input was split (stricter than Redis, whose check sees one read). */
    size_t window = len > lim->max_inline ? lim->max_inline + 1 : len;
    size_t nl = find_byte(buf, 0, window, '\n');
    size_t n, argc, bytes;
    int err;

    if (nl == window)
        return len > lim->max_inline ? DISKDB_E_TOO_BIG_INLINE : DISKDB_INCOMPLETE;
    n = nl > 0 && buf[nl - 1] == '\r' ? nl - 1 : nl;

    /* First pass: validate and measure, writing nothing. Errors thus come before NEED_ARENA. */
    err = split_args(buf, n, NULL, 0, NULL, 0, &argc, &bytes);
    if (err != 0)
        return err;
    if (argc > args_cap || bytes > scratch_cap) {
        req->need_args = argc;
        req->need_scratch = bytes;
        return DISKDB_NEED_ARENA;
    }
    /* Second pass: the same walk, now with room for everything. */
    (void)split_args(buf, n, req->args, args_cap, req->scratch, scratch_cap, &argc, &bytes);
    req->argc = argc;
    return (ptrdiff_t)(nl + 1);
}

ptrdiff_t diskdb_parse_request(const uint8_t *buf, size_t len, const diskdb_limits *limits,
                               diskdb_request *req)
{
    /* A missing array counts as no room at all. */
    size_t args_cap = req->args != NULL ? req->args_cap : 0;
    size_t scratch_cap = req->scratch != NULL ? req->scratch_cap : 0;

    req->argc = 0;
    req->need_args = 0;
    req->need_scratch = 0;
    req->err_byte = 0;
    /* The consumed length must fit the return type; no real buffer is that large anyway. */
    if (len > (size_t)PTRDIFF_MAX)
        len = (size_t)PTRDIFF_MAX;
    if (len == 0)
        return DISKDB_INCOMPLETE;
    if (buf[0] == '*')
        return parse_multibulk(buf, len, limits, req, args_cap);
    return parse_inline(buf, len, limits, req, args_cap, scratch_cap);
}
