/*
 * stanchion.venues.binance._sign — a WebSocket API request, signed with HMAC-SHA256 and
 * framed, in one call (decision 0004).
 *
 * HmacKey(secret: bytes) keeps the two SHA-256 states after the key's inner and outer
 * pad blocks (RFC 2104), so a signature hashes only the payload and the inner digest.
 * The states live in C memory only: no attribute, repr or pickle shows them, and they
 * are wiped when the key is freed.
 *
 *   key.hexdigest(payload: bytes) -> str
 *       lowercase hex HMAC-SHA256 of payload (what hmac.new(secret, payload, sha256)
 *       .hexdigest() returns).
 *
 *   ws_request(key, request_id: int, method: str, params: dict[str, str]) -> bytes
 *       {"id":<id>,"method":"<method>","params":{<params in dict order>,"signature":"<hex>"}}
 *       where the signature is over the params sorted by name, joined k=v with '&',
 *       UTF-8, no percent-encoding (web-socket-api.md "SIGNED request security"). The
 *       caller puts apiKey and timestamp in params. Keys and values are JSON-escaped
 *       (", \ and control characters), as msgspec writes them.
 *
 * SHA-256 is FIPS 180-4, written here; tests compare it with hashlib on every length
 * around the block boundaries and with the Python path byte for byte.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* --- SHA-256 (FIPS 180-4) ---------------------------------------------------------- */

typedef struct {
    uint32_t h[8];
    uint64_t length;       /* bytes hashed so far */
    uint8_t block[64];
    size_t used;           /* bytes in block */
} sha256_ctx;

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

static void
sha256_compress(uint32_t h[8], const uint8_t *p)
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++) {
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 |
               (uint32_t)p[4 * i + 3];
    }
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROTR(w[i - 15], 7) ^ ROTR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROTR(w[i - 2], 17) ^ ROTR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = hh + (ROTR(e, 6) ^ ROTR(e, 11) ^ ROTR(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
        uint32_t t2 = (ROTR(a, 2) ^ ROTR(a, 13) ^ ROTR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        hh = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += hh;
}

static void
sha256_init(sha256_ctx *ctx)
{
    static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(ctx->h, iv, sizeof iv);
    ctx->length = 0;
    ctx->used = 0;
}

static void
sha256_update(sha256_ctx *ctx, const uint8_t *data, size_t n)
{
    ctx->length += n;
    if (ctx->used) {
        size_t take = 64 - ctx->used < n ? 64 - ctx->used : n;
        memcpy(ctx->block + ctx->used, data, take);
        ctx->used += take;
        data += take;
        n -= take;
        if (ctx->used < 64) {
            return;
        }
        sha256_compress(ctx->h, ctx->block);
        ctx->used = 0;
    }
    for (; n >= 64; data += 64, n -= 64) {
        sha256_compress(ctx->h, data);
    }
    memcpy(ctx->block, data, n);
    ctx->used = n;
}

static void
sha256_final(sha256_ctx *ctx, uint8_t out[32])
{
    uint64_t bits = ctx->length * 8;
    uint8_t pad = 0x80;
    sha256_update(ctx, &pad, 1);
    uint8_t zero = 0;
    while (ctx->used != 56) {
        sha256_update(ctx, &zero, 1);
    }
    uint8_t len[8];
    for (int i = 0; i < 8; i++) {
        len[i] = (uint8_t)(bits >> (56 - 8 * i));
    }
    sha256_update(ctx, len, 8);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(ctx->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(ctx->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(ctx->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)ctx->h[i];
    }
}

static void
wipe(void *p, size_t n)
{
    volatile uint8_t *v = (volatile uint8_t *)p;
    while (n--) {
        *v++ = 0;
    }
}

/* --- HmacKey --------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    sha256_ctx inner; /* after the key ^ ipad block */
    sha256_ctx outer; /* after the key ^ opad block */
} HmacKey;

static const char HEX[] = "0123456789abcdef";

static void
hmac_hex(const HmacKey *key, const uint8_t *data, size_t n, char out[64])
{
    sha256_ctx ctx = key->inner;
    uint8_t digest[32];
    sha256_update(&ctx, data, n);
    sha256_final(&ctx, digest);
    ctx = key->outer;
    sha256_update(&ctx, digest, 32);
    sha256_final(&ctx, digest);
    for (int i = 0; i < 32; i++) {
        out[2 * i] = HEX[digest[i] >> 4];
        out[2 * i + 1] = HEX[digest[i] & 15];
    }
    wipe(&ctx, sizeof ctx);
    wipe(digest, sizeof digest);
}

static int
HmacKey_init(HmacKey *self, PyObject *args, PyObject *kwds)
{
    Py_buffer secret;
    static char *kwlist[] = {"secret", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "y*:HmacKey", kwlist, &secret)) {
        return -1;
    }
    if (secret.len == 0) {
        PyBuffer_Release(&secret);
        PyErr_SetString(PyExc_ValueError, "HmacKey needs a non-empty secret");
        return -1;
    }
    uint8_t block[64] = {0};
    if (secret.len > 64) { /* RFC 2104: a key longer than the block is hashed first */
        sha256_ctx ctx;
        sha256_init(&ctx);
        sha256_update(&ctx, secret.buf, (size_t)secret.len);
        sha256_final(&ctx, block);
        wipe(&ctx, sizeof ctx);
    }
    else {
        memcpy(block, secret.buf, (size_t)secret.len);
    }
    PyBuffer_Release(&secret);
    uint8_t pad[64];
    for (int i = 0; i < 64; i++) {
        pad[i] = block[i] ^ 0x36;
    }
    sha256_init(&self->inner);
    sha256_update(&self->inner, pad, 64);
    for (int i = 0; i < 64; i++) {
        pad[i] = block[i] ^ 0x5c;
    }
    sha256_init(&self->outer);
    sha256_update(&self->outer, pad, 64);
    wipe(pad, sizeof pad);
    wipe(block, sizeof block);
    return 0;
}

static void
HmacKey_dealloc(HmacKey *self)
{
    wipe(&self->inner, sizeof self->inner);
    wipe(&self->outer, sizeof self->outer);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
HmacKey_repr(PyObject *self)
{
    return PyUnicode_FromString("HmacKey(<redacted>)");
}

static PyObject *
HmacKey_reduce(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    PyErr_SetString(PyExc_TypeError, "HmacKey is not picklable: secrets do not leave the process this way");
    return NULL;
}

PyDoc_STRVAR(hexdigest_doc, "hexdigest(payload: bytes) -> str: lowercase hex HMAC-SHA256 of payload.");

static PyObject *
HmacKey_hexdigest(HmacKey *self, PyObject *arg)
{
    Py_buffer data;
    if (PyObject_GetBuffer(arg, &data, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    char hex[64];
    hmac_hex(self, data.buf, (size_t)data.len, hex);
    PyBuffer_Release(&data);
    return PyUnicode_FromStringAndSize(hex, 64);
}

static PyMethodDef HmacKey_methods[] = {
    {"hexdigest", (PyCFunction)HmacKey_hexdigest, METH_O, hexdigest_doc},
    {"__reduce__", (PyCFunction)HmacKey_reduce, METH_NOARGS, NULL},
    {"__reduce_ex__", (PyCFunction)HmacKey_reduce, METH_O, NULL},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject HmacKeyType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "stanchion.venues.binance._sign.HmacKey",
    .tp_basicsize = sizeof(HmacKey),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "HMAC-SHA256 keyed once; the key never leaves C memory.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)HmacKey_init,
    .tp_dealloc = (destructor)HmacKey_dealloc,
    .tp_repr = HmacKey_repr,
    .tp_str = HmacKey_repr,
    .tp_methods = HmacKey_methods,
};

/* --- the signed request frame -------------------------------------------------------- */

typedef struct {
    char *buf;
    size_t len, cap;
} out_buf;

static int
grow(out_buf *o, size_t need)
{
    if (o->len + need <= o->cap) {
        return 0;
    }
    size_t cap = o->cap ? o->cap : 512;
    while (cap < o->len + need) {
        cap *= 2;
    }
    char *p = PyMem_Realloc(o->buf, cap);
    if (p == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    o->buf = p;
    o->cap = cap;
    return 0;
}

static int
put(out_buf *o, const char *s, size_t n)
{
    if (grow(o, n) < 0) {
        return -1;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    return 0;
}

/* A JSON string (quotes included): ", \ and bytes < 0x20 escaped; UTF-8 passes through. */
static int
put_json_string(out_buf *o, const char *s, Py_ssize_t n)
{
    if (grow(o, (size_t)n * 6 + 2) < 0) {
        return -1;
    }
    char *w = o->buf + o->len;
    *w++ = '"';
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            *w++ = '\\';
            *w++ = (char)c;
        }
        else if (c < 0x20) {
            switch (c) {
            case '\n': *w++ = '\\'; *w++ = 'n'; break;
            case '\r': *w++ = '\\'; *w++ = 'r'; break;
            case '\t': *w++ = '\\'; *w++ = 't'; break;
            case '\b': *w++ = '\\'; *w++ = 'b'; break;
            case '\f': *w++ = '\\'; *w++ = 'f'; break;
            default:
                *w++ = '\\'; *w++ = 'u'; *w++ = '0'; *w++ = '0';
                *w++ = HEX[c >> 4]; *w++ = HEX[c & 15];
            }
        }
        else {
            *w++ = (char)c;
        }
    }
    *w++ = '"';
    o->len = (size_t)(w - o->buf);
    return 0;
}

#define MAX_PARAMS 64

typedef struct {
    const char *key, *value;
    Py_ssize_t key_len, value_len;
} param;

static int
param_before(const param *a, const param *b)
{
    Py_ssize_t n = a->key_len < b->key_len ? a->key_len : b->key_len;
    int c = memcmp(a->key, b->key, (size_t)n);
    return c < 0 || (c == 0 && a->key_len < b->key_len);
}

PyDoc_STRVAR(ws_request_doc,
    "ws_request(key, request_id: int, method: str, params: dict[str, str]) -> bytes:\n"
    "the WebSocket API request frame with params signed (sorted k=v&...) and 'signature' last.");

static PyObject *
ws_request(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4 || !PyObject_TypeCheck(args[0], &HmacKeyType) || !PyLong_Check(args[1]) ||
        !PyUnicode_Check(args[2]) || !PyDict_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError, "ws_request(key: HmacKey, request_id: int, method: str, params: dict)");
        return NULL;
    }
    HmacKey *key = (HmacKey *)args[0];
    long long request_id = PyLong_AsLongLong(args[1]);
    if (request_id == -1 && PyErr_Occurred()) {
        return NULL;
    }
    Py_ssize_t method_len;
    const char *method = PyUnicode_AsUTF8AndSize(args[2], &method_len);
    if (method == NULL) {
        return NULL;
    }
    PyObject *dict = args[3];
    Py_ssize_t count = PyDict_GET_SIZE(dict);
    if (count > MAX_PARAMS) {
        PyErr_Format(PyExc_ValueError, "ws_request: more than %d params", MAX_PARAMS);
        return NULL;
    }
    param in_order[MAX_PARAMS], sorted[MAX_PARAMS];
    Py_ssize_t pos = 0, i = 0;
    PyObject *k, *v;
    while (PyDict_Next(dict, &pos, &k, &v)) {
        if (!PyUnicode_Check(k) || !PyUnicode_Check(v)) {
            PyErr_SetString(PyExc_TypeError, "ws_request: params must map str to str");
            return NULL;
        }
        param *p = &in_order[i++];
        p->key = PyUnicode_AsUTF8AndSize(k, &p->key_len);
        p->value = PyUnicode_AsUTF8AndSize(v, &p->value_len);
        if (p->key == NULL || p->value == NULL) {
            return NULL;
        }
        if (p->key_len == 9 && memcmp(p->key, "signature", 9) == 0) {
            PyErr_SetString(PyExc_ValueError, "ws_request: params already carry a signature");
            return NULL;
        }
    }
    /* The signature payload: params sorted by name (insertion sort: a request has ~15). */
    for (Py_ssize_t a = 0; a < count; a++) {
        param p = in_order[a];
        Py_ssize_t b = a;
        while (b > 0 && param_before(&p, &sorted[b - 1])) {
            sorted[b] = sorted[b - 1];
            b--;
        }
        sorted[b] = p;
    }
    out_buf payload = {NULL, 0, 0}, frame = {NULL, 0, 0};
    for (Py_ssize_t a = 0; a < count; a++) {
        if ((a && put(&payload, "&", 1) < 0) || put(&payload, sorted[a].key, (size_t)sorted[a].key_len) < 0 ||
            put(&payload, "=", 1) < 0 || put(&payload, sorted[a].value, (size_t)sorted[a].value_len) < 0) {
            goto fail;
        }
    }
    char hex[64];
    hmac_hex(key, (const uint8_t *)payload.buf, payload.len, hex);

    char id_text[32];
    int id_len = snprintf(id_text, sizeof id_text, "%lld", request_id);
    if (put(&frame, "{\"id\":", 6) < 0 || put(&frame, id_text, (size_t)id_len) < 0 ||
        put(&frame, ",\"method\":", 10) < 0 || put_json_string(&frame, method, method_len) < 0 ||
        put(&frame, ",\"params\":{", 11) < 0) {
        goto fail;
    }
    for (Py_ssize_t a = 0; a < count; a++) {
        if (put_json_string(&frame, in_order[a].key, in_order[a].key_len) < 0 || put(&frame, ":", 1) < 0 ||
            put_json_string(&frame, in_order[a].value, in_order[a].value_len) < 0 || put(&frame, ",", 1) < 0) {
            goto fail;
        }
    }
    if (put(&frame, "\"signature\":\"", 13) < 0 || put(&frame, hex, 64) < 0 || put(&frame, "\"}}", 3) < 0) {
        goto fail;
    }
    PyObject *result = PyBytes_FromStringAndSize(frame.buf, (Py_ssize_t)frame.len);
    PyMem_Free(payload.buf);
    PyMem_Free(frame.buf);
    return result;
fail:
    PyMem_Free(payload.buf);
    PyMem_Free(frame.buf);
    return NULL;
}

static PyMethodDef sign_methods[] = {
    {"ws_request", (PyCFunction)(void (*)(void))ws_request, METH_FASTCALL, ws_request_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef sign_module = {
    PyModuleDef_HEAD_INIT,
    "stanchion.venues.binance._sign",
    "HMAC-SHA256 WebSocket API requests signed and framed in C (see _sign.c).",
    -1,
    sign_methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC
PyInit__sign(void)
{
    if (PyType_Ready(&HmacKeyType) < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&sign_module);
    if (module == NULL) {
        return NULL;
    }
    if (PyModule_AddObjectRef(module, "HmacKey", (PyObject *)&HmacKeyType) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
