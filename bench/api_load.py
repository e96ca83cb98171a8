"""``make bench``, API part: ``mps api`` under a fixed request rate, on SQLite and on PostgreSQL.

For each database, a fresh store (a new SQLite file; the PostgreSQL database ``mps_bench``,
dropped and created again, never the shared ``test`` one) and ``mps api`` started as a
subprocess with auth on and no worker running (the work queue only fills up; it has a prefix of
its own and is deleted afterwards). Then, in order:

1. ``ProcessMedia`` at ``--process-rate`` for ``--duration`` seconds (a realistic request: two
   transcodes, time-point snapshots, a sprite and a GIF from presets, so five sub-tasks in four
   work messages); the TaskIds answered are kept;
2. ``DescribeTaskDetail`` at ``--describe-rate`` over those tasks (WAITING, five sub-tasks each).

Each phase is preceded by a short warm-up at the same rate (not measured). The load comes from
``bench/api_client.py`` in its own process (open loop: latencies run from the scheduled send
time). The API's CPU is read from ``/proc/<pid>/stat`` (user + system, the server and every
process under it) before and after the phase and divided by the calls answered.

``--baseline DIR`` also runs the mps code in DIR (a checkout of an older commit) the same way,
alternating with this one (baseline, current, baseline, current...), for the before/after ratios;
the baseline is served by uvicorn's pure-Python parser and asyncio loop (what it was installed
with). The report replaces the section between the ``api-load`` markers of ``--out``
(``bench/RESULTS.md``), or is appended to it.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from report import replace_section

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
#: The base URL of the PostgreSQL server; the benchmark uses a database of its own on it.
PG_SERVER = os.environ.get("MPS_BENCH_POSTGRES", "postgresql+psycopg2://postgres@127.0.0.1:5432")
#: The benchmark's own database (dropped and created again for every server start).
PG_DATABASE = "mps_bench"
SECRET_ID, SECRET_KEY = "AKIDbenchmark", "bench-secret-key"
#: The ProcessMedia request: five sub-tasks from presets (a realistic mix).
PROCESS_MEDIA = {
    "InputInfo": {"Type": "COS", "CosInputInfo": {"Bucket": "media", "Region": "ap-guangzhou",
                                                   "Object": "/in/clip.mp4"}},
    "OutputStorage": {"Type": "COS", "CosOutputStorage": {"Bucket": "out", "Region": "ap-guangzhou"}},
    "OutputDir": "/out/",
    "MediaProcessTask": {
        "TranscodeTaskSet": [{"Definition": 100010}, {"Definition": 100020}],
        "SnapshotByTimeOffsetTaskSet": [{"Definition": 10, "ExtTimeOffsetSet": ["1s", "5s", "50%"]}],
        "ImageSpriteTaskSet": [{"Definition": 10}],
        "AnimatedGraphicTaskSet": [{"Definition": 20000, "StartTimeOffset": 0, "EndTimeOffset": 2}],
    },
}  # fmt: skip
#: The issue's goals: p99 at these rates, and CPU per call.
GOALS = {"ProcessMedia": (100.0, 4.0), "DescribeTaskDetail": (300.0, 2.0)}
P99_GOAL_MS = 50.0
START_MARK, END_MARK = "<!-- api-load:start -->", "<!-- api-load:end -->"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options (``--quick`` and ``--runs`` as in ``bench/run.py``)."""
    parser = argparse.ArgumentParser(description="mps api under fixed request rates")
    parser.add_argument("--runs", type=int, default=2, help="runs of each phase per database")
    parser.add_argument("--quick", action="store_true", help="tiny rates and durations: a smoke run")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of each measured phase")
    parser.add_argument("--process-rate", type=float, default=100.0, help="ProcessMedia per second")
    parser.add_argument("--describe-rate", type=float, default=300.0, help="DescribeTaskDetail per second")
    parser.add_argument("--databases", default="sqlite,postgresql", help="comma-separated")
    parser.add_argument("--workers", type=int, default=1, help="mps api --workers")
    parser.add_argument("--baseline", type=Path, help="a checkout of older mps code to compare with")
    parser.add_argument("--out", type=Path, default=BENCH / "RESULTS.md", help="the report to update")
    parser.add_argument("--work", type=Path, default=BENCH / "work", help="scratch files")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.process_rate, args.describe_rate, args.runs = 2.0, 10.0, 20.0, 1
    return args


def log(message: str) -> None:
    """Progress on stderr."""
    print(f"[api-bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass
class Phase:
    """One measured phase: an action at a rate, against one server."""

    code: str
    database: str
    action: str
    rate: float
    calls: int
    ok: int
    errors: dict[str, int]
    p50: float
    p99: float
    max: float
    api_cpu_ms: float
    client_cpu_s: float
    lag_p99: float
    connections: int
    load: float = field(default_factory=lambda: os.getloadavg()[0])


# -- the server --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fresh_database(kind: str, work: Path) -> str:
    """The URL of an empty task store of ``kind``."""
    if kind == "sqlite":
        path = Path(tempfile.mkdtemp(dir=work)) / "mps.db"
        return f"sqlite:///{path}"
    import sqlalchemy as sa

    admin = sa.create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
        conn.exec_driver_sql(f"CREATE DATABASE {PG_DATABASE}")
    admin.dispose()
    return f"{PG_SERVER}/{PG_DATABASE}"


@dataclass
class Server:
    """A running ``mps api``."""

    url: str
    process: subprocess.Popen[bytes]
    prefix: str


@contextmanager
def serve(code: Path | None, database_url: str, workers: int, work: Path) -> Iterator[Server]:
    """Start ``mps api`` (the code in ``code``, or this checkout) and stop it afterwards."""
    port, prefix = free_port(), f"bench-{os.getpid()}-{time.monotonic_ns() % 10**6}."
    env = {**os.environ, "MPS_DATABASE_URL": database_url, "MPS_SECRET_ID": SECRET_ID,
           "MPS_SECRET_KEY": SECRET_KEY, "MPS_QUEUE_PREFIX": prefix, "MPS_LOG_LEVEL": "WARNING",
           "MPS_EVENTS_EXCHANGE": "mps-bench.events"}  # fmt: skip
    if code is None:  # this checkout's mps, whatever the interpreter has installed
        env["PYTHONPATH"] = str(ROOT)
        argv = [sys.executable, "-m", "mps", "api", "--port", str(port)]
        if workers > 1:
            argv += ["--workers", str(workers)]
    else:
        env["PYTHONPATH"] = str(code.resolve())
        argv = [sys.executable, str(BENCH / "api_baseline.py"), "--port", str(port)]
    stderr = open(work / f"api-{port}.stderr", "wb")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(argv, env=env, stdout=stderr, stderr=stderr, cwd=work)
    try:
        wait_healthy(f"127.0.0.1:{port}", process)
        yield Server(f"127.0.0.1:{port}", process, prefix)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        stderr.close()
        delete_queues(prefix)


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mps api exited with {process.returncode} (see {BENCH / 'work'})")
        try:
            with urllib.request.urlopen(f"http://{url}/healthz", timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("mps api did not answer /healthz in time")


def delete_queues(prefix: str) -> None:
    """Delete the benchmark's work queue (it holds every message published) and its dead letters."""
    import pika

    url = os.environ.get("MPS_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
    try:
        connection = pika.BlockingConnection(pika.URLParameters(url))
    except pika.exceptions.AMQPError as exc:
        log(f"could not delete the queues {prefix}*: {exc!r}")
        return
    channel = connection.channel()
    for queue in (f"{prefix}mps.work", f"{prefix}mps.work.dlq"):
        channel.queue_delete(queue)
    channel.exchange_delete(f"{prefix}mps.work.dlx")
    connection.close()


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and every process under it (from ``/proc``)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            stat = Path(f"/proc/{current}/stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(child) for child in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


# -- the load ---------------------------------------------------------------------------------


def load(server: Server, action: str, bodies: list[dict[str, object]], rate: float, duration: float,
         work: Path, *, task_ids: bool = False) -> dict[str, object]:  # fmt: skip
    """Run ``bench/api_client.py`` once; its JSON answer."""
    bodies_file = work / f"bodies-{action}.json"
    bodies_file.write_text(json.dumps(bodies))
    argv = [sys.executable, str(BENCH / "api_client.py"), "--url", server.url, "--action", action,
            "--bodies", str(bodies_file), "--rate", str(rate), "--duration", str(duration)]  # fmt: skip
    if task_ids:
        argv.append("--task-ids")
    env = {**os.environ, "MPS_SECRET_ID": SECRET_ID, "MPS_SECRET_KEY": SECRET_KEY}
    done = subprocess.run(argv, env=env, capture_output=True, timeout=duration + 120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"api_client failed: {done.stderr.decode()[-2000:]}")
    result: dict[str, object] = json.loads(done.stdout)
    return result


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values`` by the nearest-rank rule (NaN when empty)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q * len(ordered) + 0.5)) - 1))]


def measured(server: Server, code: str, database: str, action: str, bodies: list[dict[str, object]],
             rate: float, duration: float, work: Path) -> tuple[Phase, list[str]]:  # fmt: skip
    """A warm-up, then one measured phase; also returns the TaskIds answered."""
    load(server, action, bodies, rate, min(3.0, duration), work)
    before = tree_cpu_seconds(server.process.pid)
    result = load(server, action, bodies, rate, duration, work, task_ids=action == "ProcessMedia")
    cpu = tree_cpu_seconds(server.process.pid) - before
    latencies = [x for x in result["latencies_ms"] if x is not None]  # type: ignore[attr-defined]
    codes: dict[str, int] = result["codes"]  # type: ignore[assignment]
    phase = Phase(
        code=code, database=database, action=action, rate=rate, calls=len(result["latencies_ms"]),  # type: ignore[arg-type]
        ok=len(latencies), errors=codes, p50=percentile(latencies, 0.5), p99=percentile(latencies, 0.99),
        max=max(latencies, default=float("nan")), api_cpu_ms=cpu * 1000 / max(len(latencies), 1),
        client_cpu_s=result["client_cpu_s"], lag_p99=percentile(result["lag_ms"], 0.99),  # type: ignore[arg-type]
        connections=result["connections"],  # type: ignore[arg-type]
    )  # fmt: skip
    log(f"{code} {database} {action} @{rate:g}/s: p50 {phase.p50:.1f} p99 {phase.p99:.1f} "
        f"max {phase.max:.1f} ms, {phase.api_cpu_ms:.2f} ms CPU/call, errors {sum(codes.values())}, "
        f"load {phase.load:.1f}")  # fmt: skip
    return phase, list(result["task_ids"])  # type: ignore[call-overload]


def run_server(args: argparse.Namespace, code: str, path: Path | None, database: str) -> list[Phase]:
    """Both phases against one fresh store and server."""
    url = fresh_database(database, args.work)
    with serve(path, url, args.workers, args.work) as server:
        process, task_ids = measured(server, code, database, "ProcessMedia", [PROCESS_MEDIA],
                                     args.process_rate, args.duration, args.work)  # fmt: skip
        if not task_ids:
            raise RuntimeError("ProcessMedia answered no TaskId")
        bodies: list[dict[str, object]] = [{"TaskId": task_id} for task_id in task_ids]
        describe, _ = measured(server, code, database, "DescribeTaskDetail", bodies,
                               args.describe_rate, args.duration, args.work)  # fmt: skip
    return [process, describe]


def main(argv: Sequence[str] | None = None) -> int:
    """Run every (run, database, code) combination, then update the report."""
    args = parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    args.work = args.work.resolve()
    codes: list[tuple[str, Path | None]] = [("current", None)]
    if args.baseline is not None:
        codes.insert(0, ("baseline", args.baseline))
    started, commit = time.strftime("%Y-%m-%d %H:%M"), git_head()
    phases: list[Phase] = []
    for run in range(1, args.runs + 1):
        for database in args.databases.split(","):
            for code, path in codes:
                log(f"run {run}/{args.runs}: {code} on {database}")
                phases += run_server(args, code, path, database)
    (args.work / "api_load.json").write_text(json.dumps([asdict(p) for p in phases], indent=1))
    update_report(args.out, render(args, phases, started, commit))
    log(f"updated {args.out}")
    return 0 if all(not p.errors for p in phases) else 1


# -- the report -------------------------------------------------------------------------------


def median(phases: list[Phase], attr: str) -> float:
    return statistics.median(getattr(p, attr) for p in phases) if phases else float("nan")


def spread(phases: list[Phase], attr: str, digits: int = 1) -> str:
    return ", ".join(f"{getattr(p, attr):.{digits}f}" for p in phases)


def render(args: argparse.Namespace, phases: list[Phase], started: str, commit: str) -> str:
    """The Markdown section."""
    flags = f"--runs {args.runs} --duration {args.duration:g}" + (" --quick" if args.quick else "")
    flags += f" --workers {args.workers}" if args.workers > 1 else ""
    baseline = ""
    if args.baseline is not None:
        flags += f" --baseline {args.baseline}"
        baseline = (f" The baseline is the mps of `{args.baseline}` at `{git_head(args.baseline)}`, "
                    "served by h11 and asyncio as it was installed.")  # fmt: skip
    lines = [
        START_MARK,
        "# API load: `mps api` at fixed request rates",
        "",
        f"Made by `make bench` (`bench/api_load.py {flags}`), started {started}, mps at `{commit}`. "
        f"One `mps api` process (`--workers {args.workers}`), auth on (TC3), no worker running; the load "
        "from `bench/api_client.py` in its own process, open loop (latency from the scheduled send). "
        f"Machine: {os.cpu_count()} cores shared with other work (the load column is the 1-minute "
        "load average after each phase); medians of the runs, every run's value in the spread columns."
        + baseline,
        "",
        "| code | database | action | rate (/s) | runs | p50 (ms) | p99 (ms) | max (ms) | "
        "API CPU per call (ms) | errors | p99 of runs | CPU of runs | load |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    groups: dict[tuple[str, str, str], list[Phase]] = {}
    for phase in phases:
        groups.setdefault((phase.code, phase.database, phase.action), []).append(phase)
    for (code, database, action), group in groups.items():
        errors = sum(sum(p.errors.values()) for p in group)
        cells = [code, database, action, f"{group[0].rate:g}", str(len(group)), f"{median(group, 'p50'):.1f}",
                 f"{median(group, 'p99'):.1f}", f"{median(group, 'max'):.1f}",
                 f"{median(group, 'api_cpu_ms'):.2f}", str(errors), spread(group, "p99"),
                 spread(group, "api_cpu_ms", 2), spread(group, "load")]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", *ratios(groups), *goals(groups, args)]
    lines.append(END_MARK)
    return "\n".join(lines) + "\n"


def ratios(groups: dict[tuple[str, str, str], list[Phase]]) -> list[str]:
    """Baseline / current, when both ran."""
    rows = []
    for (code, database, action), current in groups.items():
        base = groups.get(("baseline", database, action))
        if code != "current" or base is None:
            continue
        cpu = median(base, "api_cpu_ms") / median(current, "api_cpu_ms")
        p99 = median(base, "p99") / median(current, "p99")
        rows.append(f"| {database} | {action} | {cpu:.1f}x | {p99:.1f}x |")
    if not rows:
        return []
    return ["| database | action | CPU per call, baseline / current | p99, baseline / current |",
            "|---|---|---|---|", *rows, ""]  # fmt: skip


def goals(groups: dict[tuple[str, str, str], list[Phase]], args: argparse.Namespace) -> list[str]:
    """The issue's goals against the current code's medians."""
    rows = []
    for (code, database, action), group in groups.items():
        rate, cpu_goal = GOALS[action]
        if code != "current":
            continue
        errors = sum(sum(p.errors.values()) for p in group)
        at_rate = group[0].rate >= rate
        holds = median(group, "p99") < P99_GOAL_MS and errors == 0 and at_rate
        rows.append(f"| {database}: {action} at {rate:g}/s, p99 under {P99_GOAL_MS:g} ms, no errors | "
                    f"{median(group, 'p99'):.1f} ms at {group[0].rate:g}/s, {errors} errors | "
                    f"{'yes' if holds else 'no'} |")  # fmt: skip
        cpu = median(group, "api_cpu_ms")
        rows.append(f"| {database}: {action} at most {cpu_goal:g} ms of API CPU per call | {cpu:.2f} ms | "
                    f"{'yes' if cpu <= cpu_goal else 'no'} |")  # fmt: skip
    return ["| goal (workers idle) | measured | holds |", "|---|---|---|", *rows, ""]


def update_report(path: Path, section: str) -> None:
    """Replace the API section of ``path`` (or append it)."""
    replace_section(path, START_MARK, END_MARK, section)


def git_head(root: Path = ROOT) -> str:
    """The short commit of a work tree, marked when its mps/ has uncommitted changes."""
    git = ["git", "-C", str(root)]
    head = subprocess.run([*git, "rev-parse", "--short=10", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run([*git, "status", "--porcelain", "--", "mps"], capture_output=True, text=True)
    commit = head.stdout.strip() or "unknown"
    return f"{commit} + uncommitted changes in mps/" if dirty.stdout.strip() else commit


if __name__ == "__main__":
    sys.exit(main())
