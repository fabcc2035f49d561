"""What the compiled core declares, read from its .pxd files (the C definitions).

The parity tests compare the reference twins against these declarations, so a
field added to a C struct or a cdef class shows up as a difference until the
twin has it too.
"""

import pathlib
import re

import vswap

_ROOT = pathlib.Path(vswap.__file__).parent
_FIELD = re.compile(r"^    (?:cdef )?(?:(?:unsigned|const|public|readonly) )*[\w.]+\**[ *]+\**(\w+)"
                    r"(?:\[[^]]*\])?$")


def _blocks(module, head):
    """The indented body of every ``head NAME...:`` block of ``module``.pxd, by NAME."""
    text = (_ROOT / f"{module}.pxd").read_text()
    out = {}
    for m in re.finditer(rf"^{head} (\w+)[^\n]*:\n((?:(?:    [^\n]*|\s*)\n)+)", text, re.M):
        out.setdefault(m.group(1), "")
        out[m.group(1)] += m.group(2)
    return out


def _fields(body):
    names = []
    for line in body.splitlines():
        line = line.split("#")[0].rstrip()
        if "(" in line:                       # a method declaration, not a field
            continue
        m = _FIELD.match(line)
        if m:
            names.append(m.group(1))
    return tuple(names)


def struct_fields(module, struct):
    """The field names of ``cdef struct struct`` in ``module``.pxd, in declaration order."""
    return _fields(_blocks(module, "cdef struct")[struct])


def class_fields(module, cls):
    """The data fields (``cdef TYPE name``) of ``cdef class cls`` in ``module``.pxd."""
    return _fields(_blocks(module, "cdef class")[cls])
