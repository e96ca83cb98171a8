"""An orchestration's activities as a DAG: checked before it is stored, then walked as it runs.

:func:`build_dag` refuses, with ``InvalidParameterValue.Activities`` and a message naming the index,
every DAG that cannot run: a cycle, an index out of range, ``input`` not first or not alone,
``output`` missing or doubled, an activity unreachable from ``input`` or not reaching ``output``,
an ``ActivityPara`` member missing or not the one its type needs. Tencent's AI activity types are
``UnsupportedOperation``.

The semantics where Tencent is silent are ours (orchestration.md §2): every activity processes the
original input; an activity is *ready* when every predecessor has finished and none failed; a
predecessor skipped by a rule counts as finished-not-run, and an activity whose every predecessor
was skipped (or failed) is skipped too, transitively. :meth:`Dag.advance` computes that, given
the state of every activity, and :mod:`mps.workflow.lifecycle` applies it in the same transaction
that finishes an activity.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mps.errors import InvalidParameterError
from mps.models import SubtaskInput
from mps.models.schedules import AI_ACTIVITY_TYPES, Activity, ExecRulesTask
from mps.workflow.kind import Kind
from mps.workflow.kinds import KINDS, Registry
from mps.workflow.rules import check_rules

INPUT, OUTPUT = "input", "output"
#: Activity states that no longer change (a sub-task's final states, plus skipped).
DONE = frozenset({"SUCCESS", "FAIL", "SKIPPED"})
#: Not ready yet: some predecessor has not finished (shown as WAITING on the wire).
PENDING = "PENDING"
SKIPPED = "SKIPPED"


@dataclass(frozen=True)
class Node:
    """One activity: its type, its kind (None for ``input`` and ``output``), its parameters and edges.

    Attributes:
        on_failure: successors that run only when this activity fails (ours: ``OnFailureIndex``).
        failure_predecessors: the activities whose failure leads here.
        join_any: ``JoinMode: Any``: run once, when the first predecessor's edge is taken.
        core: ``Core``: the task's result is decided by the core activities alone.
    """

    index: int
    type: str
    kind: Kind | None
    para: SubtaskInput | None
    successors: tuple[int, ...]
    predecessors: tuple[int, ...]
    on_failure: tuple[int, ...] = ()
    failure_predecessors: tuple[int, ...] = ()
    join_any: bool = False
    core: bool = False


@dataclass(frozen=True)
class Dag:
    """A checked DAG of activities; index 0 is ``input``."""

    nodes: tuple[Node, ...]

    @property
    def output(self) -> int:
        return next(node.index for node in self.nodes if node.type == OUTPUT)

    def work(self) -> list[Node]:
        """The activities that do something (every node but ``input`` and ``output``)."""
        return [node for node in self.nodes if node.kind is not None]

    def initial(self) -> dict[int, str]:
        """The state of every activity when the task is created: ``input`` done, its successors ready."""
        states = {node.index: PENDING for node in self.nodes}
        states[0] = "SUCCESS"
        states.update(self.advance(states, {}))
        return states

    def advance(self, states: Mapping[int, str], chosen: Mapping[int, Sequence[int]]) -> dict[int, str]:
        """The changes the current ``states`` call for: PENDING activities that became ready
        (``WAITING``) or can never run (``SKIPPED``), transitively; ``output`` is done (``SUCCESS``)
        once every predecessor is.

        Parameters:
            states: every activity's state (``PENDING``, ``WAITING``, ``PROCESSING``, ``SUCCESS``,
                ``FAIL``, ``SKIPPED``).
            chosen: for each finished rule activity, the successors it chose (the others are
                not taken).
        """
        current: dict[int, str] = dict(states)
        changes: dict[int, str] = {}
        progress = True
        while progress:
            progress = False
            for node in self.nodes:
                if current[node.index] != PENDING:
                    continue
                new = self._decide(node, current, chosen)
                if new is not None:
                    current[node.index] = changes[node.index] = new
                    progress = True
        return changes

    def _decide(
        self, node: Node, current: Mapping[int, str], chosen: Mapping[int, Sequence[int]]
    ) -> str | None:
        """A PENDING node's next state, or None while it must wait.

        An edge is *taken* when its predecessor succeeded (and, for a rule, chose this node), or,
        for a failure edge, when its predecessor failed. ``All`` (the default) waits for every
        predecessor, then runs if an edge was taken and no ordinary predecessor failed; ``Any``
        runs as soon as one edge is taken. Otherwise the node is skipped; ``output`` is done once
        every predecessor is.
        """
        normal = [(p, current[p]) for p in node.predecessors]
        failure = [(p, current[p]) for p in node.failure_predecessors]
        taken = any(s == "SUCCESS" and self._takes(p, node.index, chosen) for p, s in normal) or any(
            s == "FAIL" for _, s in failure
        )
        settled = all(s in DONE for _, s in normal + failure)
        if node.type == OUTPUT:
            return "SUCCESS" if settled else None
        if node.join_any and taken:
            return "WAITING"
        if not settled:
            return None
        failed = any(s == "FAIL" for _, s in normal)
        return "WAITING" if taken and (node.join_any or not failed) else SKIPPED

    @property
    def has_core(self) -> bool:
        """Whether any activity is core: the task's result is then theirs alone."""
        return any(node.core for node in self.nodes)

    def _takes(self, predecessor: int, successor: int, chosen: Mapping[int, Sequence[int]]) -> bool:
        """Whether the edge predecessor -> successor is taken: always, unless a rule chose others."""
        if self.nodes[predecessor].kind is None or predecessor not in chosen:
            return True
        return successor in chosen[predecessor]


def build_dag(activities: Sequence[Activity], kinds: Registry = KINDS) -> Dag:
    """Check ``activities`` and return their DAG.

    Raises:
        InvalidParameterError: ``InvalidParameterValue.Activities`` (or ``.Rules``) naming the
            index; ``UnsupportedOperation`` for an AI activity.
    """
    count = len(activities)
    if count < 2:
        raise _refuse("an orchestration needs at least an input and an output activity")
    if activities[0].ActivityType != INPUT:
        raise _refuse("activity 0 must be the input activity")
    successors: list[tuple[int, ...]] = []
    failures: list[tuple[int, ...]] = []
    nodes_kind: list[Kind | None] = []
    paras: list[SubtaskInput | None] = []
    for index, activity in enumerate(activities):
        kind, para = _check_activity(index, activity, kinds)
        nodes_kind.append(kind)
        paras.append(para)
        successors.append(_checked_successors(index, activity.ReardriveIndex, count))
        failures.append(_checked_successors(index, activity.OnFailureIndex or [], count))
        if failures[-1] and kind is None:
            raise _refuse(f"activity {index}: only activities that run can have an OnFailureIndex")
    outputs = [i for i, a in enumerate(activities) if a.ActivityType == OUTPUT]
    inputs = [i for i, a in enumerate(activities) if a.ActivityType == INPUT]
    if len(inputs) != 1:
        raise _refuse(f"activities {inputs} are input activities: there must be exactly one")
    if len(outputs) != 1:
        raise _refuse(
            "there must be exactly one output activity" if outputs else "there is no output activity"
        )
    if successors[outputs[0]]:
        raise _refuse(f"activity {outputs[0]}: the output activity has no successors")
    predecessors = _predecessors(successors)
    failure_predecessors = _predecessors(failures)
    every = [tuple(dict.fromkeys(s + f)) for s, f in zip(successors, failures, strict=True)]
    _check_acyclic(every)
    _check_connected(every, _predecessors(every), outputs[0])
    for index, para in enumerate(paras):
        if isinstance(para, ExecRulesTask):
            check_rules(para.Rules, successors[index], f"activity {index}")
    nodes = tuple(
        Node(
            i,
            activities[i].ActivityType,
            nodes_kind[i],
            paras[i],
            successors[i],
            predecessors[i],
            on_failure=failures[i],
            failure_predecessors=failure_predecessors[i],
            join_any=activities[i].JoinMode == "Any",
            core=bool(activities[i].Core),
        )
        for i in range(count)
    )
    return Dag(nodes)


def predrive_indexes(activities: Sequence[Activity]) -> list[list[int]]:
    """Each activity's ``PredriveIndex`` (its predecessors), as the server computes and returns it."""
    return [list(p) for p in _predecessors([tuple(a.ReardriveIndex) for a in activities])]


def _check_activity(
    index: int, activity: Activity, kinds: Registry
) -> tuple[Kind | None, SubtaskInput | None]:
    kind_name = activity.ActivityType
    members = activity.ActivityPara.members() if activity.ActivityPara is not None else {}
    if kind_name in (INPUT, OUTPUT):
        if members:
            raise _refuse(f"activity {index}: the {kind_name} activity takes no ActivityPara")
        return None, None
    if kind_name in AI_ACTIVITY_TYPES:
        raise InvalidParameterError(
            f"activity {index}: {kind_name} (an AI service) is not supported by this server",
            code="UnsupportedOperation",
        )
    kind = kinds.of_activity(kind_name)
    if kind is None:
        raise _refuse(f"activity {index}: unknown ActivityType {kind_name!r}")
    if list(members) != [kind.para_member]:
        given = ", ".join(members) or "nothing"
        raise _refuse(f"activity {index}: {kind_name} needs ActivityPara.{kind.para_member}, not {given}")
    return kind, members[kind.para_member]


def _checked_successors(index: int, targets: Sequence[int], count: int) -> tuple[int, ...]:
    succ = tuple(targets)
    for target in succ:
        if not 0 <= target < count:
            raise _refuse(f"activity {index}: ReardriveIndex {target} is out of range 0-{count - 1}")
        if target == index:
            raise _refuse(f"activity {index} follows itself")
        if target == 0:
            raise _refuse(f"activity {index}: nothing may lead back to the input activity")
    if len(set(succ)) != len(succ):
        raise _refuse(f"activity {index}: ReardriveIndex repeats an activity")
    return succ


def _predecessors(successors: Sequence[tuple[int, ...]]) -> list[tuple[int, ...]]:
    found: list[list[int]] = [[] for _ in successors]
    for index, succ in enumerate(successors):
        for target in succ:
            if 0 <= target < len(found):
                found[target].append(index)
    return [tuple(p) for p in found]


def _check_acyclic(successors: Sequence[tuple[int, ...]]) -> None:
    """Kahn's algorithm; the activities left over lie on a cycle."""
    indegree = [0] * len(successors)
    for succ in successors:
        for target in succ:
            indegree[target] += 1
    ready = [i for i, degree in enumerate(indegree) if degree == 0]
    seen = 0
    while ready:
        node = ready.pop()
        seen += 1
        for target in successors[node]:
            indegree[target] -= 1
            if indegree[target] == 0:
                ready.append(target)
    if seen != len(successors):
        cycle = [i for i, degree in enumerate(indegree) if degree > 0]
        raise _refuse(f"activities {cycle} form a cycle")


def _check_connected(
    successors: Sequence[tuple[int, ...]], predecessors: Sequence[tuple[int, ...]], output: int
) -> None:
    from_input = _reach(0, successors)
    for index in range(len(successors)):
        if index not in from_input:
            raise _refuse(f"activity {index} cannot be reached from the input activity")
    to_output = _reach(output, predecessors)
    for index in range(len(successors)):
        if index not in to_output:
            raise _refuse(f"activity {index} does not lead to the output activity")


def _reach(start: int, edges: Sequence[tuple[int, ...]]) -> set[int]:
    seen, stack = {start}, [start]
    while stack:
        for target in edges[stack.pop()]:
            if target not in seen:
                seen.add(target)
                stack.append(target)
    return seen


def _refuse(message: str) -> InvalidParameterError:
    return InvalidParameterError.field("Activities", message)


__all__ = ["DONE", "INPUT", "OUTPUT", "PENDING", "SKIPPED", "Dag", "Node", "build_dag", "predrive_indexes"]
