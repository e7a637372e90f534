"""The layout of the test suite: test modules only in the folders that mirror the package,
helpers only in ``tests/support`` (no test module imports another), basenames unique (the
folders have no ``__init__.py``: pytest imports each module by its basename)."""

from __future__ import annotations

import ast
from pathlib import Path

from paths import TESTS

ALLOWED = {
    "core",
    "writer",
    "summary",
    "checkpoint",
    "reader",
    "integrations/torch",
    "integrations/keras",
    "integrations/lightning",
    "integrations/ignite",
    "integrations/clu",
    "integrations/transformers",
    "integrations/accelerate",
    "cli",
    "e2e",
    "system",
    "patch",
}
TOP_LEVEL = {"conftest.py"}  # the only Python file directly under tests/


def _modules(tests: Path) -> list[Path]:
    return sorted(p for p in tests.rglob("*.py") if "__pycache__" not in p.parts)


def misplaced(tests: Path) -> list[str]:
    """Python files that are neither a test module in an allowed folder, a helper in
    ``support/`` nor ``conftest.py`` at the top."""
    bad = []
    for path in _modules(tests):
        rel = path.relative_to(tests)
        folder = rel.parent.as_posix()
        if folder == ".":
            ok = rel.name in TOP_LEVEL
        elif folder == "support":
            ok = not rel.name.startswith("test_")
        else:
            ok = folder in ALLOWED and rel.name.startswith("test_")
        if not ok:
            bad.append(rel.as_posix())
    return bad


def _imported(path: Path) -> set[str]:
    """Top-level names of every module that ``path`` imports, at any depth of the file."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def cross_imports(tests: Path) -> list[str]:
    """``module -> name`` for each test module that imports a module of the test tree
    other than a helper in ``support/``."""
    outside_support = {
        p.stem for p in _modules(tests) if p.relative_to(tests).parts[0] != "support"
    } | {"tests"}
    bad = []
    for path in _modules(tests):
        if path.name.startswith("test_"):
            for name in sorted(_imported(path) & outside_support):
                bad.append(f"{path.relative_to(tests).as_posix()} -> {name}")
    return bad


def duplicate_basenames(tests: Path) -> list[str]:
    seen: dict[str, list[str]] = {}
    for path in _modules(tests):
        seen.setdefault(path.name, []).append(path.relative_to(tests).as_posix())
    return [" ".join(v) for v in seen.values() if len(v) > 1]


def test_test_modules_are_in_the_package_folders():
    assert misplaced(TESTS) == []


def test_test_modules_import_helpers_only_from_support():
    assert cross_imports(TESTS) == []


def test_basenames_are_unique():
    assert duplicate_basenames(TESTS) == []


def test_the_checks_find_a_broken_layout(tmp_path):
    """The three checks on a tree that breaks each rule once."""
    for rel, text in {
        "conftest.py": "",
        "support/tb.py": "",
        "support/test_helper.py": "",  # a test module among the helpers
        "test_flat.py": "",  # a test module outside the folders
        "core/test_a.py": "import tb\nfrom test_b import helper\n",
        "writer/test_b.py": "def f():\n    import tests.tb\n",
        "writer/test_a.py": "",
        "misc/test_c.py": "",
    }.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    assert misplaced(tmp_path) == ["misc/test_c.py", "support/test_helper.py", "test_flat.py"]
    assert cross_imports(tmp_path) == ["core/test_a.py -> test_b", "writer/test_b.py -> tests"]
    assert duplicate_basenames(tmp_path) == ["core/test_a.py writer/test_a.py"]
