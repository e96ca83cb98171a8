"""Walk an orchestration's DAG on one machine: run what is ready, release or skip what follows.

``mps process --schedule`` uses this through :meth:`~mps.workflow.engine.TaskEngine.process_schedule`.
It is the same walk the service does across workers (:mod:`mps.workflow.orchestration`), with the
states held in memory instead of the task store: :meth:`Dag.initial` gives the first ready
activities; whenever a batch of activities finishes, its results' states (and, for rule activities,
the successors they chose, read through :attr:`Kind.choose`) go to :meth:`Dag.advance`, which
releases the activities that became ready and skips those that can never run.

Ready activities run in batches, each one :class:`~mps.workflow.executor.Run`: the activities
ready at the same time that share a decode (their kind's ``message_group``, as the sub-tasks of a
workflow task share a work message under ``MPS_PLAN=auto``: whole-timeline transcodes; sampled
snapshots and sprites) go in one batch, so the planner fuses them; every other activity is a batch
of its own, so a branch never waits for an unrelated one. A batch starts as soon as a slot is free
(at most ``at_once`` batches at once), in index order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from mps.models import MediaProcessTaskResult
from mps.workflow.dag import SKIPPED, Dag

#: Runs the activities at these indexes and returns the result entry of each.
RunBatch = Callable[[Sequence[int]], dict[int, MediaProcessTaskResult]]
#: Told the index of each activity that became skipped.
OnSkip = Callable[[int], None]


@dataclass(frozen=True)
class DagOutcome:
    """How a walk ended.

    Attributes:
        states: every activity's final state (``SUCCESS``, ``FAIL`` or ``SKIPPED``; ``input`` and
            ``output`` included).
        entries: the result entry of every activity that ran, by index.
    """

    states: dict[int, str]
    entries: dict[int, MediaProcessTaskResult]


def _never(_index: int) -> None:
    return None


def walk_dag(dag: Dag, run_batch: RunBatch, *, at_once: int = 1, on_skip: OnSkip = _never) -> DagOutcome:
    """Run every activity of ``dag`` that its predecessors and rules let run, until all are final.

    Parameters:
        dag: the checked DAG.
        run_batch: runs a batch of ready activities (called from worker threads); an activity's
            failure is its entry's ``FAIL``, never an exception.
        at_once: most batches running at once (at least 1).
        on_skip: told of each activity skipped (a rule chose another branch, a predecessor failed).

    Returns:
        The final states and the entries of the activities that ran.
    """
    at_once = max(1, at_once)
    states = dag.initial()
    entries: dict[int, MediaProcessTaskResult] = {}
    ready = _report(states, on_skip)
    running: set[Future[dict[int, MediaProcessTaskResult]]] = set()
    with ThreadPoolExecutor(max_workers=at_once, thread_name_prefix="mps-activity") as pool:
        while ready or running:
            if ready and len(running) < at_once:
                batch = _batch(dag, ready)
                ready = [index for index in ready if index not in batch]
                for index in batch:
                    states[index] = "PROCESSING"
                running.add(pool.submit(run_batch, batch))
                continue
            done, running = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                finished = future.result()
                entries.update(finished)
                states.update({index: entry.result.Status for index, entry in finished.items()})
            changes = dag.advance(states, _chosen(dag, states, entries))
            states.update(changes)
            ready += _report(changes, on_skip)
    return DagOutcome(states, entries)


def _batch(dag: Dag, ready: Sequence[int]) -> list[int]:
    """The first ready activity and the ready ones that share a decode with it (same group)."""
    group = _group(dag, ready[0])
    if group is None:
        return [ready[0]]
    return [index for index in ready if _group(dag, index) == group]


def _group(dag: Dag, index: int) -> str | None:
    node = dag.nodes[index]
    if node.kind is None or node.para is None:
        return None
    return node.kind.message_group(node.para.to_wire())


def _report(changes: dict[int, str], on_skip: OnSkip) -> list[int]:
    """The activities ``changes`` released, in index order; the skipped ones are reported."""
    for index in sorted(changes):
        if changes[index] == SKIPPED:
            on_skip(index)
    return sorted(index for index, state in changes.items() if state == "WAITING")


def _chosen(
    dag: Dag, states: dict[int, str], entries: dict[int, MediaProcessTaskResult]
) -> dict[int, list[int]]:
    """For each rule activity that succeeded, the successors it chose (as the service reads them)."""
    chosen: dict[int, list[int]] = {}
    for index, entry in entries.items():
        kind = dag.nodes[index].kind
        if states[index] == "SUCCESS" and kind is not None and kind.choose is not None:
            chosen[index] = kind.choose(entry.to_wire())
    return chosen


__all__ = ["DagOutcome", "OnSkip", "RunBatch", "walk_dag"]
