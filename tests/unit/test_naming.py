from __future__ import annotations

import pytest

from mps.errors import InvalidParameterError
from mps.media.naming import Namer, format_number, input_stem, safe_key
from mps.models import NumberFormat


def test_default_names_follow_tencent() -> None:
    namer = Namer("movie.mov", "/out/", 100030)
    assert namer.key("transcode", "mp4") == "out/movie_transcode_100030.mp4"
    assert namer.key("snapshotByTimeOffset", "jpg", index=2) == "out/movie_snapshotByTimeOffset_100030_2.jpg"
    assert namer.key("imageSprite_vtt", "vtt") == "out/movie_imageSprite_100030.vtt"


def test_no_output_dir_means_the_root() -> None:
    assert Namer("a.mp4", None, 10).key("animatedGraphic", "gif") == "a_animatedGraphic_10.gif"
    assert Namer("a.mp4", "/", 10).key("animatedGraphic", "gif") == "a_animatedGraphic_10.gif"


def test_number_format() -> None:
    fmt = NumberFormat(InitialValue=1, Increment=5, MinLength=3, PlaceHolder="0")
    assert [format_number(i, fmt) for i in range(3)] == ["001", "006", "011"]
    assert format_number(4, None) == "4"


def test_custom_path_relative_and_absolute() -> None:
    namer = Namer("clip.mp4", "/out/", 10)
    assert namer.key("transcode", "mp4", custom="hd/{inputName}.{format}") == "out/hd/clip.mp4"
    assert namer.key("transcode", "mp4", custom="/elsewhere/x.mp4") == "elsewhere/x.mp4"


def test_numbered_custom_path_gets_a_number() -> None:
    namer = Namer("clip.mp4", "/", 10)
    keys = {namer.key("sampleSnapshot", "jpg", index=i, custom="shot.jpg", numbered=True) for i in range(3)}
    assert keys == {"shot_0.jpg", "shot_1.jpg", "shot_2.jpg"}


@pytest.mark.parametrize(
    "hostile", ["../x.mp4", "a/../../x.mp4", "/../etc/passwd", "a\\..\\x", "a\nb.mp4", "a\x00.mp4"]
)
def test_paths_cannot_climb_out(hostile: str) -> None:
    with pytest.raises(InvalidParameterError) as info:
        Namer("clip.mp4", "/out/", 10).key("transcode", "mp4", custom=hostile)
    assert info.value.code == "InvalidParameterValue.OutputObjectPath"


def test_output_dir_is_checked_too() -> None:
    with pytest.raises(InvalidParameterError) as info:
        Namer("clip.mp4", "/../", 10).key("transcode", "mp4")
    assert info.value.code == "InvalidParameterValue.OutputDir"


def test_safe_key_drops_empty_and_dot_segments() -> None:
    assert safe_key("//a/./b//c.mp4") == "a/b/c.mp4"


def test_input_stem() -> None:
    assert input_stem("a.b.mov") == "a.b"
    assert input_stem("noext") == "noext"
    assert input_stem(".hidden") == ".hidden"
