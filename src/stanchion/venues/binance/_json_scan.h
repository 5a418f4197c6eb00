/* The JSON pieces both compiled scanners of Binance's depthUpdate frame read the same way
 * (_wire.c: the envelope for the book; _reflex.c: the armed orders' trigger check): a literal,
 * and an integer id. Static inline: each module gets its own copy, no shared symbol. */
#ifndef STANCHION_BINANCE_JSON_SCAN_H
#define STANCHION_BINANCE_JSON_SCAN_H

#include <stddef.h>
#include <string.h>

#define JSON_MAX_INT_DIGITS 18 /* fits an int64 */

static inline int
json_is_digit(unsigned char c)
{
    return (unsigned)(c - '0') <= 9;
}

/* The literal lit (n bytes) at *p: advance past it, else 0 and *p untouched. */
static inline int
json_expect(const unsigned char **p, const unsigned char *end, const char *lit, size_t n)
{
    if ((size_t)(end - *p) < n || memcmp(*p, lit, n) != 0) {
        return 0;
    }
    *p += n;
    return 1;
}

/* Needs locals p and end in scope. */
#define EXPECT(lit) json_expect(&p, end, (lit), sizeof(lit) - 1)

/* <int>: 0 | [1-9][0-9]{0,17} (no leading zeros, as JSON; at most 18 digits) */
static inline int
json_scan_int(const unsigned char **pp, const unsigned char *end, long long *out)
{
    const unsigned char *p = *pp;
    if (p >= end || !json_is_digit(*p)) {
        return 0;
    }
    if (*p == '0') {
        *out = 0;
        *pp = p + 1;
        return p + 1 >= end || !json_is_digit(p[1]);
    }
    long long v = 0;
    int digits = 0;
    while (p < end && json_is_digit(*p)) {
        if (++digits > JSON_MAX_INT_DIGITS) {
            return 0;
        }
        v = v * 10 + (*p - '0');
        p++;
    }
    *out = v;
    *pp = p;
    return 1;
}

#endif
