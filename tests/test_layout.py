"""The house's plan, checked: the CLI wing stands above the library, no import circle,
no private helper borrowed across modules, the registry's loops."""

import ast
import importlib
from pathlib import Path

import vswap

SRC = Path(vswap.__file__).parent


def modules():
    """(module name, parsed tree) of every Python module of the package."""
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC.parent).with_suffix("")
        name = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        yield name, ast.parse(path.read_text(), str(path))


def imports(tree, name):
    """The vswap modules ``tree`` imports, and the (module, name) pairs it imports from them."""
    mods, names = set(), []
    package = name if name in ("vswap", "vswap.cli", "vswap.kernel", "vswap.reference",
                               "vswap.testing") else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            mods |= {a.name for a in node.names if a.name.startswith("vswap")}
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([mod] if mod else []))
            if mod.startswith("vswap"):
                mods.add(mod)
                names += [(mod, a.name) for a in node.names]
    return mods, names


def test_nothing_outside_the_cli_imports_from_it():
    for name, tree in modules():
        if name.startswith("vswap.cli") or name == "vswap.__main__":
            continue
        mods, _ = imports(tree, name)
        assert not [m for m in mods if m == "vswap.cli" or m.startswith("vswap.cli.")], name


def test_no_private_helper_is_imported_across_modules():
    found = []
    for name, tree in modules():
        for mod, imported in imports(tree, name)[1]:
            if imported.startswith("_") and not imported.startswith("__"):
                try:            # a compiled module's name (vswap._replay) is not a helper
                    importlib.import_module(f"{mod}.{imported}")
                except ImportError:
                    found.append(f"{name} imports {mod}.{imported}")
    assert not found, found


def test_the_cli_modules_form_no_import_circle():
    # The wing's modules import the library and the shared options only: a circle
    # among them (kernel/cli.py once imported __main__'s helpers) would show here.
    graph = {}
    for name, tree in modules():
        if name.startswith("vswap.cli"):
            graph[name] = {m for m in imports(tree, name)[0] if m.startswith("vswap.cli")}
    seen, stack = set(), []

    def visit(n):
        assert n not in stack, " -> ".join(stack + [n])
        if n in seen:
            return
        stack.append(n)
        for m in graph.get(n, ()):
            visit(m)
        stack.pop()
        seen.add(n)

    for n in graph:
        visit(n)
    assert "vswap.cli.options" in graph and graph["vswap.cli.options"] == set()
