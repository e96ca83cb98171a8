"""Adaptive streaming: a template and the source's probe -> the rungs to make and one ffmpeg command (pure).

Choices that are ours, where Tencent's contract is silent (abr.md):

One decode
    Every rung comes from one decode of the source: the rungs' sizes are made by
    :class:`~mps.media.frames.SharedFrames` (one ``split``, smaller rungs scaled from larger ones),
    and every rung is encoded in the same ffmpeg process.
Switchable renditions
    Every rung gets a keyframe at every multiple of the segment length (``-force_key_frames`` by
    time), a fixed GOP of one segment, and no scene-cut keyframes (``-sc_threshold 0``), so its
    keyframes sit at the same instants as every other rung's. The muxers cut segments on those
    keyframes, so segment counts and durations match across rungs. The segment length is the
    first ``HlsTime`` of the ladder's video templates, else :data:`DEFAULT_SEGMENT_SECONDS`.
Never upscale
    A rung larger than the source is made at the source's size. With
    ``DisableHigherVideoResolution=1`` such rungs are dropped instead, except one (the smallest of
    them) kept at the source's size when no other rung has that size already.
    ``DisableHigherVideoBitrate=1`` caps every rung's bitrate at the source's video bitrate.
    Rungs that end up identical (size, rate, bitrate) are made once. :attr:`Ladder.skipped` says
    which rungs were not made and why.
Audio
    Each distinct audio template of the ladder is encoded once, as its own rendition (an
    ``EXT-X-MEDIA`` group for HLS, a Representation of the audio AdaptationSet for DASH), shared by
    every rung that asks for it; video rungs carry no audio of their own.
Codecs
    H.264 (``libx264``) and AAC only: what every HLS and DASH player plays. Anything else is
    ``InvalidParameterValue.Codec``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence, Set
from dataclasses import dataclass
from pathlib import Path

from mps.errors import InvalidParameterError, SourceError
from mps.media.command import Command, input_args
from mps.media.filters import FilterGraph
from mps.media.frames import FrameRequest, SharedFrames
from mps.media.geometry import Size, target_size
from mps.media.ops.transcode import output_fps
from mps.media.ops.transcode_codecs import (
    AUDIO_CODECS,
    VIDEO_CODECS,
    audio_codec_args,
    video_codec_args,
    video_encoder,
)
from mps.media.specs import AdaptiveSpec
from mps.media.watermark import image_input_map, overlay_watermarks, watermark_input_args
from mps.models.metadata import MediaMetaData
from mps.models.templates import AdaptiveDynamicStreamingTemplate, AudioTemplateInfo, VideoTemplateInfo

#: Segment length in seconds when no video template of the ladder sets ``HlsTime``.
DEFAULT_SEGMENT_SECONDS = 4
#: RFC 6381 codec of the AAC-LC audio every rendition carries.
AAC_CODECS = "mp4a.40.2"
#: Pixels of tolerance when deciding whether a rung is larger than the source (even rounding).
_SIZE_SLACK = 1
#: How far from square a DASH rung's pixels may be made so that its aspect ratio matches the others'.
_ASPECT_SLACK = 0.02

__all__ = [
    "AAC_CODECS",
    "DEFAULT_SEGMENT_SECONDS",
    "Ladder",
    "LadderFiles",
    "SkippedRung",
    "VideoRung",
    "audio_args",
    "build_ladder",
    "dash_muxer",
    "hls_muxer",
    "plan_ladder",
    "rung_frames",
    "rung_video_args",
]


@dataclass(frozen=True)
class VideoRung:
    """One video rendition to make.

    Attributes:
        number: its sub-stream number (``{subStreamNumber}``): position among the rungs made.
        stream: its index in the template's ``StreamInfos``.
        video: the video template, its ``Bitrate`` capped when ``DisableHigherVideoBitrate`` says so.
        request: the rate and size of its frames.
        fps: its frame rate.
        audio: the index in :attr:`Ladder.audios` of the audio it plays with (None: silent).
    """

    number: int
    stream: int
    video: VideoTemplateInfo
    request: FrameRequest
    fps: float
    audio: int | None

    @property
    def size(self) -> Size:
        return self.request.size


@dataclass(frozen=True)
class SkippedRung:
    """A stream of the template that was not made, and why (for logs and results)."""

    stream: int
    reason: str


@dataclass(frozen=True)
class Ladder:
    """What one adaptive streaming task makes.

    Attributes:
        package: ``HLS`` or ``MPEG-DASH``.
        segment_type: the effective ``SegmentType``.
        segment_seconds: the segment length (and keyframe interval) in seconds.
        rungs: the video renditions, in template order.
        audios: the distinct audio renditions; their sub-stream numbers follow the video rungs'.
        skipped: streams of the template that were not made.
    """

    package: str
    segment_type: str
    segment_seconds: int
    rungs: tuple[VideoRung, ...]
    audios: tuple[AudioTemplateInfo, ...]
    skipped: tuple[SkippedRung, ...] = ()

    @property
    def fmp4(self) -> bool:
        """Whether segments are fragmented MP4 (else MPEG-TS)."""
        return self.segment_type.startswith("mp4")

    @property
    def byterange(self) -> bool:
        """Whether each sub-stream is one file addressed by byte ranges."""
        return self.segment_type.endswith("byterange")

    def audio_number(self, index: int) -> int:
        """The sub-stream number of audio rendition ``index``."""
        return len(self.rungs) + index


def plan_ladder(template: AdaptiveDynamicStreamingTemplate, meta: MediaMetaData) -> Ladder:
    """The rungs and audio renditions a template makes of a source (see the module docstring).

    Raises:
        InvalidParameterError: ``InvalidParameterValue.Codec`` for a codec other than H.264/AAC.
        SourceError: nothing is left to make (no video for a video ladder and no audio either).
    """
    audios: list[AudioTemplateInfo] = []
    audio_of: dict[int, int | None] = {}
    for index, stream in enumerate(template.StreamInfos):
        audio_of[index] = None
        if stream.Audio is not None and not stream.RemoveAudio and meta.has_audio:
            _check_audio(stream.Audio)
            if stream.Audio not in audios:
                audios.append(stream.Audio)
            audio_of[index] = audios.index(stream.Audio)
    rungs: list[VideoRung] = []
    skipped: list[SkippedRung] = []
    if not template.PureAudio and meta.has_video:
        rungs, skipped = _video_rungs(template, meta, audio_of)
    elif not template.PureAudio:
        skipped = [SkippedRung(i, "the source has no video") for i in range(len(template.StreamInfos))]
    if not rungs and not audios:
        raise SourceError(
            "the source has neither the video nor the audio this adaptive streaming template needs"
        )
    return Ladder(
        package=template.Format,
        segment_type=template.segment_type,
        segment_seconds=_segment_seconds(template),
        rungs=tuple(rungs),
        audios=tuple(audios),
        skipped=tuple(skipped),
    )


def _segment_seconds(template: AdaptiveDynamicStreamingTemplate) -> int:
    for stream in template.StreamInfos:
        if stream.Video is not None and stream.Video.HlsTime:
            return stream.Video.HlsTime
    return DEFAULT_SEGMENT_SECONDS


def _check_audio(audio: AudioTemplateInfo) -> None:
    if AUDIO_CODECS.get(audio.Codec.lower()) != "aac":
        raise InvalidParameterError.field(
            "Codec", f"adaptive streaming takes AAC audio on this server, not {audio.Codec}"
        )


def _video_rungs(
    template: AdaptiveDynamicStreamingTemplate, meta: MediaMetaData, audio_of: dict[int, int | None]
) -> tuple[list[VideoRung], list[SkippedRung]]:
    """The video rungs to make, after the resolution and bitrate rules and de-duplication."""
    source = Size(meta.display_width, meta.display_height)
    if source.width <= 0 or source.height <= 0:
        raise SourceError("the source's video stream has no frame size")
    candidates: list[tuple[int, VideoTemplateInfo, bool, int]] = []
    for index, stream in enumerate(template.StreamInfos):
        video = stream.Video
        if video is None or stream.RemoveVideo:
            continue
        if VIDEO_CODECS.get(video.Codec.lower()) != "h264":
            raise InvalidParameterError.field(
                "Codec", f"adaptive streaming takes H.264 video on this server, not {video.Codec}"
            )
        wanted = target_size(source, video.Width, video.Height, video.ResolutionAdaptive, upscale=True)
        higher = wanted.width > source.width + _SIZE_SLACK or wanted.height > source.height + _SIZE_SLACK
        candidates.append((index, _capped(video, meta, template.DisableHigherVideoBitrate), higher,
                           wanted.width * wanted.height))  # fmt: skip
    keep_higher = _higher_kept(candidates, source, template, meta)
    rungs: list[VideoRung] = []
    skipped: list[SkippedRung] = []
    for index, video, higher, _area in candidates:
        if higher and template.DisableHigherVideoResolution and index != keep_higher:
            skipped.append(SkippedRung(index, "larger than the source (DisableHigherVideoResolution)"))
            continue
        request = _request(video, meta, source)
        twin = next((r for r in rungs if (r.request, r.video.Bitrate, r.video.Vcrf) ==
                     (request, video.Bitrate, video.Vcrf)), None)  # fmt: skip
        if twin is not None:
            skipped.append(SkippedRung(index, f"the same as stream {twin.stream} once fitted to the source"))
            continue
        _, fps = output_fps(video, meta)
        rungs.append(VideoRung(len(rungs), index, video, request, fps, audio_of[index]))
    return rungs, skipped


def _higher_kept(
    candidates: Sequence[tuple[int, VideoTemplateInfo, bool, int]],
    source: Size,
    template: AdaptiveDynamicStreamingTemplate,
    meta: MediaMetaData,
) -> int | None:
    """The one stream larger than the source kept (at the source's size), if any."""
    higher = [c for c in candidates if c[2]]
    if not higher or not template.DisableHigherVideoResolution:
        return None
    smallest = min(higher, key=lambda c: c[3])
    at_source = _request(smallest[1], meta, source).size
    others = [_request(c[1], meta, source).size for c in candidates if not c[2]]
    return None if at_source in others else smallest[0]


def _request(video: VideoTemplateInfo, meta: MediaMetaData, source: Size) -> FrameRequest:
    size = target_size(source, video.Width, video.Height, video.ResolutionAdaptive)
    rate, _ = output_fps(video, meta)
    return FrameRequest(rate, size, video.FillType)


def _capped(video: VideoTemplateInfo, meta: MediaMetaData, disable_higher: int) -> VideoTemplateInfo:
    """The video template with its bitrate capped at the source's (when asked and known)."""
    stream = meta.VideoStreamSet[0] if meta.VideoStreamSet else None
    source_kbps = round((stream.Bitrate if stream and stream.Bitrate else meta.Bitrate) / 1000)
    if not disable_higher or source_kbps <= 0:
        return video
    if video.Bitrate == 0 or video.Bitrate > source_kbps:
        return video.model_copy(update={"Bitrate": source_kbps})
    return video


# --- the command ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LadderFiles:
    """Where ffmpeg writes a ladder: scratch names of ours, renamed to the output names afterwards.

    HLS: one directory per sub-stream (``s<number>/``) with ``index.m3u8`` and its segments (or
    its one ``media`` file). DASH: ``manifest.mpd`` and ``stream<number>.mp4`` in :attr:`root`.
    """

    root: Path

    def directory(self, number: int) -> Path:
        return self.root / f"s{number}"

    def playlist(self, number: int) -> Path:
        return self.directory(number) / "index.m3u8"

    @property
    def mpd(self) -> Path:
        return self.root / "manifest.mpd"

    def dash_stream(self, number: int) -> Path:
        return self.root / f"stream{number}.mp4"


def build_ladder(
    spec: AdaptiveSpec,
    ladder: Ladder,
    meta: MediaMetaData,
    source: str,
    files: LadderFiles,
    *,
    encoders: Set[str],
    font_file: str | None = None,
) -> Command:
    """The one ffmpeg command that decodes the source once and writes every rendition of ``ladder``.

    Parameters:
        spec: the watermarks and the x264 preset.
        ladder: from :func:`plan_ladder`.
        meta: the probe of the source.
        source: what ffmpeg opens (local path or http(s) URL).
        files: where the scratch files go (the caller creates :meth:`LadderFiles.directory` for HLS).
        encoders: the encoders this ffmpeg has.
        font_file: TrueType font for text watermarks without a font of their own.

    Raises:
        InvalidParameterError: a codec this ffmpeg lacks, a bad profile or watermark.
    """
    graph, inputs = rung_frames(spec, ladder, meta, font_file)
    argv = [*input_args(source), *inputs]
    if graph.chains:
        argv += ["-filter_complex", graph.render()]
    if ladder.package == "MPEG-DASH":
        argv += _dash_output(spec, ladder, meta, files, encoders)
    else:
        argv += _hls_outputs(spec, ladder, meta, files, encoders)
    written = [files.mpd] if ladder.package == "MPEG-DASH" else [files.playlist(n) for n in _numbers(ladder)]
    return Command(argv=argv, duration=meta.media_duration, outputs=written)


def rung_frames(
    spec: AdaptiveSpec, ladder: Ladder, meta: MediaMetaData, font_file: str | None
) -> tuple[FilterGraph, list[str]]:
    """The filter graph giving every rung its frames (``[rung<number>]``) from one decode of input
    0, and the extra inputs (watermark images) it reads."""
    graph = FilterGraph()
    inputs: list[str] = []
    if ladder.rungs:
        frames = SharedFrames(graph, "[0:v:0]", [r.request for r in ladder.rungs],
                              Size(meta.display_width, meta.display_height))  # fmt: skip
        for rung in ladder.rungs:
            images = image_input_map(spec.watermarks, first_input=1 + inputs.count("-i"))
            inputs += [arg for fragment in watermark_input_args(spec.watermarks) for arg in fragment]
            pad = overlay_watermarks(graph, frames.frames(rung.request), rung.size, spec.watermarks, images,
                                     duration=meta.media_duration, font_file=font_file)  # fmt: skip
            tail = ["format=yuv420p", *_dash_sar(ladder, rung)]
            graph.add(pad, tail, f"[rung{rung.number}]")
    return graph, inputs


def _dash_sar(ladder: Ladder, rung: VideoRung) -> list[str]:
    """DASH only: a ``setsar`` giving ``rung`` the display aspect ratio of the ladder's largest rung.

    ffmpeg's DASH muxer refuses an AdaptationSet whose Representations differ in aspect ratio, and
    even sizes rarely keep 16:9 exactly (426x240 is 1.775). A pixel aspect ratio within
    :data:`_ASPECT_SLACK` of 1 makes them agree without visibly distorting the picture.

    Raises:
        InvalidParameterError: ``InvalidParameterValue.StreamInfos``: the rungs' frames differ in shape.
    """
    if ladder.package != "MPEG-DASH":
        return []
    top = max(ladder.rungs, key=lambda r: r.size.width * r.size.height).size
    size = rung.size
    num, den = top.width * size.height, top.height * size.width
    if num == den:
        return []
    if abs(num / den - 1) > _ASPECT_SLACK:
        raise InvalidParameterError.field(
            "StreamInfos",
            f"MPEG-DASH needs every rung in the shape of the largest ({top.width}x{top.height}); "
            f"{size.width}x{size.height} is not",
        )
    common = math.gcd(num, den)
    # setsar approximates ratios past ``max`` (default 100); 640/639 must stay exact.
    return [f"setsar=r={num // common}/{den // common}:max={max(num, den) // common}"]


def _numbers(ladder: Ladder) -> list[int]:
    return [*(r.number for r in ladder.rungs), *(ladder.audio_number(i) for i in range(len(ladder.audios)))]


def rung_video_args(
    rung: VideoRung, ladder: Ladder, preset: str, encoders: Set[str], stream: str
) -> list[str]:
    """Encoder options of one rung, every option addressed to output stream ``stream`` (``v:0``)."""
    encoder = video_encoder(rung.video.Codec, "mp4", encoders)
    gop = max(1, round(ladder.segment_seconds * rung.fps))
    args = video_codec_args(
        rung.video.model_copy(update={"Gop": 0}), encoder, "mp4", preset=preset, fps=rung.fps
    )
    args += ["-g", str(gop), "-sc_threshold", "0",
             "-force_key_frames", f"expr:gte(t,n_forced*{ladder.segment_seconds})"]  # fmt: skip
    threads = x264_threads(len(ladder.rungs)) if encoder == "libx264" else None
    if threads is not None:
        args += ["-threads", str(threads)]
    return _for_stream(args, stream)


def x264_threads(encoders: int, cores: int | None = None) -> int | None:
    """Threads for each of ``encoders`` x264 encoders sharing one ffmpeg, or None for x264's own.

    Left alone, every x264 takes 1.5 threads per core, and each thread holds frames: four 1080p-down
    rungs on 2 cores peaked at 536 MiB, 492 MiB at 2 threads each (same CPU, same wall). One thread
    each is lighter still (401 MiB) but slow: ffmpeg 5.1 calls the encoders one after another from
    its main thread, so only x264's own threads run them side by side (28 s against 20 s).
    """
    if encoders < 2:
        return None
    cores = cores or len(os.sched_getaffinity(0))
    return max(2, math.ceil(1.5 * cores / encoders))


def audio_args(audio: AudioTemplateInfo, meta: MediaMetaData, encoders: Set[str], stream: str) -> list[str]:
    return _for_stream(audio_codec_args(audio, meta, "mp4", encoders), stream)


def _for_stream(args: list[str], stream: str) -> list[str]:
    """Options as ``(-name, value)`` pairs, each name given the stream specifier ``stream``."""
    out: list[str] = []
    for name, value in zip(args[::2], args[1::2], strict=True):
        out += [f"{name.split(':', 1)[0]}:{stream}", value]
    return out


def _hls_outputs(
    spec: AdaptiveSpec, ladder: Ladder, meta: MediaMetaData, files: LadderFiles, encoders: Set[str]
) -> list[str]:
    """One HLS muxer per sub-stream: the video rungs (no audio), then the audio renditions."""
    argv: list[str] = []
    for rung in ladder.rungs:
        argv += [
            "-map",
            f"[rung{rung.number}]",
            *rung_video_args(rung, ladder, spec.x264_preset, encoders, "v:0"),
            "-an",
        ]
        argv += hls_muxer(ladder, files, rung.number)
    for index, audio in enumerate(ladder.audios):
        argv += ["-map", "0:a:0", *audio_args(audio, meta, encoders, "a:0"), "-vn"]
        argv += hls_muxer(ladder, files, ladder.audio_number(index))
    return argv


def hls_muxer(ladder: Ladder, files: LadderFiles, number: int) -> list[str]:
    ext = "m4s" if ladder.fmp4 else "ts"
    folder = files.directory(number)
    segments = folder / (f"media.{ext}" if ladder.byterange else f"seg%d.{ext}")
    flags = "independent_segments+single_file" if ladder.byterange else "independent_segments"
    args = ["-f", "hls", "-hls_time", str(ladder.segment_seconds), "-hls_playlist_type", "vod",
            "-hls_flags", flags, "-hls_segment_type", "fmp4" if ladder.fmp4 else "mpegts"]  # fmt: skip
    if ladder.fmp4 and not ladder.byterange:
        args += ["-hls_fmp4_init_filename", "init.mp4"]
    return [*args, "-hls_segment_filename", str(segments), "-start_number", "0", str(files.playlist(number))]


def _dash_output(
    spec: AdaptiveSpec, ladder: Ladder, meta: MediaMetaData, files: LadderFiles, encoders: Set[str]
) -> list[str]:
    """One DASH muxer: a static MPD, each Representation one fragmented MP4 addressed by byte ranges."""
    argv: list[str] = []
    for rung in ladder.rungs:
        argv += ["-map", f"[rung{rung.number}]"]
    argv += ["-map", "0:a:0"] * len(ladder.audios)
    for rung in ladder.rungs:
        argv += rung_video_args(rung, ladder, spec.x264_preset, encoders, f"v:{rung.number}")
    for index, audio in enumerate(ladder.audios):
        argv += audio_args(audio, meta, encoders, f"a:{index}")
    return [*argv, *dash_muxer(ladder, files)]


def dash_muxer(ladder: Ladder, files: LadderFiles) -> list[str]:
    """The DASH muxer of a ladder whose streams are mapped video rungs first, then audios."""
    sets = [f"id={n},streams={kind}" for n, kind in enumerate(
        k for k, present in (("v", ladder.rungs), ("a", ladder.audios)) if present)]  # fmt: skip
    return [
        "-f", "dash", "-seg_duration", str(ladder.segment_seconds), "-single_file", "1",
        "-single_file_name", "stream$RepresentationID$.mp4", "-adaptation_sets", " ".join(sets),
        str(files.mpd),
    ]  # fmt: skip
