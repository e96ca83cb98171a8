"""``make bench``: mps process vs the naive and the best hand-written ffmpeg pipelines.

Makes the reference inputs (lavfi, cached in ``bench/work/``), then runs the standard workflow
through ``mps process``, ``bench/naive.py`` and ``bench/best.py`` alternately (A B C A B C ...),
checks that the three wrote the same outputs, compares sprites of the 10-minute clip, measures
mps's peak memory on both clips, and writes ``bench/RESULTS.md``. Every pipeline uses the x264
preset ``MPS_X264_PRESET`` (default ``veryfast``). See the module docstrings of ``naive``,
``best`` and ``measure`` for what each pipeline does and how it is measured.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import verify
from inputs import CLIP_10MIN, CLIP_20S, CLIP_60S, QUICK_LONG, QUICK_SHORT, ensure_clip, ensure_logo
from measure import Sample, measure
from report import Goal, Series, commands_section, goals_section, machine, ratio_table, series_table
from workload import BENCH, LONG_SPRITE, SPRITE_TASK_FILE, TASK_FILE, TEMPLATES_FILE, check_task_files
from workloads import WORKLOADS, Comparison, comparison_goals, comparison_section, comparisons

ROOT = BENCH.parent
#: Builds a pipeline's argv from (source, output directory, log file).
Builder = Callable[[Path, Path, Path], list[str]]
#: Checks the outputs of one round (pipeline name -> its output directory); raises on a mismatch.
Checker = Callable[[dict[str, Path]], None]


@dataclass(frozen=True)
class Setup:
    """Everything fixed for one benchmark: inputs, templates, preset, environment."""

    short: Path
    long: Path
    clip20: Path
    logo: Path
    templates: Path
    preset: str
    work: Path
    env: dict[str, str]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description="mps vs naive vs best ffmpeg pipelines")
    parser.add_argument("--runs", type=int, default=3, help="runs of each pipeline (alternating)")
    parser.add_argument("--quick", action="store_true", help="tiny inputs: a smoke run of the harness")
    parser.add_argument(
        "--out", type=Path, help="the report (default: RESULTS.md; work/RESULTS-<workloads>.md for a subset)"
    )
    parser.add_argument("--work", type=Path, default=BENCH / "work", help="inputs and scratch outputs")
    parser.add_argument("--workload", action="append", choices=WORKLOADS, dest="workloads",
                        help="run only this workload (repeatable; default: all of them)")  # fmt: skip
    args = parser.parse_args(argv)
    args.workloads = args.workloads or list(WORKLOADS)
    if args.out is None:
        partial = sorted(WORKLOADS) != sorted(args.workloads)
        args.out = args.work / f"RESULTS-{'+'.join(args.workloads)}.md" if partial else BENCH / "RESULTS.md"
    return args


def prepare(args: argparse.Namespace) -> Setup:
    """Make the inputs and the logo, and a templates file whose logo path is absolute."""
    check_task_files()
    work = args.work.resolve()
    short_clip, long_clip = (QUICK_SHORT, QUICK_LONG) if args.quick else (CLIP_60S, CLIP_10MIN)
    log(f"inputs in {work} (made once, then reused)")
    short, long = ensure_clip(short_clip, work), ensure_clip(long_clip, work)
    clip20 = ensure_clip(QUICK_SHORT if args.quick else CLIP_20S, work)
    logo = ensure_logo(work)
    templates = json.loads(TEMPLATES_FILE.read_text())
    templates["WatermarkTemplateSet"][0]["ImageTemplate"]["ImageUrl"] = str(logo)
    resolved = work / "templates.json"
    resolved.write_text(json.dumps(templates, indent=1))
    preset = os.environ.get("MPS_X264_PRESET", "veryfast")
    env = {**os.environ, "MPS_X264_PRESET": preset, "PYTHONPATH": str(ROOT)}
    # mps as installed: with its bytecode compiled. A pip install compiles it, and Python writes it
    # on a first import, unless PYTHONDONTWRITEBYTECODE is set (as on some CI machines): then every
    # `mps process` would compile mps's modules again, about 0.1 s of each start.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "mps")], check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    return Setup(short, long, clip20, logo, resolved, preset, work, env)


def log(message: str) -> None:
    """Progress on stderr."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def mps_builder(setup: Setup, task: Path) -> Builder:
    """``mps process`` with ``task`` and the benchmark's templates."""

    def build(source: Path, out: Path, _log: Path) -> list[str]:
        return [sys.executable, "-m", "mps", "process", str(source), "--task", str(task),
                "--templates", str(setup.templates), "--output-dir", str(out), "-q"]  # fmt: skip

    return build


def script_builder(setup: Setup, script: str, *extra: str) -> Builder:
    """``bench/naive.py`` or ``bench/best.py`` with the benchmark's logo and preset."""

    def build(source: Path, out: Path, log_file: Path) -> list[str]:
        return [sys.executable, str(BENCH / script), str(source), str(out), "--logo", str(setup.logo),
                "--preset", setup.preset, "--log", str(log_file), *extra]  # fmt: skip

    return build


def run_once(setup: Setup, name: str, build: Builder, source: Path) -> tuple[Sample, Path]:
    """One measured run of one pipeline into a fresh directory."""
    out, log_file = setup.work / "out" / name, setup.work / "out" / f"{name}.commands.json"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    log_file.unlink(missing_ok=True)
    sample = measure(build(source, out, log_file), setup.env, ROOT, setup.work / "out" / f"{name}.stderr")
    if log_file.exists():  # naive/best log every ffmpeg exactly (wait4), mps is polled
        records = json.loads(log_file.read_text())
        sample.commands = [shlex.join(r["argv"]) for r in records]
        sample.ffmpeg_rss_kib = max([sample.ffmpeg_rss_kib, *(r["max_rss_kib"] for r in records)])
    load = os.getloadavg()[0]
    log(f"{name}: {sample.wall:.1f} s wall, {sample.cpu:.1f} s CPU, "
        f"ffmpeg peak {sample.ffmpeg_rss_kib / 1024:.0f} MiB, load {load:.1f}")  # fmt: skip
    return sample, out


class Phase:
    """Pipelines compared on one input; each call to :meth:`run_round` runs each of them once."""

    def __init__(
        self, setup: Setup, pipelines: dict[str, Builder], source: Path, check: Checker, prefix: str = ""
    ) -> None:
        self.setup, self.pipelines, self.source, self.check = setup, pipelines, source, check
        self.series = [Series(name) for name in pipelines]
        #: Where this phase's outputs go under ``work/out`` (phases of one name stay apart).
        self.prefix = prefix

    def run_round(self) -> None:
        """Every pipeline once, in order; the first round's outputs are checked."""
        outs = {}
        for series in self.series:
            build = self.pipelines[series.name]
            label = f"{self.prefix}-{series.name}" if self.prefix else series.name
            sample, outs[series.name] = run_once(self.setup, label, build, self.source)
            series.samples.append(sample)
            series.commands = series.commands or sample.commands
        if len(self.series[0].samples) == 1:
            self.check(outs)


def same_outputs(outs: dict[str, Path]) -> None:
    """Every pipeline wrote what the first one did (raises :class:`verify.Mismatch`)."""
    names = list(outs)
    reference = verify.describe(outs[names[0]])
    if not reference:
        raise verify.Mismatch(f"{names[0]} wrote nothing")
    for name in names[1:]:
        verify.compare(reference, verify.describe(outs[name]), f"{name} vs {names[0]}")
    log(f"outputs identical in kind: {len(reference)} files each")


def no_duplicate_tiles(outs: dict[str, Path]) -> dict[str, float]:
    """The smallest difference between neighbouring tiles of each pipeline's long sprite."""
    smallest = {}
    for name, out in outs.items():
        vtt = next(out.glob(f"*_imageSprite_{LONG_SPRITE}.vtt"))
        differences = verify.adjacent_differences(vtt)
        smallest[name] = min(differences, default=float("inf"))
    return smallest


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; the report is rewritten after every round, so a long run is never lost.

    Each round runs every selected workload once, each pipeline of it in turn (mps, naive, best),
    so the pipelines of a workload alternate; the first round of ``standard`` also runs mps's
    standard workflow on the long clip (peak memory against duration).
    """
    args = parse_args(argv)
    setup = prepare(args)
    state = Results(time.strftime("%Y-%m-%d %H:%M"), [os.getloadavg()[0]], workloads=args.workloads)
    state.uptime = uptime()
    phases = build_phases(setup, state, args.workloads)
    for round_number in range(1, args.runs + 1):
        state.rounds = round_number
        for phase, what, first_only in phases:
            if first_only and round_number > 1:
                continue
            log(f"round {round_number}/{args.runs}: {what}")
            phase.run_round()
            state.loads.append(os.getloadavg()[0])
            state.uptime_now = uptime()
            write_report(args, setup, state)
    print(args.out.read_text())
    return 0


def build_phases(setup: Setup, state: Results, selected: Sequence[str]) -> list[tuple[Phase, str, bool]]:
    """The phases of the selected workloads: (phase, what it is, whether only the first round runs it)."""
    phases: list[tuple[Phase, str, bool]] = []
    if "standard" in selected:
        standard = Phase(setup, {
            "mps": mps_builder(setup, TASK_FILE),
            "naive": script_builder(setup, "naive.py"),
            "best": script_builder(setup, "best.py"),
        }, setup.short, same_outputs)  # fmt: skip
        long_mps = Phase(
            setup, {"mps (long input)": standard.pipelines["mps"]}, setup.long, lambda outs: None
        )
        state.main, state.long_mps = standard.series, long_mps.series[0]
        phases.append((standard, f"standard workflow on {setup.short.name}", False))
    if "long-sprite" in selected:

        def check_sprites(outs: dict[str, Path]) -> None:
            same_outputs(outs)
            state.smallest.update(no_duplicate_tiles(outs))

        sprites = Phase(setup, {
            "mps sprite": mps_builder(setup, SPRITE_TASK_FILE),
            "naive sprite (decode all)": script_builder(setup, "naive.py", "--long-sprite"),
            "best sprite (seek)": script_builder(setup, "best.py", "--long-sprite", "seek"),
            "best sprite (nokey)": script_builder(setup, "best.py", "--long-sprite", "nokey"),
        }, setup.long, check_sprites)  # fmt: skip
        state.sprites = sprites.series
        phases.append((sprites, f"sprite of {setup.long.name}", False))
    for comparison in comparisons():
        if comparison.key not in selected:
            continue
        source = setup_source(setup, comparison)
        phase = Phase(setup, {
            "mps": mps_builder(setup, comparison.task),
            "naive": script_builder(setup, *comparison.naive),
            "best": script_builder(setup, *comparison.best),
        }, source, same_outputs, prefix=comparison.key)  # fmt: skip
        state.comparisons[comparison.key] = phase.series
        phases.append((phase, f"{comparison.key} on {source.name}", False))
    if "standard" in selected:
        phases.append((long_mps, f"mps memory: the standard workflow on {setup.long.name}", True))
    return phases


def setup_source(setup: Setup, comparison: Comparison) -> Path:
    """The input a comparison runs on."""
    return {"short": setup.short, "long": setup.long, "clip20": setup.clip20}[comparison.source]


@dataclass
class Results:
    """What has been measured so far."""

    started: str
    loads: list[float]
    workloads: Sequence[str] = WORKLOADS
    commit: str = field(default_factory=lambda: git_head())
    main: list[Series] = field(default_factory=list)
    sprites: list[Series] = field(default_factory=list)
    long_mps: Series | None = None
    smallest: dict[str, float] = field(default_factory=dict)
    comparisons: dict[str, list[Series]] = field(default_factory=dict)
    rounds: int = 0
    #: ``uptime`` when the run started and after its latest phase.
    uptime: str = ""
    uptime_now: str = ""


def uptime() -> str:
    """``uptime``'s line: the load other work puts on the shared machine."""
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def write_report(args: argparse.Namespace, setup: Setup, state: Results) -> None:
    """RESULTS.md and the raw samples (``work/samples.json``) as they stand."""
    text = render(args, setup, state)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    everything = [*state.main, *state.sprites, *([state.long_mps] if state.long_mps else [])]
    raw = {s.name: [asdict(x) for x in s.samples] for s in everything}
    for key, series in state.comparisons.items():
        raw.update({f"{key}/{s.name}": [asdict(x) for x in s.samples] for s in series})
    (setup.work / "samples.json").write_text(json.dumps(raw, indent=1))
    log(f"wrote {args.out} (round {state.rounds} of {args.runs})")


def evaluate(state: Results) -> list[Goal]:
    """The issues' goals against the medians, for the workloads that ran."""
    goals: list[Goal] = []
    if state.main:
        mps, naive, best = state.main
        long_mps = state.long_mps
        assert long_mps is not None
        share = (naive.wall / mps.wall) / (naive.wall / best.wall)
        share_cpu = (naive.cpu / mps.cpu) / (naive.cpu / best.cpu)
        peak = max(mps.peak_mib, long_mps.peak_mib)
        goals += [
            Goal("mps within 1.15x of best (wall; CPU)", f"{mps.wall / best.wall:.2f}; {mps.cpu / best.cpu:.2f}",
                 mps.wall / best.wall <= 1.15 and mps.cpu / best.cpu <= 1.15),
            Goal("naive/mps at least 0.85 of naive/best (wall; CPU)", f"{share:.2f}; {share_cpu:.2f}",
                 share >= 0.85 and share_cpu >= 0.85),
            Goal("every ffmpeg of mps at most 500 MiB (standard workflow, both clips)", f"{peak:.0f} MiB",
                 peak <= 500),
            Goal("mps peak memory flat with duration (long / short, at most 1.1)",
                 f"{long_mps.peak_mib:.0f} / {mps.peak_mib:.0f} MiB", long_mps.peak_mib <= 1.1 * mps.peak_mib),
        ]  # fmt: skip
    if state.sprites:
        mps_sprite, _, *best_sprites = state.sprites
        mps_smallest = state.smallest.get("mps sprite", math.nan)
        fastest = min(best_sprites, key=lambda s: s.wall)
        goals += [
            Goal(f"long sprite within 1.2x of the best ({fastest.name}), wall",
                 f"{mps_sprite.wall / fastest.wall:.2f}", mps_sprite.wall / fastest.wall <= 1.2),
            Goal("long sprite: no duplicate tiles (smallest neighbour difference, grey levels)",
                 f"{mps_smallest:.1f} (duplicate below {verify.DUPLICATE_BELOW})",
                 mps_smallest >= verify.DUPLICATE_BELOW),
            Goal("long sprite: every ffmpeg of mps at most 500 MiB", f"{mps_sprite.peak_mib:.0f} MiB",
                 mps_sprite.peak_mib <= 500),
        ]  # fmt: skip
    for comparison in comparisons():
        if comparison.key in state.comparisons:
            goals += comparison_goals(comparison, state.comparisons[comparison.key])
    return goals


def render(args: argparse.Namespace, setup: Setup, state: Results) -> str:
    """The Markdown report."""
    every_series = [*state.main, *state.sprites, *(s for v in state.comparisons.values() for s in v)]
    runs_done = [len(s.samples) for s in every_series]
    complete = state.rounds == args.runs and all(n == args.runs for n in runs_done)
    partial = "" if complete else f" **Partial: round {state.rounds} of {args.runs} under way.**"
    subset = (
        "".join(f" --workload {w}" for w in state.workloads)
        if list(state.workloads) != list(WORKLOADS)
        else ""
    )
    lines = [
        "# Benchmark: mps process vs naive vs best ffmpeg",
        "",
        f"Made by `make bench` (`bench/run.py --runs {args.runs}{' --quick' if args.quick else ''}{subset}`), "
        f"started {state.started}. Medians of alternating runs (A B C A B C ...), x264 preset "
        f"`{setup.preset}` everywhere, mps at commit `{state.commit}` (when the run started).{partial}",
        "",
        "## Machine",
        "",
        *machine(),
        f"- 1-minute load average at start / after each phase: {', '.join(f'{x:.1f}' for x in state.loads)} "
        f"(above {os.cpu_count()} means other work shared the cores during the runs)",
        f"- `uptime` at the start: `{state.uptime}`; after the latest phase: `{state.uptime_now}`. The "
        "machine is shared with other engineers' tests: single runs vary by 10-20 %, so compare the "
        "ratios of medians of alternating runs, not seconds.",
        "",
        "## Inputs",
        "",
        f"- short: `{setup.short.name}`; 20 s: `{setup.clip20.name}`; long: `{setup.long.name}` "
        "(see `bench/inputs.py`)",
        "- standard workflow: `bench/task.json` + `bench/templates.json`; long sprite: "
        "`bench/sprite_task.json`; the other workloads: `bench/*_task.json` (see `bench/workloads.py`)",
        "",
        "## Goals",
        "",
        *goals_section(evaluate(state)),
        "",
        *standard_sections(setup, state),
    ]
    for comparison in comparisons():
        if comparison.key in state.comparisons:
            lines += comparison_section(
                comparison, state.comparisons[comparison.key], setup_source(setup, comparison)
            )
    lines += [
        "Outputs of every workload checked identical in kind across its pipelines (names, sizes, durations",
        "±0.1 s, packet counts of every audio and video file and HLS segment, sprite sheet sizes, WebVTT cue",
        "counts, playlist segment and variant counts, DASH Representations).",
        "",
        "## Commands (first run of each pipeline)",
        "",
        *commands_section(every_series + ([state.long_mps] if state.long_mps else []), state.comparisons),
    ]
    return "\n".join(lines)


def standard_sections(setup: Setup, state: Results) -> list[str]:
    """The standard workflow, the long sprite and mps's memory against duration (those that ran)."""
    lines: list[str] = []
    if state.main:
        mps, naive, best = state.main
        lines += ["## Standard workflow", "", "`--workload standard`", "", *series_table(state.main), "",
                  *ratio_table(mps, naive, best), ""]  # fmt: skip
    if state.sprites:
        lines += ["## Sprite of the long clip", "", "`--workload long-sprite`", "", *series_table(state.sprites), "",
                  "Smallest mean grey difference between neighbouring tiles: "
                  + ", ".join(f"{name} {value:.1f}" for name, value in state.smallest.items()), ""]  # fmt: skip
    if state.main and state.long_mps is not None:
        long_mps = state.long_mps
        lines += [
            "## mps peak memory against input duration",
            "",
            f"- standard workflow on `{setup.short.name}`: largest ffmpeg {state.main[0].peak_mib:.0f} MiB",
            f"- standard workflow on `{setup.long.name}`: largest ffmpeg {long_mps.peak_mib:.0f} MiB "
            f"({long_mps.wall:.0f} s wall, {long_mps.cpu:.0f} s CPU)",
            "",
        ]
    return lines


def git_head() -> str:
    """The short commit of the work tree, marked when mps/ has uncommitted changes."""
    git = ["git", "-C", str(ROOT)]
    head = subprocess.run([*git, "rev-parse", "--short=10", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run([*git, "status", "--porcelain", "--", "mps"], capture_output=True, text=True)
    commit = head.stdout.strip() or "unknown"
    return f"{commit} + uncommitted changes in mps/" if dirty.stdout.strip() else commit


if __name__ == "__main__":
    sys.exit(main())
