"""What a kind of work is: one :class:`Kind` describes it whole.

A kind (a transcode, sampled snapshots, a sprite...) is declared once, in the module of its
operation (``mps/workflow/operations/<kind>.py``), and listed once in the registry
(:mod:`mps.workflow.kinds`). Everything that differs between kinds is here; everything else
(submitting, resolving, planning, running, merging, the wire's tables) reads the registry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from mps.media.specs import Spec, Subtask
from mps.models import SubtaskInput, SubtaskResult, WireModel

if TYPE_CHECKING:
    from mps.workflow.context import OperationContext
    from mps.workflow.resolve import SubtaskResolver

JsonDict = dict[str, Any]

#: Turns a checked sub-task input into its runnable spec, with the task's templates and probe.
Resolve = Callable[["SubtaskResolver", Any], Spec]
#: Runs one resolved sub-task and returns its output item (the result's ``Output``).
Operation = Callable[[Subtask, "OperationContext"], WireModel]
#: The output files and a one-line summary of an output item, for ``mps process``'s table.
Summary = Callable[[JsonDict], tuple[list[str], str]]


class TemplateLookup(Protocol):
    """Finds a template by family (Describe set key) and Definition; raises when there is none."""

    def get(self, family: str, definition: int) -> Any: ...


def travels_alone(_input: JsonDict) -> str | None:
    """The default message group: none, the sub-task gets a work message of its own."""
    return None


@dataclass(frozen=True)
class Kind:
    """One kind of work, as the wire, the planner and the processes see it.

    Attributes:
        name: the result ``Type`` tag (``Transcode``, ``ImageSprites``) and the orchestration's
            ``ActivityResult.ActivityType``; also what the task store records per sub-task.
        set_name: the ``MediaProcessTaskInput`` member that lists these sub-tasks (None: a kind
            that runs only as an orchestration's activity).
        input_model: the model of one sub-task input.
        result_field: the member of ``MediaProcessTaskResult`` (and of an orchestration's
            ``ActivityResItem``) that holds the result.
        result_class: the result model (``TranscodeResult``...).
        template_family: the Describe set key of its templates (``TranscodeTemplateSet``); ``""``
            for a kind without templates.
        activity_type: the orchestration's ``Activity.ActivityType`` (``action-trans``).
        activity_para: the ``ActivityPara`` member of its parameters (``""``: the result member's
            name, which is the same for every media kind).
        choose: for an activity that picks which of its successors run (a rule), the successors
            its committed result chose; None for the others (every successor is taken).
        resolve: input -> runnable spec.
        run: the operation.
        raw_parameter: ``Definition`` 0 means an inline ``RawParameter`` instead of a template.
        watermarks: which watermarks its ``WatermarkSet`` may hold: ``any``, ``image`` (template
            image watermarks only, as Tencent allows on screenshots) or ``none``.
        message_group: the name of the work message a sub-task shares with others of its task
            under ``MPS_PLAN=auto`` (those that share a decode on one worker), or None.
        summary: what ``mps process`` prints of an output.
    """

    name: str
    set_name: str | None
    input_model: type[SubtaskInput]
    result_field: str
    result_class: type[SubtaskResult]
    template_family: str
    activity_type: str
    resolve: Resolve
    run: Operation
    summary: Summary
    raw_parameter: bool = False
    watermarks: Literal["any", "image", "none"] = "none"
    message_group: Callable[[JsonDict], str | None] = travels_alone
    activity_para: str = ""
    choose: Callable[[JsonDict], list[int]] | None = None

    @property
    def para_member(self) -> str:
        """The ``ActivityPara`` member holding this kind's parameters."""
        return self.activity_para or self.result_field


__all__ = ["Kind", "Operation", "Resolve", "Summary", "TemplateLookup", "travels_alone"]
