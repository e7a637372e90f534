/* tblog.core._native: optional native speed-ups (the package works without them).
 *
 * snapshot(address, code) -> Snapshot
 *
 * Copies one tensor element (dtype `code`) from `address`, a data pointer the caller holds;
 * its tblog_resolve() returns the value as a float later, on another thread.
 *
 * table(idx, key) -> Table; count(values, table, counts) -> (umin, umax, sum, sumsq)
 *
 * Bucket counting for fixed-edge histograms.
 *
 * values: C-contiguous float32 ('f') or float64 ('d') buffer, of the table's key size.
 * Each value is mapped to its "monotone key" u: the IEEE bits, reordered so that unsigned
 * integer order is float order (-0.0 is read as +0.0; NaNs land beyond the infinities).
 * The top 16 bits of u select a table entry p; the value's bucket is
 *     b = idx[p] + (u >= key[p])
 * which is #{edge keys <= u} when each 16-bit prefix holds at most one edge key (key[p]
 * is that key, or all ones when the prefix holds none). The Python side builds the tables
 * and uses this only when that holds. counts[b] += 1 for each value (int64, writable, at
 * least max(idx) + 2 entries, checked). Returns the smallest and largest monotone key
 * seen, so the caller gets min/max and finds NaN/inf without another pass.
 *
 * The loop runs without the GIL for large inputs, so callers count parts of one on threads.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#define TABLE 65536
#define LANES 4
#define SUM_LANES 16 /* independent sum accumulators */
/* lane counters are uint32: flush them into the int64 counts every BLOCK values */
#define BLOCK ((Py_ssize_t)1 << 30)
/* count() runs without the GIL from this many values on */
#define RELEASE_GIL_FROM ((Py_ssize_t)1 << 16)

static inline uint32_t mono32(uint32_t b)
{
    /* negative: flip all bits; positive: set the sign bit; -0.0 then lands on +0.0's key.
       Branch-free: signs of real data are unpredictable. */
    uint32_t mask = (uint32_t)((int32_t)b >> 31) | 0x80000000u;
    return (b ^ mask) + (uint32_t)(b == 0x80000000u);
}

static inline uint64_t mono64(uint64_t b)
{
    const uint64_t sign = (uint64_t)1 << 63;
    uint64_t mask = (uint64_t)((int64_t)b >> 63) | sign;
    return (b ^ mask) + (uint64_t)(b == sign);
}

/* A bucket table: what count() maps values through, checked once when it is made. */
typedef struct {
    PyObject_HEAD
    Py_ssize_t itemsize; /* 4: float32 keys, 8: float64 keys */
    uint32_t max_idx;
    uint32_t idx[TABLE];
    union {
        uint32_t k32[TABLE];
        uint64_t k64[TABLE];
    } key;
} Table;

static PyTypeObject TableType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "tblog.core._native.Table",
    .tp_doc = "table(idx, key): the bucket table count() maps values through.",
    .tp_basicsize = sizeof(Table),
    .tp_flags = Py_TPFLAGS_DEFAULT,
};

/* count_f32 / count_f64: add each value to lanes (LANES interleaved rows of `width` uint32
   counters, so that neighbouring values never wait on each other's increment; one lane for
   small inputs), flushing them into the int64 counts every BLOCK values; the smallest and
   largest monotone keys come back through *umin / *umax. Every bucket is < width: the
   table's max_idx + 1 < width was checked by count(). */
#define DEFINE_COUNT(NAME, UINT, MONO, SHIFT, KEYS, SUMS)                                    \
    static void NAME(const UINT *restrict bits, Py_ssize_t n, const Table *table,      \
                     uint32_t *restrict lanes, Py_ssize_t width,                       \
                     int64_t *restrict counts, unsigned long long *umin,               \
                     unsigned long long *umax, double *sum, double *sumsq)             \
    {                                                                                  \
        const uint32_t *restrict idx = table->idx;                                     \
        const UINT *restrict keys = table->key.KEYS;                                   \
        const int used = n >= 4096 ? LANES : 1;                                        \
        UINT lo = (UINT) ~(UINT)0, hi = 0;                                             \
        double s1[SUM_LANES] = {0}, s2[SUM_LANES] = {0};                               \
        Py_ssize_t i = 0;                                                              \
        while (i < n) {                                                                \
            Py_ssize_t end = (n - i > BLOCK) ? i + BLOCK : n;                          \
            Py_ssize_t start = i;                                                      \
            memset(lanes, 0, sizeof(uint32_t) * (size_t)used * (size_t)width);         \
            for (; used == LANES && i + LANES <= end; i += LANES) {                    \
                for (int j = 0; j < LANES; j++) {                                      \
                    UINT u = MONO(bits[i + j]);                                        \
                    lo = u < lo ? u : lo;                                              \
                    hi = u > hi ? u : hi;                                              \
                    uint32_t p = (uint32_t)(u >> SHIFT);                               \
                    lanes[j * width + idx[p] + (u >= keys[p])]++;                      \
                }                                                                      \
            }                                                                          \
            /* the sums in their own pass over the block (still in cache): independent  \
               lanes the compiler vectorizes; in the counting loop they would wait on     \
               each other (1.6x slower counting) */                                       \
            SUMS(bits + start, end - start, s1, s2);                                   \
            for (; i < end; i++) {                                                     \
                UINT u = MONO(bits[i]);                                                \
                lo = u < lo ? u : lo;                                                  \
                hi = u > hi ? u : hi;                                                  \
                uint32_t p = (uint32_t)(u >> SHIFT);                                   \
                lanes[idx[p] + (u >= keys[p])]++;                                      \
            }                                                                          \
            for (Py_ssize_t k = 0; k < width; k++) {                                   \
                int64_t s = 0;                                                         \
                for (int j = 0; j < used; j++) s += lanes[j * width + k];              \
                counts[k] += s;                                                        \
            }                                                                          \
        }                                                                              \
        *umin = (unsigned long long)lo;                                                \
        *umax = (unsigned long long)hi;                                                \
        double t1 = 0.0, t2 = 0.0;                                                     \
        for (int j = 0; j < SUM_LANES; j++) {                                          \
            t1 += s1[j];                                                               \
            t2 += s2[j];                                                               \
        }                                                                              \
        *sum = t1;                                                                     \
        *sumsq = t2;                                                                   \
    }

static inline double f32_value(uint32_t b)
{
    float f;
    memcpy(&f, &b, 4);
    return (double)f;
}

static inline double f64_value(uint64_t b)
{
    double d;
    memcpy(&d, &b, 8);
    return d;
}

/* sums_f32 / sums_f64: add the values and their squares (in double) into SUM_LANES
   accumulators each, value i into lane i % SUM_LANES: the same operations in the same order
   whatever the vector width, so an AVX2 clone (where GCC can make one) gives the same bits. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define SUM_TARGETS __attribute__((target_clones("avx2", "default")))
#else
#define SUM_TARGETS
#endif
#define DEFINE_SUMS(NAME, UINT)                                                        \
    SUM_TARGETS static void NAME(const UINT *restrict bits, Py_ssize_t n,              \
                                 double *restrict s1, double *restrict s2)             \
    {                                                                                  \
        Py_ssize_t b = 0;                                                              \
        for (; b + SUM_LANES <= n; b += SUM_LANES) {                                   \
            for (int j = 0; j < SUM_LANES; j++) {                                      \
                double v = VALUE(bits[b + j]);                                         \
                s1[j] += v;                                                            \
                s2[j] += v * v;                                                        \
            }                                                                          \
        }                                                                              \
        for (; b < n; b++) {                                                           \
            double v = VALUE(bits[b]);                                                 \
            s1[0] += v;                                                                \
            s2[0] += v * v;                                                            \
        }                                                                              \
    }

#define VALUE f32_value
DEFINE_SUMS(sums_f32, uint32_t)
DEFINE_COUNT(count_f32, uint32_t, mono32, 16, k32, sums_f32)
#undef VALUE
#define VALUE f64_value
DEFINE_SUMS(sums_f64, uint64_t)
DEFINE_COUNT(count_f64, uint64_t, mono64, 48, k64, sums_f64)
#undef VALUE

static int
get_buffer(PyObject *obj, Py_buffer *view, int flags, const char *name, Py_ssize_t itemsize)
{
    if (PyObject_GetBuffer(obj, view, flags | PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0)
        return -1;
    if (view->itemsize != itemsize || view->len != itemsize * TABLE) {
        PyErr_Format(PyExc_ValueError, "%s: expected 65536 items of %zd bytes", name, itemsize);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static PyObject *
table(PyObject *Py_UNUSED(self), PyObject *args)
{
    PyObject *idx_obj, *key_obj;
    if (!PyArg_ParseTuple(args, "OO:table", &idx_obj, &key_obj))
        return NULL;
    Py_buffer ib, kb;
    if (get_buffer(idx_obj, &ib, PyBUF_SIMPLE, "idx", 4) < 0)
        return NULL;
    if (PyObject_GetBuffer(key_obj, &kb, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
        PyBuffer_Release(&ib);
        return NULL;
    }
    Py_ssize_t itemsize = kb.itemsize;
    PyBuffer_Release(&kb);
    if ((itemsize != 4 && itemsize != 8) ||
        get_buffer(key_obj, &kb, PyBUF_SIMPLE, "key", itemsize) < 0) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "key: expected 4- or 8-byte items");
        PyBuffer_Release(&ib);
        return NULL;
    }
    Table *t = PyObject_New(Table, &TableType);
    if (t != NULL) {
        t->itemsize = itemsize;
        memcpy(t->idx, ib.buf, sizeof t->idx);
        memcpy(&t->key, kb.buf, (size_t)(itemsize * TABLE));
        t->max_idx = 0;
        for (Py_ssize_t p = 0; p < TABLE; p++)
            t->max_idx = t->idx[p] > t->max_idx ? t->idx[p] : t->max_idx;
    }
    PyBuffer_Release(&ib);
    PyBuffer_Release(&kb);
    return (PyObject *)t;
}

static PyObject *
count(PyObject *Py_UNUSED(self), PyObject *args)
{
    PyObject *values_obj, *counts_obj;
    Table *tab;
    if (!PyArg_ParseTuple(args, "OO!O:count", &values_obj, &TableType, &tab, &counts_obj))
        return NULL;

    Py_buffer vb, cb;
    if (PyObject_GetBuffer(values_obj, &vb, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0)
        return NULL;
    const char *fmt = vb.format ? vb.format : "B";
    char kind = fmt[strlen(fmt) - 1];
    if (!((kind == 'f' && vb.itemsize == 4) || (kind == 'd' && vb.itemsize == 8)) ||
        (fmt[0] == '>' || fmt[0] == '!') || vb.itemsize != tab->itemsize) {
        PyBuffer_Release(&vb);
        PyErr_Format(PyExc_TypeError,
                     "values must be native floats of the table's %zd bytes, got '%s'",
                     tab->itemsize, fmt);
        return NULL;
    }
    if (PyObject_GetBuffer(counts_obj, &cb, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE) <
        0) {
        PyBuffer_Release(&vb);
        return NULL;
    }
    PyObject *result = NULL;
    const Py_ssize_t n = vb.len / vb.itemsize;
    const Py_ssize_t width = cb.len / 8;
    uint32_t *lanes = NULL;
    unsigned long long umin = 0, umax = 0;
    double sum = 0.0, sumsq = 0.0;

    if (cb.itemsize != 8 || width < (Py_ssize_t)tab->max_idx + 2) {
        PyErr_SetString(PyExc_ValueError, "counts must be int64 with max(idx) + 2 entries");
        goto done;
    }
    lanes = (uint32_t *)malloc(sizeof(uint32_t) * LANES * (size_t)width);
    if (lanes == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    /* Small inputs keep the GIL: giving it up for microseconds can cost the caller a
       whole switch interval (5 ms) when another thread takes it meanwhile. */
    PyThreadState *released = n >= RELEASE_GIL_FROM ? PyEval_SaveThread() : NULL;
    if (vb.itemsize == 4)
        count_f32((const uint32_t *)vb.buf, n, tab, lanes, width, (int64_t *)cb.buf, &umin,
                  &umax, &sum, &sumsq);
    else
        count_f64((const uint64_t *)vb.buf, n, tab, lanes, width, (int64_t *)cb.buf, &umin,
                  &umax, &sum, &sumsq);
    if (released != NULL)
        PyEval_RestoreThread(released);
    if (n == 0) {
        umin = 0;
        umax = 0;
    }
    result = Py_BuildValue("(KKdd)", umin, umax, sum, sumsq);

done:
    free(lanes);
    PyBuffer_Release(&vb);
    PyBuffer_Release(&cb);
    return result;
}

/* ------------------------------------------------------------ element snapshots */
enum { F32, F64, F16, BF16, I64, I32, I16, I8, U8, BOOL, N_CODES };
static const Py_ssize_t code_size[N_CODES] = {4, 8, 2, 2, 8, 4, 2, 1, 1, 1};

typedef struct {
    PyObject_HEAD
    int code;
    unsigned char raw[8];
} Snapshot;

static double
half_to_double(uint16_t h)
{
    int e = (h >> 10) & 0x1f, m = h & 0x3ff;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(m + 1024, e - 25);
    return (h & 0x8000) ? -v : v;
}

static PyObject *
snapshot_resolve(PyObject *obj, PyObject *Py_UNUSED(ignored))
{
    Snapshot *self = (Snapshot *)obj;
    const unsigned char *r = self->raw;
    union { float f; double d; uint32_t u32; uint16_t u16; int64_t i64; int32_t i32; int16_t i16; int8_t i8; } v;
    double out;
    switch (self->code) {
    case F32: memcpy(&v.f, r, 4); out = v.f; break;
    case F64: memcpy(&v.d, r, 8); out = v.d; break;
    case F16: memcpy(&v.u16, r, 2); out = half_to_double(v.u16); break;
    case BF16: memcpy(&v.u16, r, 2); v.u32 = (uint32_t)v.u16 << 16; out = v.f; break;
    case I64: memcpy(&v.i64, r, 8); out = (double)v.i64; break;
    case I32: memcpy(&v.i32, r, 4); out = v.i32; break;
    case I16: memcpy(&v.i16, r, 2); out = v.i16; break;
    case I8: memcpy(&v.i8, r, 1); out = v.i8; break;
    case U8: out = r[0]; break;
    default: out = r[0] != 0; break;
    }
    return PyFloat_FromDouble(out);
}

static PyMethodDef snapshot_methods[] = {
    {"tblog_resolve", snapshot_resolve, METH_NOARGS, "The element's value as a float."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject SnapshotType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "tblog.core._native.Snapshot",
    .tp_doc = "The bytes of one tensor element, read as a float by tblog_resolve().",
    .tp_basicsize = sizeof(Snapshot),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_methods = snapshot_methods,
};

static PyObject *
snapshot(PyObject *Py_UNUSED(self), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "snapshot(address, code) takes 2 arguments");
        return NULL;
    }
    unsigned long long address = PyLong_AsUnsignedLongLong(args[0]);
    if (address == (unsigned long long)-1 && PyErr_Occurred())
        return NULL;
    long code = PyLong_AsLong(args[1]);
    if (code == -1 && PyErr_Occurred())
        return NULL;
    if (address == 0 || code < 0 || code >= N_CODES) {
        PyErr_SetString(PyExc_ValueError, "snapshot: need a non-null address and a known code");
        return NULL;
    }
    Snapshot *snap = PyObject_New(Snapshot, &SnapshotType);
    if (snap == NULL)
        return NULL;
    snap->code = (int)code;
    memset(snap->raw, 0, sizeof snap->raw);
    memcpy(snap->raw, (const void *)(uintptr_t)address, (size_t)code_size[code]);
    return (PyObject *)snap;
}

static PyMethodDef methods[] = {
    {"snapshot", (PyCFunction)(void (*)(void))snapshot, METH_FASTCALL,
     "snapshot(address, code) -> Snapshot: copy the element at address (code: its dtype, "
     "0..9 = float32, float64, float16, bfloat16, int64, int32, int16, int8, uint8, bool)."},
    {"table", table, METH_VARARGS,
     "table(idx, key) -> Table: 65536 uint32 bucket indexes and 65536 uint32 (float32) or "
     "uint64 (float64) keys, copied."},
    {"count", count, METH_VARARGS,
     "count(values, table, counts) -> (umin, umax, sum, sumsq): add each float32/float64 "
     "value to counts[idx[p] + (u >= key[p])], u its monotone key, p = u's top 16 bits; "
     "sum and sumsq: the values' sum and sum of squares, in double."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_native", "Native speed-ups of tblog: histogram bucket counting, byte snapshots.",
    -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__native(void)
{
    if (PyType_Ready(&SnapshotType) < 0 || PyType_Ready(&TableType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m != NULL && PyModule_AddObjectRef(m, "Snapshot", (PyObject *)&SnapshotType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
