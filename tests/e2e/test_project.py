"""The project's own facts agree: version, Python versions, extras, the README's commands.

The package metadata is built for real (setuptools' PEP 517 ``prepare_metadata_for_build_wheel``
on a copy of the tree, as pip does before it installs), not read from pyproject.toml.
"""

from __future__ import annotations

import ast
import email.parser
import pathlib
import re
import shutil
import subprocess
import sys
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from paths import ROOT

import tblog

README = (ROOT / "README.md").read_text()
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


@pytest.fixture(scope="module")
def metadata(tmp_path_factory):
    """The METADATA pip would install for this tree."""
    tree = tmp_path_factory.mktemp("tree")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, tree / name)
    shutil.copytree(
        ROOT / "src",
        tree / "src",
        ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.egg-info"),
    )
    out = tmp_path_factory.mktemp("meta")
    code = (
        "import sys; from setuptools import build_meta; "
        "print(build_meta.prepare_metadata_for_build_wheel(sys.argv[1]))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(out)], cwd=tree, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    dist_info = proc.stdout.strip().splitlines()[-1]
    return email.parser.Parser().parsestr((out / dist_info / "METADATA").read_text())


def _extra(metadata, name: str) -> list[Requirement]:
    out = []
    for line in metadata.get_all("Requires-Dist") or []:
        req = Requirement(line)
        marker = req.marker
        if (
            marker is not None
            and marker.evaluate({"extra": name})
            and not marker.evaluate({"extra": "__none__"})
        ):
            out.append(req)
    return out


def test_version_is_written_once(metadata):
    assert metadata["Version"] == tblog.__version__
    assert "version" not in PYPROJECT["project"]
    assert "version" in PYPROJECT["project"]["dynamic"]
    # No other literal version string in the package's own code.
    for path in (ROOT / "src" / "tblog").rglob("*.py"):
        if path.name.endswith("_pb2.py"):
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                names = [t.id for t in node.targets if isinstance(t, ast.Name)]
                if "__version__" in names:
                    assert path == ROOT / "src" / "tblog" / "__init__.py", path


def test_installed_metadata_matches_when_this_tree_is_installed():
    """An installed tblog (editable or not) reports tblog.__version__ when it is this code."""
    import importlib.metadata as md

    try:
        dist = md.distribution("tblog")
    except md.PackageNotFoundError:
        return
    files = [str(f) for f in dist.files or []]
    direct = dist.read_text("direct_url.json") or ""
    if str(ROOT) in direct or any(str(ROOT) in f for f in files):
        assert dist.version == tblog.__version__


def test_requires_python_matches_classifiers_and_tools(metadata):
    spec = SpecifierSet(metadata["Requires-Python"])
    listed = [
        c.rsplit("::", 1)[1].strip()
        for c in metadata.get_all("Classifier")
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    ]
    assert listed, "no Python version classifier"
    lowest = min(listed, key=lambda v: tuple(map(int, v.split("."))))
    # the lowest listed version is the lowest allowed one
    assert lowest in spec
    major, minor = map(int, lowest.split("."))
    assert f"{major}.{minor - 1}" not in spec
    for version in listed:
        assert version in spec
    # the interpreter that runs the tests is a listed (tested) version
    assert f"{sys.version_info[0]}.{sys.version_info[1]}" in listed
    assert PYPROJECT["tool"]["ruff"]["target-version"] == f"py{major}{minor}"
    assert PYPROJECT["tool"]["mypy"]["python_version"] == lowest


def _readme_extras() -> set[str]:
    extras = set()
    for m in re.finditer(r"pip install[^\n&|;]*?\.\[([\w,-]+)\]", README):
        extras.update(m.group(1).split(","))
    return extras


def test_every_extra_the_readme_installs_exists(metadata):
    provided = set(metadata.get_all("Provides-Extra") or [])
    wanted = _readme_extras()
    assert {"demo", "test"} <= wanted
    assert wanted <= provided, wanted - provided


def test_demo_extra_is_a_subset_of_the_test_extra_pins(metadata):
    test = {req.name.lower(): req for req in _extra(metadata, "test")}
    demo = _extra(metadata, "demo")
    assert demo
    for req in demo:
        assert req.name.lower() in test, req
        assert req.specifier == test[req.name.lower()].specifier, (req, test[req.name.lower()])
    torch = next(r for r in demo if r.name == "torch")
    assert any(s.operator == "==" for s in torch.specifier), "an unpinned torch pulls CUDA"


def _third_party_imports(folder: pathlib.Path) -> set[str]:
    names = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n != "tblog"}


def test_cli_extra_is_complete(metadata):
    """What ``tblog`` imports (its commands and the reader they use), plus pandas' Parquet
    engine and the ``tensorboard`` that ``tblog board`` starts, is installed by the core
    dependencies and the ``cli`` extra."""
    dist_of = {"google": {"protobuf", "google-crc32c"}, "PIL": {"pillow"}}
    core = {
        Requirement(r).name.lower() for r in metadata.get_all("Requires-Dist") if "extra" not in r
    }
    cli = {r.name.lower() for r in _extra(metadata, "cli")}
    needed = _third_party_imports(ROOT / "src" / "tblog" / "cli")
    needed |= _third_party_imports(ROOT / "src" / "tblog" / "reader")
    needed |= {"pandas", "pyarrow", "tensorboard"}
    for name in needed:
        dists = dist_of.get(name, {name.lower()})
        assert dists & (core | cli), f"{name} is needed by tblog's command but not installed"


def _code_blocks() -> list[tuple[str, str]]:
    return [
        (m.group(1), m.group(2).strip()) for m in re.finditer(r"```(\w*)\n(.*?)```", README, re.S)
    ]


def test_readme_first_two_commands_are_the_first_two_code_blocks():
    (lang1, demo), (lang2, tests) = _code_blocks()[:2]
    assert lang1 == lang2 == "bash"
    assert "examples/demo.py" in demo and '".[demo]"' in demo
    assert " -q" not in demo, "pip must say what it installs"
    assert "pytest" in tests and '".[test]"' in tests
    first_section = README.split("\n## ", 2)[1]
    assert first_section.startswith("Two commands")
    assert demo in first_section and tests in first_section


def test_demo_extra_has_the_cli(metadata):
    """After the demo, the README sends the user to ``tblog ls`` / ``export`` / ``plot`` /
    ``board`` and TensorBoard: the demo's environment has what they need."""
    demo = {r.name.lower() for r in _extra(metadata, "demo")}
    cli = {r.name.lower() for r in _extra(metadata, "cli")}
    assert cli <= demo, cli - demo


def test_demo_skips_exactly_what_is_missing_and_the_demo_extra_has_it(metadata):
    """Each part of ``examples/demo.py`` names every package its script imports (so a
    missing one makes the demo skip the part and say so, rather than fail), and the
    ``demo`` extra installs all of them."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("demo", ROOT / "examples" / "demo.py")
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    dist_of = {"sklearn": "scikit-learn", "tensorflow": "tensorflow-cpu"}
    extra = {r.name.lower() for r in _extra(metadata, "demo")}
    extra |= {
        Requirement(r).name.lower() for r in metadata.get_all("Requires-Dist") if "extra" not in r
    }
    for name, needs, script, _args, _kill in demo.DEMOS:
        imports = set()
        tree = ast.parse((ROOT / "examples" / script).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imports.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imports.add(node.module.split(".")[0])
        imports = {n for n in imports if n not in sys.stdlib_module_names and n != "tblog"}
        assert set(needs) == imports, (name, script)
        for module in imports:
            assert dist_of.get(module, module) in extra, (name, module)
