/* count_lines(data: bytes) -> int: the number of lines, as str.splitlines() counts them
   for "\n"-separated text. Here so that the package is a platlib (pure: false) package. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *count_lines(PyObject *self, PyObject *args) {
    Py_buffer buf;
    if (!PyArg_ParseTuple(args, "y*", &buf)) {
        return NULL;
    }
    const char *p = buf.buf;
    Py_ssize_t n = 0;
    for (Py_ssize_t i = 0; i < buf.len; i++) {
        n += p[i] == '\n';
    }
    if (buf.len > 0 && p[buf.len - 1] != '\n') {
        n += 1;
    }
    PyBuffer_Release(&buf);
    return PyLong_FromSsize_t(n);
}

static PyMethodDef methods[] = {
    {"count_lines", count_lines, METH_VARARGS, "Number of lines in a bytes-like object."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_lines", NULL, -1, methods};

PyMODINIT_FUNC PyInit__lines(void) { return PyModule_Create(&module); }
