"""Build ArraySwap against the installed vswap: ``pip install --no-build-isolation .``.

``cimport vswap._swapops`` finds the ``.pxd`` files vswap installs beside
its modules (on ``sys.path``), so this needs vswap installed in the same
environment as Cython (hence no build isolation).
"""

from Cython.Build import cythonize
from setuptools import Extension, setup

setup(
    ext_modules=cythonize(
        [Extension("arrayswap", ["arrayswap.pyx"], extra_compile_args=["-O2"])],
        compiler_directives={"language_level": 3, "boundscheck": False, "wraparound": False,
                             "initializedcheck": False, "cdivision": True,
                             "embedsignature": True},
    ),
)
