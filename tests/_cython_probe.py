"""Build a small Cython extension against the installed vswap's .pxd files (for cimport tests)."""

import importlib
import os
import subprocess
import sys
from pathlib import Path

import vswap


def build_probe(tmp_path: Path, name: str, source: str):
    """Cythonize and compile ``source`` as module ``name`` in ``tmp_path``; return the module."""
    (tmp_path / f"{name}.pyx").write_text(source)
    (tmp_path / "setup.py").write_text(
        "from setuptools import setup\nfrom Cython.Build import cythonize\n"
        f"setup(ext_modules=cythonize('{name}.pyx', language_level=3, quiet=True))\n"
    )
    site = str(Path(vswap.__file__).parent.parent)
    env = dict(os.environ, PYTHONPATH=site + os.pathsep + os.environ.get("PYTHONPATH", ""))
    subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"], cwd=tmp_path,
                   env=env, check=True, capture_output=True)
    sys.path.insert(0, str(tmp_path))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(tmp_path))
