"""The ladders play in real browser players: hls.js and dash.js in headless Chromium, over local HTTP.

Needs ``make player-deps`` (Debian's chromium, and ``npm ci`` in ``tests/players``): skipped
locally without them, a failure in CI.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import require_service
from tests.media.ladder_helpers import ladder_template, run_ladder, run_ladder_chunked

PLAYERS = Path(__file__).resolve().parents[1] / "players"
CHROMIUM = Path("/usr/bin/chromium")

pytestmark = pytest.mark.integration


class _RangeHandler(SimpleHTTPRequestHandler):
    """Static files with single ``Range: bytes=a-b`` requests answered 206, as a bucket or CDN does."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        return None

    def send_head(self):  # type: ignore[no-untyped-def]
        found = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        path = Path(self.translate_path(self.path))
        if found is None or not path.is_file():
            return super().send_head()
        size = path.stat().st_size
        start, end = int(found.group(1)), min(int(found.group(2) or size - 1), size - 1)
        handle = path.open("rb")
        handle.seek(start)
        self.send_response(HTTPStatus.PARTIAL_CONTENT)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        self._remaining = end - start + 1
        return handle

    def copyfile(self, source, outputfile):  # type: ignore[no-untyped-def]
        remaining = getattr(self, "_remaining", None)
        if remaining is None:
            return super().copyfile(source, outputfile)
        outputfile.write(source.read(remaining))
        return None


@pytest.fixture(scope="module")
def player_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory served over HTTP: the player pages, their scripts, and (per test) the ladders."""
    node = shutil.which("node")
    require_service("node", node is not None, "apt-get install nodejs; make player-deps")
    require_service("chromium", CHROMIUM.exists(), "make player-deps (apt-get install chromium)")
    modules = PLAYERS / "node_modules"
    ready = all((modules / name).is_dir() for name in ("hls.js", "dashjs", "playwright-core"))
    require_service(
        "hls.js, dash.js and playwright-core", ready, "make player-deps (npm ci in tests/players)"
    )
    root = tmp_path_factory.mktemp("players")
    for page in ("hls.html", "dash.html"):
        shutil.copy(PLAYERS / page, root / page)
    (root / "node_modules").symlink_to(modules)
    return root


@pytest.fixture(scope="module")
def server(player_root: Path) -> Iterator[str]:
    """The base URL of a local HTTP server over :func:`player_root`."""

    def handler(*args: Any) -> _RangeHandler:
        return _RangeHandler(*args, directory=str(player_root))

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _play(url: str) -> dict[str, Any]:
    """Open ``url`` in headless Chromium (``play.mjs``); the page's result, requests and errors."""
    done = subprocess.run(
        ["node", str(PLAYERS / "play.mjs"), url, "40000"],
        capture_output=True, text=True, timeout=90, cwd=PLAYERS, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _rungs_requested(requests: list[str], pattern: str) -> set[str]:
    return {found.group(1) for url in requests if (found := re.search(pattern, url))}


@pytest.fixture(scope="module")
def publish(clip: Callable[..., Path], player_root: Path) -> Callable[[str, str], str]:
    """Make the 360/240/144 ladder in one format under the served root; returns its manifest's path."""
    source = clip(width=640, height=360, duration=4)

    def make(fmt: str, segment_type: str) -> str:
        out = player_root / segment_type
        item, _ = run_ladder(source, ladder_template(fmt, SegmentType=segment_type), out)
        return f"{segment_type}{item.Path}"

    return make


@pytest.mark.parametrize("segment_type", ["ts-segment", "mp4-segment", "mp4-byterange"])
def test_hls_ladder_plays_to_the_end_in_hls_js(
    publish: Callable[[str, str], str], server: str, segment_type: str
) -> None:
    manifest = publish("HLS", segment_type)
    played = _play(f"{server}/hls.html?src=/{manifest}")
    result = played["result"]
    assert played["pageErrors"] == []
    assert result["ok"], result
    assert not [e for e in result["errors"] if "fatal" in e]
    assert [level["height"] for level in result["levels"]] == [144, 240, 360]  # hls.js sorts by bitrate
    assert result["currentTime"] >= 3.5
    assert len(set(result["fragmentLevels"])) >= 2
    # Two distinct renditions' media files were fetched (names end _<subStream>_<segment>.ext).
    requested = _rungs_requested(
        played["requests"], r"_adaptiveDynamicStreaming_1001_(\d)_(?:\d+|init)\.\w+$"
    )
    requested |= _rungs_requested(played["requests"], r"_adaptiveDynamicStreaming_1001_([0-2])_0\.mp4$")
    assert len(requested - {"3"}) >= 2


def test_dash_ladder_plays_to_the_end_in_dash_js(publish: Callable[[str, str], str], server: str) -> None:
    manifest = publish("MPEG-DASH", "mp4-byterange")
    played = _play(f"{server}/dash.html?src=/{manifest}")
    result = played["result"]
    assert played["pageErrors"] == []
    assert result["ok"], result
    assert sorted(level["height"] for level in result["levels"]) == [144, 240, 360]
    assert result["currentTime"] >= 3.5
    requested = _rungs_requested(played["requests"], r"_adaptiveDynamicStreaming_1001_([0-2])\.mp4$")
    assert len(requested) >= 2


@pytest.fixture(scope="module")
def publish_chunked(clip: Callable[..., Path], player_root: Path) -> Callable[[str, str], str]:
    """The 360/240/144 ladder made chunk by chunk (2 s chunks of an 8 s clip), under the served root."""
    source = clip(width=640, height=360, duration=8, gop=10)

    def make(fmt: str, segment_type: str) -> str:
        out = player_root / f"chunked-{segment_type}"
        item, _, _ = run_ladder_chunked(source, ladder_template(fmt, SegmentType=segment_type), out,
                                        segment_seconds=2.0)  # fmt: skip
        return f"chunked-{segment_type}{item.Path}"

    return make


@pytest.mark.parametrize(("fmt", "page"), [("HLS", "hls.html"), ("MPEG-DASH", "dash.html")])
def test_a_ladder_made_chunk_by_chunk_plays_across_its_joins(
    publish_chunked: Callable[[str, str], str], server: str, fmt: str, page: str
) -> None:
    segment_type = "ts-segment" if fmt == "HLS" else "mp4-byterange"
    played = _play(f"{server}/{page}?src=/{publish_chunked(fmt, segment_type)}")
    result = played["result"]
    assert played["pageErrors"] == []
    assert result["ok"], result
    assert not [e for e in result["errors"] if "fatal" in e]
    assert result["currentTime"] >= 7.5, "played past every join (2, 4 and 6 s) to the end"
