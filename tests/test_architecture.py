"""The house's rules of direction, read from the source: the library never imports the command
line, and the device side imports only what a device copy ships (and never TensorFlow)."""

import ast
import sys
from pathlib import Path

import mobilekit
from mobilekit.bench.targets import runtime_files

PACKAGE = Path(mobilekit.__file__).resolve().parent
DEVICE_PACKAGES = {"numpy", "ai_edge_litert"}


def _imports(path: Path) -> set[str]:
    """Every module an import statement in ``path`` names (absolute, at any depth)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_no_library_module_imports_the_command_line():
    library = [p for p in PACKAGE.rglob("*.py")
               if p.relative_to(PACKAGE).parts[0] not in ("cli", "__main__.py")]
    assert len(library) > 30
    offenders = {_module(p): sorted(n for n in _imports(p) if n == "mobilekit.cli"
                                    or n.startswith("mobilekit.cli."))
                 for p in library}
    assert {m: names for m, names in offenders.items() if names} == {}


def test_the_runtime_imports_only_what_the_device_copy_ships():
    shipped = {_module(PACKAGE.parent / relative) for _, relative in runtime_files()}
    assert "mobilekit.runtime.runner" in shipped
    stdlib = set(sys.stdlib_module_names)
    for local, _ in runtime_files():
        for name in _imports(local):
            top = name.split(".")[0]
            if top == "mobilekit":
                # "from mobilekit.runtime import graph" names a module or an attribute of one
                assert name in shipped or name.rpartition(".")[0] in shipped, (local.name, name)
            else:
                assert top in stdlib or top in DEVICE_PACKAGES, (local.name, name)


def test_the_checker_sees_a_violation(tmp_path):
    """The two rules above read real import statements (a guard against a checker that passes
    everything)."""
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nfrom mobilekit.cli import flags\n\ndef f():\n    import tensorflow\n")
    assert {"mobilekit.cli", "mobilekit.cli.flags", "tensorflow", "os"} <= _imports(bad)
