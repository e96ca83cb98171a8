"""Transcode: a resolved template and the source's probe -> one ffmpeg command (pure, no I/O).

Choices that are ours, where Tencent's contract is silent or where we differ on purpose:

Rate control
    ``Vcrf`` set: constant quality (``-crf``); with a ``Bitrate`` as well, capped CRF
    (``-maxrate B -bufsize 2B``). ``Bitrate`` alone: average bitrate under the same cap
    (``-b:v B -maxrate B -bufsize 2B``), so peaks never pass the template's number, which is what
    players budget for; ``Mode=CBR`` adds ``-minrate B``. Neither: CRF at the encoder's usual
    default (x264 23, x265 28, VP9 32, AV1 35); ``Mode=VCRF`` without ``Vcrf`` is that default
    capped by the bitrate.
Frame rate
    ``Fps`` 0 keeps the source's rate. A higher explicit rate is capped at the source's: duplicated
    frames cost bits and time and show nothing new, the same reasoning as never upscaling.
Keyframes
    ``Gop`` in frames, or in seconds times the output rate, gives ``-g``. HLS also forces a
    keyframe at every segment boundary, so segments are ``HlsTime`` long and each starts clean.
Streams
    The first video and first audio streams are mapped. A source without audio gives an output
    without audio. A source without video, given a video template, gives an audio-only file in the
    requested container (MP4 and HLS hold audio alone fine): failing a task because an upload was a
    voice memo would surprise more than a file without pictures. An output left with no stream at
    all (an audio container from a silent source) is a :class:`SourceError`.
Codecs
    Template names (``h264``, ``libx264``, ``libfdk_aac``...) map to the encoders of Debian's
    ffmpeg (``libfdk_aac`` becomes ``aac``). A codec the container cannot hold, or that this
    ffmpeg lacks, is ``InvalidParameterValue.Codec``.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from mps.errors import InvalidParameterError, SourceError
from mps.media.command import Command, input_args
from mps.media.filters import FilterGraph
from mps.media.frames import DirectFrames, FrameRequest, FrameSource
from mps.media.geometry import Size, target_size
from mps.media.ops.transcode_codecs import (
    DEFAULT_HLS_TIME,
    audio_codec_args,
    container_args,
    output_format,
    video_codec_args,
    video_encoder,
)
from mps.media.specs import TranscodeSpec
from mps.media.watermark import image_input_map, overlay_watermarks, watermark_input_args
from mps.models.metadata import MediaMetaData
from mps.models.templates import (
    AUDIO_CONTAINERS,
    PRESET_CONTEXT,
    OverrideTranscodeParameter,
    RawTranscodeParameter,
    VideoTemplateInfo,
)
from mps.models.validation import invalid_parameter

__all__ = [
    "build_transcode",
    "effective_parameters",
    "frame_request",
    "output_format",
    "output_fps",
    "trim_window",
]


def build_transcode(
    spec: TranscodeSpec,
    meta: MediaMetaData,
    source: str,
    output: Path,
    *,
    encoders: Set[str],
    segment_pattern: Path | None = None,
    font_file: str | None = None,
    hls_start_number: int = 0,
) -> Command:
    """The ffmpeg command of one transcode.

    Parameters:
        spec: the effective template, watermarks and trim.
        meta: the probe of the source.
        source: what ffmpeg opens (local path or http(s) URL).
        output: the main output file (the ``.m3u8`` for HLS).
        encoders: the encoders this ffmpeg has (:meth:`Runner.encoders`).
        segment_pattern: HLS only: where segments go, with a ``%d`` for their number
            (default: beside ``output`` as ``<stem>_%d.ts``).
        font_file: TrueType font for text watermarks without a font of their own.
        hls_start_number: the number of the first HLS segment.

    Returns:
        The command; its ``duration`` is the output's length, for progress.

    Raises:
        InvalidParameterError: a codec, profile, segment type or trim window that cannot be done.
        SourceError: the source lacks every stream the output would carry, or has no frame size.
    """
    seek, length = trim_window(spec.start, spec.end, meta.media_duration)
    graph = FilterGraph()
    branch = transcode_branch(
        spec, meta, output, DirectFrames(graph, "[0:v:0]"), first_input=1, encoders=encoders,
        segment_pattern=segment_pattern, font_file=font_file, hls_start_number=hls_start_number,
    )  # fmt: skip
    argv = [*input_args(source, seek=seek, duration=length), *branch.inputs]
    if graph.chains:
        argv += ["-filter_complex", graph.render()]
    return Command(argv=argv + branch.output, duration=branch.duration, outputs=[output])


@dataclass(frozen=True)
class TranscodeBranch:
    """One transcode's part of an ffmpeg command, so one decode can feed several of them.

    Attributes:
        inputs: the watermark images' input options (placed after the source's input).
        output: ``-map`` of the video and audio, encoder and container options, the output file.
        duration: the output's length in seconds.
    """

    inputs: list[str]
    output: list[str]
    duration: float


def transcode_branch(
    spec: TranscodeSpec,
    meta: MediaMetaData,
    output: Path,
    frames: FrameSource,
    *,
    first_input: int,
    encoders: Set[str],
    segment_pattern: Path | None = None,
    font_file: str | None = None,
    hls_start_number: int = 0,
    vout: str = "[vout]",
) -> TranscodeBranch:
    """The filters (added to ``frames.graph``), inputs and output options of one transcode.

    Parameters:
        spec, meta, output, encoders, segment_pattern, font_file, hls_start_number: as for
            :func:`build_transcode`.
        frames: where the output's frames come from, converted to its rate and size (the
            command's filter graph, extended in place); asked once, when the output has video.
        first_input: the ffmpeg input index this branch's first watermark image will get.
        vout: the label the branch's finished video gets.

    Raises:
        InvalidParameterError, SourceError: as :func:`build_transcode`.
    """
    params = spec.params
    seek, length = trim_window(spec.start, spec.end, meta.media_duration)
    video = _video_template(params, meta)
    audio = params.AudioTemplate if not params.RemoveAudio and meta.has_audio else None
    if video is None and audio is None:
        raise SourceError(
            f"the source has no stream left to put in a {params.Container} output "
            f"(video: {meta.has_video}, audio: {meta.has_audio}, RemoveVideo={params.RemoveVideo}, "
            f"RemoveAudio={params.RemoveAudio})"
        )
    duration = length if length is not None else max(meta.media_duration - seek, 0.0)
    inputs: list[str] = []
    argv: list[str] = []
    if video is not None:
        inputs = [arg for fragment in watermark_input_args(spec.watermarks) for arg in fragment]
        source = _VideoSource(frames, first_input, vout)
        argv += _video_args(spec, video, meta, duration, encoders, font_file, source)
    else:
        argv.append("-vn")
    if audio is not None:
        argv += ["-map", "0:a:0", *audio_codec_args(audio, meta, params.Container, encoders)]
    else:
        argv.append("-an")
    hls_time = (video.HlsTime if video is not None else None) or DEFAULT_HLS_TIME
    pattern = segment_pattern or output.with_name(f"{output.stem}_%d.ts")
    argv += container_args(
        params.Container, hls_time=hls_time, segment_pattern=pattern, start_number=hls_start_number
    )
    argv.append(_output_arg(output))
    return TranscodeBranch(inputs=inputs, output=argv, duration=duration)


@dataclass(frozen=True)
class _VideoSource:
    """Where a transcode's video chain starts and ends inside a (possibly shared) graph."""

    frames: FrameSource
    first_input: int
    vout: str


def trim_window(start: float | None, end: float | None, duration: float) -> tuple[float, float | None]:
    """Start/EndTimeOffset as ``(seek, length)`` in source seconds.

    0 or None is the start (or end) of the source; a negative value counts back from the end.

    Parameters:
        start, end: the offsets as the request gave them.
        duration: the source's length (0 when unknown; negative offsets then count from 0).

    Returns:
        Where to seek to, and how much to read (None: to the end of the source).

    Raises:
        InvalidParameterError: the window starts past the end, or ends before it starts.
    """
    begin = _offset(start, duration) or 0.0
    stop = _offset(end, duration)
    if duration and begin >= duration:
        raise InvalidParameterError.field(
            "StartTimeOffset", f"StartTimeOffset {start} is at or past the end of the {duration:.3f} s source"
        )
    if stop is not None and duration and stop >= duration:
        stop = None
    if stop is not None and stop <= begin:
        raise InvalidParameterError.field(
            "EndTimeOffset", f"EndTimeOffset {end} is not after StartTimeOffset {start or 0}"
        )
    return begin, (stop - begin if stop is not None else None)


def _offset(value: float | None, duration: float) -> float | None:
    if not value:
        return None
    return max(duration + value, 0.0) if value < 0 else value


def frame_request(spec: TranscodeSpec, meta: MediaMetaData) -> FrameRequest | None:
    """The rate and size the output's frames are converted to (None: the output has no video).

    Raises:
        InvalidParameterError: the template asks for video without a VideoTemplate.
        SourceError: the source's video stream has no frame size.
    """
    video = _video_template(spec.params, meta)
    return _frame_request(video, meta) if video is not None else None


def _frame_request(video: VideoTemplateInfo, meta: MediaMetaData) -> FrameRequest:
    source = Size(meta.display_width, meta.display_height)
    if source.width <= 0 or source.height <= 0:
        raise SourceError("the source's video stream has no frame size")
    # ffmpeg autorotates, so geometry is computed on the displayed size, not the coded one.
    size = target_size(source, video.Width, video.Height, video.ResolutionAdaptive)
    rate, _ = output_fps(video, meta)
    return FrameRequest(rate, size, video.FillType)


def _video_template(params: RawTranscodeParameter, meta: MediaMetaData) -> VideoTemplateInfo | None:
    """The video template, or None when the output has no pictures (removed, audio container, no video)."""
    if params.RemoveVideo or params.Container in AUDIO_CONTAINERS or not meta.has_video:
        return None
    if params.VideoTemplate is None:
        raise InvalidParameterError.field(
            "VideoTemplate", "VideoTemplate is required unless RemoveVideo is 1"
        )
    return params.VideoTemplate


def _video_args(
    spec: TranscodeSpec,
    video: VideoTemplateInfo,
    meta: MediaMetaData,
    duration: float,
    encoders: Set[str],
    font_file: str | None,
    where: _VideoSource,
) -> list[str]:
    """The chain (added to ``where.frames.graph``) ending in ``where.vout``, its map, the encoder options."""
    container = spec.params.Container
    encoder = video_encoder(video.Codec, container, encoders)
    if container == "hls" and video.SegmentType not in (None, 0):
        raise InvalidParameterError.field("SegmentType", "only TS segments (SegmentType 0) are supported")
    request = _frame_request(video, meta)
    size = request.size
    _, out_fps = output_fps(video, meta)
    pad = where.frames.frames(request)
    graph = where.frames.graph
    images = image_input_map(spec.watermarks, first_input=where.first_input)
    pad = overlay_watermarks(
        graph, pad, size, spec.watermarks, images, duration=duration, font_file=font_file
    )
    graph.add(pad, ["format=yuv420p"], where.vout)
    hls_time = (video.HlsTime or DEFAULT_HLS_TIME) if container == "hls" else None
    codec = video_codec_args(
        video, encoder, container, preset=spec.x264_preset, fps=out_fps, hls_time=hls_time
    )
    return ["-map", where.vout, *codec]


def output_fps(video: VideoTemplateInfo, meta: MediaMetaData) -> tuple[str | None, float]:
    """The ``fps`` filter value (None: keep the source's rate) and the output rate.

    An explicit rate above the source's is capped at the source's (see the module docstring).
    """
    stream = meta.VideoStreamSet[0] if meta.VideoStreamSet else None
    known = bool(stream and (stream.FpsNumerator or stream.Fps))
    source = meta.fps
    if not video.Fps:
        return None, source
    denominator = video.FpsDenominator or 1
    wanted = video.Fps / denominator
    if known and wanted >= source - 0.01:
        return None, source
    return (f"{video.Fps}/{denominator}" if denominator != 1 else str(video.Fps)), wanted


def _output_arg(output: Path) -> str:
    """The output path as ffmpeg must see it: a relative name is made ``./name`` so it is never an option."""
    text = str(output)
    return text if output.is_absolute() else f"./{text}"


def effective_parameters(
    template: RawTranscodeParameter,
    override: OverrideTranscodeParameter | None,
    *,
    preset: bool = False,
) -> RawTranscodeParameter:
    """A template with a task's OverrideParameter applied, revalidated.

    Fields the override leaves out keep the template's values. ``Vcrf=100`` and ``Bframes=-1``
    reset those fields to automatic, as Tencent's ``...ForUpdate`` models document. ``preset``
    revalidates in the preset context: Tencent's presets hold values a client may not ask for
    (1020 is MP3 at 320 kbps), while an override's own values were already bounded by its model.

    Raises:
        InvalidParameterError: the merged template is invalid (``InvalidParameterValue.<Field>``).
    """
    merged = template.model_dump(include=set(RawTranscodeParameter.model_fields))
    if override is not None:
        changes = override.model_dump(exclude_none=True)
        for part in ("VideoTemplate", "AudioTemplate"):
            if part in changes:
                merged[part] = {**(merged.get(part) or {}), **changes.pop(part)}
        merged.update(changes)
        video = merged.get("VideoTemplate")
        if video:
            if video.get("Vcrf") == 100:
                video["Vcrf"] = None
            if video.get("Bframes") == -1:
                video["Bframes"] = None
    try:
        return RawTranscodeParameter.model_validate(merged, context=PRESET_CONTEXT if preset else None)
    except ValidationError as exc:
        raise invalid_parameter(exc, "OverrideParameter") from None
