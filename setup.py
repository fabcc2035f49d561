"""Build the compiled core of vswap.

This file only declares the extension modules and cythonizes them. Every
Cython compiler directive of the project lives here, in one place: the
release build turns bounds, wraparound and initialisation checks off, and
``VSWAP_DEBUG=1`` in the environment turns them back on (and compiles with
``-O0 -g``) so the whole test suite can run against a checked build.
"""

import os

from Cython.Build import cythonize
from setuptools import Extension, setup

DEBUG = os.environ.get("VSWAP_DEBUG", "0") not in ("", "0")
# VSWAP_SANITIZE=address builds the core with AddressSanitizer (run the
# tests with LD_PRELOAD=$(gcc -print-file-name=libasan.so)).
SANITIZE = os.environ.get("VSWAP_SANITIZE", "")
# VSWAP_FUZZ=1 adds gcc's comparison tracing (-fsanitize-coverage=trace-cmp:
# libFuzzer's value profile then sees the core's comparisons) for
# fuzz/fuzz_api.py; such a core imports only after atheris, which defines the
# __sanitizer_cov_* callbacks. (libFuzzer no longer takes gcc's trace-pc.)
# VSWAP_FUZZ=edge builds with clang instead (CC=clang, -fsanitize=fuzzer-no-link,
# as atheris documents for native extensions): libFuzzer then counts the core's
# edges (inline 8-bit counters, a PC table) besides its comparisons; run it with
# atheris's asan_with_fuzzer.so preloaded (fuzz/fuzz_api.py does).
FUZZ_MODE = os.environ.get("VSWAP_FUZZ", "0")
FUZZ = FUZZ_MODE not in ("", "0")
EDGE = FUZZ_MODE == "edge"
if EDGE:
    # distutils links with LDSHARED, derived from CC when CC is set here
    os.environ["CC"] = os.environ.get("VSWAP_CLANG", "clang")
    os.environ.setdefault("CXX", os.environ["CC"] + "++")
MODE = (("debug" if DEBUG else "release") + (f"-{SANITIZE}" if SANITIZE else "")
        + ("-fuzz-edge" if EDGE else "-fuzz" if FUZZ else ""))

# One extension per kernel concept; ``vswap._core`` is the entry point that
# re-exports them.
MODULES = ["_xarray", "_swapfile", "_design", "_slotswap", "_direct", "_virtual_base", "_virtual", "_swaptable",
           "_mainline71", "_ste", "_replay", "_executor", "_core"]

DIRECTIVES = {
    "language_level": 3,
    "binding": True,
    "embedsignature": True,
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "initializedcheck": DEBUG,
    "nonecheck": DEBUG,
    "cdivision": not DEBUG,
    "overflowcheck": False,
    "infer_types": True,
}

CFLAGS = ["-O0", "-g", "-UNDEBUG"] if DEBUG else ["-O2"]
LDFLAGS = []
if SANITIZE:
    CFLAGS += [f"-fsanitize={SANITIZE}", "-fno-omit-frame-pointer"]
    LDFLAGS += [f"-fsanitize={SANITIZE}"]
if EDGE:
    CFLAGS += ["-fsanitize=fuzzer-no-link"]
    LDFLAGS += ["-fsanitize=fuzzer-no-link"]
elif FUZZ:
    CFLAGS += ["-fsanitize-coverage=trace-cmp"]

extensions = [
    Extension(
        f"vswap.{name}",
        [f"src/vswap/{name}.pyx"],
        extra_compile_args=CFLAGS + ["-Wno-unused-function"],
        extra_link_args=LDFLAGS,
        define_macros=[("VSWAP_DEBUG", "1" if DEBUG else "0")],
    )
    for name in MODULES
]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives=DIRECTIVES,
        # Separate trees so a release build never reuses debug objects.
        build_dir=f"build/cython-{MODE}",
        compile_time_env={"VSWAP_DEBUG": DEBUG},
        nthreads=2,
    ),
    options={"build": {"build_base": f"build/{MODE}"}, "build_ext": {"parallel": 2}},
)
