"""Watermark graph fragments: sizes, positions, windows, and text that cannot break out of drawtext.

The hostile-text tests parse the rendered graph the way ffmpeg 5.1 does (``graphparser.c``:
``av_get_token`` on ``=,;[`` for names and ``[],;`` for options, then ``av_opt_set_from_string``
splitting on ``:``), so they check what ffmpeg would actually build, not our own strings.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mps.errors import InvalidParameterError, MpsError
from mps.media.filters import FilterGraph
from mps.media.geometry import Size
from mps.media.specs import WatermarkSpec
from mps.media.watermark import image_input_map, overlay_watermarks, watermark_input_args

FRAME = Size(320, 240)
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
LOGO = Path("/tmp/logo.png")

HOSTILE = [
    "it's",
    'say "hi"',
    "a:b=c",
    "C:\\path\\to\\x",
    "[in][out]",
    "a;b,c",
    "100%{pts}%{localtime}",
    "two\nlines",
    "';movie=/etc/passwd[x];[x]",
    "x',drawbox=x=0:y=0:w=iw:h=ih:color=red:t=fill,drawtext=text='y",
    "\\';[0:v]null[vout];'",
    "\\\\\\\\'''':::,,,;;;[[[]]]",
]


def get_token(text: str, pos: int, term: str) -> tuple[str, int]:
    """ffmpeg's ``av_get_token``: backslash escapes one character, quotes group, ends at ``term``."""
    while pos < len(text) and text[pos] in " \n\t\r":
        pos += 1
    out: list[str] = []
    end = 0
    while pos < len(text) and text[pos] not in term:
        char = text[pos]
        pos += 1
        if char == "\\" and pos < len(text):
            out.append(text[pos])
            pos += 1
            end = len(out)
        elif char == "'":
            while pos < len(text) and text[pos] != "'":
                out.append(text[pos])
                pos += 1
            if pos < len(text):
                pos += 1
                end = len(out)
        else:
            out.append(char)
    while len(out) > end and out[-1] in " \n\t\r":
        out.pop()
    return "".join(out), pos


def _skip_labels(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] == "[":
        pos = text.index("]", pos) + 1
    return pos


def parse_graph(text: str) -> list[tuple[str, str]]:
    """``(filter name, option string)`` of every filter, in order, as ffmpeg's graph parser sees them."""
    filters: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        pos = _skip_labels(text, pos)
        name, pos = get_token(text, pos, "=,;[")
        options = ""
        if pos < len(text) and text[pos] == "=":
            options, pos = get_token(text, pos + 1, "[],;")
        filters.append((name, options))
        pos = _skip_labels(text, pos)
        if pos < len(text):
            assert text[pos] in ",;", f"unexpected {text[pos]!r} at {pos} in {text!r}"
            pos += 1
    return filters


def parse_options(text: str) -> dict[str, str]:
    """``av_opt_set_from_string`` with ``=`` and ``:``: keys are plain, values are tokens."""
    options: dict[str, str] = {}
    pos = 0
    while pos < len(text):
        key_end = text.index("=", pos)
        key = text[pos:key_end]
        assert key.replace("_", "").isalnum(), f"bad key {key!r}"
        options[key], pos = get_token(text, key_end + 1, ":")
        pos += 1  # the ':' separator
    return options


def draw(*marks: WatermarkSpec, duration: float = 4.0, font_file: str | None = FONT) -> str:
    graph = FilterGraph()
    images = image_input_map(marks, first_input=1)
    graph.add(
        overlay_watermarks(graph, "[0:v]", FRAME, marks, images, duration=duration, font_file=font_file),
        ["null"],
        "[out]",
    )
    return graph.render()


def only(rendered: str, name: str) -> dict[str, str]:
    matching = [options for filter_name, options in parse_graph(rendered) if filter_name == name]
    assert len(matching) == 1
    return parse_options(matching[0])


def text_mark(**kwargs: object) -> WatermarkSpec:
    return WatermarkSpec(1, "text", **{"text": "MPS", **kwargs})  # type: ignore[arg-type]


def image_mark(**kwargs: object) -> WatermarkSpec:
    return WatermarkSpec(2, "image", **{"image": LOGO, **kwargs})  # type: ignore[arg-type]


# --- inputs ---


def test_each_image_is_one_extra_input_in_order() -> None:
    marks = [image_mark(), text_mark(), image_mark(image=Path("/tmp/b.png"))]
    fragments = watermark_input_args(marks)
    assert [fragment[-2:] for fragment in fragments] == [["-i", str(LOGO)], ["-i", "/tmp/b.png"]]
    assert "-format_whitelist" in fragments[0]
    assert image_input_map(marks, first_input=3) == {0: 3, 2: 4}


def test_image_watermark_without_image_is_invalid() -> None:
    with pytest.raises(InvalidParameterError):
        watermark_input_args([WatermarkSpec(3, "image")])


def test_no_watermarks_leave_the_pad_alone() -> None:
    graph = FilterGraph()
    assert overlay_watermarks(graph, "[v]", FRAME, [], {}, duration=4) == "[v]"
    assert graph.render() == ""


# --- image geometry ---


@pytest.mark.parametrize(
    ("mark", "scale", "x", "y"),
    [
        (image_mark(), "32:-1", "0", "0"),  # default 10% wide, aspect kept
        (image_mark(width="64px", x="10px", y="20px"), "64:-1", "10", "20"),
        (image_mark(origin="TopRight", x="10px"), "32:-1", "W-w-10", "0"),
        (image_mark(origin="BottomRight", x="10%", y="10%"), "32:-1", "W-w-32", "H-h-24"),
        (image_mark(origin="BottomLeft", width="50%", height="25%"), "160:60", "0", "H-h"),
        (image_mark(width="0px", height="40px"), "-1:40", "0", "0"),
        (image_mark(x="-5px"), "32:-1", "-5", "0"),
    ],
)
def test_image_size_and_position(mark: WatermarkSpec, scale: str, x: str, y: str) -> None:
    rendered = draw(mark)
    assert f"[1:v:0]scale={scale},format=yuva420p" in rendered
    overlay = only(rendered, "overlay")
    assert (overlay["x"], overlay["y"]) == (x, y)
    assert overlay["eof_action"] == "repeat" and overlay["format"] == "auto" and "enable" not in overlay


def test_image_at_natural_size_is_not_scaled() -> None:
    rendered = draw(image_mark(width="0px", height="0px"))
    assert "scale" not in rendered and "[1:v:0]format=yuva420p" in rendered


def test_bad_positions_and_origins_are_invalid() -> None:
    with pytest.raises(InvalidParameterError) as err:
        draw(image_mark(x="10pt"))
    assert err.value.code == "InvalidParameterValue.XPos"
    with pytest.raises(InvalidParameterError) as err:
        draw(image_mark(origin="Center"))
    assert err.value.code == "InvalidParameterValue.CoordinateOrigin"


# --- time windows ---


@pytest.mark.parametrize(
    ("start", "end", "enable"),
    [
        (1, 2, "between(t,1,2)"),
        (1, -1, "between(t,1,3)"),
        (-1, None, "gte(t,3)"),
        (1.5, 0, "gte(t,1.5)"),
        (None, None, None),
        (0, 0, None),
    ],
)
def test_windows(start: float | None, end: float | None, enable: str | None) -> None:
    for mark in (image_mark(start=start, end=end), text_mark(start=start, end=end)):
        options = only(draw(mark), "overlay" if mark.kind == "image" else "drawtext")
        assert options.get("enable") == enable


def test_window_that_ends_before_it_starts_is_invalid() -> None:
    with pytest.raises(InvalidParameterError) as err:
        draw(image_mark(start=3, end=2))
    assert err.value.code == "InvalidParameterValue.EndTimeOffset"


# --- text ---


def test_text_is_one_drawtext_with_font_colour_and_position() -> None:
    options = only(
        draw(
            text_mark(
                origin="BottomRight", x="5px", y="10%", font_size=24, font_color="0xFF0000", font_alpha=0.5
            )
        ),
        "drawtext",
    )
    assert options == {
        "fontfile": FONT,
        "text": "MPS",
        "expansion": "none",
        "fontsize": "24",
        "fontcolor": "0xFF0000@0.5",
        "x": "W-tw-5",
        "y": "H-th-24",
    }


def test_a_watermark_font_wins_over_the_default() -> None:
    assert only(draw(text_mark(font_file="/fonts/x.ttf")), "drawtext")["fontfile"] == "/fonts/x.ttf"


def test_text_without_any_font_is_a_server_error() -> None:
    with pytest.raises(MpsError) as err:
        draw(text_mark(), font_file=None)
    assert err.value.code == "InternalError.FontNotFound"


def test_empty_text_draws_nothing() -> None:
    assert "drawtext" not in draw(text_mark(text=""))


def test_bad_colours_are_invalid() -> None:
    with pytest.raises(InvalidParameterError) as err:
        draw(text_mark(font_color="red:x=1"))
    assert err.value.code == "InvalidParameterValue.FontColor"


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_stays_one_literal_drawtext_option(text: str) -> None:
    rendered = draw(text_mark(text=text, start=1, end=2))
    names = [name for name, _ in parse_graph(rendered)]
    assert names == ["drawtext", "null"]
    options = only(rendered, "drawtext")
    assert options["text"] == text
    assert options["expansion"] == "none"
    assert set(options) == {"fontfile", "text", "expansion", "fontsize", "fontcolor", "x", "y", "enable"}


@pytest.mark.parametrize("path", ["/fonts/a'b:c,d;[e].ttf", "C:\\Fonts\\x.ttf"])
def test_hostile_font_paths_are_escaped_too(path: str) -> None:
    assert only(draw(text_mark(), font_file=path), "drawtext")["fontfile"] == path
