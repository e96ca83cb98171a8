"""Chunked transcodes through the real service: one ``mps worker`` pinned to one core against two,
each pinned to its own core (``taskset``, standing in for two hosts). Not a timed test.

    .venv/bin/python bench/segments_service.py --seconds 600 --segment 30

The issue's goal: a 10-minute 1080p transcode at least 1.8x faster on two workers, and the chunk
overhead (split, join, extra keyframes) under 5 % of CPU. Unlike ``bench/segments.py`` (ffmpeg
commands in one process), everything here goes through the service: a ProcessMedia request stored
and published as ``submit_task`` does, the relay, RabbitMQ, the task store, SeaweedFS (the input
downloaded by each worker, the chunks uploaded and fetched back for the join, the output uploaded).

Per mode, fresh services: SeaweedFS (``tests/seaweed.py``) with the source uploaded, a store (a
SQLite file, or ``--postgres``: a database of its own, dropped afterwards), a queue prefix and
events exchange of their own (deleted afterwards), one ``mps relay`` (not pinned) and the workers
(``taskset -c <core> mps worker``, ``MPS_CONCURRENCY=1``, a work directory each):

- A: one worker on core 0, ``MPS_SEGMENT_SECONDS=0`` (the transcode runs whole);
- B: ``--workers`` workers on cores 0, 1..., ``MPS_SEGMENT_SECONDS=--segment``.

Measured: wall from the submit to the task's FINISH as the store reports it (polled every 0.2 s);
CPU of each worker process with its reaped children (``/proc/<pid>/stat`` utime + stime + cutime +
cstime, read right before it is stopped; ffmpeg runs are waited for, so they land in cutime: a
sampler of the workers' live children checks it); per worker = per core. Then the output is
downloaded and probed, and B's must have A's frame count, video duration within one frame and
audio duration within one AAC frame, else the run fails. The report (``--out``) is a markdown
table with the speed-ups (wall, and A's CPU over B's busiest worker: the CPU critical path, which
other load on the machine does not change), the CPU overhead, load averages, and B's timeline
(split, chunks per worker, idle tail, join) from the task's history.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for tests.seaweed, the SeaweedFS launcher the tests use too

import pika  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from report import replace_section  # noqa: E402

from mps.broker.rabbitmq import RabbitmqBroker  # noqa: E402
from mps.storage import S3Storage  # noqa: E402
from mps.store import SqlTaskStore  # noqa: E402
from mps.store.base import HistoryRecord, SubtaskRecord  # noqa: E402
from mps.templates import TemplateCatalog, load_presets  # noqa: E402
from mps.workflow.chunks import CHUNK_KIND, ChunkJob  # noqa: E402
from mps.workflow.submit import submit_task  # noqa: E402
from mps.workflow.templates import StoreTemplates  # noqa: E402
from tests.seaweed import SeaweedServer  # noqa: E402

BENCH = ROOT / "bench"
WORK = BENCH / "work"
MPS = Path(sys.executable).parent / "mps"
AMQP_URL = os.environ.get("MPS_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
PG_SERVER = os.environ.get("MPS_BENCH_POSTGRES", "postgresql+psycopg2://postgres@127.0.0.1:5432")
CLOCK_TICK = os.sysconf("SC_CLK_TCK")
FPS = 25
AAC_FRAME = 1024 / 48000
#: The transcode of both modes (as bench/segments.py: 720p H.264 2.5 Mb/s, GOP 4 s, AAC 128k).
TRANSCODE = {
    "Definition": 0,
    "RawParameter": {
        "Container": "mp4",
        "VideoTemplate": {"Codec": "libx264", "Width": 1280, "Bitrate": 2500, "Gop": 100},
        "AudioTemplate": {"Codec": "libfdk_aac", "Bitrate": 128, "SampleRate": 48000, "AudioChannel": 2},
    },
}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def loadavg() -> tuple[float, float, float]:
    one, five, fifteen = Path("/proc/loadavg").read_text().split()[:3]
    return float(one), float(five), float(fifteen)


# -- the source ---------------------------------------------------------------------------------


def make_source(seconds: float, work: Path = WORK) -> Path:
    """A 1080p25 testsrc2 + 440 Hz sine of ``seconds`` (x264 ultrafast, GOP 2 s, 8 Mb/s), cached
    in ``work``."""
    work.mkdir(parents=True, exist_ok=True)
    path = work / f"segments-src-{seconds:g}s.mp4"
    if path.exists():
        return path
    log(f"making the {seconds:g} s 1080p25 source {path}")
    partial = path.with_suffix(".partial.mp4")
    subprocess.run(
        ["ffmpeg", "-nostdin", "-y", "-v", "error",
         "-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate={FPS}:duration={seconds}",
         "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}",
         "-c:v", "libx264", "-preset", "ultrafast", "-g", "50", "-b:v", "8M", "-c:a", "aac", str(partial)],
        check=True,
    )  # fmt: skip
    partial.rename(path)
    return path


@dataclass(frozen=True)
class Probe:
    """What ffprobe says of an MP4 (frames and packets counted by demuxing)."""

    frames: int
    video_seconds: float
    audio_seconds: float
    size: int


def probe(path: Path) -> Probe:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-count_packets",
         "-show_entries", "stream=codec_type,duration,nb_read_packets", "-of", "json", str(path)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    streams = {s["codec_type"]: s for s in json.loads(out)["streams"]}
    video, audio = streams["video"], streams.get("audio", {})
    return Probe(
        frames=int(video["nb_read_packets"]),
        video_seconds=float(video["duration"]),
        audio_seconds=float(audio.get("duration", 0.0)),
        size=path.stat().st_size,
    )


# -- processes and their CPU --------------------------------------------------------------------


def proc_stat(pid: int) -> list[str]:
    """Fields 3.. of ``/proc/<pid>/stat`` (after the command name, which may hold spaces)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(own utime + stime, reaped children's cutime + cstime) of a live process, in seconds."""
    fields = proc_stat(pid)  # fields[0] is field 3 (state): utime is field 14
    own = int(fields[11]) + int(fields[12])
    children = int(fields[13]) + int(fields[14])
    return own / CLOCK_TICK, children / CLOCK_TICK


def label(pid: int) -> str:
    """What a worker's child runs, from its command line."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "other"
    words = [a.decode(errors="replace") for a in argv if a]
    binary = Path(words[0]).name if words else ""
    if binary == "ffprobe":
        return "ffprobe: packet listing (split)" if "packet=pts_time,flags" in words else "ffprobe: probes"
    if binary != "ffmpeg":
        return "other" if words else "other (exited)"
    output = Path(words[-1])
    if "concat" in words:
        return "ffmpeg: join"
    if output.parent.name.startswith("mps-chunk-"):  # a chunk job's directory (mps.worker.chunked)
        return "ffmpeg: audio" if output.name.startswith("audio") else "ffmpeg: video chunks"
    return "ffmpeg: whole transcode" if "-c:v" in words else "ffmpeg: other"


class Sampler(threading.Thread):
    """Every ``every`` seconds: the 1-minute load average, and what the workers' children are.

    Each worker's reaped-children CPU (cutime + cstime) is read at every sample; its rise since the
    last sample is what the children that vanished in between used, so it is shared out among them
    (by the CPU last seen of each) under their kind (:func:`label`): an exact split of the
    children's CPU by kind, up to children that end within one sample (counted as "not seen": the
    short probes). A child seen alive but never reaped would make the children's CPU seen alive
    exceed cutime: that is the check that ffmpeg runs land in cutime.
    """

    def __init__(self, parents: Sequence[int], every: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.every = every
        self.stop = threading.Event()
        self.loads: list[float] = []
        #: Children's CPU by kind (attributed from each worker's cutime).
        self.by_kind: dict[str, float] = {}
        #: The highest CPU seen of each child while it ran, (pid, start time) -> seconds.
        self.seen: dict[tuple[int, str], float] = {}
        self.cutime = {pid: cpu_seconds(pid)[1] for pid in parents}
        self.live: dict[int, dict[tuple[int, str], tuple[str, float]]] = {pid: {} for pid in parents}

    def run(self) -> None:
        while not self.stop.wait(self.every):
            self.loads.append(loadavg()[0])
            self.sample()
        self.sample()

    def sample(self) -> None:
        now: dict[int, dict[tuple[int, str], tuple[str, float]]] = {pid: {} for pid in self.live}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                fields = proc_stat(int(entry.name))
            except (OSError, ValueError):
                continue
            parent = int(fields[1])  # field 4, ppid
            if parent in now:
                key = (int(entry.name), fields[19])  # field 22, start time
                cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICK
                known = self.live[parent].get(key)
                kind = known[0] if known and not known[0].startswith("other") else label(key[0])
                now[parent][key] = (kind, cpu)
                self.seen[key] = max(self.seen.get(key, 0.0), cpu)
        for parent, children in now.items():
            try:
                cutime = cpu_seconds(parent)[1]
            except OSError:
                continue
            rise, self.cutime[parent] = cutime - self.cutime[parent], cutime
            gone = [self.live[parent][key] for key in self.live[parent].keys() - children.keys()]
            weight = sum(cpu for _, cpu in gone)
            for kind, cpu in gone:
                share = rise * (cpu / weight if weight > 0 else 1 / len(gone))
                self.by_kind[kind] = self.by_kind.get(kind, 0.0) + share
            if not gone and rise > 0:
                self.by_kind["not seen (short runs)"] = self.by_kind.get("not seen (short runs)", 0.0) + rise
            self.live[parent] = children

    def children_cpu(self) -> float:
        return sum(self.seen.values())


@dataclass
class Worker:
    core: int
    process: subprocess.Popen[bytes]
    own: float = 0.0
    children: float = 0.0

    @property
    def cpu(self) -> float:
        return self.own + self.children


def stop_process(process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout)


# -- one mode -----------------------------------------------------------------------------------


@dataclass
class ModeResult:
    """What one mode measured."""

    name: str
    cores: list[int]
    segment: float
    wall: float
    workers: list[Worker]
    sampled_children: float
    by_kind: dict[str, float]
    relay_cpu: float
    chunks: int
    output: Probe
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]
    load_during: list[float]
    timeline: list[str] = field(default_factory=list)

    @property
    def cpu(self) -> float:
        return sum(w.cpu for w in self.workers)

    @property
    def busiest(self) -> float:
        return max(w.cpu for w in self.workers)


@contextmanager
def database(postgres: bool, directory: Path) -> Iterator[str]:
    """A fresh, empty store's URL: a SQLite file in ``directory``, or a PostgreSQL database of its
    own (dropped afterwards)."""
    if not postgres:
        yield f"sqlite:///{directory / 'mps.db'}"
        return
    name = f"mps_segbench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        yield f"{PG_SERVER}/{name}"
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


def delete_topology(prefix: str, work_queue: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        channel = connection.channel()
        for queue in (work_queue, work_queue + ".dlq"):
            channel.queue_delete(queue)
        for exchange in (work_queue + ".dlx", prefix + "events"):
            channel.exchange_delete(exchange)
    finally:
        connection.close()


def wait_for_consumers(queue: str, count: int, processes: Sequence[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in processes):
            raise SystemExit("a worker exited during start-up (see its log)")
        connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
        try:
            consumers = connection.channel().queue_declare(queue, passive=True).method.consumer_count
        except pika.exceptions.ChannelClosedByBroker:
            consumers = 0  # not declared yet
        finally:
            if connection.is_open:
                connection.close()
        if consumers >= count:
            return
        time.sleep(0.5)
    raise SystemExit(f"the workers did not consume {queue} within 120 s")


def run_mode(
    name: str, cores: list[int], segment: float, source: Path, args: argparse.Namespace, logs: Path
) -> ModeResult:
    """Fresh services, the workers on ``cores``, one transcode of ``source``; see the module doc."""
    logs.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="mps-segsvc-", dir=args.scratch))
    prefix = f"mps-segbench-{uuid.uuid4().hex[:8]}-"
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, scratch, ignore_errors=True)
        seaweed = stack.enter_context(SeaweedServer(workdir=scratch / "seaweed"))
        url = stack.enter_context(database(args.postgres, scratch))
        store = SqlTaskStore(url)  # migrates the schema before any service starts
        stack.callback(store.close)
        storage = S3Storage(seaweed.endpoint_url, seaweed.access_key, seaweed.secret_key, "us-east-1")
        bucket = "bench"
        storage.ensure_bucket(bucket)
        storage.put(bucket, "in/film.mp4", source)
        publisher = RabbitmqBroker(AMQP_URL, prefix=prefix, name="bench submit")
        stack.callback(publisher.close)
        stack.callback(delete_topology, prefix, publisher.work_queue)

        env = {key: value for key, value in os.environ.items() if not key.startswith("MPS_")}
        env.update({
            "MPS_DATABASE_URL": url, "MPS_AMQP_URL": AMQP_URL, "MPS_S3_ENDPOINT_URL": seaweed.endpoint_url,
            "MPS_S3_ACCESS_KEY": seaweed.access_key, "MPS_S3_SECRET_KEY": seaweed.secret_key,
            "MPS_QUEUE_PREFIX": prefix, "MPS_EVENTS_EXCHANGE": prefix + "events",
            "MPS_X264_PRESET": args.preset, "MPS_SEGMENT_SECONDS": f"{segment:g}", "MPS_CONCURRENCY": "1",
        })  # fmt: skip

        def start(argv: list[str], log_name: str, work_dir: Path) -> subprocess.Popen[bytes]:
            work_dir.mkdir(parents=True, exist_ok=True)
            with (logs / log_name).open("wb") as out:
                process = subprocess.Popen(
                    argv, env={**env, "MPS_WORK_DIR": str(work_dir)}, stdin=subprocess.DEVNULL,
                    stdout=out, stderr=subprocess.STDOUT,
                )  # fmt: skip
            stack.callback(stop_process, process)
            return process

        relay = start([str(MPS), "relay"], "relay.log", scratch / "relay")
        workers = [
            Worker(core, start(["taskset", "-c", str(core), str(MPS), "worker"], f"worker{core}.log",
                               scratch / f"worker{core}"))
            for core in cores
        ]  # fmt: skip
        wait_for_consumers(publisher.work_queue, len(workers), [w.process for w in workers])
        pids = {w.process.pid: w for w in workers}
        for pid in pids:  # taskset execs: the pid is the worker's Python itself
            assert "worker" in Path(f"/proc/{pid}/cmdline").read_text(), f"pid {pid} is not mps worker"

        cos = {"Bucket": bucket, "Region": "r", "Object": "/in/film.mp4"}
        request = {
            "InputInfo": {"Type": "COS", "CosInputInfo": cos},
            "OutputDir": "/out/",
            "MediaProcessTask": {"TranscodeTaskSet": [TRANSCODE]},
        }
        templates = StoreTemplates(TemplateCatalog(load_presets()), store)
        load_before = loadavg()
        # Start-up (imports, connections) is not the transcode's: CPU counts from here.
        before = {pid: cpu_seconds(pid) for pid in [*pids, relay.pid]}
        sampler = Sampler(list(pids))
        sampler.start()
        log(f"{name}: submitting (load {load_before[0]:.2f}), cores {cores}, segment {segment:g} s")
        submitted, started = datetime.now(UTC), time.monotonic()
        task_id, _ = submit_task(request, store=store, broker=publisher, templates=templates)
        deadline = started + args.timeout
        while (status := store.get_task(task_id).status) != "FINISH":
            if time.monotonic() > deadline:
                raise SystemExit(f"{name}: task {task_id} not finished after {args.timeout:g} s")
            if any(w.process.poll() is not None for w in workers):
                raise SystemExit(f"{name}: a worker exited (see {logs})")
            time.sleep(0.2)
        wall = time.monotonic() - started
        sampler.stop.set()
        sampler.join()  # its last sample reads the workers' cutime now
        for pid, worker in pids.items():
            own, children = cpu_seconds(pid)
            worker.own, worker.children = own - before[pid][0], children - before[pid][1]
        relay_cpu = sum(cpu_seconds(relay.pid)) - sum(before[relay.pid])
        load_after = loadavg()
        for worker in workers:
            stop_process(worker.process)
        log(f"{name}: {status} after {wall:.1f} s; CPU {', '.join(f'{w.cpu:.1f}' for w in workers)} s")

        task, subtasks = store.get_task_detail(task_id)
        if task.err_code:
            raise SystemExit(f"{name}: task failed: {task.err_code} {task.message}")
        parent = subtasks[0]
        output = (parent.result or {})["TranscodeTask"]["Output"]
        local = scratch / "output.mp4"
        storage.get(bucket, output["Path"].lstrip("/"), local)
        facts = probe(local)
        chunks = [s for s in subtasks if s.kind == CHUNK_KIND]
        timeline = describe_timeline(submitted, store.task_history(task_id), subtasks, pids)
        for worker in workers:  # what the input download took on each worker (its log says)
            for line in (logs / f"worker{worker.core}.log").read_text().splitlines():
                if "input fetched" in line:
                    timeline.append(f"core {worker.core}: {line.split(': ', 1)[-1].split(': ', 1)[-1]}")
        (logs / "timeline.txt").write_text("\n".join(timeline) + "\n")
        video_chunks = sum(1 for s in chunks if "Chunk" in s.input)
        return ModeResult(
            name=name, cores=cores, segment=segment, wall=wall, workers=workers,
            sampled_children=sampler.children_cpu(), by_kind=sampler.by_kind,
            relay_cpu=relay_cpu,
            chunks=video_chunks, output=facts, load_before=load_before, load_after=load_after,
            load_during=sampler.loads, timeline=timeline,
        )  # fmt: skip


def describe_timeline(
    submitted: datetime, history: list[HistoryRecord], subtasks: list[SubtaskRecord], pids: dict[int, Worker]
) -> list[str]:
    """Where the wall time went, from the task's history: seconds after the submit."""

    def at(moment: datetime | None) -> float:
        if moment is None:
            return float("nan")
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return (moment - submitted).total_seconds()

    def core(detail: dict[str, Any]) -> str:
        host = str(detail.get("Host", ""))
        pid = int(host.rsplit(":", 1)[-1]) if host.rsplit(":", 1)[-1].isdigit() else -1
        return f"core {pids[pid].core}" if pid in pids else host

    hosts = {(h.index, h.attempt): core(h.detail) for h in history if h.event == "started"}
    lines = [f"{at(h.time):7.2f} s  {h.event:<9} sub-task {h.index} attempt {h.attempt} "
             f"{hosts.get((h.index, h.attempt), '')}".rstrip()
             for h in history if (h.index == 0 or h.index is None) and h.event != "delivered"]  # fmt: skip
    chunks = [s for s in subtasks if s.kind == CHUNK_KIND]
    if not chunks:
        return lines
    lines.append("chunks (start, end, seconds, where):")
    ends: dict[str, float] = {}
    for record in sorted(chunks, key=lambda s: at(s.begin_time)):
        job = ChunkJob.from_input(record.input)
        where = hosts.get((record.index, record.attempts), "?")
        begin, end = at(record.begin_time), at(record.finish_time)
        ends[where] = max(ends.get(where, 0.0), end)
        what = "audio" if job.chunk is None else f"chunk {job.chunk.index} ({job.chunk.frames} frames)"
        lines.append(f"  {begin:7.2f} {end:7.2f} {end - begin:6.2f} s  {where}  {what}")
    last = max(ends.values())
    first = min(at(s.begin_time) for s in chunks)
    split = next(at(h.time) for h in history if h.event == "split")
    join = max(at(h.time) for h in history if h.event == "started" and h.index == 0)
    done = max(at(h.time) for h in history if h.event == "finished")
    lines.append(
        f"phases: submit -> split {split:.2f} s, split -> first chunk {first - split:.2f} s, "
        f"chunks {last - first:.2f} s, last chunk -> join {join - last:.2f} s, join {done - join:.2f} s"
    )
    lines.append("idle tail (a worker done with chunks while the last chunk runs): "
                 + ", ".join(f"{w} {last - e:.2f} s" for w, e in sorted(ends.items())))  # fmt: skip
    return lines


# -- the report ---------------------------------------------------------------------------------


def verify(single: ModeResult, chunked: ModeResult) -> list[str]:
    """The checks B's output must pass against A's, and that the workers reaped their children;
    the failures (empty when all pass)."""
    a, b = single.output, chunked.output
    failures = []
    if a.frames != b.frames:
        failures.append(f"video frames {b.frames} != {a.frames}")
    if abs(a.video_seconds - b.video_seconds) > 1 / FPS + 1e-6:
        failures.append(f"video duration {b.video_seconds:.3f} s vs {a.video_seconds:.3f} s (> one frame)")
    if abs(a.audio_seconds - b.audio_seconds) > AAC_FRAME + 1e-6:
        failures.append(f"audio {b.audio_seconds:.3f} s vs {a.audio_seconds:.3f} s (> one AAC frame)")
    for r in (single, chunked):  # ffmpeg runs must land in cutime, or the CPU figures miss them
        reaped = sum(w.children for w in r.workers)
        if r.sampled_children > reaped + 1.0:
            failures.append(
                f"{r.name}: children seen alive used {r.sampled_children:.1f} s, cutime {reaped:.1f} s"
            )
    return failures


def render(args: argparse.Namespace, single: ModeResult, chunked: ModeResult, failures: list[str]) -> str:
    a, b = single, chunked

    def load(r: ModeResult) -> str:
        during = f"{min(r.load_during):.2f}-{max(r.load_during):.2f}" if r.load_during else "-"
        return f"{r.load_before[0]:.2f} / {during} / {r.load_after[0]:.2f}"

    def per_worker(r: ModeResult) -> str:
        return ", ".join(f"core {w.core}: {w.cpu:.1f}" for w in r.workers)

    def reaped(r: ModeResult) -> str:
        return f"{r.sampled_children:.1f} / {sum(w.children for w in r.workers):.1f} s"

    def out(r: ModeResult) -> str:
        o = r.output
        seconds = f"video {o.video_seconds:.3f} s, audio {o.audio_seconds:.3f} s"
        return f"{o.frames} frames, {seconds}, {o.size / 1e6:.1f} MB"

    n = len(b.workers)
    kinds = sorted(
        a.by_kind.keys() | b.by_kind.keys(), key=lambda k: -max(a.by_kind.get(k, 0), b.by_kind.get(k, 0))
    )
    breakdown = [
        (kind, a.by_kind.get(kind, 0.0), b.by_kind.get(kind, 0.0)) for kind in kinds
    ] + [("worker Pythons (fetch, upload, store, messages)", sum(w.own for w in a.workers),
          sum(w.own for w in b.workers))]  # fmt: skip
    rows = [
        ("wall, submit to FINISH", f"{a.wall:.1f} s", f"{b.wall:.1f} s"),
        ("CPU, workers + their ffmpeg", f"{a.cpu:.1f} s", f"{b.cpu:.1f} s"),
        ("CPU per worker (= per core)", per_worker(a), per_worker(b)),
        ("children: seen live / cutime", reaped(a), reaped(b)),
        ("relay CPU (not pinned)", f"{a.relay_cpu:.1f} s", f"{b.relay_cpu:.1f} s"),
        ("video chunks", "-", f"{b.chunks} (+ audio)"),
        ("output", out(a), out(b)),
        ("load avg 1 min: before / during / after", load(a), load(b)),
    ]  # fmt: skip
    lines = [
        f"Source: {args.seconds:g} s 1080p25 testsrc2 + sine (8 Mb/s); transcode 720p H.264 2.5 Mb/s "
        f"(x264 {args.preset}) + AAC 128k, MP4; store {'PostgreSQL' if args.postgres else 'SQLite'}; "
        f"{time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores.",
        "",
        f"| | A: 1 worker, core 0, unchunked | B: {n} workers, cores 0-{n - 1}, {b.segment:g} s segments |",
        "|---|---|---|",
        *(f"| {label} | {x} | {y} |" for label, x, y in rows),
        "",
        f"- speed-up, wall (A / B): **{a.wall / b.wall:.2f}x**",
        f"- speed-up by CPU critical path (A's CPU / B's busiest worker, load-independent): "
        f"**{a.cpu / b.busiest:.2f}x**",
        f"- share of its core the busiest worker got (CPU / wall): A {a.busiest / a.wall:.2f}, "
        f"B {b.busiest / b.wall:.2f} (below 1: other load; wall speed-up ~ CPU one x B's / A's)",
        f"- CPU overhead of chunking (B total / A total - 1): **{100 * (b.cpu / a.cpu - 1):+.1f} %**",
        f"- output size {100 * (b.output.size / a.output.size - 1):+.1f} % (extra keyframes at chunk starts)",
        "- checks (B vs A: same frames, video within a frame, audio within an AAC frame; ffmpeg in cutime): "
        + ("passed" if not failures else "FAILED: " + "; ".join(failures)),
        "",
        "Where the workers' CPU went (children's CPU by what they ran, attributed from cutime):",
        "",
        "| | A | B | B - A |",
        "|---|---|---|---|",
        *(f"| {kind} | {x:.1f} s | {y:.1f} s | {y - x:+.1f} s |" for kind, x, y in breakdown),
        f"| total | {a.cpu:.1f} s | {b.cpu:.1f} s | {b.cpu - a.cpu:+.1f} s |",
        "",
        "B's timeline (seconds after the submit):",
        "",
        "```",
        *b.timeline,
        "```",
        "",
        "A's timeline:",
        "",
        "```",
        *a.timeline,
        "```",
    ]
    return "\n".join(lines) + "\n"


#: The section of ``bench/RESULTS.md`` this benchmark owns.
START_MARK, END_MARK = "<!-- segments-service:start -->", "<!-- segments-service:end -->"
#: The issue's goals: wall speed-up on two workers, and the chunking's CPU overhead.
SPEEDUP_GOAL, OVERHEAD_GOAL = 1.8, 5.0


def results_section(args: argparse.Namespace, a: ModeResult, b: ModeResult, failures: list[str]) -> str:
    """The goals and the headline figures, for ``bench/RESULTS.md`` (the full report is ``--out``)."""
    wall, path = a.wall / b.wall, a.cpu / b.busiest
    overhead = 100 * (b.cpu / a.cpu - 1)
    load = max(max(r.load_during, default=0.0) for r in (a, b))
    lines = [
        START_MARK,
        "## Segment-parallel transcode through the service (`make bench-segments`)",
        "",
        f"{args.seconds:g} s 1080p25 source, 720p H.264 2.5 Mb/s + AAC 128k MP4 (x264 {args.preset}); "
        f"A: one `mps worker` pinned to core 0, unchunked; B: {len(b.workers)} workers pinned to a core "
        f"each (`taskset`, standing in for hosts), `MPS_SEGMENT_SECONDS={b.segment:g}` ({b.chunks} video "
        f"chunks + the audio); SeaweedFS, RabbitMQ, relay, {'PostgreSQL' if args.postgres else 'SQLite'}; "
        f"{time.strftime('%Y-%m-%d %H:%M')}, highest 1-minute load during the runs {load:.1f}. Details, CPU "
        f"by kind of run and B's timeline: `{_shown(args.out)}`.",
        "",
        "| | A: 1 worker | B: chunked |",
        "|---|---|---|",
        f"| wall, submit to FINISH | {a.wall:.1f} s | {b.wall:.1f} s |",
        f"| CPU, workers + their ffmpeg | {a.cpu:.1f} s | {b.cpu:.1f} s |",
        f"| busiest worker's CPU | {a.busiest:.1f} s | {b.busiest:.1f} s |",
        f"| output | {a.output.frames} frames, {a.output.video_seconds:.3f} s | "
        f"{b.output.frames} frames, {b.output.video_seconds:.3f} s |",
        "",
        "| goal | measured | holds |",
        "|---|---|---|",
        f"| two workers at least {SPEEDUP_GOAL:g}x faster (wall) | {wall:.2f}x | "
        f"{'yes' if wall >= SPEEDUP_GOAL else 'no'} |",
        f"| the same by CPU critical path (A's CPU / B's busiest worker: load-independent) | {path:.2f}x | "
        f"{'yes' if path >= SPEEDUP_GOAL else 'no'} |",
        f"| chunk overhead (split, join, extra keyframes) under {OVERHEAD_GOAL:g} % of CPU | "
        f"{overhead:+.1f} % | {'yes' if overhead < OVERHEAD_GOAL else 'no'} |",
        f"| chunked output = unchunked (frames, durations) | {'same' if not failures else 'differs'} | "
        f"{'yes' if not failures else 'no'} |",
        END_MARK,
        "",
    ]
    return "\n".join(lines)


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def wait_for_idle(limit: float, patience: float) -> None:
    """Poll the 1-minute load average every 30 s until it is below ``limit`` (at most ``patience`` s)."""
    deadline = time.monotonic() + patience
    while (load := loadavg()[0]) >= limit:
        if time.monotonic() > deadline:
            log(f"load {load:.2f} still >= {limit:g} after {patience:g} s: running anyway")
            return
        log(f"load {load:.2f} >= {limit:g}: waiting")
        time.sleep(30)
    log(f"load {load:.2f} < {limit:g}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=600.0, help="source length")
    parser.add_argument("--segment", type=float, default=30.0, help="MPS_SEGMENT_SECONDS of mode B")
    parser.add_argument("--workers", type=int, default=2, help="workers (cores) of mode B")
    parser.add_argument("--preset", default="veryfast", help="MPS_X264_PRESET")
    parser.add_argument("--postgres", action="store_true", help="store on PostgreSQL (MPS_BENCH_POSTGRES)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds a mode may take")
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="LOAD",
        help="first wait for the 1-minute load average to fall below LOAD (0: don't)",
    )
    parser.add_argument("--wait-max", type=float, default=1200.0, help="seconds --wait-idle waits at most")
    parser.add_argument("--scratch", type=Path, default=None, help="services' data (default: system temp)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 20 s source, 5 s segments")
    parser.add_argument("--work", type=Path, default=WORK, help="the source cache and the service logs")
    parser.add_argument(
        "--out", type=Path, default=None, help="the full report (default: WORK/SEGMENTS-service.md)"
    )
    parser.add_argument("--results", type=Path, default=BENCH / "RESULTS.md",
                        help="the report whose segments section is replaced (bench/RESULTS.md)")  # fmt: skip
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.segment = 20.0, 5.0
    args.out = args.out or args.work / "SEGMENTS-service.md"
    if args.workers > (os.cpu_count() or 1):
        parser.error(f"--workers {args.workers}: only {os.cpu_count()} cores")
    source = make_source(args.seconds, args.work)
    if args.wait_idle > 0:
        wait_for_idle(args.wait_idle, args.wait_max)
    logs = args.work / "segments-service" / time.strftime("%Y%m%d-%H%M%S")
    single = run_mode("A", [0], 0.0, source, args, logs / "A")
    chunked = run_mode("B", list(range(args.workers)), args.segment, source, args, logs / "B")
    failures = verify(single, chunked)
    report = render(args, single, chunked, failures)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report)
    print(report)
    replace_section(args.results, START_MARK, END_MARK, results_section(args, single, chunked, failures))
    log(f"wrote {args.out}; service logs in {logs}")
    if failures:
        print("OUTPUT CHECK FAILED: " + "; ".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
