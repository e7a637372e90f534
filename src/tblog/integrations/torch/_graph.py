"""``add_graph`` for torch models: a GraphDef that TensorBoard's graph plugin renders.

The model is traced with ``torch.jit.trace`` (as ``torch.utils.tensorboard`` does); when
that fails (dict or keyword inputs, dict outputs, untraceable code) ``torch.export`` and
then ``torch.fx`` are tried. Every tracer's result becomes the same kind of graph:

- ``input/<name>`` and ``output/output.<i>`` nodes with op ``IO Node``;
- op nodes named ``<Model>/<Class>[<attr>]/.../<value>``, so the graph UI groups them by
  module (the scope names ``torch.utils.tensorboard`` uses), op = the traced op's kind;
- one node per parameter (op ``Parameter``) and buffer (op ``Buffer``) in its module's
  scope, with its shape, dtype and ``requires_grad``;
- ``_output_shapes`` on every node whose output shapes are known.
"""

from __future__ import annotations

import contextlib
import inspect
import operator
import warnings
from collections.abc import Iterator
from typing import Any

import torch

from tblog.core.proto import graph_pb2

IO_NODE = "IO Node"
PRODUCER_VERSION = 22  # what torch.utils.tensorboard writes


class _Graph:
    """Nodes under construction, named with the model's module scopes."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.root = type(model).__name__
        self.scopes: dict[str, str] = {}
        for path, module in model.named_modules():
            if not path:
                self.scopes[path] = self.root
            else:
                parent, _, attr = path.rpartition(".")
                self.scopes[path] = f"{self.scopes[parent]}/{type(module).__name__}[{attr}]"
        self.graph = graph_pb2.GraphDef()
        self.graph.versions.producer = PRODUCER_VERSION
        self.names: set[str] = set()
        self.params: dict[str, str] = {}  # "seq.0.weight" -> node name
        for kind, items in (
            ("Parameter", model.named_parameters()),
            ("Buffer", model.named_buffers()),
        ):
            for full, tensor in items:
                path, _, leaf = full.rpartition(".")
                name = self.add(
                    f"{self.scope(path)}/{leaf}",
                    kind,
                    [],
                    [list(tensor.shape)],
                    {"dtype": str(tensor.dtype), "requires_grad": bool(tensor.requires_grad)},
                )
                self.params[full] = name

    def scope(self, module_path: str) -> str:
        """Scope of a dotted module path (the root scope for unknown paths)."""
        return self.scopes.get(module_path, self.root)

    def add(
        self,
        name: str,
        op: str,
        inputs: list[str],
        shapes: list[list[int] | None],
        attrs: dict[str, Any] | None = None,
    ) -> str:
        """Add a node (made unique by a suffix if needed) and return its name."""
        unique, k = name, 1
        while unique in self.names:
            unique, k = f"{name}_{k}", k + 1
        self.names.add(unique)
        node = self.graph.node.add(name=unique, op=op)
        node.input.extend(inputs)
        if any(s is not None for s in shapes):  # one shape per output, as TensorFlow
            out = node.attr["_output_shapes"].list
            for shape in shapes:
                proto = out.shape.add(unknown_rank=shape is None)
                for d in shape or ():
                    proto.dim.add(size=int(d))
        text = "{" + ", ".join(f"{k}: {v}" for k, v in (attrs or {}).items()) + "}"
        node.attr["attr"].s = text.replace("'", " ").encode("utf-8")
        return unique


def _shape_of(value: Any) -> list[int] | None:
    shape = getattr(value, "shape", None)
    if shape is None:
        return None
    try:
        return [int(d) for d in shape]
    except (TypeError, ValueError):  # symbolic sizes
        return None


# ----------------------------------------------------------------------------- inputs
def _split_inputs(model: torch.nn.Module, inputs: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """``input_to_model`` as (args, kwargs): a tensor is one argument, a tuple or list the
    positional arguments, a dict keyword arguments when ``forward`` takes those names."""
    if inputs is None:
        return (), {}
    if isinstance(inputs, torch.Tensor):
        return (inputs,), {}
    if isinstance(inputs, (tuple, list)):
        return tuple(inputs), {}
    if isinstance(inputs, dict):
        try:
            params = inspect.signature(model.forward).parameters
        except (TypeError, ValueError):
            params = {}  # type: ignore[assignment]
        takes_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        if inputs and (takes_kwargs or all(k in params for k in inputs)):
            return (), dict(inputs)
        return (inputs,), {}
    return (inputs,), {}


# ----------------------------------------------------------------------------- tracers
def _from_jit(
    model: torch.nn.Module,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    strict: bool,
    verbose: bool,
) -> _Graph:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # jit.trace is deprecated
        if kwargs:
            traced = torch.jit.trace(model, example_kwarg_inputs=kwargs, strict=strict)
        else:
            traced = torch.jit.trace(model, args, strict=strict)
    graph = traced.graph
    torch._C._jit_pass_inline(graph)
    if verbose:
        print(graph)
    g = _Graph(model)
    names: dict[str, str] = {}  # jit value debugName -> node name
    modules: dict[str, str] = {}  # jit value debugName -> module path
    graph_inputs = list(graph.inputs())
    if graph_inputs:
        modules[graph_inputs[0].debugName()] = ""
    for value in graph_inputs[1:]:
        names[value.debugName()] = g.add(
            f"input/{value.debugName()}", IO_NODE, [], [_jit_shape(value)]
        )
    for node in graph.nodes():
        kind = node.kind()
        outputs = list(node.outputs())
        if kind == "prim::GetAttr":
            owner = modules.get(next(node.inputs()).debugName(), "")
            full = f"{owner}.{node.s('name')}" if owner else node.s("name")
            out = outputs[0]
            if out.type().kind() == "ClassType":
                modules[out.debugName()] = full
                continue
            if full in g.params:
                names[out.debugName()] = g.params[full]
                continue
            names[out.debugName()] = g.add(
                f"{g.scope(owner)}/{node.s('name')}", kind, [], [_jit_shape(out)]
            )
            continue
        scope = node.scopeName().rsplit("/", 1)[-1]
        scope = scope[len("__module") :].lstrip(".") if scope.startswith("__module") else ""
        inputs = [names[v.debugName()] for v in node.inputs() if v.debugName() in names]
        attrs = {a: _jit_attr(node, a) for a in node.attributeNames()}
        first = outputs[0].debugName() if outputs else kind.replace("::", "_")
        name = g.add(
            f"{g.scope(scope)}/{first}", kind, inputs, [_jit_shape(o) for o in outputs], attrs
        )
        for i, out in enumerate(outputs):
            names[out.debugName()] = name if i == 0 else f"{name}:{i}"
    for i, value in enumerate(graph.outputs()):
        source = names.get(value.debugName())
        g.add(f"output/output.{i + 1}", IO_NODE, [source] if source else [], [_jit_shape(value)])
    return g


def _jit_shape(value: Any) -> list[int] | None:
    try:
        sizes = value.type().sizes()
    except (RuntimeError, AttributeError):
        return None
    return None if sizes is None else [int(s) for s in sizes]


def _jit_attr(node: Any, name: str) -> Any:
    kind = node.kindOf(name)
    if kind == "t":
        return f"tensor{list(node.t(name).shape)}"
    try:
        return getattr(node, kind)(name)
    except Exception:  # noqa: BLE001 - attributes of odd kinds are shown by kind only
        return kind


def _fx_op(node: Any, model: torch.nn.Module) -> str:
    if node.op == "call_module":
        return type(model.get_submodule(node.target)).__name__
    if node.op == "call_method":
        return str(node.target)
    schema = getattr(node.target, "_schema", None)
    if schema is not None:
        return str(schema.name)
    return getattr(node.target, "__name__", str(node.target))


def _fx_scope(node: Any) -> str:
    if node.op == "call_module":
        return str(node.target)
    stack = node.meta.get("nn_module_stack")
    if not stack:
        return ""
    path = str(list(stack.values())[-1][0])
    for prefix in ("L['self']", "L__self__", "self"):
        if path.startswith(prefix):
            path = path[len(prefix) :]
    return path.lstrip(".")


def _from_fx_graph(model: torch.nn.Module, fx_graph: Any, params: dict[str, str]) -> _Graph:
    """Nodes of an FX graph (from torch.export or torch.fx); ``params`` maps placeholder
    or get_attr targets to parameter names."""
    g = _Graph(model)
    names: dict[Any, str] = {}
    for node in fx_graph.nodes:
        shape = _shape_of(
            node.meta.get("val", getattr(node.meta.get("tensor_meta"), "shape", None))
        )
        if shape is None and "tensor_meta" in node.meta:
            shape = _shape_of(node.meta["tensor_meta"])
        if node.op in ("placeholder", "get_attr"):
            key = params.get(node.name) or (node.target if node.op == "get_attr" else None)
            if key in g.params:
                names[node] = g.params[key]
            else:
                names[node] = g.add(f"input/{node.name}", IO_NODE, [], [shape])
        elif node.op == "output":
            outs: list[Any] = []
            torch.fx.node.map_arg(node.args, outs.append)
            for i, src in enumerate(outs):
                g.add(
                    f"output/output.{i + 1}",
                    IO_NODE,
                    [names[src]],
                    [_shape_of(src.meta.get("val"))],
                )
        else:
            inputs: list[Any] = []
            torch.fx.node.map_arg((node.args, node.kwargs), inputs.append)
            consts = [a for a in node.args if not isinstance(a, torch.fx.Node)]
            op = "prim::TupleIndex" if node.target is operator.getitem else _fx_op(node, model)
            names[node] = g.add(
                f"{g.scope(_fx_scope(node))}/{node.name}",
                op,
                [names[i] for i in inputs],
                [shape],
                {"args": consts} if consts else None,
            )
    return g


def _from_export(
    model: torch.nn.Module,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    strict: bool,
    verbose: bool,
) -> _Graph:
    program = torch.export.export(model, args, kwargs, strict=False)
    if verbose:
        print(program.graph)
    sig = program.graph_signature
    params = {**sig.inputs_to_parameters, **sig.inputs_to_buffers}
    return _from_fx_graph(model, program.graph, params)


def _from_fx(
    model: torch.nn.Module,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    strict: bool,
    verbose: bool,
) -> _Graph:
    from torch.fx.passes.shape_prop import ShapeProp

    gm = torch.fx.symbolic_trace(model)
    placeholders = [n.name for n in gm.graph.nodes if n.op == "placeholder"]
    ShapeProp(gm).propagate(*args, *[kwargs[p] for p in placeholders[len(args) :] if p in kwargs])
    if verbose:
        print(gm.graph)
    return _from_fx_graph(model, gm.graph, {})


# ----------------------------------------------------------------------------- entry point
@contextlib.contextmanager
def _eval_mode_and_module_stack(model: torch.nn.Module) -> Iterator[list[str]]:
    """Trace in eval mode without gradients; yield the stack of modules being run."""
    modes = [(m, m.training) for m in model.modules()]
    stack: list[str] = []
    handles = []
    for path, module in model.named_modules():
        label = f"{path or type(model).__name__!s} ({type(module).__name__})"
        handles.append(module.register_forward_pre_hook(lambda *_, lab=label: stack.append(lab)))
        handles.append(module.register_forward_hook(lambda *_: stack.pop() and None))
    model.eval()
    try:
        with torch.no_grad():
            yield stack
    finally:
        for handle in handles:
            handle.remove()
        for module, training in modes:
            module.training = training


def graph_def(
    model: torch.nn.Module,
    input_to_model: Any = None,
    verbose: bool = False,
    use_strict_trace: bool = True,
) -> tuple[graph_pb2.GraphDef, graph_pb2.RunMetadata]:
    """Trace ``model`` on ``input_to_model`` and return ``(GraphDef, RunMetadata)``.

    ``input_to_model``: a tensor, a tuple/list of positional arguments, or a dict of
    keyword arguments (a dict is one positional argument when ``forward`` does not take
    its keys). ``use_strict_trace`` is passed to ``torch.jit.trace`` (``strict``).
    Raises ``TypeError`` if ``model`` is not an ``nn.Module`` and ``RuntimeError`` naming
    the module (and the submodule that failed) when no tracer can trace it.
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    args, kwargs = _split_inputs(model, input_to_model)
    errors: list[str] = []
    failed_in: str | None = None
    for tracer, label in (
        (_from_jit, "torch.jit.trace"),
        (_from_export, "torch.export"),
        (_from_fx, "torch.fx"),
    ):
        with _eval_mode_and_module_stack(model) as stack:
            try:
                g = tracer(model, args, kwargs, use_strict_trace, verbose)
            except Exception as exc:  # noqa: BLE001 - the next tracer gets a chance
                first_line = (str(exc).strip().splitlines() or [""])[0][:300]
                errors.append(f"{label}: {type(exc).__name__}: {first_line}")
                if failed_in is None and stack:
                    failed_in = stack[-1]
                continue
        run_metadata = graph_pb2.RunMetadata()
        device = next((p.device for p in model.parameters()), torch.device("cpu"))
        run_metadata.step_stats.dev_stats.add(
            device=f"/device:{device.type.upper()}:{device.index or 0}"
        )
        return g.graph, run_metadata
    where = f" (it failed inside module {failed_in})" if failed_in else ""
    raise RuntimeError(
        f"add_graph could not trace {type(model).__name__}{where}; " + "; ".join(errors)
    )
