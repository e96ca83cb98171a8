"""Codecs and containers of a transcode: template names -> ffmpeg encoders, muxers and their options.

Pure, like the rest of :mod:`mps.media`. The rate-control, keyframe and codec policies are
described in :mod:`mps.media.ops.transcode`.
"""

from __future__ import annotations

import re
from collections.abc import Set
from dataclasses import dataclass
from pathlib import Path

from mps.errors import InvalidParameterError
from mps.models.metadata import MediaMetaData
from mps.models.templates import AudioTemplateInfo, VideoTemplateInfo

#: Names clients send for video codecs -> our canonical name.
VIDEO_CODECS = {
    "h264": "h264", "libx264": "h264", "avc": "h264",
    "h265": "h265", "hevc": "h265", "libx265": "h265",
    "vp9": "vp9", "libvpx-vp9": "vp9",
    "av1": "av1", "libaom-av1": "av1",
}  # fmt: skip
#: Canonical video codec -> the encoders that make it, best first.
VIDEO_ENCODERS = {
    "h264": ("libx264",),
    "h265": ("libx265",),
    "vp9": ("libvpx-vp9",),
    # libsvtav1 is left out: it prints its banner whatever the log level and refuses -maxrate = -b:v.
    "av1": ("libaom-av1",),
}
#: Names clients send for audio codecs (and ffprobe's names, for ``copy``) -> our canonical name.
AUDIO_CODECS = {
    "aac": "aac", "libfdk_aac": "aac", "mp3": "mp3", "libmp3lame": "mp3", "mp2": "mp2", "ac3": "ac3",
    "flac": "flac", "vorbis": "vorbis", "libvorbis": "vorbis", "opus": "opus", "libopus": "opus",
    "pcm16": "pcm16", "pcm_s16le": "pcm16", "pcm24": "pcm24", "pcm_s24le": "pcm24", "copy": "copy",
}  # fmt: skip
#: Canonical audio codec -> its encoder.
AUDIO_ENCODERS = {
    "aac": "aac",
    "mp3": "libmp3lame",
    "mp2": "mp2",
    "ac3": "ac3",
    "flac": "flac",
    "vorbis": "libvorbis",
    "opus": "libopus",
    "pcm16": "pcm_s16le",
    "pcm24": "pcm_s24le",
}
#: Lossless audio codecs take no bitrate.
_LOSSLESS = frozenset({"flac", "pcm16", "pcm24"})
#: The only sample rates Opus encodes.
_OPUS_RATES = frozenset({8000, 12000, 16000, 24000, 48000})
#: The CRF used when a template asks for neither a CRF nor a bitrate.
_DEFAULT_CRF = {"libx264": 23, "libx265": 28, "libvpx-vp9": 32, "libaom-av1": 35}
#: Encoders whose constant-quality mode needs ``-b:v 0`` (else ``-b:v`` is their ceiling).
_CQ_NEEDS_ZERO_BITRATE = frozenset({"libvpx-vp9", "libaom-av1"})
#: Default HLS segment length in seconds when the template has no ``HlsTime``.
DEFAULT_HLS_TIME = 10
_FASTSTART = ("-movflags", "+faststart")
_ALL_VIDEO = frozenset(VIDEO_ENCODERS)
_ALL_AUDIO = frozenset(AUDIO_ENCODERS)


@dataclass(frozen=True)
class ContainerInfo:
    """How one ``Container`` value is written: muxer, codecs it can hold, muxer options."""

    muxer: str
    video: frozenset[str]
    audio: frozenset[str]
    options: tuple[str, ...] = ()


def _codecs(*names: str) -> frozenset[str]:
    return frozenset(names)


_MP4_AUDIO = _codecs("aac", "mp3", "mp2", "ac3", "opus")
_TS_VIDEO, _TS_AUDIO = _codecs("h264", "h265"), _codecs("aac", "mp3", "mp2", "ac3")
#: Every ``Container`` the templates allow.
CONTAINERS: dict[str, ContainerInfo] = {
    "mp4": ContainerInfo("mp4", _ALL_VIDEO, _MP4_AUDIO, _FASTSTART),
    "mov": ContainerInfo("mov", _ALL_VIDEO, _MP4_AUDIO, _FASTSTART),
    "mkv": ContainerInfo("matroska", _ALL_VIDEO, _ALL_AUDIO),
    "webm": ContainerInfo("webm", _codecs("vp9", "av1"), _codecs("opus", "vorbis")),
    "flv": ContainerInfo("flv", _codecs("h264"), _codecs("aac", "mp3")),
    "ts": ContainerInfo("mpegts", _TS_VIDEO, _TS_AUDIO),
    "hls": ContainerInfo("hls", _TS_VIDEO, _TS_AUDIO),
    "m4a": ContainerInfo("ipod", frozenset(), _codecs("aac", "ac3"), _FASTSTART),
    "mp3": ContainerInfo("mp3", frozenset(), _codecs("mp3")),
    "ogg": ContainerInfo("ogg", frozenset(), _codecs("vorbis", "opus", "flac")),
    "flac": ContainerInfo("flac", frozenset(), _codecs("flac")),
    "wav": ContainerInfo("wav", frozenset(), _codecs("pcm16", "pcm24")),
}


def output_format(container: str) -> str:
    """The file extension of the main output: the container's name, ``m3u8`` for HLS."""
    return "m3u8" if container == "hls" else container


def video_encoder(codec: str, container: str, encoders: Set[str]) -> str:
    """The ffmpeg encoder for a template's video ``Codec`` in ``container``.

    Raises:
        InvalidParameterError: ``InvalidParameterValue.Codec`` for an unknown codec, one the
            container cannot hold, or one this ffmpeg has no encoder for.
    """
    canonical = VIDEO_CODECS.get(codec.lower())
    if canonical is None:
        raise _codec_error(f"video codec {codec!r} is not supported (use h264, h265, vp9 or av1)")
    if canonical not in CONTAINERS[container].video:
        raise _codec_error(f"video codec {codec} cannot go in a {container} container")
    for encoder in VIDEO_ENCODERS[canonical]:
        if encoder in encoders:
            return encoder
    names = " or ".join(VIDEO_ENCODERS[canonical])
    raise _codec_error(f"video codec {codec} needs the {names} encoder, which this server's ffmpeg lacks")


def audio_encoder(codec: str, container: str, encoders: Set[str], source_codec: str = "") -> str:
    """The ffmpeg encoder (or ``copy``) for a template's audio ``Codec`` in ``container``.

    Parameters:
        source_codec: ffprobe's name of the source's audio codec, checked when copying.

    Raises:
        InvalidParameterError: ``InvalidParameterValue.Codec``, as for :func:`video_encoder`.
    """
    canonical = AUDIO_CODECS.get(codec.lower())
    if canonical is None:
        raise _codec_error(f"audio codec {codec!r} is not supported")
    allowed = CONTAINERS[container].audio
    if canonical == "copy":
        copied = AUDIO_CODECS.get(source_codec.lower(), "")
        if container != "mkv" and copied not in allowed:
            raise _codec_error(
                f"the source's {source_codec or 'unknown'} audio cannot be copied into {container}"
            )
        return "copy"
    if canonical not in allowed:
        raise _codec_error(f"audio codec {codec} cannot go in a {container} container")
    encoder = AUDIO_ENCODERS[canonical]
    if encoder not in encoders:
        raise _codec_error(
            f"audio codec {codec} needs the {encoder} encoder, which this server's ffmpeg lacks"
        )
    return encoder


def _codec_error(message: str) -> InvalidParameterError:
    return InvalidParameterError.field("Codec", message)


def video_codec_args(
    video: VideoTemplateInfo,
    encoder: str,
    container: str,
    *,
    preset: str,
    fps: float,
    hls_time: int | None = None,
) -> list[str]:
    """Encoder options: speed, rate control, keyframes, profile, tag and pixel format.

    Parameters:
        video: the video template.
        encoder: from :func:`video_encoder`.
        container: the template's ``Container``.
        preset: the x264/x265 speed preset (``MPS_X264_PRESET``).
        fps: the output frame rate, to turn a GOP in seconds into frames.
        hls_time: HLS segment length; forces a keyframe at each segment boundary.

    Raises:
        InvalidParameterError: an unknown ``VideoProfile`` or ``VideoLevel``.
    """
    args = ["-c:v", encoder, *_speed_args(encoder, preset), *rate_args(video, encoder)]
    if video.Gop:
        frames = video.Gop if video.GopUnit == "frame" else max(1, round(video.Gop * fps))
        args += ["-g", str(frames)]
    if hls_time:
        args += ["-force_key_frames", f"expr:gte(t,n_forced*{hls_time})"]
    if encoder == "libx264":
        args += _h264_profile_args(video)
    if encoder in ("libx264", "libx265") and video.Bframes is not None and video.Bframes >= 0:
        args += ["-bf", str(video.Bframes)]
    if encoder == "libx265" and container in ("mp4", "mov"):
        args += ["-tag:v", "hvc1"]  # Apple players refuse HEVC tagged hev1
    return [*args, "-pix_fmt", "yuv420p"]


def _speed_args(encoder: str, preset: str) -> list[str]:
    if encoder == "libx264":
        return ["-preset", preset]
    if encoder == "libx265":
        return ["-preset", preset, "-x265-params", "log-level=error"]
    if encoder == "libvpx-vp9":
        return ["-deadline", "realtime", "-cpu-used", "8", "-row-mt", "1"]
    if encoder == "libaom-av1":
        return ["-usage", "realtime", "-cpu-used", "8", "-row-mt", "1"]
    return []


def rate_args(video: VideoTemplateInfo, encoder: str) -> list[str]:
    """Rate control for ``Vcrf``/``Bitrate``/``Mode`` (the policy is in the module docstring)."""
    kbps = video.Bitrate
    mode = (video.Mode or "").upper()
    crf = video.Vcrf
    if crf is None and (not kbps or mode == "VCRF"):
        crf = _DEFAULT_CRF.get(encoder, 23)
    zero_floor = encoder in _CQ_NEEDS_ZERO_BITRATE
    if crf is not None and not kbps:
        return ["-crf", str(crf), *(["-b:v", "0"] if zero_floor else [])]
    cap = ["-maxrate", f"{kbps}k", "-bufsize", f"{2 * kbps}k"]
    if crf is not None:
        # libvpx/libaom treat -b:v as the ceiling of constrained quality.
        return ["-crf", str(crf), *(["-b:v", f"{kbps}k"] if zero_floor else cap)]
    args = ["-b:v", f"{kbps}k", *cap]
    return args + ["-minrate", f"{kbps}k"] if mode == "CBR" else args


_H264_PROFILES = frozenset({"baseline", "main", "high"})
_H264_LEVEL = re.compile(r"^[1-6](\.[0-2])?$")


def _h264_profile_args(video: VideoTemplateInfo) -> list[str]:
    args: list[str] = []
    profile = (video.VideoProfile or "").lower()
    if profile and profile != "default":
        if profile not in _H264_PROFILES:
            raise InvalidParameterError.field(
                "VideoProfile", f"VideoProfile {video.VideoProfile!r} is not baseline, main, high or default"
            )
        args += ["-profile:v", profile]
    level = video.VideoLevel or ""
    if level:
        if not _H264_LEVEL.match(level):
            raise InvalidParameterError.field("VideoLevel", f"VideoLevel {level!r} is not an H.264 level")
        args += ["-level:v", level]
    return args


def audio_codec_args(
    audio: AudioTemplateInfo, meta: MediaMetaData, container: str, encoders: Set[str]
) -> list[str]:
    """Audio encoder options. Bitrate 0 takes the source's; SampleRate/AudioChannel 0 keep the source's.

    Raises:
        InvalidParameterError: see :func:`audio_encoder`.
    """
    source = meta.AudioStreamSet[0] if meta.AudioStreamSet else None
    encoder = audio_encoder(audio.Codec, container, encoders, source.Codec if source else "")
    if encoder == "copy":
        return ["-c:a", "copy"]
    args = ["-c:a", encoder]
    if AUDIO_CODECS[audio.Codec.lower()] not in _LOSSLESS:
        kbps = audio.Bitrate or (
            min(max(round(source.Bitrate / 1000), 26), 320) if source and source.Bitrate else 0
        )
        if kbps:
            args += ["-b:a", f"{kbps}k"]
    if audio.SampleRate and (encoder != "libopus" or audio.SampleRate in _OPUS_RATES):
        # Opus has its own set of rates; for any other ffmpeg picks the nearest (48 kHz for 44.1).
        args += ["-ar", str(audio.SampleRate)]
    if audio.AudioChannel:
        args += ["-ac", str(audio.AudioChannel)]
    return args


def container_args(
    container: str,
    *,
    hls_time: int = DEFAULT_HLS_TIME,
    segment_pattern: Path | None = None,
    start_number: int = 0,
) -> list[str]:
    """The muxer and its options; for HLS a VOD playlist of ``hls_time`` s TS segments."""
    info = CONTAINERS[container]
    args = ["-f", info.muxer, *info.options]
    if container == "hls":
        if segment_pattern is None:
            raise ValueError("an HLS output needs a segment pattern")
        args += [
            "-hls_time",
            str(hls_time),
            "-hls_playlist_type",
            "vod",
            "-hls_segment_type",
            "mpegts",
            "-hls_segment_filename",
            str(segment_pattern),
            "-start_number",
            str(start_number),
        ]
    return args
