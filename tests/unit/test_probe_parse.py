"""parse_probe on canned ffprobe JSON: the shapes ffmpeg 5.1 prints, and the broken ones."""

from __future__ import annotations

from typing import Any

import pytest

from mps.errors import SourceError
from mps.media.probe import display_rotation, parse_keyframe_interval, parse_probe

MP4_FORMAT = {
    "filename": "a.mp4",
    "nb_streams": 2,
    "format_name": "mov,mp4,m4a,3gp,3g2,mj2",
    "duration": "4.010000",
    "size": "201234",
    "bit_rate": "401464",
}


def h264(**extra: Any) -> dict[str, Any]:
    stream = {
        "index": 0,
        "codec_name": "h264",
        "profile": "High",
        "codec_type": "video",
        "width": 320,
        "height": 240,
        "level": 31,
        "color_space": "bt709",
        "color_transfer": "bt709",
        "color_primaries": "bt709",
        "r_frame_rate": "30000/1001",
        "avg_frame_rate": "30000/1001",
        "duration": "4.004000",
        "bit_rate": "330000",
        "disposition": {"default": 1, "attached_pic": 0},
    }
    return {**stream, **extra}


def aac(**extra: Any) -> dict[str, Any]:
    stream = {
        "index": 1,
        "codec_name": "aac",
        "codec_type": "audio",
        "sample_rate": "44100",
        "channels": 2,
        "duration": "4.010000",
        "bit_rate": "64000",
        "disposition": {"default": 1, "attached_pic": 0},
    }
    return {**stream, **extra}


def test_a_normal_mp4_maps_every_field() -> None:
    meta = parse_probe({"streams": [h264(), aac()], "format": MP4_FORMAT})

    assert meta.Container == "mov,mp4,m4a,3gp,3g2,mj2"
    assert (meta.Size, meta.Bitrate, meta.Duration) == (201234, 401464, 4.01)
    assert (meta.Width, meta.Height, meta.Rotate) == (320, 240, 0)
    assert (meta.VideoDuration, meta.AudioDuration) == (4.004, 4.01)
    video = meta.VideoStreamSet[0]
    assert (video.Codec, video.Bitrate, video.Width, video.Height) == ("h264", 330000, 320, 240)
    assert (video.Fps, video.FpsNumerator, video.FpsDenominator) == (30, 30000, 1001)
    assert (video.ColorPrimaries, video.ColorSpace, video.ColorTransfer) == ("bt709", "bt709", "bt709")
    assert video.Codecs == "avc1.64001f"
    audio = meta.AudioStreamSet[0]
    assert (audio.Codec, audio.Bitrate, audio.SamplingRate, audio.Channel) == ("aac", 64000, 44100, 2)


def test_size_given_by_the_caller_wins_over_the_format_size() -> None:
    assert parse_probe({"streams": [h264()], "format": MP4_FORMAT}, size=7).Size == 7


def test_width_and_height_are_maxima_over_video_streams() -> None:
    small, large = h264(width=640, height=360), h264(index=1, width=1280, height=720)
    meta = parse_probe({"streams": [small, large], "format": MP4_FORMAT})
    assert (meta.Width, meta.Height) == (1280, 720)
    assert len(meta.VideoStreamSet) == 2


@pytest.mark.parametrize(
    ("rotation", "rotate"),
    # ffprobe counts counter-clockwise: an upright phone video says -90, Tencent says 90.
    [(-90, 90), (90, 270), (-180, 180), (180, 180), (-270, 270), (270, 90), (0, 0), (-89.9, 90)],
)
def test_display_matrix_rotation_becomes_clockwise_degrees(rotation: float, rotate: int) -> None:
    side_data = [{"side_data_type": "Display Matrix", "displaymatrix": "...", "rotation": rotation}]
    meta = parse_probe({"streams": [h264(side_data_list=side_data)], "format": MP4_FORMAT})
    assert meta.Rotate == rotate


def test_a_quarter_turn_swaps_the_display_size_not_the_coded_size() -> None:
    side_data = [{"side_data_type": "Display Matrix", "rotation": -90}]
    meta = parse_probe({"streams": [h264(side_data_list=side_data)], "format": MP4_FORMAT})
    assert (meta.Width, meta.Height) == (320, 240)
    assert (meta.display_width, meta.display_height) == (240, 320)


@pytest.mark.parametrize(("tag", "rotate"), [("90", 90), ("270", 270), ("180", 180), ("-90", 270), ("x", 0)])
def test_legacy_rotate_tag_is_already_clockwise(tag: str, rotate: int) -> None:
    meta = parse_probe({"streams": [h264(tags={"rotate": tag})], "format": MP4_FORMAT})
    assert meta.Rotate == rotate


def test_side_data_wins_over_the_legacy_tag() -> None:
    stream = h264(tags={"rotate": "180"}, side_data_list=[{"rotation": -90}])
    assert display_rotation(stream) == 90


def test_audio_only_mp3_has_no_video_and_uses_format_duration_as_fallback() -> None:
    mp3 = aac(index=0, codec_name="mp3", sample_rate="48000", channels=1)
    del mp3["duration"]
    fmt = {"format_name": "mp3", "duration": "3.5", "size": "56000", "bit_rate": "128000"}
    meta = parse_probe({"streams": [mp3], "format": fmt})

    assert meta.VideoStreamSet == [] and not meta.has_video
    assert (meta.Width, meta.Height, meta.Rotate, meta.VideoDuration) == (0, 0, 0, 0.0)
    assert meta.AudioDuration == 3.5
    assert meta.AudioStreamSet[0].Codec == "mp3"
    assert (meta.AudioStreamSet[0].SamplingRate, meta.AudioStreamSet[0].Channel) == (48000, 1)


def test_video_without_audio_has_an_empty_audio_set() -> None:
    meta = parse_probe({"streams": [h264()], "format": MP4_FORMAT})
    assert meta.AudioStreamSet == [] and not meta.has_audio
    assert meta.AudioDuration == 0.0
    assert meta.VideoDuration == 4.004


def test_attached_picture_is_not_a_video_stream() -> None:
    cover = {
        "index": 1,
        "codec_name": "mjpeg",
        "codec_type": "video",
        "width": 600,
        "height": 600,
        "r_frame_rate": "90000/1",
        "avg_frame_rate": "0/0",
        "disposition": {"default": 0, "attached_pic": 1},
    }
    meta = parse_probe({"streams": [aac(index=0), cover], "format": {"format_name": "mp3"}})
    assert meta.VideoStreamSet == []
    assert (meta.Width, meta.Height) == (0, 0)
    assert len(meta.AudioStreamSet) == 1


def test_only_a_cover_picture_means_no_media() -> None:
    cover = h264(disposition={"attached_pic": 1})
    with pytest.raises(SourceError) as caught:
        parse_probe({"streams": [cover], "format": MP4_FORMAT})
    assert caught.value.code == "FailedOperation.SourceFile"


@pytest.mark.parametrize(
    "data",
    [
        {"streams": [], "format": MP4_FORMAT},
        {"format": MP4_FORMAT},
        {},
        {"streams": [{"codec_type": "subtitle", "codec_name": "mov_text"}], "format": MP4_FORMAT},
        {"streams": [{"codec_type": "data"}], "format": {}},
    ],
)
def test_neither_audio_nor_video_raises_source_error(data: dict[str, Any]) -> None:
    with pytest.raises(SourceError) as caught:
        parse_probe(data)
    assert caught.value.code == "FailedOperation.SourceFile"
    assert "\n" not in caught.value.message


def test_garbage_and_missing_values_become_zero() -> None:
    video = {
        "codec_type": "video",
        "width": "320",
        "height": "240",
        "bit_rate": "N/A",
        "avg_frame_rate": "0/0",
        "r_frame_rate": "garbage",
        "duration": "-5",
        "color_space": "unknown",
        "side_data_list": [{"rotation": "N/A"}, "not a dict"],
        "tags": "not a dict",
        "disposition": None,
    }
    audio = {"codec_type": "audio", "sample_rate": "44100", "channels": "two", "bit_rate": "nan"}
    fmt = {"duration": "N/A", "size": "huge", "bit_rate": "inf", "format_name": None}
    meta = parse_probe({"streams": [video, audio, "junk"], "format": fmt})

    assert (meta.Size, meta.Bitrate, meta.Duration, meta.Container) == (0, 0, 0.0, "")
    assert (meta.Width, meta.Height, meta.Rotate) == (320, 240, 0)
    assert (meta.VideoDuration, meta.AudioDuration) == (0.0, 0.0)
    stream = meta.VideoStreamSet[0]
    assert (stream.Fps, stream.FpsNumerator, stream.FpsDenominator) == (0, 0, 1)
    assert (stream.Width, stream.Bitrate, stream.Codec) == (320, 0, "")
    assert (stream.ColorSpace, stream.Codecs) == ("", "")
    assert (meta.AudioStreamSet[0].SamplingRate, meta.AudioStreamSet[0].Channel) == (44100, 0)


def test_streams_ffprobe_could_not_size_make_the_source_unreadable() -> None:
    # A truncated MPEG-TS: ffprobe lists an h264 stream of 0x0 and an AAC stream with no sample rate.
    unsized = {"codec_type": "video", "codec_name": "h264", "width": 0, "height": 0}
    silent = {"codec_type": "audio", "codec_name": "aac", "channels": 0}
    with pytest.raises(SourceError) as caught:
        parse_probe({"streams": [unsized, silent], "format": {"duration": "0.000011"}})
    assert caught.value.code == "FailedOperation.SourceFile"
    assert "frame size" in caught.value.message


def test_an_unsized_video_beside_good_audio_leaves_an_audio_source() -> None:
    unsized = {"codec_type": "video", "codec_name": "h264", "width": 0, "height": 0}
    audio = {
        "codec_type": "audio",
        "codec_name": "aac",
        "sample_rate": "48000",
        "channels": 2,
        "duration": "3",
    }
    meta = parse_probe({"streams": [unsized, audio], "format": {}})
    assert (meta.has_video, meta.VideoStreamSet, meta.Duration) == (False, [], 3.0)
    assert meta.fps == 25.0  # the model's own fallback when the rate is unknown


def test_frame_rate_falls_back_to_r_frame_rate() -> None:
    meta = parse_probe({"streams": [h264(avg_frame_rate="0/0", r_frame_rate="25/1")], "format": MP4_FORMAT})
    stream = meta.VideoStreamSet[0]
    assert (stream.Fps, stream.FpsNumerator, stream.FpsDenominator) == (25, 25, 1)


def test_numbers_given_as_json_numbers_are_read_too() -> None:
    fmt = {"format_name": "matroska,webm", "duration": 2.5, "size": 1000, "bit_rate": 3200}
    meta = parse_probe({"streams": [h264(bit_rate=1000, duration=2.0)], "format": fmt})
    # Duration is what the streams hold (2.0), not the container's 2.5.
    assert (meta.Duration, meta.Size, meta.Bitrate, meta.VideoDuration) == (2.0, 1000, 3200, 2.0)
    assert meta.VideoStreamSet[0].Bitrate == 1000


def test_keyframe_interval_is_the_mean_gap_between_keyframes() -> None:
    packets = "0.000000,K_\n0.040000,__\n2.000000,K_\nN/A,K_\n4.000000,K__\n4.040000,__\n"
    assert parse_keyframe_interval(packets) == 2.0
    assert parse_keyframe_interval("0.000000,K_\n0.040000,__\n", window=20.0) == 20.0


def test_a_container_header_claiming_100_hours_is_not_believed() -> None:
    fmt = {**MP4_FORMAT, "duration": "360000.000000"}
    meta = parse_probe({"streams": [h264(duration="2.0"), aac(duration="1.98")], "format": fmt})
    assert (meta.Duration, meta.VideoDuration, meta.AudioDuration) == (2.0, 2.0, 1.98)


def test_matroska_streams_state_their_length_in_a_tag() -> None:
    video = {**h264(), "tags": {"DURATION": "00:00:02.040000000"}}
    del video["duration"]
    meta = parse_probe({"streams": [video], "format": {"format_name": "matroska,webm", "duration": "9999"}})
    assert (meta.Duration, meta.VideoDuration) == (2.04, 2.04)


def test_absurd_header_numbers_become_unknown_rather_than_an_error() -> None:
    fmt = {"format_name": "mp4", "duration": "1e300", "size": str(2**70), "bit_rate": "1e30"}
    meta = parse_probe({"streams": [h264(duration="1e300", bit_rate=str(2**70))], "format": fmt})
    assert (meta.Duration, meta.Size, meta.Bitrate, meta.VideoStreamSet[0].Bitrate) == (0.0, 0, 0, 0)
