"""Run any part of a Keras functional graph, nested models included, without touching the model.

Why not ``keras.Model(intermediate, output)``? Building sub-models from intermediate tensors clones
graph nodes onto the user's layers (Keras appends them to ``_inbound_nodes``) and fails with "Graph
disconnected" when the target layer sits inside a nested backbone. Instead we read the existing graph
once, inline nested Functional/Sequential models into one flat list of calls, and execute only the calls
needed between given tensors ("seeds") and wanted tensors. The model is only read, never rebuilt.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import keras

from .expand import call_step, chain_of


class NotComputable(Exception):
    """The wanted tensors depend on model inputs that were not given (the seed is not a cut)."""


def graph_of(model):
    """The Functional graph behind a model, or None for models without one (subclassed models)."""
    if isinstance(model, keras.Sequential):
        return getattr(model, "_functional", None)
    if hasattr(model, "_nodes_by_depth") and getattr(model, "inputs", None) is not None:
        return model
    return None


@dataclass(eq=False)
class FlatNode:
    """One layer call of the flattened graph."""

    index: int
    operation: object
    node: object
    path: tuple  # names of the nested models this call lives in, outermost first
    input_ids: list = field(default_factory=list)  # canonical ids of the call's input tensors
    output_ids: list = field(default_factory=list)
    step: bool = False  # one sublayer of an opened-up composite layer (see expand.py), called on its input

    @property
    def name(self) -> str:
        return "/".join(self.path + (self.operation.name,))


class FlatGraph:
    """A model's call graph with nested models inlined, executable between any tensors."""

    def __init__(self, model):
        graph = graph_of(model)
        if graph is None:
            raise ValueError("internal: FlatGraph needs a model with a functional graph")
        self.model = model
        self.nodes: list[FlatNode] = []
        self._alias: dict[int, object] = {}  # id(tensor) -> canonical tensor
        self._producer: dict[int, FlatNode] = {}
        self._inlined: set[int] = set()
        self.inputs = list(graph.inputs)
        self.outputs = [self.canonical(t) for t in self._inline(graph, self.inputs, ())]
        self.input_ids = [id(self.canonical(t)) for t in self.inputs]
        self._plans: dict = {}

    def canonical(self, tensor):
        seen = tensor
        while id(seen) in self._alias:
            seen = self._alias[id(seen)]
        return seen

    def _inline(self, graph, outer_inputs, path):
        for inner, outer in zip(graph.inputs, outer_inputs):
            if inner is not outer:
                self._alias[id(inner)] = self.canonical(outer)
        for depth in sorted(graph._nodes_by_depth, reverse=True):
            for node in graph._nodes_by_depth[depth]:
                op = node.operation
                if op is None or node.is_input:
                    continue
                inner_graph = graph_of(op) if isinstance(op, keras.Model) else None
                # A nested model is inlined at its first call in this graph; a second call of the same
                # model would share its inner tensors, so it stays one opaque call.
                if (
                    inner_graph is not None
                    and id(op) not in self._inlined
                    and len(node.outputs) == len(inner_graph.outputs)
                ):
                    self._inlined.add(id(op))
                    inner_outputs = self._inline(inner_graph, list(node.input_tensors), path + (op.name,))
                    for outer, inner in zip(node.outputs, inner_outputs):
                        self._alias[id(outer)] = self.canonical(inner)
                    continue
                if self._open_up(node, path):
                    continue
                flat = FlatNode(len(self.nodes), op, node, path)
                flat.input_ids = [id(self.canonical(t)) for t in node.input_tensors]
                flat.output_ids = [id(self.canonical(t)) for t in node.outputs]
                for tid in flat.output_ids:
                    self._producer[tid] = flat
                self.nodes.append(flat)
        return list(graph.outputs)

    def _open_up(self, node, path) -> bool:
        """Add a composite layer's call as its chain of sublayer calls (see expand.py), if it has one."""
        if len(node.input_tensors) != 1 or len(node.outputs) != 1 or len(keras.tree.flatten(node.arguments.args)) != 1:
            return False
        source = self.canonical(node.input_tensors[0])
        steps = chain_of(node.operation, tuple(source.shape))
        if steps is None:
            return False
        for i, step in enumerate(steps):
            last = i == len(steps) - 1
            out = node.outputs[0] if last else keras.KerasTensor(source.shape, dtype=node.outputs[0].dtype)
            flat = FlatNode(len(self.nodes), step, _Step([source], [out]), path + (node.operation.name,), step=True)
            flat.input_ids, flat.output_ids = [id(source)], [id(out)]
            self._producer[id(out)] = flat
            self.nodes.append(flat)
            source = out
        return True

    def producer(self, tensor) -> FlatNode | None:
        return self._producer.get(id(self.canonical(tensor)))

    def plan(self, seed_ids: tuple, target_ids: tuple) -> list[FlatNode]:
        """The calls, in execution order, that compute the targets from the seeds."""
        key = (seed_ids, target_ids)
        if key in self._plans:
            return self._plans[key]
        seeds = set(seed_ids)
        needed: dict[int, FlatNode] = {}
        stack = list(target_ids)
        visited = set()
        while stack:
            tid = stack.pop()
            if tid in visited or tid in seeds:
                continue
            visited.add(tid)
            node = self._producer.get(tid)
            if node is None:
                raise NotComputable(tid)
            if node.index not in needed:
                needed[node.index] = node
                stack.extend(node.input_ids)
        plan = [needed[i] for i in sorted(needed)]
        self._plans[key] = plan
        return plan

    def cut_nodes(self, targets=None) -> set[int]:
        """Indices of the calls through which every path from the input to the targets (default: the
        outputs) passes.

        In topological order, a call is such a cut exactly when no edge jumps over it (an edge from
        an earlier call to a later one would be a path around it). One sweep, linear in the graph.
        """
        targets = self.outputs if targets is None else targets
        plan = self.plan(tuple(self.input_ids), tuple(id(self.canonical(t)) for t in targets))
        position = {node.index: i for i, node in enumerate(plan)}
        cover = [0] * (len(plan) + 1)
        for node in plan:
            end = position[node.index]
            for tid in node.input_ids:
                producer = self._producer.get(tid)
                start = -1 if producer is None else position[producer.index]
                if end - start > 1:
                    cover[start + 1] += 1
                    cover[end] -= 1
        cuts, running = set(), 0
        for i, node in enumerate(plan):
            running += cover[i]
            if running == 0:
                cuts.add(node.index)
        return cuts

    def depends_only_on(self, seed, targets) -> bool:
        """True when the targets can be computed from ``seed`` alone (it is a cut of the graph)."""
        try:
            self.plan((id(self.canonical(seed)),), tuple(id(self.canonical(t)) for t in targets))
            return True
        except NotComputable:
            return False

    def run(self, seeds: dict, targets: list, overrides: dict | None = None):
        """Compute ``targets`` (tensors of the graph) given ``seeds`` ({tensor: value}).

        ``overrides`` maps ``id(layer)`` to a callable used instead of the layer (to read a score
        before its softmax). Layers run in inference mode.
        """
        values = {id(self.canonical(t)): v for t, v in seeds.items()}
        target_ids = tuple(id(self.canonical(t)) for t in targets)
        plan = self.plan(tuple(values), target_ids)
        overrides = overrides or {}
        for flat in plan:
            if flat.step:
                values[flat.output_ids[0]] = call_step(flat.operation, values[flat.input_ids[0]])
                continue
            node = flat.node
            local = {id(raw): values[cid] for raw, cid in zip(node.input_tensors, flat.input_ids)}
            args, kwargs = node.arguments.fill_in(local)
            op = flat.operation
            call = overrides.get(id(op))
            if call is None:
                if _takes_training(op):
                    kwargs["training"] = False
                outputs = op(*args, **kwargs)
            else:
                outputs = call(*args, **kwargs)
            outputs = keras.tree.flatten(outputs)
            for tid, value in zip(flat.output_ids, outputs):
                values[tid] = value
        return [values[tid] for tid in target_ids]


@dataclass(frozen=True)
class _Step:
    """The node of one sublayer call of an opened-up layer: its input and output tensors."""

    input_tensors: list
    outputs: list


def _takes_training(op) -> bool:
    context = getattr(op, "_call_context_args", None)
    if context is not None:
        return "training" in context
    return bool(getattr(op, "_call_has_training_arg", False))
