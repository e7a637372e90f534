"""Generated protobuf modules (protoc 3.21 via grpcio-tools 1.51.3; ``nox -s protos``).

Generated with an old protoc on purpose: its output runs without warnings on protobuf
4.21 through 7.x, which newer generators' version checks do not.
"""
