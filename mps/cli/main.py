"""Entry point of the ``mps`` console script.

Every command runs inside :func:`main`, which turns any error into one line on stderr and a
non-zero exit: no Python traceback ever reaches a user (set ``MPS_DEBUG=1`` to see one).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from mps.errors import MpsError

app = typer.Typer(
    name="mps",
    help="Self-hosted media processing, wire-compatible with Tencent Cloud MPS.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

#: Exit statuses: 0 all sub-tasks succeeded; 1 some work failed; 2 the request or input was refused.
EXIT_OK, EXIT_FAILED, EXIT_REFUSED = 0, 1, 2


@app.callback()
def _root() -> None:
    """Self-hosted media processing, wire-compatible with Tencent Cloud MPS."""
    # A callback keeps `process` a named sub-command even while it is the only one.


@app.command()
def process(
    input: Annotated[str, typer.Argument(help="Input media: a local file or s3://bucket/key.")],
    output_dir: Annotated[
        str,
        typer.Option(
            "--output-dir", help="Where outputs and result.json go: a directory or s3://bucket/prefix/."
        ),
    ],
    task: Annotated[
        Path | None, typer.Option("--task", help="MediaProcessTaskInput JSON file (a workflow task).")
    ] = None,
    schedule: Annotated[
        Path | None,
        typer.Option(
            "--schedule", help="Orchestration JSON file: Activities (a DAG), or a schedule holding them."
        ),
    ] = None,
    templates: Annotated[
        Path | None, typer.Option("--templates", help="Custom templates, in Describe*Templates shape.")
    ] = None,
    concurrency: Annotated[
        int | None, typer.Option(help="Sub-tasks or activities run at once (default: cores).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or table.")] = False,
) -> None:
    """Run TASK's sub-tasks, or SCHEDULE's activities, on INPUT locally; write the outputs and
    result.json to DIR. Give exactly one of --task and --schedule."""
    import click

    from mps.cli.process import run_process

    if (task is None) == (schedule is None):
        raise click.UsageError("give exactly one of --task and --schedule")
    raise typer.Exit(
        run_process(
            input,
            output_dir,
            templates,
            task_file=task,
            schedule_file=schedule,
            concurrency=concurrency,
            quiet=quiet,
        )
    )


@app.command()
def api(host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="TCP port.")] = 8080,
        workers: Annotated[int, typer.Option(min=1, help="API processes sharing the port.")] = 1,
        ) -> None:  # fmt: skip
    """Serve the MPS API 3.0 (ProcessMedia, DescribeTaskDetail, templates...) on HOST:PORT."""
    from mps.cli.api_command import run_api

    raise typer.Exit(run_api(host, port, workers=workers))


@app.command()
def worker(
    concurrency: Annotated[int | None, typer.Option(help="Sub-tasks run at once (default: cores).")] = None,
) -> None:
    """Run sub-tasks from the work queue until SIGINT/SIGTERM (a second signal exits at once)."""
    from mps.cli.service_commands import run_worker_command

    raise typer.Exit(run_worker_command(concurrency))


@app.command()
def relay() -> None:
    """Deliver completion events (outbox) and republish work that was never started."""
    from mps.cli.service_commands import run_relay_command

    raise typer.Exit(run_relay_command())


@app.command()
def listen(
    reconcile_interval: Annotated[
        float | None,
        typer.Option(help="Seconds between reconcile scans (default: MPS_RECONCILE_INTERVAL; 0 = off)."),
    ] = None,
) -> None:
    """Turn bucket events (MinIO over AMQP, the webhook) into tasks of the enabled workflows."""
    from mps.cli.listen_command import run_listen_command

    raise typer.Exit(run_listen_command(reconcile_interval))


@app.command()
def reconcile() -> None:
    """Scan every enabled workflow's directory once and start what no bucket event started."""
    from mps.cli.listen_command import run_reconcile_command

    raise typer.Exit(run_reconcile_command())


@app.command()
def up(
    workers: Annotated[int | None, typer.Option(help="Sub-tasks run at once (default: cores).")] = None,
    host: Annotated[str, typer.Option(help="API address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="API TCP port.")] = 8080,
) -> None:
    """API, worker, relay and listener in one process, until SIGINT/SIGTERM."""
    from mps.cli.service_commands import run_up_command

    raise typer.Exit(run_up_command(workers, host, port))


def main() -> None:
    """Console-script entry: run the app, with errors as one line and an exit status."""
    logging.basicConfig(
        level=os.environ.get("MPS_LOG_LEVEL", "WARNING"), format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        # Without standalone mode click returns the exit status instead of calling sys.exit.
        status = app(standalone_mode=False)
        sys.exit(status if isinstance(status, int) else EXIT_OK)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except MpsError as exc:
        print(f"mps: error: {exc.message} [{exc.code}]", file=sys.stderr)
        sys.exit(EXIT_REFUSED if exc.err_code == 40000 else EXIT_FAILED)
    except (typer.Abort, KeyboardInterrupt):
        print("mps: interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:  # the outermost boundary: log it, never show a traceback
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if os.environ.get("MPS_DEBUG"):
            raise
        print(f"mps: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(EXIT_FAILED)


if __name__ == "__main__":
    main()
