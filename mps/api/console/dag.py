"""The layout of an orchestration's DAG for the console: pure geometry, no I/O, no markup.

:func:`layout` places the activities of a schedule (or of an orchestration task, with each
activity's state) in layers, left to right: an activity's layer is the longest path to it from
``input`` (index 0), so every edge goes rightwards and a chain reads in order. Inside a layer the
boxes are ordered by the mean position of their predecessors (one barycentre pass, ties by index),
which keeps most edges from crossing. An edge across several layers gets a waypoint in each layer
it crosses, with a slot of its own there, so it never runs through a box. Ordinary edges
(``ReardriveIndex``) and failure edges (``OnFailureIndex``, drawn dashed) are Bézier curves from a
box's right side to the next one's left.
The template ``_dag.html`` turns a :class:`Layout` into SVG.

A stored DAG was checked before it was stored; the layout still never fails on a malformed one
(an index out of range is dropped, a cycle's nodes go to a last layer), since it only draws.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: Box geometry, in SVG user units (pixels at 100 %).
BOX_HEIGHT = 34
CHAR_WIDTH = 7.2
MIN_BOX_WIDTH = 96
MAX_LABEL = 40
GAP_X = 56
GAP_Y = 18
MARGIN = 10
#: The slot an edge's waypoint takes in a layer it crosses, and a failure edge's offset.
WAYPOINT_HEIGHT = 10
FAILURE_SHIFT = 4

#: A sub-task status -> the state class a node is drawn with.
STATE_CLASSES: dict[str, str] = {
    "SUCCESS": "ran",
    "PROCESSING": "running",
    "SKIPPED": "skipped",
    "FAIL": "failed",
    "WAITING": "waiting",
    "PENDING": "waiting",
}
#: The class of a node without a state (a schedule's DAG, not a task's).
PLAN = "plan"


def state_class(status: str | None) -> str:
    """The drawing class of an activity's status (``ran``, ``running``, ``skipped``, ``failed``,
    ``waiting``), or ``plan`` when there is none."""
    return STATE_CLASSES.get(status or "", PLAN)


@dataclass(frozen=True)
class Box:
    """One activity, placed: top-left corner, size, label and state."""

    index: int
    layer: int
    x: float
    y: float
    width: float
    height: float
    label: str
    kind: str
    state: str
    status: str

    @property
    def cx(self) -> float:
        return self.x + self.width / 2

    @property
    def cy(self) -> float:
        return self.y + self.height / 2


@dataclass(frozen=True)
class Edge:
    """An edge from ``source`` to ``target``; ``failure`` for an ``OnFailureIndex`` one. ``path``
    is its SVG path data."""

    source: int
    target: int
    failure: bool
    path: str


@dataclass(frozen=True)
class Layout:
    """The whole drawing: boxes in index order, edges, and the picture's size."""

    boxes: tuple[Box, ...]
    edges: tuple[Edge, ...]
    width: float
    height: float
    layers: int


def activity_kind(activity: Mapping[str, Any]) -> str:
    """An activity's kind as the console names it: ``input``/``output``, else its
    ``ActivityPara`` member without ``Task`` (``Transcode``, ``ExecRules``...), else its type."""
    kind = str(activity.get("ActivityType") or "?")
    if kind in ("input", "output"):
        return kind
    para = activity.get("ActivityPara")
    if isinstance(para, Mapping):
        for key, value in para.items():
            if isinstance(value, Mapping):
                return key[: -len("Task")] if key.endswith("Task") and len(key) > 4 else key
    return kind


def activity_definition(activity: Mapping[str, Any]) -> str:
    """The template an activity uses (its ``ActivityPara`` member's ``Definition``), or ""."""
    para = activity.get("ActivityPara")
    if isinstance(para, Mapping):
        for value in para.values():
            if isinstance(value, Mapping) and value.get("Definition") is not None:
                return str(value["Definition"])
    return ""


def _indexes(value: Any, count: int) -> list[int]:
    """The valid indexes of an index list (anything else dropped)."""
    if not isinstance(value, list):
        return []
    return [i for i in value if isinstance(i, int) and not isinstance(i, bool) and 0 <= i < count]


def edges_of(activities: Sequence[Mapping[str, Any]]) -> list[tuple[int, int, bool]]:
    """Every edge ``(source, target, failure)``, each once, in source then list order."""
    count, found = len(activities), []
    seen: set[tuple[int, int, bool]] = set()
    for source, activity in enumerate(activities):
        for failure, key in ((False, "ReardriveIndex"), (True, "OnFailureIndex")):
            for target in _indexes(activity.get(key), count):
                edge = (source, target, failure)
                if target != source and edge not in seen:
                    seen.add(edge)
                    found.append(edge)
    return found


def layers(count: int, edges: Sequence[tuple[int, int, bool]]) -> list[int]:
    """The layer of each node: the longest path to it from the nodes without predecessors
    (``input``), over ordinary and failure edges alike. Nodes on a cycle (never in a stored DAG)
    go one layer past the last."""
    successors: list[list[int]] = [[] for _ in range(count)]
    incoming = [0] * count
    for source, target, _ in edges:
        successors[source].append(target)
        incoming[target] += 1
    layer = [0] * count
    ready = [i for i in range(count) if incoming[i] == 0]
    placed = 0
    while ready:
        node = ready.pop(0)
        placed += 1
        for target in successors[node]:
            layer[target] = max(layer[target], layer[node] + 1)
            incoming[target] -= 1
            if incoming[target] == 0:
                ready.append(target)
    if placed < count:  # a cycle: draw its nodes after everything else
        last = max(layer, default=0) + 1
        for i in range(count):
            if incoming[i] > 0:
                layer[i] = last
    return layer


def _orders(layer: list[int], edges: Sequence[tuple[int, int, bool]]) -> list[list[int]]:
    """The nodes of each layer, top to bottom: by the mean row of their predecessors in earlier
    layers (one barycentre pass), ties (and nodes without predecessors) by index."""
    depth = max(layer, default=-1) + 1
    rows: list[list[int]] = [[] for _ in range(depth)]
    predecessors: dict[int, list[int]] = {}
    for source, target, _ in edges:
        predecessors.setdefault(target, []).append(source)
    row_of: dict[int, float] = {}
    for number in range(depth):
        members = [i for i in range(len(layer)) if layer[i] == number]

        def key(node: int) -> tuple[float, int]:
            before = [row_of[p] for p in predecessors.get(node, []) if p in row_of]
            return (sum(before) / len(before) if before else float(node), node)

        members.sort(key=key)
        rows[number] = members
        for position, node in enumerate(members):
            row_of[node] = float(position)
    return rows


def label_of(index: int, kind: str, definition: str) -> str:
    """A box's text: ``<index> <kind> <Definition>``, cut to :data:`MAX_LABEL` characters."""
    text = " ".join(part for part in (str(index), kind, definition) if part)
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def layout(
    activities: Sequence[Mapping[str, Any]],
    statuses: Mapping[int, str] | None = None,
    kinds: Mapping[int, str] | None = None,
) -> Layout:
    """Place every activity and route every edge.

    Parameters:
        activities: the ``Activities`` of a schedule or an orchestration task, in index order.
        statuses: each activity's sub-task status (a task's DAG); None for a schedule's.
        kinds: the kind to show per index (a task's sub-task kinds); else :func:`activity_kind`.

    Returns:
        The layout: one box per activity, one edge per distinct (source, target, failure).
    """
    statuses, kinds = statuses or {}, kinds or {}
    count = len(activities)
    edges = edges_of(activities)
    layer = layers(count, edges)
    # An edge across several layers passes through a waypoint in each layer between (Sugiyama's
    # dummy nodes): the waypoints take a slot in their layer, so the edge never crosses a box.
    waypoints: list[list[int]] = []
    segments: list[tuple[int, int, bool]] = []
    extended = list(layer)
    for source, target, failure in edges:
        chain: list[int] = []
        for number in range(layer[source] + 1, layer[target]):
            chain.append(len(extended))
            extended.append(number)
        waypoints.append(chain)
        hops = [source, *chain, target]
        segments.extend((a, b, failure) for a, b in zip(hops, hops[1:], strict=False))
    rows = _orders(extended, segments)
    labels, shown_kinds = [], []
    for index, activity in enumerate(activities):
        kind = kinds.get(index) or activity_kind(activity)
        shown_kinds.append(kind)
        labels.append(label_of(index, kind, activity_definition(activity)))
    width = max([MIN_BOX_WIDTH, *(len(text) * CHAR_WIDTH + 16 for text in labels)])

    def slot(node: int) -> float:
        return BOX_HEIGHT if node < count else WAYPOINT_HEIGHT

    def column(row: list[int]) -> float:
        return sum(slot(node) for node in row) + max(len(row) - 1, 0) * GAP_Y

    height = max((column(row) for row in rows), default=0.0)
    boxes: dict[int, Box] = {}
    centres: dict[int, tuple[float, float]] = {}  # waypoint -> (x of its layer, y)
    for number, row in enumerate(rows):
        x = MARGIN + number * (width + GAP_X)
        y = MARGIN + (height - column(row)) / 2  # each layer centred vertically
        for index in row:
            if index >= count:
                centres[index] = (x, y + WAYPOINT_HEIGHT / 2)
            else:
                status = statuses.get(index, "")
                boxes[index] = Box(
                    index=index,
                    layer=number,
                    x=x,
                    y=y,
                    width=width,
                    height=BOX_HEIGHT,
                    label=labels[index],
                    kind=shown_kinds[index],
                    state=state_class(status) if statuses else PLAN,
                    status=status,
                )
            y += slot(index) + GAP_Y
    routed = tuple(
        Edge(s, t, failure, _path(boxes[s], boxes[t], [centres[w] for w in chain], width, failure))
        for (s, t, failure), chain in zip(edges, waypoints, strict=True)
    )
    total_width = 2 * MARGIN + len(rows) * width + max(len(rows) - 1, 0) * GAP_X
    return Layout(
        boxes=tuple(boxes[i] for i in range(count)),
        edges=routed,
        width=round(total_width, 1),
        height=round(2 * MARGIN + height, 1),
        layers=len(rows),
    )


def _path(source: Box, target: Box, via: list[tuple[float, float]], width: float, failure: bool) -> str:
    """A curve from the right side of ``source`` through each waypoint (straight across its layer)
    to the left side of ``target``; a failure edge a few units lower, so that beside an ordinary
    edge between the same boxes both show. A target not to the right of its source (only on a
    cycle, never in a stored DAG) is reached around the bottom."""
    shift = FAILURE_SHIFT if failure else 0.0
    if target.x <= source.x:
        x1, y1 = source.cx, source.y + source.height
        x2, y2 = target.cx, target.y + target.height
        low = max(y1, y2) + GAP_Y
        return f"M{x1:.1f},{y1:.1f} C{x1:.1f},{low:.1f} {x2:.1f},{low:.1f} {x2:.1f},{y2:.1f}"
    x, y = source.x + source.width, source.cy + shift
    parts = [f"M{x:.1f},{y:.1f}"]
    for left, middle in [*via, (target.x, target.cy + shift)]:
        bend = (left - x) / 2
        parts.append(f"C{x + bend:.1f},{y:.1f} {left - bend:.1f},{middle:.1f} {left:.1f},{middle:.1f}")
        x, y = left + width, middle
        if left != target.x:
            parts.append(f"L{x:.1f},{y:.1f}")
    return " ".join(parts)


__all__ = [
    "PLAN",
    "STATE_CLASSES",
    "Box",
    "Edge",
    "Layout",
    "activity_definition",
    "activity_kind",
    "edges_of",
    "label_of",
    "layers",
    "layout",
    "state_class",
]
