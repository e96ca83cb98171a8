"""``mps process``: one task on one machine, no services.

Reads the task (and custom templates), refuses a bad request before any work, runs the
sub-tasks with progress bars, writes ``result.json`` (the WorkflowTask object) beside the outputs,
and prints what was produced.
"""

from __future__ import annotations

import json
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

from rich.console import Console

from mps.app import build_catalog, build_local_engine
from mps.cli.locations import Destination, echo_input, is_s3, open_destination, open_source
from mps.cli.progress import SubtaskBars, result_table
from mps.errors import ERR_CODE_INPUT, InvalidParameterError, MpsError
from mps.models import MediaInputInfo, MediaProcessTaskInput, WorkflowTask, parse_wire
from mps.models.jsontext import parse_json
from mps.settings import Settings

RESULT_FILE = "result.json"


def run_process(
    input: str,
    task_file: Path,
    output_dir: str,
    templates_file: Path | None,
    *,
    concurrency: int | None = None,
    quiet: bool = False,
) -> int:
    """Run ``mps process`` and return its exit status (0 all succeeded, 1 failures, 2 refused).

    INPUT and ``output_dir`` are local paths or ``s3://`` URIs in the configured store.
    """
    task_id = f"local-WorkflowTask-{uuid.uuid4().hex}t0"
    console = Console(stderr=True, quiet=quiet)
    settings = Settings()
    if concurrency:
        settings = settings.model_copy(update={"concurrency": concurrency})
    input_info = echo_input(input, settings)
    destination: Destination | None = None
    try:
        task = _read_task(task_file)
        catalog = build_catalog(settings, templates_file)
        with tempfile.TemporaryDirectory(prefix="mps-process-", dir=settings.work_dir) as scratch:
            engine = build_local_engine(settings, catalog, Path(scratch) / "assets")
            engine.check(task)
            destination = open_destination(output_dir, settings, Path(scratch) / "out")
            source = open_source(input, settings, Path(scratch))
            input_info = source.info
            with SubtaskBars(console, task.subtasks()) as bars:
                result = engine.process(
                    task_id=task_id,
                    task=task,
                    input_info=source.info,
                    source=source.path,
                    out_root=destination.root,
                    output_dir=destination.output_dir,
                    output_storage=destination.storage,
                    on_progress=bars.update,
                )
            _write_result(destination, result)
            destination.publish(task_id)
    except MpsError as exc:
        if not is_s3(output_dir):
            _write_refusal(Path(output_dir), task_id, input_info, exc)
        print(f"mps: error: {exc.message} [{exc.code}]", file=sys.stderr)
        return 2 if exc.err_code == ERR_CODE_INPUT else 1
    if not quiet:
        Console().print(result_table(result, destination.describe()))
    if result.ErrCode:
        print(f"mps: error: {result.Message}", file=sys.stderr)
    ok = not result.ErrCode and all(e.result.Status == "SUCCESS" for e in result.MediaProcessResultSet)
    return 0 if ok else 1


def _read_task(task_file: Path) -> MediaProcessTaskInput:
    """Parse TASK.json; every problem is one :class:`InvalidParameterError` naming the file."""
    try:
        data: Any = parse_json(task_file.read_bytes(), what=f"task file {str(task_file)!r}")
    except FileNotFoundError:
        raise InvalidParameterError.field(
            "MediaProcessTask", f"task file {str(task_file)!r} does not exist"
        ) from None
    except OSError as exc:
        raise InvalidParameterError.field(
            "MediaProcessTask", f"task file {str(task_file)!r}: {exc}"
        ) from None
    except InvalidParameterError as exc:
        raise InvalidParameterError.field("MediaProcessTask", exc.message) from None
    if isinstance(data, dict) and "MediaProcessTask" in data and len(data) == 1:
        data = data["MediaProcessTask"]  # also accept {"MediaProcessTask": {...}}, as in a ProcessMedia body
    return parse_wire(MediaProcessTaskInput, data, where="MediaProcessTask", known_fields=True)


def _write_result(destination: Destination | Path, result: WorkflowTask) -> None:
    """``result.json`` under the output root (an S3 destination uploads it with the outputs)."""
    if isinstance(destination, Destination):
        root = destination.root / (destination.output_dir or "").strip("/")
    else:
        root = destination
    root.mkdir(parents=True, exist_ok=True)
    path = root / RESULT_FILE
    path.write_text(json.dumps(result.to_wire(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _write_refusal(output_dir: Path, task_id: str, input_info: MediaInputInfo, error: MpsError) -> None:
    """A result.json for a task that never ran, when the output directory can hold one."""
    result = WorkflowTask(
        TaskId=task_id,
        Status="FINISH",
        ErrCode=error.err_code,
        Message=f"{error.code}: {error.message}",
        InputInfo=input_info,
    )
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        _write_result(output_dir, result)
    except OSError:
        pass  # an unwritable DIR is reported by the error line alone
