"""Sphinx configuration of the vswap documentation.

Build (warnings are errors)::

    python -m sphinx -W -b html docs docs/_build/html

autodoc imports vswap from the *installed* package (``pip install .``): the
compiled core cannot be imported from the source tree, so ``src/`` is
deliberately not put on ``sys.path``.
"""

import vswap

project = "vswap"
author = "the vswap developers"
copyright = "2026, the vswap developers"
release = vswap.__version__
version = ".".join(release.split(".")[:2])

extensions = ["sphinx.ext.autodoc"]

autodoc_member_order = "bysource"
autodoc_default_options = {"undoc-members": False}
# The compiled class embeds its signatures (embedsignature=True); show them as
# written rather than re-deriving them.
autodoc_docstring_signature = True

exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
templates_path: list[str] = []
html_static_path: list[str] = []
html_theme = "alabaster"
html_title = f"vswap {release}"
pygments_style = "sphinx"


# -- keep api.rst's explicit XArray member list complete ----------------------

SPECIAL_MEMBERS = ["__getitem__", "__setitem__", "__delitem__", "__contains__", "__len__",
                   "__iter__"]


def _documented_xarray_members(app) -> set[str]:
    import os
    import re

    with open(os.path.join(app.srcdir, "api.rst"), encoding="utf-8") as f:
        text = f.read()
    section = text.split(".. autoclass:: vswap.XArray", 1)[-1].split("\n.. ", 1)[0]
    return set(re.findall(r"^   \.\. auto(?:method|attribute|property):: (\w+)", section, re.M))


def _check_xarray_members(app) -> None:
    from sphinx.util import logging

    public = {n for n in dir(vswap.XArray) if not n.startswith("_")} | set(SPECIAL_MEMBERS)
    missing = sorted(public - _documented_xarray_members(app))
    if missing:
        logging.getLogger(__name__).warning(
            "api.rst: vswap.XArray members not documented: %s", ", ".join(missing))


def setup(app):
    app.connect("builder-inited", _check_xarray_members)
