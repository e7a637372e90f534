"""The README's two commands: CI runs the second one verbatim; the demo's scripts exist."""

from __future__ import annotations

import re

from paths import ROOT


def _bash_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return [b.strip() for b in re.findall(r"```bash\n(.*?)```", text, flags=re.S)]


def test_ci_runs_the_readme_test_command():
    demo, tests = _bash_blocks()[:2]
    ci_lines = [
        ln
        for ln in (ROOT / ".ci" / "run").read_text().splitlines()
        if ln and not ln.startswith("#")
    ]
    assert ci_lines[-1] == tests
    assert "pytest" in tests and "examples/demo.py" in demo


def test_demo_runs_only_examples_that_exist():
    import importlib.util

    spec = importlib.util.spec_from_file_location("demo", ROOT / "examples" / "demo.py")
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    for _name, _needs, script, _args, _kill in demo.DEMOS:
        assert (ROOT / "examples" / script).is_file(), script
