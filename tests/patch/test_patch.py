"""tblog.patch(): torch's and tensorboardX's writers become tblog's wherever client code holds
them (names imported before the patch, modules imported after it), isinstance against the
original classes holds, and unpatch()/patched() put back every name exactly."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import types

import pytest
import tb
from paths import SRC, pythonpath

import tblog
from tblog.patching import launch

torch = pytest.importorskip("torch")
import torch.utils.tensorboard as tut  # noqa: E402
import torch.utils.tensorboard.writer as tut_writer  # noqa: E402

# held in a dict: the patch rebinds module attributes that are torch's classes (this
# module's too), not what containers hold
_ORIG = {"writer": tut.SummaryWriter, "file_writer": tut.FileWriter}


@pytest.fixture(autouse=True)
def _unpatched():
    tblog.unpatch()
    yield
    tblog.unpatch()


def _holders(obj):
    """``{(module name, attribute)}`` of every imported module attribute that IS ``obj``."""
    return {
        (name, attr)
        for name, module in list(sys.modules.items())
        for attr, value in list(getattr(module, "__dict__", {}).items())
        if value is obj
    }


def _client(name, source):
    """A module imported by client code (registered in sys.modules)."""
    module = types.ModuleType(name)
    exec(textwrap.dedent(source), module.__dict__)
    sys.modules[name] = module
    return module


def test_names_imported_before_the_patch_write_through_tblog(tmp_path):
    client = _client(
        "client_before",
        """
        from torch.utils.tensorboard import SummaryWriter
        from torch.utils.tensorboard import SummaryWriter as SW
        import torch.utils.tensorboard as tbmod
        def make(path):
            return SummaryWriter(path)
        """,
    )
    try:
        before = _holders(_ORIG["writer"])
        assert ("client_before", "SummaryWriter") in before
        tblog.patch()
        assert _holders(_ORIG["writer"]) == set()  # no module holds torch's class any more
        for name in ("SummaryWriter", "SW"):
            assert issubclass(getattr(client, name), tblog.SummaryWriter)
        assert client.tbmod.SummaryWriter is client.SummaryWriter
        assert tut_writer.SummaryWriter is client.SummaryWriter  # the defining module
        w = client.make(str(tmp_path))
        assert isinstance(w, _ORIG["writer"]) and isinstance(w, tblog.SummaryWriter)
        w.add_scalar("loss", 0.5, 3)
        w.close()
        assert tb.scalar_series(str(tmp_path), "loss") == [(3, 0.5)]
        tblog.unpatch()
        assert _holders(_ORIG["writer"]) == before  # every name back, none added
        assert client.SW is _ORIG["writer"] and tut.SummaryWriter is _ORIG["writer"]
    finally:
        del sys.modules["client_before"]


def test_patch_is_idempotent_and_unpatch_restores_names_imported_while_patched():
    before = _holders(_ORIG["writer"])
    tblog.patch()
    first = tut.SummaryWriter
    tblog.patch()
    assert tut.SummaryWriter is first  # one replacement, not a subclass of a subclass
    assert tblog.patching.original(first) is _ORIG["writer"]
    late = _client("client_late", "from torch.utils.tensorboard import SummaryWriter, FileWriter")
    try:
        assert late.SummaryWriter is first
        assert issubclass(late.FileWriter, _ORIG["file_writer"])
        tblog.unpatch()
        tblog.unpatch()
        assert late.SummaryWriter is _ORIG["writer"] and late.FileWriter is _ORIG["file_writer"]
        assert _holders(_ORIG["writer"]) == before | {("client_late", "SummaryWriter")}
        tblog.patch()
        assert tut.SummaryWriter is first  # patching again reuses the replacement
    finally:
        del sys.modules["client_late"]


def test_patched_context_restores_on_exception():
    with pytest.raises(KeyError), tblog.patched():
        assert tut.SummaryWriter is not _ORIG["writer"]
        raise KeyError("boom")
    assert tut.SummaryWriter is _ORIG["writer"] and tut_writer.FileWriter is _ORIG["file_writer"]
    assert not tblog.patching.is_patched()


def test_only_the_kinds_asked_for():
    tblog.patch(torch=False)
    assert tut.SummaryWriter is _ORIG["writer"]
    assert tblog.patching.is_patched("tensorboardX") and not tblog.patching.is_patched("torch")


def test_file_writer_writes_through_tblog(tmp_path):
    from torch.utils.tensorboard.summary import scalar

    with tblog.patched():
        fw = tut.FileWriter(str(tmp_path))
        assert isinstance(fw, _ORIG["file_writer"])
        fw.add_summary(scalar("acc", 0.25), 7)
        fw.close()
    assert tb.scalar_series(str(tmp_path), "acc") == [(7, 0.25)]


def _run(code, env=None, cwd=None):
    full = {**os.environ, "PYTHONPATH": pythonpath(SRC), **(env or {})}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=full,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_patch_imports_no_framework_and_hooks_later_imports(tmp_path):
    """In a fresh interpreter: patch() imports neither torch nor tensorboardX nor keras nor
    lightning; importing them afterwards gives tblog's classes."""
    out = _run(
        f"""
        import sys, tblog
        tblog.patch(keras=True, lightning=True)
        heavy = [m for m in ("torch", "tensorboardX", "keras", "lightning", "tensorflow")
                 if m in sys.modules]
        assert heavy == [], heavy
        from torch.utils.tensorboard import SummaryWriter
        import tensorboardX
        assert issubclass(SummaryWriter, tblog.SummaryWriter), SummaryWriter
        assert issubclass(tensorboardX.SummaryWriter, tblog.SummaryWriter)
        from tblog.patching import original
        assert original(tensorboardX.FileWriter).__module__ == "tensorboardX.writer"
        w = tensorboardX.SummaryWriter({str(tmp_path)!r})
        w.add_scalar("x", 2.0, 1)
        w.close()
        tblog.unpatch()
        import torch.utils.tensorboard as t
        assert t.SummaryWriter.__module__ == "torch.utils.tensorboard.writer"
        assert tensorboardX.SummaryWriter.__module__ == "tensorboardX.writer"
        print("ok")
        """
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert tb.scalar_series(str(tmp_path), "x") == [(1, 2.0)]


def test_tensorboardx_layout_and_write_to_disk(tmp_path):
    """tensorboardX's own add_scalars runs (``<main_tag>/<key>``) and hparams name, read by
    TensorBoard the same for both writers; write_to_disk=False writes nothing."""
    tbx = pytest.importorskip("tensorboardX")

    def workload(cls, logdir):
        w = cls(str(logdir))
        for step in range(3):
            w.add_scalar("loss", 1.0 / (step + 1), step)
            w.add_scalars("pair", {"a": step, "b": 2 * step}, step)
        w.close()

    workload(tbx.SummaryWriter, tmp_path / "tbx")
    with tblog.patched():
        assert isinstance(tbx.SummaryWriter(write_to_disk=False), tbx.writer.SummaryWriter)
        tbx.SummaryWriter(str(tmp_path / "off"), write_to_disk=False).add_scalar("x", 1.0)
        workload(tbx.SummaryWriter, tmp_path / "ours")
    ours, theirs = tb.mux_scalars(str(tmp_path / "ours")), tb.mux_scalars(str(tmp_path / "tbx"))
    assert ours == theirs and ("pair/a", "pair") in theirs
    assert not (tmp_path / "off").exists()


def test_env_kinds():
    assert launch.kinds_from_env({}) is None
    assert launch.kinds_from_env({"TBLOG_PATCH": "0"}) is None
    assert launch.kinds_from_env({"TBLOG_PATCH": "1"}) == {"torch", "tensorboardX"}
    assert launch.kinds_from_env({"TBLOG_PATCH": "yes", "TBLOG_PATCH_KERAS": "1"}) == {
        "torch",
        "tensorboardX",
        "keras",
    }
    assert launch.kinds_from_env({"TBLOG_PATCH": "torch, Lightning"}) == {"torch", "lightning"}
    with pytest.raises(ValueError, match="tf"):
        launch.kinds_from_env({"TBLOG_PATCH": "torch,tf"})


SCRIPT = """
import sys
from torch.utils.tensorboard import SummaryWriter
import tblog
w = SummaryWriter(sys.argv[1])
w.add_scalar("patched", float(isinstance(w, tblog.SummaryWriter)), len(sys.argv))
w.close()
print("argv0", sys.argv[0], "name", __name__)
sys.exit(int(sys.argv[2]))
"""


@pytest.mark.parametrize("how", ["tblog run", "python -m tblog run", "-m module", "pth"])
def test_apply_without_editing_the_script(tmp_path, how):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    logdir = str(tmp_path / "logs")
    env = {"PYTHONPATH": pythonpath(SRC, tmp_path)}
    if how == "tblog run":
        cmd = [sys.executable, "-c", "import sys, tblog.cli; sys.exit(tblog.cli.main())"]
        cmd += ["run", str(script), logdir, "3"]
    elif how == "python -m tblog run":
        cmd = [sys.executable, "-m", "tblog", "run", str(script), logdir, "3"]
    elif how == "-m module":
        cmd = [sys.executable, "-m", "tblog", "run", "-m", "train", logdir, "3"]
    else:
        site = tmp_path / "site"
        site.mkdir()
        launch.install_pth(str(site))
        env["TBLOG_PATCH"] = "1"
        boot = f"import site, sys, runpy; site.addsitedir({str(site)!r}); "
        boot += f"sys.argv = [{str(script)!r}, {logdir!r}, '3']; "
        boot += f"runpy.run_path({str(script)!r}, run_name='__main__')"
        cmd = [sys.executable, "-c", boot]
    out = subprocess.run(
        cmd, env={**os.environ, **env}, cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 3, out.stderr[-3000:]  # the script's exit status
    assert "name __main__" in out.stdout
    assert out.stdout.split("argv0 ")[1].split()[0].endswith("train.py")
    assert tb.scalar_series(logdir, "patched") == [(3, 1.0)]


def test_pth_does_nothing_without_the_variable(tmp_path):
    launch.install_pth(str(tmp_path))
    out = _run(
        f"""
        import site, sys
        site.addsitedir({str(tmp_path)!r})
        print(sorted(m for m in sys.modules if m.startswith("tblog")))
        """,
        env={"TBLOG_PATCH": ""},
    )
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stderr[-2000:]
    launch.install_pth(str(tmp_path), remove=True)
    assert not (tmp_path / launch.PTH_NAME).exists()


@pytest.mark.slow
def test_keras_and_lightning_when_asked():
    """``patch(keras=True, lightning=True)`` before either is imported: Keras' TensorBoard
    callback is TBCallback and Lightning's TensorBoardLogger TBLogger (an instance of which
    Lightning counts as a TensorBoardLogger), everywhere; unpatch restores them and leaves
    a client's own ``TBLogger`` name alone."""
    out = _run(
        """
        import sys, tblog
        tblog.patch(keras=True, lightning=True)
        assert "keras" not in sys.modules and "lightning" not in sys.modules
        import keras
        from keras.callbacks import TensorBoard
        from lightning.pytorch.loggers import TensorBoardLogger
        import lightning.pytorch.loggers.tensorboard as defining
        from tblog import TBCallback, TBLogger
        assert TensorBoard is TBCallback and keras.callbacks.TensorBoard is TBCallback
        assert TensorBoardLogger is TBLogger and defining.TensorBoardLogger is TBLogger
        tblog.unpatch()
        import keras.src.callbacks.tensorboard as k
        assert keras.callbacks.TensorBoard is k.TensorBoard is not TBCallback
        assert defining.TensorBoardLogger is not TBLogger
        assert sys.modules["__main__"].TBLogger is TBLogger  # the client's own name
        assert isinstance(TBLogger("logs"), defining.TensorBoardLogger)
        print("ok")
        """,
        env={"KERAS_BACKEND": "torch"},
    )
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr[-3000:]
