"""ffprobe's JSON (``-show_format -show_streams``) turned into Tencent's ``MediaMetaData``.

Pure: no process is started here (the runner runs ffprobe and hands the parsed JSON over), so
every odd shape ffprobe can print is testable with a dict. Values ffprobe leaves out or prints
as ``N/A`` become 0 rather than errors: a file that decodes is worth processing even when its
headers are sparse.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from mps.errors import SourceError
from mps.models.base import INT64_MAX, MAX_FLOAT
from mps.models.metadata import MediaAudioStreamItem, MediaMetaData, MediaVideoStreamItem

#: H.264 profile names as ffprobe prints them, to (profile_idc, constraint flags) of RFC 6381.
#: ffprobe does not print the constraint flags, so only the one a profile name implies is set.
_AVC_PROFILES: dict[str, tuple[int, int]] = {
    "Baseline": (66, 0),
    "Constrained Baseline": (66, 0x40),
    "Main": (77, 0),
    "Extended": (88, 0),
    "High": (100, 0),
    "High 10": (110, 0),
    "High 4:2:2": (122, 0),
    "High 4:4:4 Predictive": (244, 0),
}

#: Code of the :class:`SourceError` raised when a file holds neither audio nor video.
CODE_NO_MEDIA_STREAM = "FailedOperation.SourceFile"


def parse_probe(data: Mapping[str, Any], size: int | None = None) -> MediaMetaData:
    """Turn ffprobe's JSON into ``MediaMetaData``.

    Parameters:
        data: ffprobe's output (``-print_format json -show_format -show_streams``), parsed.
        size: the file size in bytes when the caller knows it better than the ``format`` section
            (a local ``os.stat``); ffprobe's ``format.size`` is used otherwise.

    Returns:
        The metadata: ``Width``/``Height`` are the largest coded video size, ``Rotate`` the
        clockwise display rotation (0, 90, 180 or 270) of the first video stream. ``Duration``
        is what the audio and video streams hold (the longest of them), not the container's
        header, which can claim 100 hours for a 2 s file; the header is used only when no stream
        states its length. ``VideoDuration``/``AudioDuration`` likewise, falling back to it.

    One rule for what is readable: a video stream counts only with a frame size, an audio stream
    only with a sample rate: what ffprobe could not size (a truncated or damaged stream) ffmpeg
    cannot decode either, so it is left out, and a source with nothing left is unreadable.

    Raises:
        SourceError: the file has no audio or video stream ffmpeg can decode
            (code ``FailedOperation.SourceFile``).
    """
    fmt = _mapping(data.get("format"))
    streams = [s for s in data.get("streams") or [] if isinstance(s, Mapping)]
    videos = [s for s in streams if _is_video(s) and _int(s.get("width")) > 0 and _int(s.get("height")) > 0]
    audios = [s for s in streams if s.get("codec_type") == "audio" and _int(s.get("sample_rate")) > 0]
    if not videos and not audios:
        raise SourceError(
            "the source has no audio or video stream ffmpeg can decode (a video with a frame size, "
            "or audio with a sample rate)",
            code=CODE_NO_MEDIA_STREAM,
        )
    duration = _stream_duration([*videos, *audios], _float(fmt.get("duration")))
    video_items = [_video_item(s) for s in videos]
    return MediaMetaData(
        Size=size if size is not None else _int(fmt.get("size")),
        Container=str(fmt.get("format_name") or ""),
        Bitrate=_int(fmt.get("bit_rate")),
        Width=max((v.Width for v in video_items), default=0),
        Height=max((v.Height for v in video_items), default=0),
        Duration=duration,
        Rotate=display_rotation(videos[0]) if videos else 0,
        VideoStreamSet=video_items,
        AudioStreamSet=[_audio_item(s) for s in audios],
        VideoDuration=_stream_duration(videos, duration),
        AudioDuration=_stream_duration(audios, duration),
    )


def display_rotation(stream: Mapping[str, Any]) -> int:
    """The clockwise angle (0, 90, 180 or 270) a player turns this video stream by.

    ffprobe prints the display matrix angle counter-clockwise (an upright phone video shows
    ``"rotation": -90``), while Tencent's ``Rotate`` and the legacy ``rotate`` tag count
    clockwise, so the matrix angle is negated. Angles are snapped to a quarter turn.

    Parameters:
        stream: one entry of ffprobe's ``streams``.

    Returns:
        The rotation in degrees, 0 when there is none or it cannot be read.
    """
    for side_data in stream.get("side_data_list") or []:
        if isinstance(side_data, Mapping) and "rotation" in side_data:
            return _quarter_turn(-_number(side_data.get("rotation")))
    tags = _mapping(stream.get("tags"))
    return _quarter_turn(_number(tags.get("rotate")))


def _video_item(stream: Mapping[str, Any]) -> MediaVideoStreamItem:
    rate = _rate(stream.get("avg_frame_rate")) or _rate(stream.get("r_frame_rate"))
    return MediaVideoStreamItem(
        Bitrate=_int(stream.get("bit_rate")),
        Width=_int(stream.get("width")),
        Height=_int(stream.get("height")),
        Codec=str(stream.get("codec_name") or ""),
        Fps=round(rate) if rate else 0,
        FpsNumerator=rate.numerator if rate else 0,
        FpsDenominator=rate.denominator if rate else 1,
        ColorPrimaries=_text(stream.get("color_primaries")),
        ColorSpace=_text(stream.get("color_space")),
        ColorTransfer=_text(stream.get("color_transfer")),
        Codecs=_avc_codecs(stream),
    )


def _audio_item(stream: Mapping[str, Any]) -> MediaAudioStreamItem:
    return MediaAudioStreamItem(
        Bitrate=_int(stream.get("bit_rate")),
        SamplingRate=_int(stream.get("sample_rate")),
        Codec=str(stream.get("codec_name") or ""),
        Channel=_int(stream.get("channels")),
    )


def _is_video(stream: Mapping[str, Any]) -> bool:
    # Cover art in an mp3 or m4a is a one-frame "video" stream; it is not video to plan against.
    disposition = _mapping(stream.get("disposition"))
    return stream.get("codec_type") == "video" and not _int(disposition.get("attached_pic"))


def _stream_duration(streams: list[Mapping[str, Any]], fallback: float) -> float:
    """The longest stream of ``streams``; ``fallback`` when none states its length (0 for none)."""
    if not streams:
        return 0.0
    return max((_stream_seconds(s) for s in streams), default=0.0) or fallback


def _stream_seconds(stream: Mapping[str, Any]) -> float:
    """A stream's length: its ``duration``, else the ``DURATION`` tag Matroska muxers write."""
    seconds = _float(stream.get("duration"))
    if seconds:
        return seconds
    tags = _mapping(stream.get("tags"))
    text = str(tags.get("DURATION") or tags.get("duration") or "")
    hours, _, rest = text.partition(":")
    minutes, _, secs = rest.partition(":")
    try:
        return _float(int(hours) * 3600 + int(minutes) * 60 + float(secs)) if secs else 0.0
    except ValueError:
        return 0.0


def _avc_codecs(stream: Mapping[str, Any]) -> str:
    """The RFC 6381 ``avc1.PPCCLL`` string for H.264, when profile and level are known."""
    known = _AVC_PROFILES.get(str(stream.get("profile") or ""))
    level = _int(stream.get("level"))
    if stream.get("codec_name") != "h264" or known is None or level <= 0:
        return ""
    return f"avc1.{known[0]:02x}{known[1]:02x}{level:02x}"


def _quarter_turn(angle: float) -> int:
    return int(round(angle / 90.0)) % 4 * 90


def _rate(value: object) -> Fraction | None:
    """A frame rate from ``"30000/1001"``; ``None`` for ``"0/0"``, ``N/A`` and garbage."""
    try:
        rate = Fraction(str(value))
    except (ValueError, ZeroDivisionError):
        return None
    return rate if rate > 0 else None


def _number(value: object) -> float:
    """Any number ffprobe printed (as a number or a string) that a wire model can hold; 0.0 for
    ``N/A``, garbage, and absurd header values beyond :data:`~mps.models.base.MAX_FLOAT`."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return 0.0
    return number if math.isfinite(number) and abs(number) <= MAX_FLOAT else 0.0


def _float(value: object) -> float:
    """A duration, size or rate: never negative."""
    return max(0.0, _number(value))


def _int(value: object) -> int:
    number = _float(value)
    return int(number) if 0 < number <= INT64_MAX else 0


def _text(value: object) -> str:
    return "" if value in (None, "unknown", "N/A") else str(value)


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


__all__ = ["CODE_NO_MEDIA_STREAM", "display_rotation", "parse_probe"]


#: Seconds of the input read to estimate its GOP: enough for several keyframes of common encodes.
KEYFRAME_WINDOW = 20.0


def parse_keyframe_interval(packets: str, window: float = KEYFRAME_WINDOW) -> float:
    """The mean seconds between keyframes, from ffprobe's ``-show_entries packet=pts_time,flags -of csv=p=0``.

    Parameters:
        packets: one ``pts_time,flags`` line per video packet of the first ``window`` seconds.
        window: how much was read; with fewer than two keyframes in it, the GOP is at least that.

    Returns:
        Seconds (> 0).
    """
    keys: list[float] = []
    for line in packets.splitlines():
        time, _, flags = line.strip().partition(",")
        if "K" in flags:
            try:
                keys.append(float(time))
            except ValueError:
                continue  # "N/A": a packet without a timestamp says nothing about spacing
    keys.sort()
    if len(keys) < 2 or keys[-1] <= keys[0]:
        return window
    return (keys[-1] - keys[0]) / (len(keys) - 1)
