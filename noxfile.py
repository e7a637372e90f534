"""Lint, type-check, test and proto-regeneration sessions."""

from __future__ import annotations

import filecmp
import pathlib
import tempfile

import nox

nox.options.sessions = ["lint", "mypy", "tests"]
nox.options.reuse_existing_virtualenvs = True

PROTO_DIR = pathlib.Path("src/tblog/core/proto")
# protoc 3.21 (grpcio-tools 1.51.3): its output imports cleanly on protobuf 4.21 .. 7.x.
GRPCIO_TOOLS = "grpcio-tools==1.51.3"


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", "src", "tests", "examples", "benchmarks", "noxfile.py")
    session.run("ruff", "format", "--check", "src", "tests", "examples", "benchmarks", "noxfile.py")


@nox.session
def mypy(session: nox.Session) -> None:
    # the integrations are checked against the frameworks they adapt: the test extra
    session.install("-e", ".[test]")
    session.run("mypy")


@nox.session
def tests(session: nox.Session) -> None:
    session.install("-e", ".[test]")
    session.run("pytest", "-n", "2", *session.posargs)


@nox.session
def protos(session: nox.Session) -> None:
    """Regenerate the *_pb2.py modules and fail if they differ from the checked-in ones."""
    session.install(GRPCIO_TOOLS, "setuptools<70")  # its protoc wrapper imports pkg_resources
    with tempfile.TemporaryDirectory() as out:
        protos = sorted(str(p.relative_to("src")) for p in PROTO_DIR.glob("*.proto"))
        session.run("python", "-m", "grpc_tools.protoc", "-Isrc", f"--python_out={out}", *protos)
        stale = []
        for proto in protos:
            name = pathlib.Path(proto).with_suffix("").name + "_pb2.py"
            if not filecmp.cmp(
                pathlib.Path(out) / PROTO_DIR.relative_to("src") / name,
                PROTO_DIR / name,
                shallow=False,
            ):
                stale.append(name)
        if stale:
            session.error(f"generated modules differ from the .proto files: {stale}")


@nox.session
@nox.parametrize("protobuf", ["4.21.12", "5.29.5", "6.33.6", "7.36.2"])
def protobuf_compat(session: nox.Session, protobuf: str) -> None:
    """Import every proto module and write a file under each protobuf major, warnings as errors."""
    session.install(f"protobuf=={protobuf}", "numpy", "google-crc32c", "pillow")
    session.install("--no-deps", "-e", ".")
    session.run(
        "python",
        "-W",
        "error",
        "-c",
        "import tblog.core.proto.event_pb2, tblog.core.proto.plugins_pb2, tblog.core.proto.graph_pb2, tblog.core.proto.onnx_pb2; from tblog.core.summaries import scalar; scalar.scalar_pb('x', 1.0).SerializeToString()",
    )
