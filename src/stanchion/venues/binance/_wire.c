/*
 * stanchion.venues.binance._wire — the depthUpdate frame's envelope, scanned in C
 * (decision 0003 §8).
 *
 * scan_depth(frame) returns the frame's BinanceDepthWire (e, E, s, U, u, and the b/a
 * level arrays as msgspec.Raw, exactly what msgspec's typed decode returns) when the
 * frame has the exact compact shape Binance writes, and None for anything else:
 *
 *   {"e":"depthUpdate","E":<int>,"s":"<A-Z0-9>","U":<int>,"u":<int>,"b":<levels>,"a":<levels>}
 *   {"stream":"<name>@depth[@100ms]","data":<the object above>}
 *
 *   <int>    := 0 | [1-9][0-9]{0,17}                      (fits an int64)
 *   <levels> := [ ] | [ <level> (, <level>)* ]
 *   <level>  := [ "<[0-9.]*>" , "<[0-9.]*>" ]              (no whitespace anywhere)
 *
 * That grammar is a subset of JSON, so a frame it accepts is valid JSON and decodes
 * to the same values; everything else (whitespace, another key order, an extra
 * field, an escape, a number of another shape inside the strings) is None and
 * the caller decodes it with msgspec, which accepts or explains it. The numbers in
 * the strings are not judged here: the book parses them (and the Python path
 * raises on the malformed ones), as for the msgspec path.
 *
 * bind(wire_type, raw_type) must be called once (the codec does, at import).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#include "_json_scan.h"

static PyObject *wire_type = NULL; /* BinanceDepthWire */
static PyObject *raw_type = NULL;  /* msgspec.Raw */
static PyObject *depth_update_str = NULL; /* "depthUpdate" */

#define MAX_SYMBOL 32

/* 1 for the bytes of a number string: '0'-'9' and '.'; 0 for NUL, so a scan stops at the
   NUL that ends every bytes object's buffer without a bounds check per byte. */
static unsigned char number_char[256];

/* "<[0-9.]*>" */
static inline int
scan_number_string(const unsigned char **pp, const unsigned char *end)
{
    const unsigned char *p = *pp;
    if (p >= end || *p != '"') {
        return 0;
    }
    p++;
    while (number_char[*p]) { /* bytes objects end with a NUL (number_char[0] == 0) */
        p++;
    }
    if (p >= end || *p != '"') {
        return 0;
    }
    *pp = p + 1;
    return 1;
}

/* <levels>; on success *pp is past the closing bracket. */
static inline int
scan_levels(const unsigned char **pp, const unsigned char *end)
{
    const unsigned char *p = *pp;
    if (p >= end || *p != '[') {
        return 0;
    }
    p++;
    if (p < end && *p == ']') {
        *pp = p + 1;
        return 1;
    }
    for (;;) {
        if (p >= end || *p != '[') {
            return 0;
        }
        p++;
        if (!scan_number_string(&p, end) || p >= end || *p != ',') {
            return 0;
        }
        p++;
        if (!scan_number_string(&p, end) || p >= end || *p != ']') {
            return 0;
        }
        p++;
        if (p < end && *p == ',') {
            p++;
            continue;
        }
        if (p < end && *p == ']') {
            *pp = p + 1;
            return 1;
        }
        return 0;
    }
}

static PyObject *
raw_of(const unsigned char *start, const unsigned char *stop)
{
    PyObject *bytes = PyBytes_FromStringAndSize((const char *)start, stop - start);
    if (bytes == NULL) {
        return NULL;
    }
    PyObject *raw = PyObject_CallOneArg(raw_type, bytes);
    Py_DECREF(bytes);
    return raw;
}

/* The depthUpdate object at p; *pp past its closing brace. NULL with no error: not the shape. */
static PyObject *
scan_object(const unsigned char **pp, const unsigned char *end)
{
    const unsigned char *p = *pp;
    long long event_time;
    long long first_id;
    long long final_id;
    if (!EXPECT("{\"e\":\"depthUpdate\",\"E\":") || !json_scan_int(&p, end, &event_time) || !EXPECT(",\"s\":\"")) {
        return NULL;
    }
    const unsigned char *symbol = p;
    while (p < end && (((unsigned)(*p - 'A') <= 25) || (unsigned)(*p - '0') <= 9)) {
        p++;
    }
    Py_ssize_t symbol_len = p - symbol;
    if (symbol_len == 0 || symbol_len > MAX_SYMBOL) {
        return NULL;
    }
    if (!EXPECT("\",\"U\":") || !json_scan_int(&p, end, &first_id) || !EXPECT(",\"u\":") ||
        !json_scan_int(&p, end, &final_id) || !EXPECT(",\"b\":")) {
        return NULL;
    }
    const unsigned char *bids = p;
    if (!scan_levels(&p, end)) {
        return NULL;
    }
    const unsigned char *bids_end = p;
    if (!EXPECT(",\"a\":")) {
        return NULL;
    }
    const unsigned char *asks = p;
    if (!scan_levels(&p, end)) {
        return NULL;
    }
    const unsigned char *asks_end = p;
    if (!EXPECT("}")) {
        return NULL;
    }
    *pp = p;

    PyObject *args[7] = {NULL};
    args[0] = Py_NewRef(depth_update_str);
    args[1] = PyLong_FromLongLong(event_time);
    args[2] = PyUnicode_DecodeASCII((const char *)symbol, symbol_len, NULL);
    args[3] = PyLong_FromLongLong(first_id);
    args[4] = PyLong_FromLongLong(final_id);
    args[5] = raw_of(bids, bids_end);
    args[6] = raw_of(asks, asks_end);
    PyObject *result = NULL;
    int ok = 1;
    for (int i = 0; i < 7; i++) {
        ok &= args[i] != NULL;
    }
    if (ok) {
        result = PyObject_Vectorcall(wire_type, args, 7, NULL);
    }
    for (int i = 0; i < 7; i++) {
        Py_XDECREF(args[i]);
    }
    if (result == NULL && !PyErr_Occurred()) {
        PyErr_SetString(PyExc_SystemError, "scan_depth: the wire type returned NULL");
    }
    return result;
}

PyDoc_STRVAR(scan_depth_doc,
"scan_depth(frame: bytes) -> BinanceDepthWire | None\n"
"\n"
"The depthUpdate frame (raw or combined) when it has Binance's exact compact shape;\n"
"None for anything else (the caller decodes it with msgspec).");

static PyObject *
scan_depth(PyObject *Py_UNUSED(module), PyObject *frame)
{
    if (wire_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "scan_depth: bind() was not called");
        return NULL;
    }
    if (!PyBytes_CheckExact(frame)) {
        Py_RETURN_NONE;
    }
    const unsigned char *p = (const unsigned char *)PyBytes_AS_STRING(frame);
    const unsigned char *end = p + PyBytes_GET_SIZE(frame);
    int combined = 0;
    if (EXPECT("{\"stream\":\"")) {
        const unsigned char *name = p;
        while (p < end && *p != '"' && *p != '\\' && *p >= 0x20 && *p < 0x7f) {
            p++;
        }
        Py_ssize_t n = p - name;
        int depth = (n >= 6 && memcmp(p - 6, "@depth", 6) == 0) ||
                    (n >= 12 && memcmp(p - 12, "@depth@100ms", 12) == 0);
        if (!depth || !EXPECT("\",\"data\":")) {
            Py_RETURN_NONE;
        }
        combined = 1;
    }
    PyObject *wire = scan_object(&p, end);
    if (wire == NULL) {
        if (PyErr_Occurred()) {
            return NULL;
        }
        Py_RETURN_NONE;
    }
    if ((combined && !EXPECT("}")) || p != end) {
        Py_DECREF(wire);
        Py_RETURN_NONE;
    }
    return wire;
}

PyDoc_STRVAR(bind_doc, "bind(wire_type, raw_type) -> None: the types scan_depth builds.");

static PyObject *
bind(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyType_Check(args[0]) || !PyType_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "bind(wire_type, raw_type) takes two types");
        return NULL;
    }
    Py_XSETREF(wire_type, Py_NewRef(args[0]));
    Py_XSETREF(raw_type, Py_NewRef(args[1]));
    Py_RETURN_NONE;
}

static PyMethodDef wire_methods[] = {
    {"scan_depth", (PyCFunction)scan_depth, METH_O, scan_depth_doc},
    {"bind", (PyCFunction)(void (*)(void))bind, METH_FASTCALL, bind_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef wire_module = {
    PyModuleDef_HEAD_INIT,
    "stanchion.venues.binance._wire",
    "Binance depthUpdate frames scanned in C (see _wire.c).",
    -1,
    wire_methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC
PyInit__wire(void)
{
    for (int c = '0'; c <= '9'; c++) {
        number_char[c] = 1;
    }
    number_char['.'] = 1;
    depth_update_str = PyUnicode_InternFromString("depthUpdate");
    if (depth_update_str == NULL) {
        return NULL;
    }
    return PyModule_Create(&wire_module);
}
