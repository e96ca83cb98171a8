"""``mps process``: one task on one machine, no services.

Reads the task (``--task``: a workflow task's sub-tasks; ``--schedule``: an orchestration's DAG of
activities) and the custom templates, refuses a bad request before any work, runs it with
progress bars, writes ``result.json`` (the WorkflowTask or ScheduleTask object) beside the
outputs, and prints what was produced.
"""

from __future__ import annotations

import json
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pydantic import Field
from rich.console import Console
from rich.table import Table

from mps.app import build_catalog, build_local_engine
from mps.cli.locations import Destination, Source, echo_input, is_s3, open_destination, open_source
from mps.cli.progress import SubtaskBars, result_table, schedule_table
from mps.errors import ERR_CODE_INPUT, InvalidParameterError, MpsError
from mps.models import MediaInputInfo, MediaProcessTaskInput, WireModel, WorkflowTask, parse_wire
from mps.models.jsontext import parse_json
from mps.models.schedules import MAX_ACTIVITIES, Activity, ScheduleTask
from mps.settings import Settings
from mps.workflow.dag import Dag
from mps.workflow.engine import TaskEngine

RESULT_FILE = "result.json"

#: What ``result.json`` holds: a workflow task's record, or an orchestration's.
Record = WorkflowTask | ScheduleTask


@dataclass(frozen=True)
class _Done:
    """A job that ran: its record, the table of what it produced, whether everything succeeded."""

    record: Record
    table: Table
    ok: bool


class _Job(Protocol):
    """What differs between ``--task`` and ``--schedule``."""

    #: The middle of the TaskId (``WorkflowTask`` / ``ScheduleTask``) and the record's type.
    task_type: str

    def check(self, engine: TaskEngine) -> None:
        """Read the request and refuse it before any work (raises :class:`MpsError`)."""
        ...

    def run(
        self, engine: TaskEngine, console: Console, task_id: str, source: Source, out: Destination
    ) -> _Done:
        """Run it with progress bars on ``console``."""
        ...

    def refused(self, task_id: str, input_info: MediaInputInfo, error: MpsError) -> Record:
        """The record of a job that never ran."""
        ...


def run_process(
    input: str,
    output_dir: str,
    templates_file: Path | None,
    *,
    task_file: Path | None = None,
    schedule_file: Path | None = None,
    concurrency: int | None = None,
    quiet: bool = False,
) -> int:
    """Run ``mps process`` and return its exit status (0 all succeeded, 1 failures, 2 refused).

    INPUT and ``output_dir`` are local paths or ``s3://`` URIs in the configured store. Exactly one
    of ``task_file`` and ``schedule_file`` is given.
    """
    job: _Job = _ScheduleJob(schedule_file) if schedule_file is not None else _TaskJob(task_file or Path())
    task_id = f"local-{job.task_type}-{uuid.uuid4().hex}t0"
    console = Console(stderr=True, quiet=quiet)
    settings = Settings()
    if concurrency:
        settings = settings.model_copy(update={"concurrency": concurrency})
    input_info = echo_input(input, settings)
    try:
        catalog = build_catalog(settings, templates_file)
        with tempfile.TemporaryDirectory(prefix="mps-process-", dir=settings.work_dir) as scratch:
            engine = build_local_engine(settings, catalog, Path(scratch) / "assets")
            job.check(engine)
            destination = open_destination(output_dir, settings, Path(scratch) / "out")
            source = open_source(input, settings, Path(scratch))
            input_info = source.info
            done = job.run(engine, console, task_id, source, destination)
            _write_result(destination, done.record)
            destination.publish(task_id)
    except MpsError as exc:
        if not is_s3(output_dir):
            _write_refusal(Path(output_dir), job.refused(task_id, input_info, exc))
        print(f"mps: error: {exc.message} [{exc.code}]", file=sys.stderr)
        return 2 if exc.err_code == ERR_CODE_INPUT else 1
    if not quiet:
        Console().print(done.table)
    if done.record.ErrCode:
        print(f"mps: error: {done.record.Message}", file=sys.stderr)
    return 0 if done.ok else 1


@dataclass
class _TaskJob:
    """``--task TASK.json``: the sub-tasks of a workflow task, in parallel, into a WorkflowTask."""

    task_file: Path
    task_type: str = "WorkflowTask"
    task: MediaProcessTaskInput | None = None

    def check(self, engine: TaskEngine) -> None:
        self.task = _read_task(self.task_file)
        engine.check(self.task)

    def run(
        self, engine: TaskEngine, console: Console, task_id: str, source: Source, out: Destination
    ) -> _Done:
        assert self.task is not None  # checked first
        with SubtaskBars.for_task(console, self.task.subtasks()) as bars:
            result = engine.process(
                task_id=task_id,
                task=self.task,
                input_info=source.info,
                source=source.path,
                out_root=out.root,
                output_dir=out.output_dir,
                output_storage=out.storage,
                on_progress=bars.update,
            )
        ok = not result.ErrCode and all(e.result.Status == "SUCCESS" for e in result.MediaProcessResultSet)
        return _Done(result, result_table(result, out.describe()), ok)

    def refused(self, task_id: str, input_info: MediaInputInfo, error: MpsError) -> Record:
        return WorkflowTask(**_refusal_fields(task_id, input_info, error))


@dataclass
class _ScheduleJob:
    """``--schedule SCHEDULE.json``: an orchestration's activities as their DAG releases them,
    into a ScheduleTask."""

    schedule_file: Path
    task_type: str = "ScheduleTask"
    dag: Dag | None = None

    def check(self, engine: TaskEngine) -> None:
        self.dag = engine.check_schedule(_read_schedule(self.schedule_file))

    def run(
        self, engine: TaskEngine, console: Console, task_id: str, source: Source, out: Destination
    ) -> _Done:
        assert self.dag is not None  # checked first
        with SubtaskBars.for_schedule(console, self.dag) as bars:
            outcome = engine.process_schedule(
                task_id=task_id,
                dag=self.dag,
                input_info=source.info,
                source=source.path,
                out_root=out.root,
                output_dir=out.output_dir,
                output_storage=out.storage,
                on_progress=bars.update,
            )
        return _Done(outcome.task, schedule_table(outcome, self.dag, out.describe()), outcome.succeeded)

    def refused(self, task_id: str, input_info: MediaInputInfo, error: MpsError) -> Record:
        return ScheduleTask(**_refusal_fields(task_id, input_info, error))


class _ScheduleFile(WireModel):
    """The part of SCHEDULE.json that runs: its activities."""

    Activities: list[Activity] = Field(min_length=1, max_length=MAX_ACTIVITIES)


def _read_json(path: Path, field: str, what: str) -> Any:
    """The decoded file; every problem is one :class:`InvalidParameterError` on ``field`` naming it."""
    try:
        return parse_json(path.read_bytes(), what=f"{what} {str(path)!r}")
    except FileNotFoundError:
        raise InvalidParameterError.field(field, f"{what} {str(path)!r} does not exist") from None
    except OSError as exc:
        raise InvalidParameterError.field(field, f"{what} {str(path)!r}: {exc}") from None
    except InvalidParameterError as exc:
        raise InvalidParameterError.field(field, exc.message) from None


def _read_task(task_file: Path) -> MediaProcessTaskInput:
    """Parse TASK.json; every problem is one :class:`InvalidParameterError` naming the file."""
    data = _read_json(task_file, "MediaProcessTask", "task file")
    if isinstance(data, dict) and "MediaProcessTask" in data and len(data) == 1:
        data = data["MediaProcessTask"]  # also accept {"MediaProcessTask": {...}}, as in a ProcessMedia body
    return parse_wire(MediaProcessTaskInput, data, where="MediaProcessTask", known_fields=True)


def _read_schedule(schedule_file: Path) -> list[Activity]:
    """Parse SCHEDULE.json: a list of activities, or an object holding ``Activities`` (a
    CreateSchedule or ProcessMedia request, a ``SchedulesInfo``), or a DescribeSchedules response
    with one schedule. Only the activities are read (the trigger and output location are not
    ``mps process``'s business)."""
    data = _read_json(schedule_file, "Activities", "schedule file")
    if isinstance(data, dict) and list(data) == ["Response"]:
        data = data["Response"]
    if isinstance(data, dict) and "ScheduleInfoSet" in data:
        infos = data["ScheduleInfoSet"]
        if not isinstance(infos, list) or len(infos) != 1:
            count = len(infos) if isinstance(infos, list) else "no"
            raise InvalidParameterError.field(
                "Activities", f"schedule file {str(schedule_file)!r} holds {count} schedules, not one"
            )
        data = infos[0]
    if isinstance(data, dict):
        if "Activities" not in data:
            raise InvalidParameterError.field(
                "Activities", f"schedule file {str(schedule_file)!r} has no Activities"
            )
        data = data["Activities"]
    return parse_wire(_ScheduleFile, {"Activities": data}, known_fields=True).Activities


def _write_result(destination: Destination | Path, result: Record) -> None:
    """``result.json`` under the output root (an S3 destination uploads it with the outputs)."""
    if isinstance(destination, Destination):
        root = destination.root / (destination.output_dir or "").strip("/")
    else:
        root = destination
    root.mkdir(parents=True, exist_ok=True)
    path = root / RESULT_FILE
    path.write_text(json.dumps(result.to_wire(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _refusal_fields(task_id: str, input_info: MediaInputInfo, error: MpsError) -> dict[str, Any]:
    return {
        "TaskId": task_id,
        "Status": "FINISH",
        "ErrCode": error.err_code,
        "Message": f"{error.code}: {error.message}",
        "InputInfo": input_info,
    }


def _write_refusal(output_dir: Path, result: Record) -> None:
    """A result.json for a task that never ran, when the output directory can hold one."""
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        _write_result(output_dir, result)
    except OSError:
        pass  # an unwritable DIR is reported by the error line alone
