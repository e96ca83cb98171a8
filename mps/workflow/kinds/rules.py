"""The ExecRules kind: an orchestration's rule activity (``action-exec-rules``) choosing which
successors run, from the probed input (:mod:`mps.workflow.rules`). It runs no ffmpeg and has no
template; it exists only inside orchestrations (no ``*TaskSet``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from mps.media.specs import Subtask
from mps.models.results import ExecRuleTaskData, ScheduleExecRuleTaskResult
from mps.models.schedules import ExecRulesTask
from mps.workflow.context import OperationContext
from mps.workflow.kind import JsonDict, Kind
from mps.workflow.rules import choose

if TYPE_CHECKING:
    from mps.workflow.resolve import SubtaskResolver


@dataclass(frozen=True)
class RulesSpec:
    """The rules to evaluate (Definition 0: rules have no template)."""

    task: ExecRulesTask
    definition: int = 0


def resolve(resolver: SubtaskResolver, item: ExecRulesTask) -> RulesSpec:
    return RulesSpec(item)


def run(subtask: Subtask, ctx: OperationContext) -> ExecRuleTaskData:
    """The successors the first rule that holds on the probed input chooses."""
    assert isinstance(subtask.spec, RulesSpec)
    return ExecRuleTaskData(RearDriveIndex=choose(subtask.spec.task.Rules, ctx.meta))


def chosen(result: JsonDict) -> list[int]:
    """The successors a committed rule result chose."""
    output = (result.get("ExecRuleTask") or {}).get("Output") or {}
    return [int(index) for index in output.get("RearDriveIndex") or []]


def summary(output: JsonDict) -> tuple[list[str], str]:
    return [], f"chose {output.get('RearDriveIndex') or 'nothing'}"


KIND = Kind(
    name="ExecRules",
    set_name=None,
    input_model=ExecRulesTask,
    result_field="ExecRuleTask",
    result_class=ScheduleExecRuleTaskResult,
    template_family="",
    activity_type="action-exec-rules",
    activity_para="ExecRulesTask",
    resolve=resolve,
    run=run,
    summary=summary,
    choose=chosen,
)
