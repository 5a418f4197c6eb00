/*
 * stanchion.venues.binance._reflex — armed orders fired from the raw depth frame, in C
 * (decision 0004).
 *
 * An armed order has its journal intent, risk check and signed request prepared ahead
 * of time; Reflex.match(frame) runs on every received market-data frame, before any
 * Python parsing, and returns the handles of the armed orders that frame fires:
 *
 *   BUY  fires on an ask level with non-zero quantity and price <= limit
 *   SELL fires on a bid level with non-zero quantity and price >= limit
 *
 * for the frame's symbol, when that symbol's book is LIVE and the frame is the one it
 * expects next: N = set_next(symbol, N), N != 0, U <= N <= u (the book's own rule). A
 * frame in sequence does not move N: the book code calls set_next once it has applied
 * the frame. Fired triggers are removed and their handles returned in arm order.
 *
 * Only the exact compact raw-stream frame Binance writes is read:
 *
 *   {"e":"depthUpdate","E":<id>,"s":"<A-Z0-9>{1,20}","U":<id>,"u":<id>,"b":<levels>,"a":<levels>}
 *
 *   <id>      := 0 | [1-9][0-9]{0,17}
 *   <levels>  := [ ] | [ <level> (, <level>)* ]
 *   <level>   := [ "<decimal>" , "<decimal>" ]            (price, quantity)
 *   <decimal> := (0 | [1-9][0-9]*) ( . [0-9]+ )?
 *
 * with no whitespace anywhere, and a price of at most 18 significant digits (the
 * digits left once the leading zeros and the fraction's trailing zeros are dropped).
 * Anything else (the combined-stream envelope, another event, another key order,
 * whitespace, an escape, a sign, an exponent, an empty or truncated number, a frame
 * cut short or followed by anything) is "not matched": None, never an exception and
 * never a fire. Both sides are checked to the end before anything fires, so a frame
 * that is malformed after its best price does not fire either.
 *
 * Prices are compared exactly as decimals, as (integer part, fraction digits without
 * trailing zeros): a limit of `limit` units of 10**-scale is held the same way, so a
 * wire price with more fractional digits than the scale compares exactly, with no
 * rounding and no overflow at any scale. Per frame only the best price of each side
 * an armed trigger needs is kept (the lowest ask for buys, the highest bid for sells):
 * a trigger fires on some level iff it fires on that one.
 *
 * The no-fire path allocates nothing: the frame is read in place, symbols are found in
 * an open-addressing table of C structs, and handles are Python objects only when
 * fired (moved, not copied, into the returned tuple). Handles are compared by
 * identity. The Reflex is a GC container: handles may refer back to it.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "_json_scan.h"

#define MAX_SYMBOL 20       /* Binance symbols: 1..20 of A-Z0-9 */
#define MAX_SCALE 18
#define MAX_SIGNIFICANT 18

static const uint64_t POW10[MAX_SCALE + 1] = {
    1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL, 100000000ULL,
    1000000000ULL, 10000000000ULL, 100000000000ULL, 1000000000000ULL, 10000000000000ULL,
    100000000000000ULL, 1000000000000000ULL, 10000000000000000ULL, 100000000000000000ULL,
    1000000000000000000ULL,
};

/* --- decimals ------------------------------------------------------------------------ */

/* A non-negative decimal: whole + 0.<frac>, frac without trailing zeros, so two decimals
   compare by whole, then by their fraction digits as strings (a longer fraction with an
   equal prefix is greater: its last digit is not zero). */
typedef struct {
    uint64_t whole;
    const unsigned char *frac;
    Py_ssize_t frac_len;
} decimal;

static inline int
compare(const decimal *a, const decimal *b)
{
    if (a->whole != b->whole) {
        return a->whole < b->whole ? -1 : 1;
    }
    Py_ssize_t n = a->frac_len < b->frac_len ? a->frac_len : b->frac_len;
    int c = n ? memcmp(a->frac, b->frac, (size_t)n) : 0;
    if (c != 0) {
        return c < 0 ? -1 : 1;
    }
    return (a->frac_len > b->frac_len) - (a->frac_len < b->frac_len);
}

/* <decimal> at *pp. *significant: its significant digits (see the header); the whole
   part is exact when that is <= 18. 0 when it is not a <decimal>. */
static inline int
scan_decimal(const unsigned char **pp, const unsigned char *end, decimal *out, Py_ssize_t *significant)
{
    const unsigned char *p = *pp;
    uint64_t whole = 0;
    Py_ssize_t whole_digits = 0;
    if (p >= end || !json_is_digit(*p)) {
        return 0;
    }
    if (*p == '0') {
        p++; /* a digit after it is caught by the caller's closing quote: no leading zeros */
    }
    else {
        while (p < end && json_is_digit(*p)) {
            whole = whole * 10 + (uint64_t)(*p - '0'); /* unsigned: wraps harmlessly past 18 digits */
            whole_digits++;
            p++;
        }
    }
    const unsigned char *frac = p;
    Py_ssize_t frac_len = 0;
    Py_ssize_t frac_zeros = 0; /* leading zeros of the fraction */
    if (p < end && *p == '.') {
        frac = ++p;
        const unsigned char *first_nonzero = NULL;
        const unsigned char *last = frac; /* past the last non-zero digit */
        while (p < end && json_is_digit(*p)) {
            if (*p != '0') {
                if (first_nonzero == NULL) {
                    first_nonzero = p;
                }
                last = p + 1;
            }
            p++;
        }
        if (p == frac) {
            return 0; /* "5." */
        }
        frac_len = last - frac;
        frac_zeros = first_nonzero != NULL ? first_nonzero - frac : 0;
    }
    out->whole = whole;
    out->frac = frac;
    out->frac_len = frac_len;
    *significant = whole_digits ? whole_digits + frac_len : frac_len - frac_zeros;
    *pp = p;
    return 1;
}

/* --- the frame ----------------------------------------------------------------------- */

/* <levels>; on success *pp is past the closing bracket. want > 0 keeps in *best the
   highest price with a non-zero quantity (bids), want < 0 the lowest (asks), want == 0
   only checks the side; *found says whether there was one. */
static int
scan_side(const unsigned char **pp, const unsigned char *end, int want, decimal *best, int *found)
{
    const unsigned char *p = *pp;
    *found = 0;
    if (!EXPECT("[")) {
        return 0;
    }
    if (EXPECT("]")) {
        *pp = p;
        return 1;
    }
    for (;;) {
        decimal price, qty;
        Py_ssize_t price_digits, qty_digits;
        if (!EXPECT("[\"") || !scan_decimal(&p, end, &price, &price_digits) || price_digits > MAX_SIGNIFICANT ||
            !EXPECT("\",\"") || !scan_decimal(&p, end, &qty, &qty_digits) || !EXPECT("\"]")) {
            return 0;
        }
        if (want && qty_digits != 0 && /* a non-zero quantity has a significant digit */
            (!*found || compare(&price, best) * want > 0)) {
            *best = price;
            *found = 1;
        }
        if (EXPECT(",")) {
            continue;
        }
        if (EXPECT("]")) {
            *pp = p;
            return 1;
        }
        return 0;
    }
}

/* --- triggers and symbols ------------------------------------------------------------- */

typedef struct {
    PyObject *handle;              /* strong reference */
    uint64_t seq;                  /* arm order across symbols (disarm_all) */
    uint64_t limit_whole;          /* the limit as a decimal (see compare) */
    unsigned char limit_frac[MAX_SCALE];
    unsigned char limit_frac_len;
    unsigned char is_buy;
} trigger;

typedef struct {
    char name[MAX_SYMBOL];
    Py_ssize_t len;
    long long next_id;            /* 0: the book is not LIVE */
    trigger *triggers;            /* this symbol's, in arm order */
    Py_ssize_t n, cap;
    Py_ssize_t buys, sells;
} symbol_entry;

typedef struct {
    PyObject_HEAD
    symbol_entry *symbols;        /* never removed: bounded by the symbols the caller names */
    Py_ssize_t n_symbols, cap_symbols;
    Py_ssize_t *slots;            /* open addressing over symbols: index, or -1 */
    size_t n_slots;               /* a power of two, at least twice n_symbols */
    Py_ssize_t count;
    uint64_t next_seq;
    int paused;
} Reflex;

static inline size_t
symbol_hash(const char *name, Py_ssize_t len)
{
    uint64_t h = 14695981039346656037ULL; /* FNV-1a */
    for (Py_ssize_t i = 0; i < len; i++) {
        h = (h ^ (unsigned char)name[i]) * 1099511628211ULL;
    }
    return (size_t)h;
}

static inline Py_ssize_t
find_symbol(const Reflex *self, const char *name, Py_ssize_t len)
{
    if (self->n_slots == 0) {
        return -1;
    }
    size_t mask = self->n_slots - 1;
    for (size_t i = symbol_hash(name, len) & mask;; i = (i + 1) & mask) {
        Py_ssize_t at = self->slots[i];
        if (at < 0) {
            return -1;
        }
        const symbol_entry *s = &self->symbols[at];
        if (s->len == len && memcmp(s->name, name, (size_t)len) == 0) {
            return at;
        }
    }
}

/* The symbol's index, added (next id 0, no triggers) when new; -1 with MemoryError. */
static Py_ssize_t
symbol_index(Reflex *self, const char *name, Py_ssize_t len)
{
    Py_ssize_t at = find_symbol(self, name, len);
    if (at >= 0) {
        return at;
    }
    if (self->n_symbols == self->cap_symbols) {
        Py_ssize_t cap = self->cap_symbols ? self->cap_symbols * 2 : 8;
        symbol_entry *symbols = PyMem_Realloc(self->symbols, (size_t)cap * sizeof(symbol_entry));
        if (symbols == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        self->symbols = symbols;
        self->cap_symbols = cap;
    }
    if ((size_t)(self->n_symbols + 1) * 2 > self->n_slots) {
        size_t n_slots = self->n_slots ? self->n_slots * 2 : 16;
        Py_ssize_t *slots = PyMem_Malloc(n_slots * sizeof(Py_ssize_t));
        if (slots == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        for (size_t i = 0; i < n_slots; i++) {
            slots[i] = -1;
        }
        for (Py_ssize_t k = 0; k < self->n_symbols; k++) {
            size_t i = symbol_hash(self->symbols[k].name, self->symbols[k].len) & (n_slots - 1);
            while (slots[i] >= 0) {
                i = (i + 1) & (n_slots - 1);
            }
            slots[i] = k;
        }
        PyMem_Free(self->slots);
        self->slots = slots;
        self->n_slots = n_slots;
    }
    at = self->n_symbols++;
    symbol_entry *s = &self->symbols[at];
    memset(s, 0, sizeof *s);
    memcpy(s->name, name, (size_t)len);
    s->len = len;
    size_t i = symbol_hash(name, len) & (self->n_slots - 1);
    while (self->slots[i] >= 0) {
        i = (i + 1) & (self->n_slots - 1);
    }
    self->slots[i] = at;
    return at;
}

static inline int
fires(const trigger *t, const decimal *bid, int has_bid, const decimal *ask, int has_ask)
{
    decimal limit = {t->limit_whole, t->limit_frac, t->limit_frac_len};
    return t->is_buy ? has_ask && compare(ask, &limit) <= 0 : has_bid && compare(bid, &limit) >= 0;
}

/* --- arguments ------------------------------------------------------------------------ */

/* Positional and keyword arguments of a METH_FASTCALL | METH_KEYWORDS method, all required. */
static int
unpack(const char *func, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames, const char *const *names,
       Py_ssize_t n, PyObject **out)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        out[i] = i < nargs ? args[i] : NULL;
    }
    if (nargs > n) {
        PyErr_Format(PyExc_TypeError, "%s() takes %zd arguments (%zd given)", func, n, nargs);
        return -1;
    }
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t k = 0; k < nkw; k++) {
        PyObject *key = PyTuple_GET_ITEM(kwnames, k);
        Py_ssize_t i = 0;
        while (i < n && PyUnicode_CompareWithASCIIString(key, names[i]) != 0) {
            i++;
        }
        if (i == n) {
            PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%U'", func, key);
            return -1;
        }
        if (out[i] != NULL) {
            PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'", func, names[i]);
            return -1;
        }
        out[i] = args[nargs + k];
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (out[i] == NULL) {
            PyErr_Format(PyExc_TypeError, "%s() missing required argument '%s'", func, names[i]);
            return -1;
        }
    }
    return 0;
}

/* A Binance symbol: str of 1..20 A-Z0-9 (ASCII str: no allocation). */
static int
symbol_arg(const char *func, PyObject *obj, const char **name, Py_ssize_t *len)
{
    if (!PyUnicode_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s: symbol must be a str, not %.100s", func, Py_TYPE(obj)->tp_name);
        return -1;
    }
    const char *s = PyUnicode_AsUTF8AndSize(obj, len);
    if (s == NULL) {
        return -1;
    }
    int ok = *len >= 1 && *len <= MAX_SYMBOL;
    for (Py_ssize_t i = 0; ok && i < *len; i++) {
        ok = json_is_digit((unsigned char)s[i]) || (unsigned)(s[i] - 'A') <= 25;
    }
    if (!ok) {
        PyErr_Format(PyExc_ValueError, "%s: symbol must be 1 to %d of A-Z0-9, got %R", func, MAX_SYMBOL, obj);
        return -1;
    }
    *name = s;
    return 0;
}

/* An int (not a bool) in [lo, hi]: TypeError or ValueError otherwise. */
static int
int_arg(const char *func, const char *what, PyObject *obj, long long lo, long long hi, long long *out)
{
    if (!PyLong_Check(obj) || PyBool_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s: %s must be an int, not %.100s", func, what, Py_TYPE(obj)->tp_name);
        return -1;
    }
    int overflow;
    long long v = PyLong_AsLongLongAndOverflow(obj, &overflow);
    if (v == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (overflow || v < lo || v > hi) {
        PyErr_Format(PyExc_ValueError, "%s: %s must be in [%lld, %lld], got %R", func, what, lo, hi, obj);
        return -1;
    }
    *out = v;
    return 0;
}

static int
bool_arg(const char *func, const char *what, PyObject *obj)
{
    if (!PyBool_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s: %s must be a bool, not %.100s", func, what, Py_TYPE(obj)->tp_name);
        return -1;
    }
    return obj == Py_True;
}

/* --- Reflex --------------------------------------------------------------------------- */

static PyObject *
Reflex_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    if (PyTuple_GET_SIZE(args) != 0 || (kwds != NULL && PyDict_GET_SIZE(kwds) != 0)) {
        PyErr_SetString(PyExc_TypeError, "Reflex() takes no arguments");
        return NULL;
    }
    return type->tp_alloc(type, 0); /* zeroed: no symbols, no triggers, not paused */
}

static int
Reflex_traverse(Reflex *self, visitproc visit, void *arg)
{
    for (Py_ssize_t i = 0; i < self->n_symbols; i++) {
        const symbol_entry *s = &self->symbols[i];
        for (Py_ssize_t j = 0; j < s->n; j++) {
            Py_VISIT(s->triggers[j].handle);
        }
    }
    return 0;
}

/* Disarms everything. A handle's release may run Python code that arms again, so each
   symbol's array is detached before its handles are released. */
static int
Reflex_clear(Reflex *self)
{
    for (Py_ssize_t i = 0; i < self->n_symbols; i++) {
        symbol_entry *s = &self->symbols[i];
        trigger *triggers = s->triggers;
        Py_ssize_t n = s->n;
        s->triggers = NULL;
        s->n = s->cap = s->buys = s->sells = 0;
        self->count -= n;
        for (Py_ssize_t j = 0; j < n; j++) {
            Py_DECREF(triggers[j].handle);
        }
        PyMem_Free(triggers);
    }
    return 0;
}

static void
Reflex_dealloc(Reflex *self)
{
    PyObject_GC_UnTrack(self);
    Reflex_clear(self);
    PyMem_Free(self->symbols);
    PyMem_Free(self->slots);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

PyDoc_STRVAR(set_next_doc,
"set_next(symbol: str, next_update_id: int) -> None\n"
"\n"
"The update id the symbol's LIVE book expects next (its last applied u + 1), or 0 when\n"
"the book is not LIVE (then nothing of that symbol fires).");

static PyObject *
Reflex_set_next(Reflex *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"symbol", "next_update_id"};
    PyObject *a[2];
    const char *name;
    Py_ssize_t len;
    long long next_id;
    if (unpack("set_next", args, nargs, kwnames, names, 2, a) < 0 ||
        symbol_arg("Reflex.set_next", a[0], &name, &len) < 0 ||
        int_arg("Reflex.set_next", "next_update_id", a[1], 0, LLONG_MAX, &next_id) < 0) {
        return NULL;
    }
    Py_ssize_t at = symbol_index(self, name, len);
    if (at < 0) {
        return NULL;
    }
    self->symbols[at].next_id = next_id;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(arm_doc,
"arm(symbol: str, is_buy: bool, limit: int, scale: int, handle: object) -> None\n"
"\n"
"A BUY fires on an ask level of the symbol with non-zero quantity and price <= limit,\n"
"a SELL on a bid level with price >= limit; limit is in units of 10**-scale\n"
"(0 <= scale <= 18, 0 < limit < 2**63). ValueError when the handle is already armed.");

static PyObject *
Reflex_arm(Reflex *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"symbol", "is_buy", "limit", "scale", "handle"};
    PyObject *a[5];
    const char *name;
    Py_ssize_t len;
    long long limit, scale;
    int is_buy;
    if (unpack("arm", args, nargs, kwnames, names, 5, a) < 0 || symbol_arg("Reflex.arm", a[0], &name, &len) < 0 ||
        (is_buy = bool_arg("Reflex.arm", "is_buy", a[1])) < 0 ||
        int_arg("Reflex.arm", "limit", a[2], 1, LLONG_MAX, &limit) < 0 ||
        int_arg("Reflex.arm", "scale", a[3], 0, MAX_SCALE, &scale) < 0) {
        return NULL;
    }
    PyObject *handle = a[4];
    for (Py_ssize_t i = 0; i < self->n_symbols; i++) {
        const symbol_entry *s = &self->symbols[i];
        for (Py_ssize_t j = 0; j < s->n; j++) {
            if (s->triggers[j].handle == handle) {
                PyErr_SetString(PyExc_ValueError, "Reflex.arm: this handle is already armed");
                return NULL;
            }
        }
    }
    Py_ssize_t at = symbol_index(self, name, len);
    if (at < 0) {
        return NULL;
    }
    symbol_entry *s = &self->symbols[at];
    if (s->n == s->cap) {
        Py_ssize_t cap = s->cap ? s->cap * 2 : 4;
        trigger *triggers = PyMem_Realloc(s->triggers, (size_t)cap * sizeof(trigger));
        if (triggers == NULL) {
            PyErr_NoMemory();
            return NULL;
        }
        s->triggers = triggers;
        s->cap = cap;
    }
    trigger *t = &s->triggers[s->n];
    memset(t, 0, sizeof *t);
    uint64_t fraction = (uint64_t)limit % POW10[scale];
    t->limit_whole = (uint64_t)limit / POW10[scale];
    for (long long k = scale - 1; k >= 0; k--) { /* the scale's digits, then trailing zeros dropped */
        t->limit_frac[k] = (unsigned char)('0' + fraction % 10);
        fraction /= 10;
    }
    t->limit_frac_len = (unsigned char)scale;
    while (t->limit_frac_len > 0 && t->limit_frac[t->limit_frac_len - 1] == '0') {
        t->limit_frac_len--;
    }
    t->is_buy = (unsigned char)is_buy;
    t->seq = self->next_seq++;
    t->handle = Py_NewRef(handle);
    s->n++;
    if (is_buy) {
        s->buys++;
    }
    else {
        s->sells++;
    }
    self->count++;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(disarm_doc,
"disarm(handle: object) -> bool: True when the handle was armed (now removed), else False.");

static PyObject *
Reflex_disarm(Reflex *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"handle"};
    PyObject *handle;
    if (unpack("disarm", args, nargs, kwnames, names, 1, &handle) < 0) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < self->n_symbols; i++) {
        symbol_entry *s = &self->symbols[i];
        for (Py_ssize_t j = 0; j < s->n; j++) {
            trigger *t = &s->triggers[j];
            if (t->handle != handle) {
                continue;
            }
            if (t->is_buy) {
                s->buys--;
            }
            else {
                s->sells--;
            }
            memmove(t, t + 1, (size_t)(s->n - j - 1) * sizeof(trigger));
            s->n--;
            self->count--;
            Py_DECREF(handle); /* last: it may run Python code (the caller holds a reference) */
            Py_RETURN_TRUE;
        }
    }
    Py_RETURN_FALSE;
}

typedef struct {
    uint64_t seq;
    PyObject *handle;
} armed;

static int
armed_before(const void *a, const void *b)
{
    uint64_t x = ((const armed *)a)->seq, y = ((const armed *)b)->seq;
    return (x > y) - (x < y);
}

PyDoc_STRVAR(disarm_all_doc,
"disarm_all() -> list[object]: removes every trigger and returns their handles in arm order.");

static PyObject *
Reflex_disarm_all(Reflex *self, PyObject *Py_UNUSED(ignored))
{
    PyObject *list;
    for (;;) {
        Py_ssize_t n = self->count;
        list = PyList_New(n);
        if (list == NULL) {
            return NULL;
        }
        if (self->count == n) {
            break;
        }
        Py_DECREF(list); /* a collection during PyList_New ran code that armed or disarmed */
    }
    Py_ssize_t n = self->count;
    armed *all = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(armed));
    if (all == NULL) {
        Py_DECREF(list);
        return PyErr_NoMemory();
    }
    Py_ssize_t k = 0;
    for (Py_ssize_t i = 0; i < self->n_symbols; i++) {
        symbol_entry *s = &self->symbols[i];
        for (Py_ssize_t j = 0; j < s->n; j++) {
            all[k].seq = s->triggers[j].seq;
            all[k++].handle = s->triggers[j].handle;
        }
        s->n = s->buys = s->sells = 0; /* the arrays stay for the next arms */
    }
    qsort(all, (size_t)n, sizeof(armed), armed_before);
    for (k = 0; k < n; k++) {
        PyList_SET_ITEM(list, k, all[k].handle); /* the trigger's reference moves to the list */
    }
    self->count = 0;
    PyMem_Free(all);
    return list;
}

PyDoc_STRVAR(match_doc,
"match(frame: bytes) -> tuple[object, ...] | None\n"
"\n"
"The handles fired by a depthUpdate frame (exact compact raw shape, in sequence for a\n"
"LIVE book), removed and in arm order; None for any other frame, and while paused.");

static PyObject *
Reflex_match(Reflex *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *frame;
    if (kwnames == NULL && nargs == 1) {
        frame = args[0];
    }
    else {
        static const char *const names[] = {"frame"};
        if (unpack("match", args, nargs, kwnames, names, 1, &frame) < 0) {
            return NULL;
        }
    }
    if (!PyBytes_Check(frame)) {
        PyErr_Format(PyExc_TypeError, "Reflex.match: frame must be bytes, not %.100s", Py_TYPE(frame)->tp_name);
        return NULL;
    }
    if (self->paused || self->count == 0) {
        Py_RETURN_NONE;
    }
    const unsigned char *p = (const unsigned char *)PyBytes_AS_STRING(frame);
    const unsigned char *end = p + PyBytes_GET_SIZE(frame);
    long long event_time, first_id, final_id;
    if (!EXPECT("{\"e\":\"depthUpdate\",\"E\":") || !json_scan_int(&p, end, &event_time) || !EXPECT(",\"s\":\"")) {
        Py_RETURN_NONE;
    }
    const char *name = (const char *)p;
    while (p < end && (json_is_digit(*p) || (unsigned)(*p - 'A') <= 25)) {
        p++;
    }
    Py_ssize_t len = (const char *)p - name;
    if (len == 0 || len > MAX_SYMBOL || !EXPECT("\",\"U\":") || !json_scan_int(&p, end, &first_id) ||
        !EXPECT(",\"u\":") || !json_scan_int(&p, end, &final_id) || !EXPECT(",\"b\":")) {
        Py_RETURN_NONE;
    }
    Py_ssize_t at = find_symbol(self, name, len);
    if (at < 0) {
        Py_RETURN_NONE;
    }
    const symbol_entry *s = &self->symbols[at];
    long long next_id = s->next_id;
    if (s->n == 0 || next_id == 0 || next_id < first_id || next_id > final_id) {
        Py_RETURN_NONE;
    }
    decimal bid = {0, NULL, 0}, ask = {0, NULL, 0};
    int has_bid, has_ask;
    if (!scan_side(&p, end, s->sells ? 1 : 0, &bid, &has_bid) || !EXPECT(",\"a\":") ||
        !scan_side(&p, end, s->buys ? -1 : 0, &ask, &has_ask) || !EXPECT("}") || p != end) {
        Py_RETURN_NONE;
    }
    Py_ssize_t n = 0;
    for (Py_ssize_t j = 0; j < s->n; j++) {
        n += fires(&s->triggers[j], &bid, has_bid, &ask, has_ask);
    }
    if (n == 0) {
        Py_RETURN_NONE;
    }
    /* The tuple is the first allocation; a collection it triggers may run code that arms
       or disarms, so count again (bid and ask point into the frame, which the caller holds). */
    PyObject *fired;
    for (;;) {
        fired = PyTuple_New(n);
        if (fired == NULL) {
            return NULL;
        }
        s = &self->symbols[at];
        Py_ssize_t again = 0;
        for (Py_ssize_t j = 0; j < s->n; j++) {
            again += fires(&s->triggers[j], &bid, has_bid, &ask, has_ask);
        }
        if (again == n) {
            break;
        }
        Py_DECREF(fired);
        if (again == 0) {
            Py_RETURN_NONE;
        }
        n = again;
    }
    symbol_entry *w = &self->symbols[at];
    Py_ssize_t k = 0, kept = 0;
    for (Py_ssize_t j = 0; j < w->n; j++) {
        trigger *t = &w->triggers[j];
        if (!fires(t, &bid, has_bid, &ask, has_ask)) {
            w->triggers[kept++] = *t;
            continue;
        }
        PyTuple_SET_ITEM(fired, k++, t->handle); /* the trigger's reference moves to the tuple */
        if (t->is_buy) {
            w->buys--;
        }
        else {
            w->sells--;
        }
    }
    w->n = kept;
    self->count -= k;
    return fired;
}

static PyObject *
Reflex_get_count(Reflex *self, void *Py_UNUSED(closure))
{
    return PyLong_FromSsize_t(self->count);
}

static PyObject *
Reflex_get_paused(Reflex *self, void *Py_UNUSED(closure))
{
    return PyBool_FromLong(self->paused);
}

static int
Reflex_set_paused(Reflex *self, PyObject *value, void *Py_UNUSED(closure))
{
    if (value == NULL) {
        PyErr_SetString(PyExc_TypeError, "Reflex.paused cannot be deleted");
        return -1;
    }
    int paused = bool_arg("Reflex.paused", "the value", value);
    if (paused < 0) {
        return -1;
    }
    self->paused = paused;
    return 0;
}

static PyMethodDef Reflex_methods[] = {
    {"set_next", (PyCFunction)(void (*)(void))Reflex_set_next, METH_FASTCALL | METH_KEYWORDS, set_next_doc},
    {"arm", (PyCFunction)(void (*)(void))Reflex_arm, METH_FASTCALL | METH_KEYWORDS, arm_doc},
    {"disarm", (PyCFunction)(void (*)(void))Reflex_disarm, METH_FASTCALL | METH_KEYWORDS, disarm_doc},
    {"disarm_all", (PyCFunction)Reflex_disarm_all, METH_NOARGS, disarm_all_doc},
    {"match", (PyCFunction)(void (*)(void))Reflex_match, METH_FASTCALL | METH_KEYWORDS, match_doc},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Reflex_getset[] = {
    {"count", (getter)Reflex_get_count, NULL, "The armed triggers, now.", NULL},
    {"paused", (getter)Reflex_get_paused, (setter)Reflex_set_paused,
     "While True, match() returns None at once.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject ReflexType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "stanchion.venues.binance._reflex.Reflex",
    .tp_basicsize = sizeof(Reflex),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "Armed orders, fired by the raw depthUpdate frame that reaches their limit (see _reflex.c).",
    .tp_new = Reflex_new,
    .tp_dealloc = (destructor)Reflex_dealloc,
    .tp_traverse = (traverseproc)Reflex_traverse,
    .tp_clear = (inquiry)Reflex_clear,
    .tp_methods = Reflex_methods,
    .tp_getset = Reflex_getset,
};

static struct PyModuleDef reflex_module = {
    PyModuleDef_HEAD_INIT,
    "stanchion.venues.binance._reflex",
    "Armed orders fired from the raw depthUpdate frame, in C (see _reflex.c).",
    -1,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC
PyInit__reflex(void)
{
    if (PyType_Ready(&ReflexType) < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&reflex_module);
    if (module == NULL) {
        return NULL;
    }
    if (PyModule_AddObjectRef(module, "Reflex", (PyObject *)&ReflexType) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
