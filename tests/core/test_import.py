import subprocess
import sys

FRAMEWORKS = (
    "torch",
    "tensorflow",
    "keras",
    "lightning",
    "pytorch_lightning",
    "jax",
    "tensorboard",
)


def test_import_tblog_imports_no_framework(tmp_path):
    code = (
        "import sys, tblog\n"
        f"w = tblog.SummaryWriter({str(tmp_path)!r})\n"
        "w.add_scalar('x', 1.0, 0); w.add_histogram('h', [1.0, 2.0], 0); w.close()\n"
        f"print(sorted(m for m in {FRAMEWORKS!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_protos_import_without_warnings():
    code = "import tblog.core.proto.event_pb2, tblog.core.proto.plugins_pb2, tblog.core.proto.graph_pb2"
    subprocess.run([sys.executable, "-W", "error", "-c", code], check=True)
