/*
 * stanchion.book._native — a book side and the per-level loop of a depth diff in C
 * (decision 0003 §7, §8).
 *
 * LevelMap: one side of a book, int64 price -> qty in an open-addressing table that
 * behaves as a dict[int, int] (see its section below).
 *
 * The loops: one call applies a depth diff's levels — a list (or tuple) of
 * ("<digits>.<scale digits>", "<digits>.<scale digits>") string pairs, the bytes of
 * the JSON arrays they came in, or already-parsed (price, qty) ints — into the
 * sides' LevelMaps, their heaps of prices and their cached best prices.
 *
 * They are accelerators, not second parsers: they handle only the exact shape
 * the Python path accepts inline (ASCII digits, one dot at the scale's
 * position, at least one whole digit) and at most 18 digits, so every value they
 * produce fits in an int64 and equals int(text.replace(".", "", 1)). At the
 * first level that is anything else (another shape, a non-string, a wrong
 * arity, a value beyond 18 digits, a JSON escape or any unexpected byte) they
 * stop *before* touching that level and hand the rest back; the Python reference
 * path then applies the rest with the full rules and raises the precise
 * ParseError. The result is therefore identical to the Python path's, level by
 * level (the property tests check it).
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

/* ------------------------------------------------------------------------------------------
 * LevelMap: one side of a book, price -> qty, both int64, in an open-addressing table.
 *
 * A dict of Python ints cost a new int object per key and value, a hash, a probe chain and a
 * rich compare per level update: ~60 % of the compiled loop's instructions (decision 0003 §8).
 * The table stores the ints themselves: linear probing, a multiplicative hash (prices are
 * multiples of a tick: their low bits carry nothing), load factor <= 1/2, backward-shift
 * deletion (no tombstones). It behaves as a dict[int, int] for Python code (mapping protocol,
 * get, pop, items, keys, values, clear, ==), so the Python reference path runs on it unchanged.
 *
 * Entries whose key or value does not fit an int64 (a parse_fixed price of 20 whole digits)
 * or whose key is INT64_MIN (the empty-slot marker) live in `wide`, a plain dict; a key is in
 * one of the two, never both.
 * ------------------------------------------------------------------------------------------ */

#define LM_EMPTY INT64_MIN
#define LM_MIN_CAP 16

typedef struct {
    PyObject_HEAD
    int64_t *slots; /* cap pairs (key, value); key LM_EMPTY is a free slot */
    Py_ssize_t mask; /* cap - 1, cap a power of two */
    Py_ssize_t used;
    int shift; /* 64 - log2(cap) */
    PyObject *wide; /* dict or NULL */
} LevelMapObject;

static PyTypeObject LevelMapType;

#define LevelMap_Check(op) Py_IS_TYPE((op), &LevelMapType)

static inline Py_ssize_t
lm_home(const LevelMapObject *m, int64_t key)
{
    return (Py_ssize_t)(((uint64_t)key * 0x9E3779B97F4A7C15ULL) >> m->shift);
}

static int
lm_alloc(LevelMapObject *m, Py_ssize_t cap)
{
    int64_t *slots = PyMem_Malloc((size_t)cap * 2 * sizeof(int64_t));
    if (slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < cap; i++) {
        slots[2 * i] = LM_EMPTY;
    }
    int bits = 0;
    while (((Py_ssize_t)1 << bits) < cap) {
        bits++;
    }
    m->slots = slots;
    m->mask = cap - 1;
    m->shift = 64 - bits;
    m->used = 0;
    return 0;
}

/* Index of key's slot, or -1. */
static inline Py_ssize_t
lm_find(const LevelMapObject *m, int64_t key)
{
    Py_ssize_t i = lm_home(m, key);
    const int64_t *slots = m->slots;
    for (;;) {
        int64_t k = slots[2 * i];
        if (k == key) {
            return i;
        }
        if (k == LM_EMPTY) {
            return -1;
        }
        i = (i + 1) & m->mask;
    }
}

static int lm_resize(LevelMapObject *m, Py_ssize_t cap);

/* Insert a key known to be absent (no resize check). */
static inline void
lm_insert_absent(LevelMapObject *m, int64_t key, int64_t value)
{
    Py_ssize_t i = lm_home(m, key);
    int64_t *slots = m->slots;
    while (slots[2 * i] != LM_EMPTY) {
        i = (i + 1) & m->mask;
    }
    slots[2 * i] = key;
    slots[2 * i + 1] = value;
    m->used++;
}

static int
lm_resize(LevelMapObject *m, Py_ssize_t cap)
{
    int64_t *old = m->slots;
    Py_ssize_t old_cap = m->mask + 1;
    Py_ssize_t used = m->used;
    if (lm_alloc(m, cap) < 0) {
        return -1;
    }
    for (Py_ssize_t i = 0; i < old_cap; i++) {
        if (old[2 * i] != LM_EMPTY) {
            lm_insert_absent(m, old[2 * i], old[2 * i + 1]);
        }
    }
    PyMem_Free(old);
    assert(m->used == used);
    (void)used;
    return 0;
}

/* Set key (a fast key: != LM_EMPTY). 1: a new key, 0: replaced, -1: MemoryError. */
static inline int
lm_set(LevelMapObject *m, int64_t key, int64_t value)
{
    Py_ssize_t i = lm_home(m, key);
    int64_t *slots = m->slots;
    for (;;) {
        int64_t k = slots[2 * i];
        if (k == key) {
            slots[2 * i + 1] = value;
            return 0;
        }
        if (k == LM_EMPTY) {
            break;
        }
        i = (i + 1) & m->mask;
    }
    if (2 * (m->used + 1) > m->mask + 1) {
        if (lm_resize(m, 2 * (m->mask + 1)) < 0) {
            return -1;
        }
        lm_insert_absent(m, key, value);
        return 1;
    }
    slots[2 * i] = key;
    slots[2 * i + 1] = value;
    m->used++;
    return 1;
}

/* Remove the entry at slot i (backward-shift deletion keeps every probe chain unbroken). */
static inline void
lm_remove_at(LevelMapObject *m, Py_ssize_t i)
{
    int64_t *slots = m->slots;
    Py_ssize_t mask = m->mask;
    Py_ssize_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        int64_t k = slots[2 * j];
        if (k == LM_EMPTY) {
            break;
        }
        Py_ssize_t home = lm_home(m, k);
        /* the entry at j may move back to i unless its home lies cyclically in (i, j] */
        if (((j - home) & mask) < ((j - i) & mask)) {
            continue;
        }
        slots[2 * i] = k;
        slots[2 * i + 1] = slots[2 * j + 1];
        i = j;
    }
    slots[2 * i] = LM_EMPTY;
    m->used--;
}

/* Remove key; 1 removed, 0 absent. */
static inline int
lm_del(LevelMapObject *m, int64_t key)
{
    Py_ssize_t i = lm_find(m, key);
    if (i < 0) {
        return 0;
    }
    lm_remove_at(m, i);
    return 1;
}

static inline int
lm_has_wide(const LevelMapObject *m)
{
    return m->wide != NULL && PyDict_GET_SIZE(m->wide) > 0;
}

/* A Python key as a fast key: 1 (in *out), 0 not an int64 fast key (wide), -1 not an int (TypeError set). */
static int
lm_key(PyObject *key, int64_t *out)
{
    if (!PyLong_Check(key)) {
        PyErr_Format(PyExc_TypeError, "LevelMap keys are ints, not %.100s", Py_TYPE(key)->tp_name);
        return -1;
    }
    int overflow = 0;
    *out = PyLong_AsLongLongAndOverflow(key, &overflow);
    if (*out == -1 && PyErr_Occurred()) {
        return -1;
    }
    return !overflow && *out != LM_EMPTY;
}

static Py_ssize_t
lm_length(LevelMapObject *m)
{
    return m->used + (m->wide != NULL ? PyDict_GET_SIZE(m->wide) : 0);
}

/* New reference to the value of key, NULL with no error set when absent, NULL with an error on error. */
static PyObject *
lm_lookup(LevelMapObject *m, PyObject *key)
{
    int64_t k;
    int fast = lm_key(key, &k);
    if (fast < 0) {
        if (PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Clear(); /* a non-int key is simply absent, as in a dict of ints */
        }
        return NULL;
    }
    if (fast) {
        Py_ssize_t i = lm_find(m, k);
        if (i >= 0) {
            return PyLong_FromLongLong(m->slots[2 * i + 1]);
        }
    }
    if (m->wide != NULL) {
        PyObject *value = PyDict_GetItemWithError(m->wide, key);
        if (value != NULL) {
            Py_INCREF(value);
            return value;
        }
    }
    return NULL;
}

/* Set (value != NULL) or delete (value == NULL; KeyError when absent). 0 ok, -1 error. */
static int
lm_ass(LevelMapObject *m, PyObject *key, PyObject *value)
{
    int64_t k;
    int fast = lm_key(key, &k);
    if (fast < 0) {
        return -1;
    }
    if (value == NULL) {
        if (fast && lm_del(m, k)) {
            return 0;
        }
        if (m->wide != NULL && PyDict_Contains(m->wide, key) == 1) {
            return PyDict_DelItem(m->wide, key);
        }
        if (!PyErr_Occurred()) {
            PyErr_SetObject(PyExc_KeyError, key);
        }
        return -1;
    }
    if (!PyLong_Check(value)) {
        PyErr_Format(PyExc_TypeError, "LevelMap values are ints, not %.100s", Py_TYPE(value)->tp_name);
        return -1;
    }
    int overflow = 0;
    int64_t v = PyLong_AsLongLongAndOverflow(value, &overflow);
    if (v == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (fast && !overflow) {
        if (lm_has_wide(m)) {
            int present = PyDict_Contains(m->wide, key);
            if (present < 0 || (present && PyDict_DelItem(m->wide, key) < 0)) {
                return -1;
            }
        }
        return lm_set(m, k, v) < 0 ? -1 : 0;
    }
    if (fast) {
        lm_del(m, k);
    }
    if (m->wide == NULL && (m->wide = PyDict_New()) == NULL) {
        return -1;
    }
    PyObject *exact_key = PyNumber_Index(key); /* a bool key is stored as the int it equals */
    if (exact_key == NULL) {
        return -1;
    }
    PyObject *exact_value = PyNumber_Index(value);
    if (exact_value == NULL) {
        Py_DECREF(exact_key);
        return -1;
    }
    int rc = PyDict_SetItem(m->wide, exact_key, exact_value);
    Py_DECREF(exact_key);
    Py_DECREF(exact_value);
    return rc;
}

static int
lm_clear_all(LevelMapObject *m)
{
    int64_t *old = m->slots;
    if (lm_alloc(m, LM_MIN_CAP) < 0) {
        return -1;
    }
    PyMem_Free(old);
    Py_CLEAR(m->wide);
    return 0;
}

static PyObject *
lm_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    LevelMapObject *m = (LevelMapObject *)type->tp_alloc(type, 0);
    if (m == NULL) {
        return NULL;
    }
    if (lm_alloc(m, LM_MIN_CAP) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    m->wide = NULL;
    return (PyObject *)m;
}

/* LevelMap(pairs=()): from an iterable of (key, value) pairs, later pairs winning. */
static int
lm_init(LevelMapObject *m, PyObject *args, PyObject *kwds)
{
    PyObject *pairs = NULL;
    static char *kwlist[] = {"pairs", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:LevelMap", kwlist, &pairs)) {
        return -1;
    }
    if (m->used || m->wide != NULL) {
        if (lm_clear_all(m) < 0) {
            return -1;
        }
    }
    if (pairs == NULL) {
        return 0;
    }
    PyObject *it = PyObject_GetIter(pairs);
    if (it == NULL) {
        return -1;
    }
    PyObject *item;
    while ((item = PyIter_Next(it)) != NULL) {
        PyObject *seq = PySequence_Fast(item, "LevelMap() takes (key, value) pairs");
        Py_DECREF(item);
        if (seq == NULL) {
            Py_DECREF(it);
            return -1;
        }
        if (PySequence_Fast_GET_SIZE(seq) != 2) {
            PyErr_SetString(PyExc_ValueError, "LevelMap() takes (key, value) pairs");
            Py_DECREF(seq);
            Py_DECREF(it);
            return -1;
        }
        int rc = lm_ass(m, PySequence_Fast_GET_ITEM(seq, 0), PySequence_Fast_GET_ITEM(seq, 1));
        Py_DECREF(seq);
        if (rc < 0) {
            Py_DECREF(it);
            return -1;
        }
    }
    Py_DECREF(it);
    return PyErr_Occurred() ? -1 : 0;
}

static void
lm_dealloc(LevelMapObject *m)
{
    PyMem_Free(m->slots);
    Py_XDECREF(m->wide);
    Py_TYPE(m)->tp_free((PyObject *)m);
}

static PyObject *
lm_subscript(LevelMapObject *m, PyObject *key)
{
    PyObject *value = lm_lookup(m, key);
    if (value == NULL && !PyErr_Occurred()) {
        PyErr_SetObject(PyExc_KeyError, key);
    }
    return value;
}

/* `key in m` with no value object: the Python path asks it for every level and on every
   dirty-best recompute. */
static int
lm_contains(LevelMapObject *m, PyObject *key)
{
    int64_t k;
    int fast = lm_key(key, &k);
    if (fast < 0) {
        if (PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Clear(); /* a non-int key is simply absent */
            return 0;
        }
        return -1;
    }
    if (fast && lm_find(m, k) >= 0) {
        return 1;
    }
    return m->wide != NULL ? PyDict_Contains(m->wide, key) : 0;
}

static PyObject *
lm_get(LevelMapObject *m, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1 || nargs > 2) {
        PyErr_Format(PyExc_TypeError, "get expected 1 or 2 arguments, got %zd", nargs);
        return NULL;
    }
    PyObject *value = lm_lookup(m, args[0]);
    if (value != NULL || PyErr_Occurred()) {
        return value;
    }
    PyObject *dflt = nargs == 2 ? args[1] : Py_None;
    Py_INCREF(dflt);
    return dflt;
}

static PyObject *
lm_pop(LevelMapObject *m, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1 || nargs > 2) {
        PyErr_Format(PyExc_TypeError, "pop expected 1 or 2 arguments, got %zd", nargs);
        return NULL;
    }
    PyObject *value = lm_lookup(m, args[0]);
    if (value == NULL) {
        if (PyErr_Occurred()) {
            return NULL;
        }
        if (nargs == 2) {
            Py_INCREF(args[1]);
            return args[1];
        }
        PyErr_SetObject(PyExc_KeyError, args[0]);
        return NULL;
    }
    if (lm_ass(m, args[0], NULL) < 0) {
        Py_DECREF(value);
        return NULL;
    }
    return value;
}

/* kind 0: keys, 1: values, 2: (key, value) tuples — a new list, fast entries then wide ones. */
static PyObject *
lm_list(LevelMapObject *m, int kind)
{
    PyObject *out = PyList_New(lm_length(m));
    if (out == NULL) {
        return NULL;
    }
    Py_ssize_t n = 0;
    const int64_t *slots = m->slots;
    for (Py_ssize_t i = 0; i <= m->mask; i++) {
        if (slots[2 * i] == LM_EMPTY) {
            continue;
        }
        PyObject *item;
        if (kind == 2) {
            item = Py_BuildValue("(LL)", (long long)slots[2 * i], (long long)slots[2 * i + 1]);
        }
        else {
            item = PyLong_FromLongLong(slots[2 * i + kind]);
        }
        if (item == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, n++, item);
    }
    if (m->wide != NULL) {
        Py_ssize_t pos = 0;
        PyObject *key;
        PyObject *value;
        while (PyDict_Next(m->wide, &pos, &key, &value)) {
            PyObject *item = kind == 0 ? key : kind == 1 ? value : NULL;
            if (item != NULL) {
                Py_INCREF(item);
            }
            else if ((item = PyTuple_Pack(2, key, value)) == NULL) {
                Py_DECREF(out);
                return NULL;
            }
            PyList_SET_ITEM(out, n++, item);
        }
    }
    return out;
}

static PyObject *
lm_keys(LevelMapObject *m, PyObject *Py_UNUSED(ignored))
{
    return lm_list(m, 0);
}

static PyObject *
lm_values(LevelMapObject *m, PyObject *Py_UNUSED(ignored))
{
    return lm_list(m, 1);
}

static PyObject *
lm_items(LevelMapObject *m, PyObject *Py_UNUSED(ignored))
{
    return lm_list(m, 2);
}

static PyObject *
lm_iter(LevelMapObject *m)
{
    PyObject *keys = lm_list(m, 0); /* a snapshot: the map may change while a caller iterates */
    if (keys == NULL) {
        return NULL;
    }
    PyObject *it = PyObject_GetIter(keys);
    Py_DECREF(keys);
    return it;
}

static PyObject *
lm_clear(LevelMapObject *m, PyObject *Py_UNUSED(ignored))
{
    if (lm_clear_all(m) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
lm_to_dict(LevelMapObject *m)
{
    PyObject *items = lm_list(m, 2);
    if (items == NULL) {
        return NULL;
    }
    PyObject *out = PyDict_New();
    if (out != NULL && PyDict_MergeFromSeq2(out, items, 1) < 0) {
        Py_CLEAR(out);
    }
    Py_DECREF(items);
    return out;
}

static PyObject *
lm_copy(LevelMapObject *m, PyObject *Py_UNUSED(ignored))
{
    LevelMapObject *out = (LevelMapObject *)lm_new(Py_TYPE(m), NULL, NULL);
    if (out == NULL) {
        return NULL;
    }
    if (lm_resize(out, m->mask + 1) < 0) {
        Py_DECREF(out);
        return NULL;
    }
    memcpy(out->slots, m->slots, (size_t)(m->mask + 1) * 2 * sizeof(int64_t));
    out->used = m->used;
    if (m->wide != NULL && (out->wide = PyDict_Copy(m->wide)) == NULL) {
        Py_DECREF(out);
        return NULL;
    }
    return (PyObject *)out;
}

/* == and != with another LevelMap or a dict: the same entries. */
static PyObject *
lm_richcompare(PyObject *self, PyObject *other, int op)
{
    if ((op != Py_EQ && op != Py_NE) || !(LevelMap_Check(other) || PyDict_Check(other))) {
        Py_RETURN_NOTIMPLEMENTED;
    }
    LevelMapObject *m = (LevelMapObject *)self;
    Py_ssize_t other_len = LevelMap_Check(other) ? lm_length((LevelMapObject *)other) : PyDict_GET_SIZE(other);
    if (lm_length(m) != other_len) {
        return PyBool_FromLong(op == Py_NE);
    }
    PyObject *mine = lm_to_dict(m);
    if (mine == NULL) {
        return NULL;
    }
    PyObject *theirs = LevelMap_Check(other) ? lm_to_dict((LevelMapObject *)other) : Py_NewRef(other);
    if (theirs == NULL) {
        Py_DECREF(mine);
        return NULL;
    }
    PyObject *result = PyObject_RichCompare(mine, theirs, op);
    Py_DECREF(mine);
    Py_DECREF(theirs);
    return result;
}

static PyObject *
lm_repr(LevelMapObject *m)
{
    PyObject *d = lm_to_dict(m);
    if (d == NULL) {
        return NULL;
    }
    PyObject *out = PyUnicode_FromFormat("LevelMap(%R)", d);
    Py_DECREF(d);
    return out;
}

static PyMappingMethods lm_as_mapping = {
    (lenfunc)lm_length,
    (binaryfunc)lm_subscript,
    (objobjargproc)lm_ass,
};

static PySequenceMethods lm_as_sequence = {
    .sq_contains = (objobjproc)lm_contains,
};

static PyMethodDef lm_methods[] = {
    {"get", (PyCFunction)(void (*)(void))lm_get, METH_FASTCALL, "get(key, default=None)"},
    {"pop", (PyCFunction)(void (*)(void))lm_pop, METH_FASTCALL, "pop(key[, default])"},
    {"keys", (PyCFunction)lm_keys, METH_NOARGS, "A list of the keys."},
    {"values", (PyCFunction)lm_values, METH_NOARGS, "A list of the values."},
    {"items", (PyCFunction)lm_items, METH_NOARGS, "A list of (key, value) tuples."},
    {"clear", (PyCFunction)lm_clear, METH_NOARGS, "Remove every entry."},
    {"copy", (PyCFunction)lm_copy, METH_NOARGS, "A shallow copy."},
    {NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(lm_doc,
"LevelMap(pairs=()) -> a book side, int price -> int qty\n"
"\n"
"Behaves as a dict[int, int] (mapping protocol, get, pop, keys, values, items,\n"
"clear, copy, ==); ints that fit an int64 are stored unboxed in an open-addressing\n"
"table. Iteration order is not insertion order; keys(), values() and items() return\n"
"lists (snapshots).");

static PyTypeObject LevelMapType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "stanchion.book._native.LevelMap",
    .tp_basicsize = sizeof(LevelMapObject),
    .tp_dealloc = (destructor)lm_dealloc,
    .tp_repr = (reprfunc)lm_repr,
    .tp_as_sequence = &lm_as_sequence,
    .tp_as_mapping = &lm_as_mapping,
    .tp_hash = PyObject_HashNotImplemented,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_MAPPING,
    .tp_doc = lm_doc,
    .tp_richcompare = lm_richcompare,
    .tp_iter = (getiterfunc)lm_iter,
    .tp_methods = lm_methods,
    .tp_init = (initproc)lm_init,
    .tp_new = lm_new,
};

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

/* The heap entry for a new price: the price, negated for bids (a max-heap). */
static int
push_price(PyObject *heap, int is_bid, int64_t price)
{
    int64_t value = is_bid ? -price : price;
    PyObject *entry = PyLong_FromLongLong(value);
    if (entry == NULL) {
        return -1;
    }
    int rc = heap_push(heap, entry, value);
    Py_DECREF(entry);
    return rc;
}

/* apply_level when the side holds wide entries (a price may be there): through Python ints. */
static int
apply_level_wide(LevelMapObject *side, PyObject *heap, int is_bid, int64_t price, int64_t qty, int64_t *best,
                 int64_t dirty)
{
    PyObject *key = PyLong_FromLongLong(price);
    if (key == NULL) {
        return -1;
    }
    int in_wide = PyDict_Contains(side->wide, key);
    if (in_wide < 0 || (in_wide && PyDict_DelItem(side->wide, key) < 0)) {
        Py_DECREF(key);
        return -1;
    }
    Py_DECREF(key);
    if (qty) {
        int added = lm_set(side, price, qty);
        if (added < 0) {
            return -1;
        }
        if (added && !in_wide) {
            if (push_price(heap, is_bid, price) < 0) {
                return -1;
            }
            if (is_bid ? price > *best : price < *best) {
                *best = price;
            }
        }
    }
    else if ((lm_del(side, price) || in_wide) && price == *best) {
        *best = dirty;
    }
    return 0;
}

/* One level into the side: qty 0 removes it (and dirties the best if it was the best),
   a new price is pushed onto the heap and may become the best. -1 on a Python error.
   `price` is a fast key (0 <= price < 10**18). */
static inline int
apply_level(LevelMapObject *side, PyObject *heap, int is_bid, int64_t price, int64_t qty, int64_t *best,
            int64_t dirty)
{
    if (side->wide != NULL && PyDict_GET_SIZE(side->wide) > 0) {
        return apply_level_wide(side, heap, is_bid, price, qty, best, dirty);
    }
    if (qty) {
        int added = lm_set(side, price, qty);
        if (added <= 0) {
            return added; /* 0 replaced, -1 MemoryError */
        }
        if (push_price(heap, is_bid, price) < 0) {
            return -1;
        }
        if (is_bid ? price > *best : price < *best) {
            *best = price;
        }
    }
    else if (lm_del(side, price) && price == *best) {
        *best = dirty;
    }
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
    if (!LevelMap_Check(a->side) || !PyList_CheckExact(a->heap) || !PyLong_CheckExact(a->big)) {
        PyErr_Format(PyExc_TypeError, "%s(): side must be a LevelMap, heap a list, big an int", name);
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
        if (apply_level((LevelMapObject *)a.side, a.heap, a.is_bid, price, qty, &a.best, a.dirty) < 0) {
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
apply_json_levels(LevelMapObject *side, PyObject *heap, PyObject *levels, int is_bid, Py_ssize_t price_scale,
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
    return PyList_GET_SIZE(heap) > 2 * lm_length((LevelMapObject *)side) + 64;
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

/* One side's int levels: a list or tuple of (price, qty) pairs of exact ints with
   0 <= price < 10**18 and qty an int64. Same results as apply_json_levels. */
static Py_ssize_t
apply_int_levels(LevelMapObject *side, PyObject *heap, PyObject *levels, int is_bid, Py_ssize_t price_scale,
                 Py_ssize_t qty_scale, int64_t *best)
{
    if (!PyList_CheckExact(levels) && !PyTuple_CheckExact(levels)) {
        return 0;
    }
    const int64_t dirty = is_bid ? INT64_MAX : -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(levels);
    PyObject **items = PySequence_Fast_ITEMS(levels);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *level = items[i];
        if (!PyTuple_CheckExact(level) || PyTuple_GET_SIZE(level) != 2) {
            return i;
        }
        PyObject *price_obj = PyTuple_GET_ITEM(level, 0);
        PyObject *qty_obj = PyTuple_GET_ITEM(level, 1);
        if (!PyLong_CheckExact(price_obj) || !PyLong_CheckExact(qty_obj)) {
            return i;
        }
        int overflow = 0;
        int64_t price = PyLong_AsLongLongAndOverflow(price_obj, &overflow);
        if (overflow || price < 0 || price >= 1000000000000000000LL) {
            return i;
        }
        int64_t qty = PyLong_AsLongLongAndOverflow(qty_obj, &overflow);
        if (overflow) {
            return i;
        }
        if (apply_level(side, heap, is_bid, price, qty, best, dirty) < 0) {
            return -2; /* MemoryError only; the caller discards the book */
        }
    }
    return -1;
}

typedef Py_ssize_t (*side_loop)(LevelMapObject *, PyObject *, PyObject *, int, Py_ssize_t, Py_ssize_t, int64_t *);

/* Both sides through `loop`, bids first, then the status and the crossed check. */
static PyObject *
apply_book(const char *name, side_loop loop, PyObject *bids, PyObject *bid_heap, PyObject *asks,
           PyObject *ask_heap, PyObject *bid_levels, PyObject *ask_levels, PyObject *best_bid_in,
           PyObject *best_ask_in, Py_ssize_t price_scale, Py_ssize_t qty_scale, PyObject *big)
{
    if (!LevelMap_Check(bids) || !LevelMap_Check(asks) || !PyList_CheckExact(bid_heap) ||
        !PyList_CheckExact(ask_heap) || !PyLong_CheckExact(big)) {
        PyErr_Format(PyExc_TypeError, "%s(): sides must be LevelMaps, heaps lists, big an int", name);
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
    Py_ssize_t stopped = loop((LevelMapObject *)bids, bid_heap, bid_levels, 1, price_scale, qty_scale, &best_bid);
    if (stopped == -2) {
        return NULL;
    }
    if (stopped >= 0) {
        status = BOOK_BIDS_STOPPED;
        index = stopped;
    }
    else {
        stopped = loop((LevelMapObject *)asks, ask_heap, ask_levels, 0, price_scale, qty_scale, &best_ask);
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
    return Py_BuildValue("(NNin)", bid_out, ask_out, status, index);
}

PyDoc_STRVAR(apply_book_json_doc,
"apply_book_json(bids, bid_heap, asks, ask_heap, bids_json, asks_json, best_bid, best_ask,\n"
"                price_scale, qty_scale, big) -> (best_bid, best_ask, status, index)\n"
"\n"
"Apply a diff's two JSON levels arrays (any buffer: bytes, msgspec.Raw, memoryview) to\n"
"both sides of a book (LevelMaps), bids first. status: 0 applied and not crossed, 1\n"
"applied and crossed, 2 applied but a best is dirty or a heap needs compaction (the\n"
"caller finishes), 3 the bids stopped at level `index`, 4 the asks stopped at `index`:\n"
"the first level in another shape, an escape, anything unexpected; the caller decodes\n"
"that array and applies the rest with the Python reference path.");

static PyObject *
apply_book_json(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 11) {
        PyErr_Format(PyExc_TypeError, "apply_book_json() takes exactly 11 arguments (%zd given)", nargs);
        return NULL;
    }
    Py_ssize_t price_scale = PyLong_AsSsize_t(args[8]);
    Py_ssize_t qty_scale = PyLong_AsSsize_t(args[9]);
    if ((price_scale == -1 || qty_scale == -1) && PyErr_Occurred()) {
        return NULL;
    }
    return apply_book("apply_book_json", apply_json_levels, args[0], args[1], args[2], args[3], args[4], args[5],
                      args[6], args[7], price_scale, qty_scale, args[10]);
}

PyDoc_STRVAR(apply_book_ints_doc,
"apply_book_ints(bids, bid_heap, asks, ask_heap, bid_levels, ask_levels, best_bid, best_ask,\n"
"                big) -> (best_bid, best_ask, status, index)\n"
"\n"
"apply_book_json for levels already parsed: lists or tuples of (price, qty) int tuples.\n"
"It stops before the first level that is not a pair of exact ints with\n"
"0 <= price < 10**18 and qty an int64 (status 3 or 4, `index`); the caller applies the\n"
"rest with the Python reference path.");

static PyObject *
apply_book_ints(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 9) {
        PyErr_Format(PyExc_TypeError, "apply_book_ints() takes exactly 9 arguments (%zd given)", nargs);
        return NULL;
    }
    return apply_book("apply_book_ints", apply_int_levels, args[0], args[1], args[2], args[3], args[4], args[5],
                      args[6], args[7], 0, 0, args[8]);
}

static PyMethodDef native_methods[] = {
    {"apply_side", (PyCFunction)(void (*)(void))apply_side, METH_FASTCALL, apply_side_doc},
    {"apply_book_json", (PyCFunction)(void (*)(void))apply_book_json, METH_FASTCALL, apply_book_json_doc},
    {"apply_book_ints", (PyCFunction)(void (*)(void))apply_book_ints, METH_FASTCALL, apply_book_ints_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef native_module = {
    PyModuleDef_HEAD_INIT,
    "stanchion.book._native",
    "A book side (LevelMap) and the per-level loops of a depth diff in C (see _native.c).",
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
    if (PyType_Ready(&LevelMapType) < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&native_module);
    if (module == NULL) {
        return NULL;
    }
    Py_INCREF(&LevelMapType);
    if (PyModule_AddObject(module, "LevelMap", (PyObject *)&LevelMapType) < 0) {
        Py_DECREF(&LevelMapType);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
