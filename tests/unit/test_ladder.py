"""Adaptive streaming without running ffmpeg: models, the ladder plan, the argv, names and manifests."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest
import tencentcloud.mps.v20190612.models as sdk

from mps.errors import InvalidParameterError, SourceError
from mps.media.geometry import Size
from mps.media.naming import LadderNamer, Namer
from mps.media.ops.ladder import LadderFiles, build_ladder, plan_ladder, x264_threads
from mps.media.ops.ladder_manifest import (
    AudioGroup,
    Variant,
    avc_codecs,
    build_master_playlist,
    parse_media_playlist,
    rename_mpd_base_urls,
    rename_playlist_uris,
)
from mps.media.specs import AdaptiveSpec, WatermarkSpec
from mps.models.metadata import MediaAudioStreamItem, MediaMetaData, MediaVideoStreamItem
from mps.models.results import AdaptiveDynamicStreamingInfoItem, AdaptiveDynamicStreamingResult
from mps.models.tasks import AdaptiveDynamicStreamingTaskInput
from mps.models.templates import AdaptiveDynamicStreamingTemplate
from mps.models.validation import parse_wire
from mps.templates import TemplateCatalog, load_presets

ENCODERS = frozenset({"libx264", "aac"})


def _stream(height: int, kbps: int, **video: Any) -> dict[str, Any]:
    return {
        "Video": {"Codec": "h264", "Height": height, "Bitrate": kbps, **video},
        "Audio": {"Codec": "aac", "Bitrate": 64, "SampleRate": 44100},
    }


def _template(streams: list[dict[str, Any]] | None = None, **top: Any) -> AdaptiveDynamicStreamingTemplate:
    body = {
        "Definition": 1,
        "Format": "HLS",
        "StreamInfos": streams or [_stream(360, 600), _stream(240, 300)],
        **top,
    }
    return AdaptiveDynamicStreamingTemplate.model_validate(body)


def _meta(width: int = 640, height: int = 360, *, audio: bool = True, kbps: int = 2000) -> MediaMetaData:
    video = MediaVideoStreamItem(
        Width=width, Height=height, Codec="h264", Fps=25, FpsNumerator=25, Bitrate=kbps * 1000
    )
    audios = (
        [MediaAudioStreamItem(Codec="aac", Bitrate=64000, SamplingRate=44100, Channel=2)] if audio else []
    )
    return MediaMetaData(Width=width, Height=height, Duration=5.0, VideoDuration=5.0, Container="mov,mp4",
                         VideoStreamSet=[video], AudioStreamSet=audios)  # fmt: skip


# --- models -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"StreamInfos": []}, "StreamInfos"),
        ({"StreamInfos": [_stream(360, 600)] * 11}, "StreamInfos"),
        ({"Format": "RTMP"}, "Format"),
        ({"SegmentType": "flv-segment"}, "SegmentType"),
        ({"Format": "MPEG-DASH", "SegmentType": "ts-segment"}, "SegmentType"),
        ({"Format": "MPEG-DASH", "SegmentType": "mp4-segment"}, "SegmentType"),
        ({"SegmentType": "ts-packed-audio"}, "SegmentType"),
        ({"PureAudio": 1}, "PureAudio"),
        ({"DisableHigherVideoResolution": 2}, "DisableHigherVideoResolution"),
        ({"StreamInfos": [{"Audio": {"Codec": "aac"}}]}, "Video"),
        ({"StreamInfos": [{"Video": {"Codec": "h264"}}]}, "Audio"),
        ({"StreamInfos": [{**_stream(360, 600), "AudioList": [{"Codec": "aac"}]}]}, "AudioList"),
        ({"StreamInfos": [{"RemoveVideo": 1, "RemoveAudio": 1}]}, "Video"),
    ],
)
def test_template_refusals_name_the_field(change: dict[str, Any], code: str) -> None:
    body = {"Definition": 1, "Format": "HLS", "StreamInfos": [_stream(360, 600)], **change}
    with pytest.raises(InvalidParameterError) as caught:
        parse_wire(AdaptiveDynamicStreamingTemplate, body)
    assert caught.value.code == f"InvalidParameterValue.{code}"


def test_segment_type_defaults_by_format() -> None:
    assert _template().segment_type == "ts-segment"
    assert _template(Format="mpeg-dash").segment_type == "mp4-byterange"
    assert _template(Format="MPEG-DASH", SegmentType="mp4-mp4-byterange").Format == "MPEG-DASH"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("DrmInfo", {"Type": "widevine"}),
        ("AddOnSubtitles", [{"Type": "subtitle-stream"}]),
        ("BlindWatermark", {"Type": "blind-basic"}),
        ("SubtitleTemplate", {"Path": "a.srt"}),
        ("KeyPTSList", [1000]),
        ("AddOnAudios", [{"Type": "x"}]),
        ("StdExtInfo", "{}"),
    ],
)
def test_task_fields_we_cannot_honour_are_refused(field: str, value: object) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        parse_wire(AdaptiveDynamicStreamingTaskInput, {"Definition": 10, field: value})
    assert caught.value.code == f"InvalidParameterValue.{field}"


def test_task_names_must_be_relative() -> None:
    with pytest.raises(InvalidParameterError) as caught:
        parse_wire(
            AdaptiveDynamicStreamingTaskInput,
            {"Definition": 10, "SegmentObjectName": "/x/{segmentNumber}.ts"},
        )
    assert caught.value.code == "InvalidParameterValue.SegmentObjectName"


def _sdk_reads(class_name: str, wire: dict[str, Any]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        getattr(sdk, class_name)()._deserialize(json.loads(json.dumps(wire)))


def test_wire_shapes_are_the_sdks() -> None:
    for template in load_presets()["AdaptiveDynamicStreamingTemplateSet"]:
        _sdk_reads("AdaptiveDynamicStreamingTemplate", template.to_wire())
    task = AdaptiveDynamicStreamingTaskInput(
        Definition=10,
        OutputObjectPath="/a/{inputName}.{format}",
        SubStreamObjectName="s_{subStreamNumber}.{format}",
        SegmentObjectName="s_{subStreamNumber}_{segmentNumber}.{format}",
        StdExtStreamInfos=[_stream(360, 600)],
    )
    _sdk_reads("AdaptiveDynamicStreamingTaskInput", task.to_wire())
    item = AdaptiveDynamicStreamingInfoItem(Definition=10, Package="HLS", Path="/out/a.m3u8")
    result = AdaptiveDynamicStreamingResult(Status="SUCCESS", Input=task.to_wire(), Output=item)
    _sdk_reads("MediaProcessTaskAdaptiveDynamicStreamingResult", result.to_wire())


def test_presets_are_in_the_catalog() -> None:
    catalog = TemplateCatalog(load_presets())
    hls, dash = catalog.adaptive_dynamic_streaming(10), catalog.get("AdaptiveDynamicStreamingTemplateSet", 20)
    assert (hls.Format, hls.segment_type, dash.Format, dash.segment_type) == (
        "HLS",
        "ts-segment",
        "MPEG-DASH",
        "mp4-byterange",
    )
    heights = [s.Video.Height for s in hls.StreamInfos if s.Video]
    assert heights == [1080, 720, 480, 360]
    assert catalog.adaptive_dynamic_streaming(30).segment_type == "mp4-segment"
    assert catalog.adaptive_dynamic_streaming(40).PureAudio == 1


# --- the plan -----------------------------------------------------------------------------------------


def _sizes(template: AdaptiveDynamicStreamingTemplate, meta: MediaMetaData) -> list[tuple[int, int, int]]:
    return [(r.size.width, r.size.height, r.video.Bitrate) for r in plan_ladder(template, meta).rungs]


def test_disable_higher_resolution_on_a_480p_source_gives_480p_and_360p() -> None:
    streams = [_stream(1080, 5000), _stream(720, 2500), _stream(360, 700)]
    ladder = plan_ladder(_template(streams, DisableHigherVideoResolution=1), _meta(854, 480))
    assert [(r.size, r.stream) for r in ladder.rungs] == [(Size(854, 480), 1), (Size(640, 360), 2)]
    assert [s.stream for s in ladder.skipped] == [0]


def test_a_rung_at_the_source_size_is_not_doubled() -> None:
    streams = [_stream(720, 2500), _stream(480, 1200), _stream(360, 700)]
    ladder = plan_ladder(_template(streams, DisableHigherVideoResolution=1), _meta(854, 480))
    assert [r.stream for r in ladder.rungs] == [1, 2]


def test_without_the_flag_no_rung_is_upscaled() -> None:
    streams = [_stream(1080, 5000), _stream(720, 2500), _stream(360, 700)]
    assert _sizes(_template(streams), _meta(854, 480)) == [
        (854, 480, 5000),
        (854, 480, 2500),
        (640, 360, 700),
    ]


def test_disable_higher_bitrate_caps_at_the_source() -> None:
    template = _template([_stream(360, 3000), _stream(240, 300)], DisableHigherVideoBitrate=1)
    assert _sizes(template, _meta(kbps=800)) == [(640, 360, 800), (426, 240, 300)]


def test_identical_rungs_are_made_once() -> None:
    ladder = plan_ladder(_template([_stream(1080, 800), _stream(720, 800)]), _meta())
    assert len(ladder.rungs) == 1 and ladder.skipped[0].stream == 1


def test_shared_audio_is_encoded_once_and_silent_sources_have_none() -> None:
    assert len(plan_ladder(_template(), _meta()).audios) == 1
    silent = plan_ladder(_template(), _meta(audio=False))
    assert silent.audios == () and all(r.audio is None for r in silent.rungs)


@pytest.mark.parametrize(("part", "codec"), [("Video", "h265"), ("Audio", "mp3")])
def test_codecs_other_than_h264_and_aac_are_refused(part: str, codec: str) -> None:
    stream = _stream(360, 600)
    stream[part]["Codec"] = codec
    with pytest.raises(InvalidParameterError) as caught:
        plan_ladder(_template([stream]), _meta())
    assert caught.value.code == "InvalidParameterValue.Codec"


def test_audio_only_ladder_of_a_silent_source_is_a_source_error() -> None:
    streams = [{"RemoveVideo": 1, "Audio": {"Codec": "aac", "Bitrate": 64}}]
    with pytest.raises(SourceError):
        plan_ladder(_template(streams, PureAudio=1), _meta(audio=False))


# --- the command --------------------------------------------------------------------------------------


def _argv(
    template: AdaptiveDynamicStreamingTemplate, meta: MediaMetaData | None = None, **spec: Any
) -> list[str]:
    meta = meta or _meta()
    ladder = plan_ladder(template, meta)
    return build_ladder(AdaptiveSpec(1, template, **spec), ladder, meta, "/in/a.mp4", LadderFiles(Path("/w")),
                        encoders=ENCODERS).argv  # fmt: skip


def _after(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, arg in enumerate(argv) if arg == flag]


def test_one_decode_feeds_every_rung_with_aligned_keyframes() -> None:
    streams = [_stream(360, 600, HlsTime=2), _stream(240, 300), _stream(144, 150)]
    argv = _argv(_template(streams))
    assert argv.count("-i") == 1
    graph = _after(argv, "-filter_complex")[0]
    assert graph.count("split=2") == 2  # 360 -> (out, 240 -> (out, 144)): a cascade from one decode
    assert _after(argv, "-force_key_frames:v:0") == ["expr:gte(t,n_forced*2)"] * 3
    assert _after(argv, "-g:v:0") == ["50"] * 3
    assert _after(argv, "-sc_threshold:v:0") == ["0"] * 3
    assert _after(argv, "-b:v:0") == ["600k", "300k", "150k"]
    assert _after(argv, "-map") == ["[rung0]", "[rung1]", "[rung2]", "0:a:0"]
    assert _after(argv, "-hls_segment_filename") == [f"/w/s{n}/seg%d.ts" for n in range(4)]
    assert _after(argv, "-hls_time") == ["2"] * 4
    assert "setsar" not in graph.split("format=yuv420p")[-1]


@pytest.mark.parametrize(
    ("segment_type", "kind", "flags", "pattern"),
    [
        ("ts-segment", "mpegts", "independent_segments", "seg%d.ts"),
        ("mp4-segment", "fmp4", "independent_segments", "seg%d.m4s"),
        ("ts-byterange", "mpegts", "independent_segments+single_file", "media.ts"),
        ("mp4-byterange", "fmp4", "independent_segments+single_file", "media.m4s"),
    ],
)
def test_hls_segment_types(segment_type: str, kind: str, flags: str, pattern: str) -> None:
    argv = _argv(_template(SegmentType=segment_type))
    assert set(_after(argv, "-hls_segment_type")) == {kind}
    assert set(_after(argv, "-hls_flags")) == {flags}
    assert _after(argv, "-hls_segment_filename")[0] == f"/w/s0/{pattern}"
    assert ("-hls_fmp4_init_filename" in argv) == (segment_type == "mp4-segment")


def test_dash_is_one_muxer_with_a_video_and_an_audio_set() -> None:
    argv = _argv(_template(Format="MPEG-DASH"))
    assert _after(argv, "-f") == ["dash"]
    assert _after(argv, "-adaptation_sets") == ["id=0,streams=v id=1,streams=a"]
    assert _after(argv, "-single_file") == ["1"] and argv[-1] == "/w/manifest.mpd"
    assert _after(argv, "-b:v:1") == ["300k"] and _after(argv, "-c:a:0") == ["aac"]
    # 426x240 is not quite 16:9: its pixels are made 640:639 so the AdaptationSet has one aspect ratio.
    assert "setsar=r=640/639:max=640" in _after(argv, "-filter_complex")[0]


def test_watermarks_are_drawn_on_every_rung() -> None:
    mark = WatermarkSpec(definition=0, kind="image", image=Path("/logo.png"))
    argv = _argv(_template(), watermarks=(mark,))
    assert argv.count("-i") == 3  # the source, and the logo once per rung
    assert _after(argv, "-filter_complex")[0].count("overlay") == 2


# --- names --------------------------------------------------------------------------------------------


def test_default_names_follow_tencent() -> None:
    names = LadderNamer(Namer("movie.mov", "/out/", 10))
    manifest = names.manifest("m3u8")
    assert manifest == "out/movie_adaptiveDynamicStreaming_10.m3u8"
    assert names.sub_stream(manifest, 2, "m3u8") == "out/movie_adaptiveDynamicStreaming_10_2.m3u8"
    assert names.segment(manifest, 2, 7, "ts") == "out/movie_adaptiveDynamicStreaming_10_2_7.ts"
    assert names.segment(manifest, 0, "init", "mp4") == "out/movie_adaptiveDynamicStreaming_10_0_init.mp4"


def test_custom_names_get_the_numbers_they_lack() -> None:
    names = LadderNamer(
        Namer("movie.mov", "/out/", 10),
        "/abr/{inputName}.{format}",
        "rung.{format}",
        "{subStreamNumber}/s.{format}",
    )
    manifest = names.manifest("mpd")
    assert manifest == "abr/movie.mpd"
    assert names.sub_stream(manifest, 1, "mp4") == "abr/rung_1.mp4"
    assert names.segment(manifest, 1, 3, "ts") == "abr/1/s_3.ts"


@pytest.mark.parametrize(
    ("names", "code"),
    [
        ({"manifest_name": "x.mp4"}, "OutputObjectPath"),
        ({"sub_stream_name": "../../up_{subStreamNumber}.{format}"}, "OutputObjectPath"),
        ({"segment_name": "/abs_{segmentNumber}.{format}"}, "SegmentObjectName"),
    ],
)
def test_bad_names_are_refused(names: dict[str, str], code: str) -> None:
    namer = LadderNamer(Namer("movie.mov", "/out/", 10), **names)
    with pytest.raises(InvalidParameterError) as caught:
        manifest = namer.manifest("m3u8")
        namer.sub_stream(manifest, 0, "m3u8")
        namer.segment(manifest, 0, 0, "ts")
    assert caught.value.code == f"InvalidParameterValue.{code}"


# --- manifests ----------------------------------------------------------------------------------------

BYTERANGE = """#EXTM3U
#EXT-X-VERSION:7
#EXT-X-TARGETDURATION:2
#EXT-X-MAP:URI="media.m4s",BYTERANGE="800@0"
#EXTINF:2.000000,
#EXT-X-BYTERANGE:1000@800
media.m4s
#EXTINF:1.000000,
#EXT-X-BYTERANGE:250@1800
media.m4s
#EXT-X-ENDLIST
"""


def test_byterange_playlists_are_read_measured_and_renamed() -> None:
    playlist = parse_media_playlist(BYTERANGE)
    assert (playlist.version, playlist.init, playlist.init_length) == (7, "media.m4s", 800)
    assert [(s.duration, s.length) for s in playlist.segments] == [(2.0, 1000), (1.0, 250)]
    assert playlist.uris == ["media.m4s"]
    assert playlist.rates({}) == (4000, 3333)
    renamed = rename_playlist_uris(BYTERANGE, {"media.m4s": "a_0_0.mp4"})
    assert 'URI="a_0_0.mp4",BYTERANGE="800@0"' in renamed and "media.m4s" not in renamed


def test_master_playlist_has_every_attribute() -> None:
    audio = AudioGroup("audio0", "AAC 64 kbps", "a_2.m3u8", 2, 70_000, 65_000)
    variants = [
        Variant("a_0.m3u8", 900_000, 600_000, "avc1.64001e,mp4a.40.2", Size(640, 360), 25.0, audio),
        Variant("a_1.m3u8", 400_000, 300_000, "avc1.640015,mp4a.40.2", Size(426, 240), 25.0, audio),
    ]
    assert build_master_playlist(variants, [audio], 6) == (
        "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-INDEPENDENT-SEGMENTS\n"
        '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio0",NAME="AAC 64 kbps",DEFAULT=YES,AUTOSELECT=YES,'
        'CHANNELS="2",URI="a_2.m3u8"\n'
        "#EXT-X-STREAM-INF:BANDWIDTH=970000,AVERAGE-BANDWIDTH=665000,RESOLUTION=640x360,FRAME-RATE=25.000,"
        'CODECS="avc1.64001e,mp4a.40.2",AUDIO="audio0"\na_0.m3u8\n'
        "#EXT-X-STREAM-INF:BANDWIDTH=470000,AVERAGE-BANDWIDTH=365000,RESOLUTION=426x240,FRAME-RATE=25.000,"
        'CODECS="avc1.640015,mp4a.40.2",AUDIO="audio0"\na_1.m3u8\n'
    )


def test_avc_codecs_from_an_init_section_and_from_a_ts_sps() -> None:
    assert avc_codecs(b"....avcC\x01\x64\x00\x1e\xff") == "avc1.64001e"
    assert avc_codecs(b"\x47\x40\x00\x00\x00\x00\x01\x67\x42\xc0\x15\x00") == "avc1.42c015"
    assert avc_codecs(b"no video here") is None


def test_mpd_base_urls_are_renamed_and_escaped() -> None:
    mpd = "<MPD><BaseURL>stream0.mp4</BaseURL></MPD>"
    assert (
        rename_mpd_base_urls(mpd, {"stream0.mp4": "a&b_0.mp4"})
        == "<MPD><BaseURL>a&amp;b_0.mp4</BaseURL></MPD>"
    )
    with pytest.raises(ValueError, match="stream1"):
        rename_mpd_base_urls(mpd, {"stream1.mp4": "x"})


def test_std_ext_stream_infos_replace_the_templates_streams() -> None:
    from mps.workflow.operations.adaptive import effective_template

    template = _template()
    assert effective_template(template, AdaptiveDynamicStreamingTaskInput(Definition=1)) is template
    task = AdaptiveDynamicStreamingTaskInput(Definition=1, StdExtStreamInfos=[_stream(144, 150)])
    assert [s.Video.Height for s in effective_template(template, task).StreamInfos if s.Video] == [144]
    audio_only = AdaptiveDynamicStreamingTaskInput(
        Definition=1, StdExtStreamInfos=[{"RemoveVideo": 1, "Audio": {"Codec": "aac"}}]
    )
    with pytest.raises(InvalidParameterError) as caught:
        effective_template(template, audio_only)
    assert caught.value.code == "InvalidParameterValue.PureAudio"


def test_each_rung_encoder_is_given_threads_to_bound_memory() -> None:
    # Four x264s at their own 1.5 threads per core held 536 MiB on a 1080p ladder; 2 each, 492.
    argv = _argv(_template([_stream(360, 600), _stream(240, 300), _stream(144, 150)]))
    assert _after(argv, "-threads:v:0") == [str(x264_threads(3))] * 3
    assert x264_threads(4, cores=2) == 2  # never 1: ffmpeg runs the encoders in turn from one thread
    assert x264_threads(4, cores=16) == 6
    assert x264_threads(1, cores=16) is None  # one encoder: x264's own choice


def test_a_single_rung_keeps_x264s_own_threads() -> None:
    argv = _argv(_template([_stream(360, 600)]))
    assert not [arg for arg in argv if arg.startswith("-threads")]
