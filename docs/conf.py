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
#
# api.rst lists the members of vswap.XArray one by one, grouped and in source
# order (autodoc cannot read the order of a compiled module). A public member
# added to the class later but not to api.rst is still documented: it is
# appended under "Other members" when api.rst is read, with an info message
# asking for it to be placed properly.

import inspect  # noqa: E402
import re  # noqa: E402

SPECIAL_MEMBERS = ["__getitem__", "__setitem__", "__delitem__", "__contains__", "__len__",
                   "__iter__"]
_LISTED = re.compile(r"^   \.\. auto(?:method|attribute|property):: (\w+)", re.M)


def _missing_xarray_members(text: str) -> list[str]:
    section = text.split(".. autoclass:: vswap.XArray", 1)[-1].split("\n.. ", 1)[0]
    listed = set(_LISTED.findall(section))
    public = [n for n in vswap.XArray.__dict__ if not n.startswith("_")] + SPECIAL_MEMBERS
    return [n for n in public if n not in listed]


def _complete_api_page(app, docname, source) -> None:
    if docname != "api":
        return
    text = source[0]
    missing = _missing_xarray_members(text)
    if not missing:
        return
    from sphinx.util import logging

    logging.getLogger(__name__).info(
        "api.rst: vswap.XArray members not listed, appended under 'Other members': %s",
        ", ".join(missing))
    lines = ["", "   .. rubric:: Other members", ""]
    for name in missing:
        attr = inspect.getattr_static(vswap.XArray, name)
        kind = "method" if callable(attr) else "attribute"
        lines.append(f"   .. auto{kind}:: {name}")
    head, sep, rest = text.partition(".. autoclass:: vswap.XArray")
    body, nxt, tail = rest.partition("\n.. ")
    source[0] = head + sep + body.rstrip("\n") + "\n" + "\n".join(lines) + "\n\n" + nxt + tail


def setup(app):
    app.connect("source-read", _complete_api_page)
