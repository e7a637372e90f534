"""Pure functions from arrays to Summary protos, one module per kind of data.

Each module mirrors a TensorBoard plugin (``tensorboard/plugins/<kind>/summary_v2.py``):
it validates its inputs, raising ``ValueError``/``TypeError`` that names the argument,
and returns a ``tblog.core.proto.summary_pb2.Summary`` (or plain bytes/files for kinds
that TensorBoard reads outside event files). No I/O, no global state.
"""
