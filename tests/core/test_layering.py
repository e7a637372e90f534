"""Package layering (#22), read from the source with ``ast`` (every import, also the ones
inside functions):

- ``tblog.core`` imports no front-end (``tblog.writer``, ``summary``, ``checkpoint``,
  ``reader``, ``cli``) and no integration, except the registry's discovery of
  ``tblog.integrations``;
- a front-end package imports no other front-end package (the checkpoint hooks use the
  writer contract by duck typing only);
- modules under ``integrations/`` and ``cli/`` import no private name (``_x``) and no private
  module of another package: they use public contracts only.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from paths import SRC

FRONT_ENDS = ("writer", "summary", "checkpoint", "reader", "cli")
# (importing package, imported front-end) pairs that are allowed, and why
ALLOWED_FRONT_END_IMPORTS = {
    # ``tblog export`` is the reader's command line: it builds the frame tblog.scalars returns
    ("cli", "reader"),
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _package(path: Path) -> str:
    name = _module_name(path)
    return name if path.name == "__init__.py" else name.rsplit(".", 1)[0]


def _imports(path: Path) -> list[tuple[str, str | None, int]]:
    """``(module, imported name or None, line)`` of every tblog import in ``path``."""
    out: list[tuple[str, str | None, int]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(alias.name, None, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = _package(path).split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            out += [(base, alias.name, node.lineno) for alias in node.names]
    return [(m, n, line) for m, n, line in out if m == "tblog" or m.startswith("tblog.")]


def _sources() -> list[Path]:
    return sorted(p for p in (SRC / "tblog").rglob("*.py") if not p.name.endswith("_pb2.py"))


def _area(module: str) -> str:
    """``writer`` for ``tblog.writer.x``; ``""`` for ``tblog`` itself."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _is_private(part: str) -> bool:
    return part.startswith("_") and not part.startswith("__")


def _private_of_another_package(importer_package: str, target: str) -> bool:
    """Whether ``target`` (a dotted module, or module.name) names a private module or name
    (its first private part) of a package other than ``importer_package`` or its parents."""
    parts = target.split(".")
    for i, part in enumerate(parts):
        if _is_private(part):
            owner = parts[:i]
            if not SRC.joinpath(*owner).is_dir():  # a private name of a module: its package
                owner = owner[:-1]
            name = ".".join(owner)
            return importer_package != name and not importer_package.startswith(name + ".")
    return False


def _violations() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {"core": [], "front-ends": [], "private": []}
    for path in _sources():
        module = _module_name(path)
        area = _area(module)
        package = _package(path)
        where = f"{path.relative_to(SRC)}"
        for target, name, line in _imports(path):
            target_area = _area(target)
            # an imported submodule (``from tblog.core import native``) is part of the target
            full = f"{target}.{name}" if name else target
            if name and target in ("tblog", "tblog.integrations"):
                target_area = _area(full)
            at = f"{where}:{line} imports {full}"
            if area == "core":
                discovery = module == "tblog.core.registry" and full.startswith(
                    "tblog.integrations"
                )
                if (target_area in FRONT_ENDS or target_area == "integrations") and not discovery:
                    found["core"].append(at)
            if (
                area in FRONT_ENDS
                and target_area in FRONT_ENDS
                and target_area != area
                and (area, target_area) not in ALLOWED_FRONT_END_IMPORTS
            ):
                found["front-ends"].append(at)
            if area in ("integrations", "cli") and _private_of_another_package(package, full):
                found["private"].append(at)
    return found


@pytest.mark.parametrize("rule", ["core", "front-ends", "private"])
def test_layering(rule):
    assert _violations()[rule] == []


def test_the_checker_sees_violations(tmp_path, monkeypatch):
    """Each rule flags a module that breaks it (so an empty result means something)."""
    fake = tmp_path / "src"
    for rel, text in {
        "tblog/__init__.py": "",
        "tblog/core/__init__.py": "",
        "tblog/core/bad.py": "from tblog.writer import summary_writer\n",
        "tblog/core/registry.py": "import tblog.integrations.torch\n",
        "tblog/summary/__init__.py": "",
        "tblog/summary/bad.py": "def f():\n    from tblog.writer.media import MediaMethods\n",
        "tblog/integrations/__init__.py": "",
        "tblog/integrations/x/__init__.py": "from tblog.integrations.x import _own\n",
        "tblog/integrations/y/__init__.py": "",
        "tblog/integrations/y/_z.py": "w = 1\n",
        "tblog/integrations/x/bad.py": (
            "from tblog.summary._state import DefaultContext\n"
            "from tblog.core.summaries import _counting\n"
            "from ..y._z import w\n"
            "from tblog.writer.summary_writer import SummaryWriter\n"
        ),
    }.items():
        (fake / rel).parent.mkdir(parents=True, exist_ok=True)
        (fake / rel).write_text(text)
    monkeypatch.setattr(__import__(__name__), "SRC", fake)
    found = _violations()
    assert found["core"] == ["tblog/core/bad.py:1 imports tblog.writer.summary_writer"]
    assert found["front-ends"] == ["tblog/summary/bad.py:2 imports tblog.writer.media.MediaMethods"]
    assert found["private"] == [
        "tblog/integrations/x/bad.py:1 imports tblog.summary._state.DefaultContext",
        "tblog/integrations/x/bad.py:2 imports tblog.core.summaries._counting",
        "tblog/integrations/x/bad.py:3 imports tblog.integrations.y._z.w",
    ]
