"""The transcode argv builder: containers, codecs, rate control, geometry, trim, overrides (no ffmpeg)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from mps.errors import InvalidParameterError, SourceError
from mps.media.command import Command
from mps.media.ops.transcode import build_transcode, effective_parameters, output_format, trim_window
from mps.media.specs import TranscodeSpec, WatermarkSpec
from mps.models.metadata import MediaAudioStreamItem, MediaMetaData, MediaVideoStreamItem
from mps.models.templates import OverrideTranscodeParameter, RawTranscodeParameter

ALL_ENCODERS = frozenset(
    {
        "libx264",
        "libx265",
        "libvpx-vp9",
        "libaom-av1",
        "aac",
        "libmp3lame",
        "libopus",
        "libvorbis",
        "flac",
        "ac3",
        "mp2",
        "pcm_s16le",
        "pcm_s24le",
    }
)
OUT = Path("/out/a.mp4")


def meta(
    width: int = 320,
    height: int = 240,
    *,
    fps: int = 25,
    duration: float = 4.0,
    audio: bool = True,
    video: bool = True,
    rotate: int = 0,
    audio_codec: str = "aac",
    audio_bps: int = 96000,
) -> MediaMetaData:
    videos = [MediaVideoStreamItem(Width=width, Height=height, Codec="h264", Fps=fps, FpsNumerator=fps)]
    audios = [MediaAudioStreamItem(Codec=audio_codec, Bitrate=audio_bps, SamplingRate=44100, Channel=2)]
    return MediaMetaData(
        Width=width if video else 0,
        Height=height if video else 0,
        Duration=duration,
        Rotate=rotate,
        VideoDuration=duration if video else 0.0,
        AudioDuration=duration if audio else 0.0,
        VideoStreamSet=videos if video else [],
        AudioStreamSet=audios if audio else [],
    )


def params(
    container: str = "mp4",
    video: dict[str, Any] | None = None,
    audio: dict[str, Any] | None = None,
    **top: Any,
) -> RawTranscodeParameter:
    body: dict[str, Any] = {"Container": container, **top}
    body["VideoTemplate"] = {"Codec": "h264", **(video or {})}
    body["AudioTemplate"] = {"Codec": "aac", "Bitrate": 64, "SampleRate": 44100, **(audio or {})}
    return RawTranscodeParameter.model_validate(body)


def build(
    p: RawTranscodeParameter | None = None,
    m: MediaMetaData | None = None,
    *,
    output: Path = OUT,
    encoders: frozenset[str] = ALL_ENCODERS,
    **spec: Any,
) -> Command:
    return build_transcode(
        TranscodeSpec(100030, p or params(), **spec),
        m or meta(),
        "/in/a.mov",
        output,
        encoders=encoders,
        segment_pattern=Path("/work/seg%d.ts"),
    )


def value(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


def graph(argv: list[str]) -> str:
    return value(argv, "-filter_complex")


def scale_size(argv: list[str]) -> tuple[int, int]:
    """The output size: the last ``WxH`` the graph scales or pads to."""
    sizes = re.findall(r"(?:scale|pad|crop)=(\d+):(\d+)", graph(argv))
    return int(sizes[-1][0]), int(sizes[-1][1])


# --- containers and codecs ---


def test_mp4_h264_aac_maps_one_graph_and_the_first_audio() -> None:
    argv = build(params(audio={"Bitrate": 128})).argv
    assert argv[argv.index("-i") + 1] == "/in/a.mov"
    assert value(argv, "-map") == "[vout]" and "0:a:0" in argv
    assert graph(argv).endswith("[vout]") and argv.count("-filter_complex") == 1
    assert value(argv, "-c:v") == "libx264" and value(argv, "-preset") == "veryfast"
    assert value(argv, "-pix_fmt") == "yuv420p"
    assert value(argv, "-c:a") == "aac" and value(argv, "-b:a") == "128k" and value(argv, "-ar") == "44100"
    assert value(argv, "-f") == "mp4" and value(argv, "-movflags") == "+faststart"
    assert argv[-1] == "/out/a.mp4"


def test_hls_writes_a_vod_playlist_with_keyframes_on_segment_boundaries() -> None:
    argv = build(params("hls", video={"HlsTime": 4})).argv
    assert value(argv, "-f") == "hls" and value(argv, "-hls_time") == "4"
    assert value(argv, "-hls_playlist_type") == "vod"
    assert value(argv, "-hls_segment_filename") == "/work/seg%d.ts" and value(argv, "-start_number") == "0"
    assert value(argv, "-force_key_frames") == "expr:gte(t,n_forced*4)"


def test_hls_segments_default_to_ten_seconds_and_only_ts() -> None:
    assert value(build(params("hls")).argv, "-hls_time") == "10"
    with pytest.raises(InvalidParameterError) as err:
        build(params("hls", video={"SegmentType": 7}))
    assert err.value.code == "InvalidParameterValue.SegmentType"


@pytest.mark.parametrize(
    ("container", "codec", "muxer", "encoder"),
    [
        ("mp3", "mp3", "mp3", "libmp3lame"),
        ("m4a", "aac", "ipod", "aac"),
        ("m4a", "libfdk_aac", "ipod", "aac"),
        ("flac", "flac", "flac", "flac"),
        ("ogg", "vorbis", "ogg", "libvorbis"),
        ("wav", "pcm16", "wav", "pcm_s16le"),
    ],
)
def test_audio_containers_drop_video(container: str, codec: str, muxer: str, encoder: str) -> None:
    argv = build(params(container, audio={"Codec": codec})).argv
    assert "-vn" in argv and "-filter_complex" not in argv and "[vout]" not in argv
    assert value(argv, "-f") == muxer and value(argv, "-c:a") == encoder


def test_lossless_audio_takes_no_bitrate() -> None:
    assert "-b:a" not in build(params("flac", audio={"Codec": "flac", "Bitrate": 128})).argv


@pytest.mark.parametrize(
    ("container", "muxer"), [("flv", "flv"), ("ts", "mpegts"), ("mkv", "matroska"), ("mov", "mov")]
)
def test_other_video_containers(container: str, muxer: str) -> None:
    assert value(build(params(container)).argv, "-f") == muxer


def test_h265_is_tagged_hvc1_in_mp4_only() -> None:
    mp4 = build(params(video={"Codec": "h265"})).argv
    assert value(mp4, "-c:v") == "libx265" and value(mp4, "-tag:v") == "hvc1"
    assert value(mp4, "-x265-params") == "log-level=error"
    assert "-tag:v" not in build(params("ts", video={"Codec": "hevc"})).argv


def test_vp9_is_fast_and_constant_quality_needs_a_zero_bitrate() -> None:
    argv = build(params("webm", video={"Codec": "vp9"}, audio={"Codec": "opus"})).argv
    assert value(argv, "-c:v") == "libvpx-vp9" and value(argv, "-deadline") == "realtime"
    assert value(argv, "-row-mt") == "1" and value(argv, "-cpu-used") == "8"
    assert value(argv, "-crf") == "32" and value(argv, "-b:v") == "0"
    assert value(argv, "-c:a") == "libopus" and "-ar" not in argv  # Opus cannot do 44.1 kHz


def test_template_codec_names_of_presets_map_to_debian_encoders() -> None:
    argv = build(params(video={"Codec": "libx264"}, audio={"Codec": "libfdk_aac"})).argv
    assert value(argv, "-c:v") == "libx264" and value(argv, "-c:a") == "aac"


@pytest.mark.parametrize(
    ("p", "encoders", "needle"),
    [
        (params(video={"Codec": "h265"}), ALL_ENCODERS - {"libx265"}, "libx265"),
        (params(video={"Codec": "h266"}), ALL_ENCODERS, "not supported"),
        (params("flv", video={"Codec": "vp9"}), ALL_ENCODERS, "cannot go in a flv"),
        (params("webm", video={"Codec": "vp9"}), ALL_ENCODERS, "cannot go in a webm"),
        (params(audio={"Codec": "mp3"}), ALL_ENCODERS - {"libmp3lame"}, "libmp3lame"),
    ],
)
def test_unavailable_or_unfit_codecs_are_invalid_codec(
    p: RawTranscodeParameter, encoders: frozenset[str], needle: str
) -> None:
    with pytest.raises(InvalidParameterError) as err:
        build(p, encoders=encoders)
    assert err.value.code == "InvalidParameterValue.Codec" and needle in err.value.message


def test_audio_copy_checks_the_source_codec_fits() -> None:
    assert value(build(params(audio={"Codec": "copy"})).argv, "-c:a") == "copy"
    with pytest.raises(InvalidParameterError, match="cannot be copied"):
        build(params("m4a", audio={"Codec": "copy"}), meta(audio_codec="mp3"))


def test_audio_zero_values_keep_the_source() -> None:
    argv = build(params(audio={"Bitrate": 0, "SampleRate": 0, "AudioChannel": 0}), meta(audio_bps=96000)).argv
    assert value(argv, "-b:a") == "96k" and "-ar" not in argv and "-ac" not in argv


# --- rate control, frame rate, keyframes ---


@pytest.mark.parametrize(
    ("video", "expected", "absent"),
    [
        ({}, ["-crf", "23"], ["-b:v", "-maxrate"]),
        (
            {"Bitrate": 1800},
            ["-b:v", "1800k", "-maxrate", "1800k", "-bufsize", "3600k"],
            ["-crf", "-minrate"],
        ),
        ({"Vcrf": 20}, ["-crf", "20"], ["-b:v", "-maxrate"]),
        ({"Vcrf": 20, "Bitrate": 1000}, ["-crf", "20", "-maxrate", "1000k", "-bufsize", "2000k"], ["-b:v"]),
        ({"Bitrate": 500, "Mode": "CBR"}, ["-b:v", "500k", "-minrate", "500k"], ["-crf"]),
        ({"Bitrate": 500, "Mode": "VCRF"}, ["-crf", "23", "-maxrate", "500k"], ["-b:v"]),
    ],
)
def test_rate_control(video: dict[str, Any], expected: list[str], absent: list[str]) -> None:
    argv = build(params(video=video)).argv
    for flag, val in zip(expected[::2], expected[1::2], strict=True):
        assert value(argv, flag) == val
    assert not set(absent) & set(argv)


def test_fps_filter_only_below_the_source_rate() -> None:
    assert "fps=10[" in graph(build(params(video={"Fps": 10})).argv)
    assert "fps=" not in graph(build(params(video={"Fps": 60})).argv)  # capped: never invents frames
    assert "fps=" not in graph(build(params(video={"Fps": 0})).argv)
    assert "fps=30/2[" in graph(build(params(video={"Fps": 30, "FpsDenominator": 2})).argv)


def test_gop_in_seconds_uses_the_output_rate() -> None:
    assert value(build(params(video={"Gop": 2, "GopUnit": "second", "Fps": 10})).argv, "-g") == "20"
    assert value(build(params(video={"Gop": 50})).argv, "-g") == "50"
    assert "-g" not in build(params()).argv


def test_h264_profile_level_and_bframes() -> None:
    argv = build(params(video={"VideoProfile": "high", "VideoLevel": "3.1", "Bframes": 0})).argv
    assert (
        value(argv, "-profile:v") == "high" and value(argv, "-level:v") == "3.1" and value(argv, "-bf") == "0"
    )
    assert "-profile:v" not in build(params(video={"VideoProfile": "default"})).argv
    with pytest.raises(InvalidParameterError) as err:
        build(params(video={"VideoProfile": "extreme"}))
    assert err.value.code == "InvalidParameterValue.VideoProfile"


def test_preset_comes_from_the_spec() -> None:
    assert value(build(x264_preset="ultrafast").argv, "-preset") == "ultrafast"


# --- geometry ---


@pytest.mark.parametrize(
    ("source", "template", "expected"),
    [
        ((320, 240), {"Height": 720}, (320, 240)),  # 100030 on a small clip: never upscale
        ((640, 360), {"Height": 360}, (640, 360)),
        ((640, 360), {"Height": 180}, (320, 180)),
        ((360, 640), {"Height": 180}, (180, 320)),  # open: Height is the short side of a portrait
        ((360, 640), {"Height": 180, "ResolutionAdaptive": "close"}, (102, 180)),
        ((640, 360), {"Width": 320, "Height": 320, "ResolutionAdaptive": "close"}, (320, 320)),
        ((640, 360), {}, (640, 360)),
    ],
)
def test_output_size(source: tuple[int, int], template: dict[str, Any], expected: tuple[int, int]) -> None:
    assert scale_size(build(params(video=template), meta(*source)).argv) == expected


def test_rotated_sources_are_sized_by_their_displayed_shape() -> None:
    argv = build(params(video={"Height": 180}), meta(640, 360, rotate=90)).argv
    assert scale_size(argv) == (180, 320)


@pytest.mark.parametrize(
    ("fill", "needle"),
    [
        ("stretch", "scale=320:320,setsar=1"),
        ("black", "color=black"),
        ("white", "color=white"),
        ("gauss", "boxblur"),
        ("smarttailor", "crop=320:320"),
    ],
)
def test_fill_types(fill: str, needle: str) -> None:
    template = {"Width": 320, "Height": 320, "ResolutionAdaptive": "close", "FillType": fill}
    assert needle in graph(build(params(video=template), meta(640, 360)).argv)


def test_watermarks_are_drawn_after_scaling_from_extra_inputs(tmp_path: Path) -> None:
    logo = tmp_path / "logo.png"
    marks = (WatermarkSpec(7, "image", image=logo, origin="TopRight"),)
    argv = build(params(video={"Height": 180}), meta(640, 360), watermarks=marks).argv
    inputs = [argv[i + 1] for i, arg in enumerate(argv) if arg == "-i"]
    assert inputs == ["/in/a.mov", str(logo)]
    text = graph(argv)
    assert text.index("scale=320:180") < text.index("overlay=")
    assert "[1:v:0]" in text and "x=W-w:" in text


# --- trimming and streams ---


def _seek_and_length(command: Command) -> tuple[str | None, str | None]:
    before_input = command.argv[: command.argv.index("-i")]
    get = lambda f: before_input[before_input.index(f) + 1] if f in before_input else None  # noqa: E731
    return get("-ss"), get("-t")


@pytest.mark.parametrize(
    ("start", "end", "seek", "length", "duration"),
    [
        (None, None, None, None, 4.0),
        (1, 3, "1", "2", 2.0),
        (-1, None, "3", None, 1.0),
        (0, -1, None, "3", 3.0),
        (-3, -1, "1", "2", 2.0),
        (1.5, 10, "1.5", None, 2.5),  # past the end: to the end
    ],
)
def test_trim(
    start: float | None, end: float | None, seek: str | None, length: str | None, duration: float
) -> None:
    command = build(start=start, end=end)
    assert _seek_and_length(command) == (seek, length)
    assert command.duration == pytest.approx(duration)


def test_bad_trim_windows() -> None:
    with pytest.raises(InvalidParameterError) as err:
        trim_window(5, None, 4.0)
    assert err.value.code == "InvalidParameterValue.StartTimeOffset"
    with pytest.raises(InvalidParameterError) as err:
        trim_window(2, 1, 4.0)
    assert err.value.code == "InvalidParameterValue.EndTimeOffset"


def test_source_without_audio_maps_no_audio() -> None:
    argv = build(m=meta(audio=False)).argv
    assert "0:a:0" not in argv and "-an" in argv and "-c:a" not in argv


def test_remove_flags() -> None:
    no_audio = build(params(RemoveAudio=1)).argv
    assert "-an" in no_audio and "0:a:0" not in no_audio
    no_video = build(params(RemoveVideo=1)).argv
    assert "-vn" in no_video and "-filter_complex" not in no_video and "0:a:0" in no_video


def test_source_without_video_gives_audio_only_output_in_a_video_container() -> None:
    argv = build(params(), meta(video=False)).argv
    assert "-vn" in argv and "0:a:0" in argv and value(argv, "-f") == "mp4"


def test_silent_source_for_an_audio_container_is_a_source_error() -> None:
    with pytest.raises(SourceError):
        build(params("mp3", audio={"Codec": "mp3"}), meta(audio=False))


def test_relative_outputs_never_look_like_options() -> None:
    assert build(output=Path("-x.mp4")).argv[-1] == "./-x.mp4"


def test_output_format() -> None:
    assert output_format("hls") == "m3u8" and output_format("mp4") == "mp4"


# --- OverrideParameter ---


def test_override_merges_onto_the_template() -> None:
    template = params(video={"Height": 720, "Bitrate": 1800, "Vcrf": 23, "Bframes": 3})
    override = OverrideTranscodeParameter.model_validate(
        {
            "Container": "HLS",
            "VideoTemplate": {"Height": 360, "Vcrf": 100, "Bframes": -1},
            "AudioTemplate": {"Bitrate": 48},
        }
    )
    merged = effective_parameters(template, override)
    assert merged.Container == "hls"
    assert merged.VideoTemplate is not None and merged.AudioTemplate is not None
    assert (merged.VideoTemplate.Height, merged.VideoTemplate.Bitrate) == (360, 1800)
    assert merged.VideoTemplate.Vcrf is None and merged.VideoTemplate.Bframes is None  # reset to auto
    assert (merged.AudioTemplate.Bitrate, merged.AudioTemplate.Codec) == (48, "aac")
    assert effective_parameters(template, None) == template


def test_override_that_breaks_the_template_is_invalid() -> None:
    with pytest.raises(InvalidParameterError) as err:
        effective_parameters(params(), OverrideTranscodeParameter(RemoveVideo=1, RemoveAudio=1))
    assert err.value.code.startswith("InvalidParameterValue")
    audio_only = RawTranscodeParameter.model_validate({"Container": "mp3", "AudioTemplate": {"Codec": "mp3"}})
    with pytest.raises(InvalidParameterError, match="Codec"):
        effective_parameters(
            audio_only,
            OverrideTranscodeParameter.model_validate({"Container": "mp4", "VideoTemplate": {"Height": 360}}),
        )
