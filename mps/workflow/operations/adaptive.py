"""Run an AdaptiveDynamicStreaming sub-task: one ffmpeg run for the whole ladder, then the files
renamed to their output names and the manifest written.

ffmpeg writes into the sub-task's scratch directory under names of our own
(:class:`~mps.media.ops.ladder.LadderFiles`); each file is then moved to its Tencent name
(``OutputObjectPath``, ``SubStreamObjectName``, ``SegmentObjectName``, see
:class:`~mps.media.naming.LadderNamer`) and every playlist or MPD is rewritten to point at the new
names by relative URIs. As for HLS transcodes, this keeps user-chosen names out of ffmpeg's
patterns. For HLS the master playlist is written by mps from the measured segment sizes
(:func:`~mps.media.ops.ladder_manifest.build_master_playlist`).
"""

from __future__ import annotations

import logging
import posixpath
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from mps.errors import ProcessingError
from mps.media.command import Command
from mps.media.naming import LadderNamer
from mps.media.ops.ladder import AAC_CODECS, Ladder, LadderFiles, build_ladder, plan_ladder
from mps.media.ops.ladder_manifest import (
    AudioGroup,
    MediaPlaylist,
    Variant,
    avc_codecs,
    build_master_playlist,
    parse_media_playlist,
    rename_mpd_base_urls,
    rename_playlist_uris,
)
from mps.media.specs import AdaptiveSpec, Subtask
from mps.models.results import AdaptiveDynamicStreamingInfoItem
from mps.models.tasks import AdaptiveDynamicStreamingTaskInput
from mps.models.templates import AdaptiveDynamicStreamingTemplate
from mps.models.validation import parse_wire
from mps.workflow.assets import default_font_file
from mps.workflow.context import OperationContext

_log = logging.getLogger("mps.workflow.operations.adaptive")

__all__ = ["LadderCommand", "effective_template", "make_ladder", "run_adaptive"]


def effective_template(
    template: AdaptiveDynamicStreamingTemplate, request: AdaptiveDynamicStreamingTaskInput
) -> AdaptiveDynamicStreamingTemplate:
    """The template a task runs: its ``StreamInfos`` replaced by the task's ``StdExtStreamInfos`` if any.

    Raises:
        InvalidParameterError: ``InvalidParameterValue.<Field>``: the replaced ladder does not
            validate (e.g. video streams in a PureAudio template).
    """
    if not request.StdExtStreamInfos:
        return template
    data = {**template.model_dump(), "StreamInfos": [s.model_dump() for s in request.StdExtStreamInfos]}
    return parse_wire(AdaptiveDynamicStreamingTemplate, data, where="StdExtStreamInfos")


def run_adaptive(subtask: Subtask, ctx: OperationContext) -> AdaptiveDynamicStreamingInfoItem:
    """Make the adaptive streaming ladder one AdaptiveDynamicStreaming sub-task asks for.

    Parameters:
        subtask: a sub-task whose spec is an :class:`AdaptiveSpec` and request an
            :class:`AdaptiveDynamicStreamingTaskInput`.
        ctx: runner, probe, output root, scratch directory, progress callback and font.

    Returns:
        The result item: ``Definition``, ``Package``, ``Path`` (the master playlist or MPD).
        ``Storage`` is left for the executor.

    Raises:
        InvalidParameterError: bad names or codecs.
        SourceError: the source lacks the streams the ladder needs.
        ProcessingError: ffmpeg failed, or wrote files the manifests do not match.
    """

    def whole(spec: AdaptiveSpec, ladder: Ladder, files: LadderFiles, font: str | None) -> Command:
        return build_ladder(
            spec, ladder, ctx.meta, ctx.source, files, encoders=ctx.runner.encoders(), font_file=font
        )

    return make_ladder(subtask, ctx, whole)


#: The ffmpeg command that writes a ladder's scratch files (the whole-input encode, or the
#: packaging of chunks made apart: :mod:`mps.media.ops.ladder_chunks`).
LadderCommand = Callable[[AdaptiveSpec, Ladder, LadderFiles, str | None], Command]


def make_ladder(
    subtask: Subtask, ctx: OperationContext, command_for: LadderCommand
) -> AdaptiveDynamicStreamingInfoItem:
    """Run the command that writes the ladder's scratch files, then publish them under their output
    names with the manifest (see :func:`run_adaptive`)."""
    spec, request = _inputs(subtask)
    ladder = plan_ladder(spec.template, ctx.meta)
    for skipped in ladder.skipped:
        _log.info("definition %s: stream %d not made: %s", spec.definition, skipped.stream, skipped.reason)
    names = LadderNamer(
        ctx.namer, request.OutputObjectPath, request.SubStreamObjectName, request.SegmentObjectName
    )
    package = "mpd" if ladder.package == "MPEG-DASH" else "m3u8"
    manifest = names.manifest(package)
    files = _scratch(ctx, ladder)
    text_marks = any(mark.kind == "text" and not mark.font_file for mark in spec.watermarks)
    font = (ctx.font_file or default_font_file()) if text_marks else ctx.font_file
    command = command_for(spec, ladder, files, font)
    ctx.runner.run(command, on_progress=ctx.on_progress, timeout=ctx.timeout)
    publish = _Publisher(ctx, names, manifest, ladder, files)
    if ladder.package == "MPEG-DASH":
        publish.dash()
    else:
        publish.hls()
    return AdaptiveDynamicStreamingInfoItem(
        Definition=spec.definition, Package=ladder.package, Path="/" + manifest
    )


def _inputs(subtask: Subtask) -> tuple[AdaptiveSpec, AdaptiveDynamicStreamingTaskInput]:
    spec, request = subtask.spec, subtask.request
    if not isinstance(spec, AdaptiveSpec) or not isinstance(request, AdaptiveDynamicStreamingTaskInput):
        raise TypeError(f"run_adaptive got a {type(spec).__name__} sub-task")
    return spec, request


def _scratch(ctx: OperationContext, ladder: Ladder) -> LadderFiles:
    """An empty scratch tree for ffmpeg (emptied in case a redelivered run left files)."""
    files = LadderFiles(ctx.workdir / "ladder")
    shutil.rmtree(files.root, ignore_errors=True)
    files.root.mkdir(parents=True)
    if ladder.package == "HLS":
        for number in range(len(ladder.rungs) + len(ladder.audios)):
            files.directory(number).mkdir()
    return files


@dataclass(frozen=True)
class _Published:
    """A sub-stream once moved to its output names: its key and its measured bitrates."""

    key: str
    peak: int
    average: int
    codecs: str
    version: int


@dataclass
class _Publisher:
    """Moves a finished ladder from scratch to its output names and writes its manifest."""

    ctx: OperationContext
    names: LadderNamer
    manifest: str
    ladder: Ladder
    files: LadderFiles

    def hls(self) -> None:
        folder = posixpath.dirname(self.manifest)
        audios = [self._sub_stream(self.ladder.audio_number(i)) for i in range(len(self.ladder.audios))]
        groups = [
            AudioGroup(
                f"audio{i}",
                f"AAC {audio.Bitrate} kbps" if audio.Bitrate else "AAC",
                _relative(p.key, folder),
                audio.AudioChannel or 2,
                p.peak,
                p.average,
            )  # fmt: skip
            for i, (audio, p) in enumerate(zip(self.ladder.audios, audios, strict=True))
        ]
        variants = []
        for rung in self.ladder.rungs:
            made = self._sub_stream(rung.number)
            group = groups[rung.audio] if rung.audio is not None else None
            codecs = made.codecs + (f",{AAC_CODECS}" if group else "")
            variants.append(Variant(_relative(made.key, folder), made.peak, made.average, codecs,
                                    rung.size, rung.fps, group))  # fmt: skip
        if not self.ladder.rungs:  # an audio-only ladder: each rendition is a variant of its own
            variants = [Variant(g.uri, g.peak, g.average, AAC_CODECS) for g in groups]
            groups = []
        version = max([3, *(p.version for p in audios)])
        text = build_master_playlist(variants, groups, version)
        self.ctx.output_path(self.manifest).write_text(text, encoding="utf-8")

    def _sub_stream(self, number: int) -> _Published:
        """Move one HLS sub-stream's files to their names, write its playlist, measure it."""
        written = self.files.playlist(number)
        text = written.read_text(encoding="utf-8")
        playlist = parse_media_playlist(text)
        if not playlist.segments:
            raise ProcessingError(f"ffmpeg wrote an HLS playlist without segments ({written.name})")
        key = self.names.sub_stream(self.manifest, number, "m3u8")
        renames, sizes, first = self._move_media(playlist, number, key)
        codecs = self._codecs(first) if number < len(self.ladder.rungs) else AAC_CODECS
        self.ctx.output_path(key).write_text(rename_playlist_uris(text, renames), encoding="utf-8")
        peak, average = playlist.rates(sizes)
        return _Published(key, peak, average, codecs, playlist.version)

    def _move_media(
        self, playlist: MediaPlaylist, number: int, key: str
    ) -> tuple[dict[str, str], dict[str, int], Path]:
        """Move the files a playlist names to their output names.

        Returns:
            The URI renames (relative to the sub-stream playlist), the files' sizes by old URI, and
            the local path of the first file (the init section, or the first segment).
        """
        folder = self.files.directory(number)
        renames: dict[str, str] = {}
        sizes: dict[str, int] = {}
        moved: list[Path] = []
        for uri in playlist.uris:
            source = folder / uri
            if not source.is_file():
                raise ProcessingError(f"ffmpeg listed {uri!r} but did not write it")
            target = self.names.segment(self.manifest, number, *self._segment_name(playlist, uri, len(moved)))
            sizes[uri] = source.stat().st_size
            moved.append(Path(shutil.move(source, self.ctx.output_path(target))))
            renames[uri] = _relative(target, posixpath.dirname(key))
        return renames, sizes, moved[0]

    def _segment_name(self, playlist: MediaPlaylist, uri: str, index: int) -> tuple[int | str, str]:
        """``({segmentNumber}, {format})`` of a file: ``init``/``mp4`` for a separate fMP4 init
        section, else its 0-based number among the media files (one file for byte ranges)."""
        if playlist.init is not None and not self.ladder.byterange:
            return ("init", "mp4") if uri == playlist.init else (index - 1, "m4s")
        return index, "mp4" if self.ladder.fmp4 else "ts"

    @staticmethod
    def _codecs(first: Path) -> str:
        """The RFC 6381 codec of a video rung, read from its first file."""
        with first.open("rb") as handle:
            found = avc_codecs(handle.read(1 << 16))
        if found is None:
            raise ProcessingError(f"no H.264 parameter set found in {first.name}")
        return found

    def dash(self) -> None:
        folder = posixpath.dirname(self.manifest)
        renames: dict[str, str] = {}
        for number in range(len(self.ladder.rungs) + len(self.ladder.audios)):
            source = self.files.dash_stream(number)
            if not source.is_file():
                raise ProcessingError(f"ffmpeg did not write DASH stream {number}")
            key = self.names.sub_stream(self.manifest, number, "mp4")
            shutil.move(source, self.ctx.output_path(key))
            renames[source.name] = _relative(key, folder)
        text = rename_mpd_base_urls(self.files.mpd.read_text(encoding="utf-8"), renames)
        self.ctx.output_path(self.manifest).write_text(text, encoding="utf-8")


def _relative(key: str, folder: str) -> str:
    """``key`` as a URI relative to ``folder`` (both output keys), percent-encoded."""
    return quote(posixpath.relpath(key, folder or "."))
