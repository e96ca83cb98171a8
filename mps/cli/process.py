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
from mps.cli.progress import SubtaskBars, result_table
from mps.errors import ERR_CODE_INPUT, InvalidParameterError, MpsError
from mps.models import MediaInputInfo, MediaProcessTaskInput, WorkflowTask, parse_wire
from mps.settings import Settings

RESULT_FILE = "result.json"


def run_process(
    input: str,
    task_file: Path,
    output_dir: Path,
    templates_file: Path | None,
    *,
    concurrency: int | None = None,
    quiet: bool = False,
) -> int:
    """Run ``mps process`` and return its exit status (0 all succeeded, 1 failures, 2 refused)."""
    task_id = f"local-WorkflowTask-{uuid.uuid4().hex}t0"
    console = Console(stderr=True, quiet=quiet)
    input_info = _input_info(input)
    try:
        settings = Settings()
        if concurrency:
            settings = settings.model_copy(update={"concurrency": concurrency})
        task = _read_task(task_file)
        catalog = build_catalog(settings, templates_file)
        output_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="mps-assets-", dir=settings.work_dir) as assets:
            engine = build_local_engine(settings, catalog, Path(assets))
            engine.check(task)
            source = _local_source(input)
            with SubtaskBars(console, task.subtasks()) as bars:
                result = engine.process(
                    task_id=task_id,
                    task=task,
                    input_info=input_info,
                    source=source,
                    out_root=output_dir,
                    on_progress=bars.update,
                )
    except MpsError as exc:
        _write_refusal(output_dir, task_id, input_info, exc)
        print(f"mps: error: {exc.message} [{exc.code}]", file=sys.stderr)
        return 2 if exc.err_code == ERR_CODE_INPUT else 1
    _write_result(output_dir, result)
    if not quiet:
        Console().print(result_table(result, output_dir))
    if result.ErrCode:
        print(f"mps: error: {result.Message}", file=sys.stderr)
    ok = not result.ErrCode and all(e.result.Status == "SUCCESS" for e in result.MediaProcessResultSet)
    return 0 if ok else 1


def _input_info(input: str) -> MediaInputInfo:
    """How the input is echoed in ``InputInfo``: a ``file://`` URL for a local file."""
    url = input if "://" in input else Path(input).absolute().as_uri()
    return MediaInputInfo(Type="URL", UrlInputInfo={"Url": url})  # type: ignore[arg-type]


def _local_source(input: str) -> str:
    if "://" in input:
        raise InvalidParameterError.field("InputInfo", f"{input!r}: only local files are supported here")
    path = Path(input)
    if not path.is_file():
        from mps.errors import SourceError

        raise SourceError(
            f"input file {input!r} does not exist or is not a file", code="ResourceNotFound.SourceFile"
        )
    return str(path.absolute())


def _read_task(task_file: Path) -> MediaProcessTaskInput:
    """Parse TASK.json; every problem is one :class:`InvalidParameterError` naming the file."""
    try:
        data: Any = json.loads(task_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidParameterError.field(
            "MediaProcessTask", f"task file {str(task_file)!r} does not exist"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidParameterError.field(
            "MediaProcessTask", f"task file {str(task_file)!r}: {exc}"
        ) from None
    if isinstance(data, dict) and "MediaProcessTask" in data and len(data) == 1:
        data = data["MediaProcessTask"]  # also accept {"MediaProcessTask": {...}}, as in a ProcessMedia body
    return parse_wire(MediaProcessTaskInput, data, where="MediaProcessTask")


def _write_result(output_dir: Path, result: WorkflowTask) -> None:
    path = output_dir / RESULT_FILE
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
