/*
 * stanchion.book._native — the per-level loop of L2Book.apply_text_crossed and
 * L2Book.apply_json_crossed in C (decision 0003 §7).
 *
 * One call applies one side of a depth diff: a list (or tuple) of
 * ("<digits>.<scale digits>", "<digits>.<scale digits>") string pairs, or the
 * bytes of the JSON array they came in, as the venue wrote them, parsed to
 * fixed-point ints and written into the side's dict (price -> qty), its heap of
 * prices and its cached best price.
 *
 * It is an accelerator, not a second parser: it handles only the exact shape
 * the Python path accepts inline (ASCII digits, one dot at the scale's
 * position, at least one whole digit) and at most 18 digits, so every value it
 * produces fits in an int64 and equals int(text.replace(".", "", 1)). At the
 * first level that is anything else (another shape, a non-string, a wrong
 * arity, a value beyond 18 digits, a JSON escape or any unexpected byte) it stops *before* touching that level and
 * hands the rest back; the Python reference path then applies the rest with
 * the full rules and raises the precise ParseError. The result is therefore
 * identical to the Python path's, level by level (the property tests check it).
 *
 * Best-price sentinels (see l2.py): bids use -1 for "empty" and a huge int
 * (``big``) for "dirty"; asks use ``big`` for "empty" and -1 for "dirty".
 * Real prices are below 10**18, so ``big`` maps to INT64_MAX here and back.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

#define MAX_DIGITS 18 /* 10**18 - 1 < 2**63 - 1 */

/* 1 and *out set when s[0:n] is "<digits>.<scale digits>" with 1..MAX_DIGITS digits in all; else 0. */
static inline int
parse_chars(const unsigned char *s, Py_ssize_t n, Py_ssize_t scale, int64_t *out)
{
    Py_ssize_t dot = n - scale - 1;
    if (scale <= 0 || dot < 1 || n - 1 > MAX_DIGITS) {
        return 0;
    }
    if (s[dot] != '.') {
        return 0;
    }
    int64_t v = 0;
    for (Py_ssize_t i = 0; i < dot; i++) {
        unsigned int d = (unsigned int)s[i] - '0';
        if (d > 9) {
            return 0;
        }
        v = v * 10 + (int64_t)d;
    }
    for (Py_ssize_t i = dot + 1; i < n; i++) {
        unsigned int d = (unsigned int)s[i] - '0';
        if (d > 9) {
            return 0;
        }
        v = v * 10 + (int64_t)d;
    }
    *out = v;
    return 1;
}

/* parse_chars on a str (exact str, compact ASCII only). */
static inline int
parse_shape(PyObject *text, Py_ssize_t scale, int64_t *out)
{
    if (!PyUnicode_CheckExact(text) || !PyUnicode_IS_COMPACT_ASCII(text)) {
        return 0;
    }
    return parse_chars((const unsigned char *)PyUnicode_DATA(text), PyUnicode_GET_LENGTH(text), scale, out);
}

/* heapq.heappush's algorithm (append, then sift the new item up), so heaps match the Python path's. */
static int
heap_push(PyObject *heap, PyObject *item, int64_t value)
{
    if (PyList_Append(heap, item) < 0) {
        return -1;
    }
    PyObject **arr = ((PyListObject *)heap)->ob_item;
    Py_ssize_t pos = PyList_GET_SIZE(heap) - 1;
    PyObject *newitem = arr[pos];
    while (pos > 0) {
        Py_ssize_t parentpos = (pos - 1) >> 1;
        PyObject *parent = arr[parentpos];
        int overflow = 0;
        int64_t parent_value = PyLong_AsLongLongAndOverflow(parent, &overflow); /* heap entries are ints */
        int lt;
        if (!overflow && !(parent_value == -1 && PyErr_Occurred())) {
            lt = value < parent_value;
        }
        else {
            PyErr_Clear();
            lt = PyObject_RichCompareBool(newitem, parent, Py_LT); /* beyond int64: no side effects */
            if (lt < 0) {
                return -1;
            }
        }
        if (!lt) {
            break;
        }
        arr[pos] = parent;
        pos = parentpos;
    }
    arr[pos] = newitem;
    return 0;
}

/* One level into the side: qty 0 removes it (and dirties the best if it was the best),
   a new price is pushed onto the heap and may become the best. -1 on a Python error. */
static int
apply_level(PyObject *side, PyObject *heap, int is_bid, int64_t price, int64_t qty, int64_t *best, int64_t dirty)
{
    PyObject *key = PyLong_FromLongLong(price);
    if (key == NULL) {
        return -1;
    }
    if (qty) {
        PyObject *value = PyLong_FromLongLong(qty);
        if (value == NULL) {
            Py_DECREF(key);
            return -1;
        }
        Py_ssize_t before = PyDict_GET_SIZE(side);
        int rc = PyDict_SetItem(side, key, value);
        Py_DECREF(value);
        if (rc < 0) {
            Py_DECREF(key);
            return -1;
        }
        if (PyDict_GET_SIZE(side) != before) { /* a new level */
            PyObject *entry = key;
            if (is_bid) {
                entry = PyLong_FromLongLong(-price);
                if (entry == NULL) {
                    Py_DECREF(key);
                    return -1;
                }
            }
            rc = heap_push(heap, entry, is_bid ? -price : price);
            if (is_bid) {
                Py_DECREF(entry);
            }
            if (rc < 0) {
                Py_DECREF(key);
                return -1;
            }
            if (is_bid ? price > *best : price < *best) {
                *best = price;
            }
        }
    }
    else {
        int present = PyDict_Contains(side, key);
        if (present < 0 || (present && PyDict_DelItem(side, key) < 0)) {
            Py_DECREF(key);
            return -1;
        }
        if (present && price == *best) {
            *best = dirty;
        }
    }
    Py_DECREF(key);
    return 0;
}

static PyObject *
best_object(int64_t best, PyObject *big)
{
    if (best == INT64_MAX) {
        Py_INCREF(big);
        return big;
    }
    return PyLong_FromLongLong(best);
}

/* The levels from index `done` on, or None when all were applied. */
static PyObject *
rest_of(PyObject *levels, Py_ssize_t done, Py_ssize_t n)
{
    if (done >= n) {
        Py_RETURN_NONE;
    }
    if (done == 0) {
        Py_INCREF(levels);
        return levels;
    }
    if (PyList_CheckExact(levels)) {
        return PyList_GetSlice(levels, done, n);
    }
    return PyTuple_GetSlice(levels, done, n);
}

/* The arguments both entry points share: side, heap, <levels>, best, is_bid, price_scale, qty_scale, big. */
typedef struct {
    PyObject *side;
    PyObject *heap;
    PyObject *levels;
    PyObject *best_in;
    PyObject *big;
    int is_bid;
    Py_ssize_t price_scale;
    Py_ssize_t qty_scale;
    int64_t best;  /* best_in as int64 (big -> INT64_MAX) */
    int64_t dirty; /* the side's "dirty" sentinel as int64 */
} side_args;

/* 1: parsed; 0: the best is beyond int64 and not the sentinel (the Python path only); -1: error. */
static int
side_args_parse(const char *name, PyObject *const *args, Py_ssize_t nargs, side_args *a)
{
    if (nargs != 8) {
        PyErr_Format(PyExc_TypeError, "%s() takes exactly 8 arguments (%zd given)", name, nargs);
        return -1;
    }
    a->side = args[0];
    a->heap = args[1];
    a->levels = args[2];
    a->best_in = args[3];
    a->is_bid = PyObject_IsTrue(args[4]);
    a->price_scale = PyLong_AsSsize_t(args[5]);
    a->qty_scale = PyLong_AsSsize_t(args[6]);
    a->big = args[7];
    if (a->is_bid < 0 || ((a->price_scale == -1 || a->qty_scale == -1) && PyErr_Occurred())) {
        return -1;
    }
    if (!PyDict_CheckExact(a->side) || !PyList_CheckExact(a->heap) || !PyLong_CheckExact(a->big)) {
        PyErr_Format(PyExc_TypeError, "%s(): side must be a dict, heap a list, big an int", name);
        return -1;
    }
    int overflow = 0;
    a->best = PyLong_AsLongLongAndOverflow(a->best_in, &overflow);
    if (a->best == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (overflow) {
        int is_big = overflow > 0 ? PyObject_RichCompareBool(a->best_in, a->big, Py_EQ) : 0;
        if (is_big <= 0) {
            return is_big; /* -1: error; 0: a real best beyond int64 (a parse_fixed price) */
        }
        a->best = INT64_MAX;
    }
    a->dirty = a->is_bid ? INT64_MAX : -1;
    return 1;
}

/* (best, second) as a new tuple; steals nothing. */
static PyObject *
result_pair(const side_args *a, PyObject *second)
{
    if (second == NULL) {
        return NULL;
    }
    PyObject *best_out = best_object(a->best, a->big);
    if (best_out == NULL) {
        Py_DECREF(second);
        return NULL;
    }
    PyObject *result = PyTuple_Pack(2, best_out, second);
    Py_DECREF(best_out);
    Py_DECREF(second);
    return result;
}

PyDoc_STRVAR(apply_side_doc,
"apply_side(side, heap, levels, best, is_bid, price_scale, qty_scale, big) -> (best, rest)\n"
"\n"
"Apply one side's decimal-string levels to ``side`` (dict price -> qty) and ``heap``\n"
"(negated prices for bids). Returns the new best price (sentinels as in l2.py) and\n"
"the levels it did not apply (None when it applied all): the caller applies those\n"
"with the Python reference path, which also raises the precise ParseError.");

static PyObject *
apply_side(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    side_args a;
    int ok = side_args_parse("apply_side", args, nargs, &a);
    if (ok < 0) {
        return NULL;
    }
    PyObject *levels = a.levels;
    /* Anything but a list or tuple of levels: nothing applied, all of it goes to the Python path. */
    if (!ok || (!PyList_CheckExact(levels) && !PyTuple_CheckExact(levels))) {
        return Py_BuildValue("(OO)", a.best_in, levels);
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(levels);
    PyObject **items = PySequence_Fast_ITEMS(levels);
    Py_ssize_t i = 0;
    for (; i < n; i++) {
        PyObject *level = items[i];
        PyObject *price_text;
        PyObject *qty_text;
        if (PyTuple_CheckExact(level) && PyTuple_GET_SIZE(level) == 2) {
            price_text = PyTuple_GET_ITEM(level, 0);
            qty_text = PyTuple_GET_ITEM(level, 1);
        }
        else if (PyList_CheckExact(level) && PyList_GET_SIZE(level) == 2) {
            price_text = PyList_GET_ITEM(level, 0);
            qty_text = PyList_GET_ITEM(level, 1);
        }
        else {
            break;
        }
        int64_t price;
        int64_t qty;
        if (!parse_shape(price_text, a.price_scale, &price) || !parse_shape(qty_text, a.qty_scale, &qty)) {
            break;
        }
        if (apply_level(a.side, a.heap, a.is_bid, price, qty, &a.best, a.dirty) < 0) {
            /* Half-written at worst (dict set, heap push failed): MemoryError is the only way
               here, and the caller discards the book. */
            return NULL;
        }
    }
    return result_pair(&a, rest_of(levels, i, n));
}

static inline const unsigned char *
skip_ws(const unsigned char *p, const unsigned char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) {
        p++;
    }
    return p;
}

/* A JSON string at p (p at the opening quote) holding "<digits>.<scale digits>" with 1..MAX_DIGITS
   digits in all, scanned and converted in one pass: *out its value, returns the byte after the
   closing quote; NULL for anything else (another shape, an escape, an unexpected byte). */
static inline const unsigned char *
number_string(const unsigned char *p, const unsigned char *end, Py_ssize_t scale, int64_t *out)
{
    if (p >= end || *p != '"' || scale <= 0) {
        return NULL;
    }
    const unsigned char *start = ++p;
    const unsigned char *dot = NULL;
    int64_t v = 0;
    int digits = 0;
    for (; p < end; p++) {
        unsigned int d = (unsigned int)*p - '0';
        if (d <= 9) {
            if (++digits > MAX_DIGITS) {
                return NULL;
            }
            v = v * 10 + (int64_t)d;
        }
        else if (*p == '.' && dot == NULL) {
            dot = p;
        }
        else {
            break;
        }
    }
    /* the closing quote, one dot with at least one digit before it and exactly `scale` after */
    if (p >= end || *p != '"' || dot == NULL || dot == start || p - dot - 1 != scale) {
        return NULL;
    }
    *out = v;
    return p + 1;
}

/* One side's JSON levels array into the side. Returns -1 when it applied the whole array, the
   index of the first level it did not apply otherwise, or -2 on a Python error (MemoryError). */
static Py_ssize_t
apply_json_levels(PyObject *side, PyObject *heap, PyObject *levels, int is_bid, Py_ssize_t price_scale,
                  Py_ssize_t qty_scale, int64_t *best)
{
    Py_buffer view;
    if (PyObject_GetBuffer(levels, &view, PyBUF_SIMPLE) < 0) {
        return -2;
    }
    const int64_t dirty = is_bid ? INT64_MAX : -1;
    const unsigned char *p = (const unsigned char *)view.buf;
    const unsigned char *end = p + view.len;
    Py_ssize_t i = 0;
    Py_ssize_t result = 0;
    p = skip_ws(p, end);
    if (p >= end || *p != '[') {
        goto done;
    }
    p = skip_ws(p + 1, end);
    if (p < end && *p == ']') {
        p++;
        goto close;
    }
    for (;;) {
        int64_t price;
        int64_t qty;
        if (p >= end || *p != '[') {
            goto done;
        }
        p = number_string(skip_ws(p + 1, end), end, price_scale, &price);
        if (p == NULL) {
            goto done;
        }
        p = skip_ws(p, end);
        if (p >= end || *p != ',') {
            goto done;
        }
        p = number_string(skip_ws(p + 1, end), end, qty_scale, &qty);
        if (p == NULL) {
            goto done;
        }
        p = skip_ws(p, end);
        if (p >= end || *p != ']') {
            goto done;
        }
        if (apply_level(side, heap, is_bid, price, qty, best, dirty) < 0) {
            result = -2; /* MemoryError only; the caller discards the book */
            goto release;
        }
        i++;
        p = skip_ws(p + 1, end);
        if (p < end && *p == ',') {
            p = skip_ws(p + 1, end);
            continue;
        }
        if (p < end && *p == ']') {
            p++;
            goto close;
        }
        goto done;
    }
close:
    /* trailing bytes: the Python path judges them */
    result = skip_ws(p, end) == end ? -1 : i;
    goto release;
done:
    result = i;
release:
    PyBuffer_Release(&view);
    return result;
}

/* Heaps that are mostly dead entries are rebuilt by the Python side. */
static inline int
needs_compaction(PyObject *side, PyObject *heap)
{
    return PyList_GET_SIZE(heap) > 2 * PyDict_GET_SIZE(side) + 64;
}

/* best as an int64 (big -> INT64_MAX); 1 ok, 0 beyond int64 and not big, -1 error. */
static int
best_value(PyObject *best_in, PyObject *big, int64_t *out)
{
    int overflow = 0;
    *out = PyLong_AsLongLongAndOverflow(best_in, &overflow);
    if (*out == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (overflow) {
        int is_big = overflow > 0 ? PyObject_RichCompareBool(best_in, big, Py_EQ) : 0;
        if (is_big <= 0) {
            return is_big;
        }
        *out = INT64_MAX;
    }
    return 1;
}

enum {
    BOOK_APPLIED = 0,         /* both arrays applied, the book is not crossed */
    BOOK_CROSSED = 1,         /* both arrays applied, the book is crossed */
    BOOK_FINISH = 2,          /* both applied; a dirty best or a heap to compact: the caller finishes */
    BOOK_BIDS_STOPPED = 3,    /* the bids stopped at `index`: the caller applies the rest and the asks */
    BOOK_ASKS_STOPPED = 4,    /* the asks stopped at `index` (the bids are applied) */
};

PyDoc_STRVAR(apply_book_json_doc,
"apply_book_json(bids, bid_heap, asks, ask_heap, bids_json, asks_json, best_bid, best_ask,\n"
"                price_scale, qty_scale, big) -> (best_bid, best_ask, status, index)\n"
"\n"
"Apply a diff's two JSON levels arrays (any buffer: bytes, msgspec.Raw, memoryview) to\n"
"both sides of a book, bids first. status: 0 applied and not crossed, 1 applied and\n"
"crossed, 2 applied but a best is dirty or a heap needs compaction (the caller\n"
"finishes), 3 the bids stopped at level `index`, 4 the asks stopped at `index`: the\n"
"first level in another shape, an escape, anything unexpected; the caller decodes that\n"
"array and applies the rest with the Python reference path.");

static PyObject *
apply_book_json(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 11) {
        PyErr_Format(PyExc_TypeError, "apply_book_json() takes exactly 11 arguments (%zd given)", nargs);
        return NULL;
    }
    PyObject *bids = args[0];
    PyObject *bid_heap = args[1];
    PyObject *asks = args[2];
    PyObject *ask_heap = args[3];
    PyObject *best_bid_in = args[6];
    PyObject *best_ask_in = args[7];
    PyObject *big = args[10];
    Py_ssize_t price_scale = PyLong_AsSsize_t(args[8]);
    Py_ssize_t qty_scale = PyLong_AsSsize_t(args[9]);
    if ((price_scale == -1 || qty_scale == -1) && PyErr_Occurred()) {
        return NULL;
    }
    if (!PyDict_CheckExact(bids) || !PyDict_CheckExact(asks) || !PyList_CheckExact(bid_heap) ||
        !PyList_CheckExact(ask_heap) || !PyLong_CheckExact(big)) {
        PyErr_SetString(PyExc_TypeError, "apply_book_json(): sides must be dicts, heaps lists, big an int");
        return NULL;
    }
    int64_t best_bid;
    int64_t best_ask;
    int ok_bid = best_value(best_bid_in, big, &best_bid);
    int ok_ask = ok_bid > 0 ? best_value(best_ask_in, big, &best_ask) : ok_bid;
    if (ok_bid < 0 || ok_ask < 0) {
        return NULL;
    }
    if (!ok_bid || !ok_ask) { /* a best beyond int64 (a parse_fixed price): all to the Python path */
        return Py_BuildValue("(OOii)", best_bid_in, best_ask_in, BOOK_BIDS_STOPPED, 0);
    }
    int status;
    Py_ssize_t index = 0;
    Py_ssize_t stopped = apply_json_levels(bids, bid_heap, args[4], 1, price_scale, qty_scale, &best_bid);
    if (stopped == -2) {
        return NULL;
    }
    if (stopped >= 0) {
        status = BOOK_BIDS_STOPPED;
        index = stopped;
    }
    else {
        stopped = apply_json_levels(asks, ask_heap, args[5], 0, price_scale, qty_scale, &best_ask);
        if (stopped == -2) {
            return NULL;
        }
        if (stopped >= 0) {
            status = BOOK_ASKS_STOPPED;
            index = stopped;
        }
        else if (best_bid == INT64_MAX || best_ask == -1 || needs_compaction(bids, bid_heap) ||
                 needs_compaction(asks, ask_heap)) {
            status = BOOK_FINISH;
        }
        else {
            /* sentinels: an empty bid side is -1, an empty ask side INT64_MAX (big): never crossed */
            status = best_bid >= best_ask ? BOOK_CROSSED : BOOK_APPLIED;
        }
    }
    PyObject *bid_out = best_object(best_bid, big);
    PyObject *ask_out = bid_out != NULL ? best_object(best_ask, big) : NULL;
    if (ask_out == NULL) {
        Py_XDECREF(bid_out);
        return NULL;
    }
    PyObject *result = Py_BuildValue("(NNin)", bid_out, ask_out, status, index);
    return result;
}

static PyMethodDef native_methods[] = {
    {"apply_side", (PyCFunction)(void (*)(void))apply_side, METH_FASTCALL, apply_side_doc},
    {"apply_book_json", (PyCFunction)(void (*)(void))apply_book_json, METH_FASTCALL, apply_book_json_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef native_module = {
    PyModuleDef_HEAD_INIT,
    "stanchion.book._native",
    "The per-level loop of L2Book.apply_text_crossed in C (see _native.c).",
    -1,
    native_methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC
PyInit__native(void)
{
    return PyModule_Create(&native_module);
}
