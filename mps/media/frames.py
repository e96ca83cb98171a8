"""Where a video output's frames come from: the rate and size conversions at the head of its chain.

Every transcode starts the same way: an optional ``fps`` filter, then the fill chain that turns
the picture into the output size (:func:`~mps.media.geometry.fill_filters`). A
:class:`FrameRequest` names that head; a frame source turns it into filters and hands back the
pad where the output's own filters (watermarks, pixel format) continue.

- :class:`DirectFrames`: one output, filters straight from the decoded source.
- :class:`SharedFrames`: several outputs of one decode (a fused run). Equal heads are built once
  and ``split``; a smaller size is scaled from the smallest larger full picture already made
  (a cascade: 1080p -> 720p -> 360p), which costs less than scaling every rung from the source.
  Scaling is a per-axis resize, so the cascade frames the picture exactly as a direct scale does;
  only the resampling differs, and it is kept to downscales of at least :data:`CASCADE_FACTOR`
  (give or take the even rounding of sizes) so that no rung is resampled twice at nearly the same
  size (which would blur it for no gain).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from mps.media.filters import FilterGraph
from mps.media.geometry import Size, fill_filters

#: A cascaded rung is made from a larger picture at least this much larger on both axes.
CASCADE_FACTOR = 1.5
#: Pixels a cascade source may miss :data:`CASCADE_FACTOR` by: sizes are rounded to even numbers,
#: so a ladder's 1.5x steps land a pixel short (1280 is 1.499x 854, the 480p of 16:9).
_EVEN_SLACK = 2
#: How far (relative) a picture's aspect ratio may be from the source's and still be "the full picture".
_ASPECT_TOLERANCE = 0.01


@dataclass(frozen=True)
class FrameRequest:
    """The head of one output's video chain.

    Attributes:
        rate: the ``fps`` filter's value (None: keep the source's rate).
        size: the output size.
        fill: the template's ``FillType`` (see :func:`~mps.media.geometry.fill_filters`).
    """

    rate: str | None
    size: Size
    fill: str


class FrameSource(Protocol):
    """Turns a :class:`FrameRequest` into filters of ``graph``; returns the pad where they end."""

    graph: FilterGraph

    def frames(self, request: FrameRequest) -> str: ...


@dataclass
class DirectFrames:
    """One output's frames, converted straight from the decoded source at ``pad``."""

    graph: FilterGraph
    pad: str

    def frames(self, request: FrameRequest) -> str:
        pad = self.graph.add(self.pad, [f"fps={request.rate}"]) if request.rate else self.pad
        return fill_filters(self.graph, pad, request.size, request.fill)


class SharedFrames:
    """Frames of several outputs from one decoded stream, each conversion done once.

    Every request that will be asked for must be given up front (the graph's splits are sized
    from them); :meth:`frames` is then called once per request, in any order.
    """

    def __init__(self, graph: FilterGraph, pad: str, requests: Sequence[FrameRequest], source: Size) -> None:
        self.graph = graph
        self._source = source
        self._outlets: dict[FrameRequest, list[str]] = {}
        self._build(pad, self._parents(list(dict.fromkeys(requests))), Counter(requests))

    def frames(self, request: FrameRequest) -> str:
        outlets = self._outlets.get(request)
        if not outlets:
            raise KeyError(f"{request} was not announced, or was already taken")
        return outlets.pop(0)

    def _parents(self, requests: list[FrameRequest]) -> dict[FrameRequest, FrameRequest | None]:
        """For each distinct request, the larger full picture it is scaled from (None: the source)."""
        parents: dict[FrameRequest, FrameRequest | None] = {}
        placed: list[FrameRequest] = []
        for request in sorted(requests, key=lambda r: -r.size.width * r.size.height):
            candidates = [
                other for other in placed
                if other.rate == request.rate and self._full_picture(other)
                and other.size.width + _EVEN_SLACK >= CASCADE_FACTOR * request.size.width
                and other.size.height + _EVEN_SLACK >= CASCADE_FACTOR * request.size.height
            ]  # fmt: skip
            parents[request] = min(candidates, key=lambda r: r.size.width * r.size.height, default=None)
            placed.append(request)
        return parents

    def _full_picture(self, request: FrameRequest) -> bool:
        """Whether the request's frames are the whole source picture, undistorted (a cascade may start there).

        That is when the output has the source's aspect ratio: then every fill type only scales
        (letterbox bars and crops, if any, are under :data:`_ASPECT_TOLERANCE` of the picture).
        """
        source = self._source.width / self._source.height
        ratio = request.size.width / request.size.height
        return abs(ratio - source) <= _ASPECT_TOLERANCE * source

    def _build(
        self,
        pad: str,
        parents: dict[FrameRequest, FrameRequest | None],
        wanted: Counter[FrameRequest],
    ) -> None:
        """Add every conversion once, with a ``split`` wherever a pad feeds several consumers."""
        children: dict[FrameRequest | None, list[FrameRequest]] = defaultdict(list)
        for request, parent in parents.items():
            children[parent].append(request)
        rates = list(dict.fromkeys(r.rate for r in children[None]))
        rate_pads = dict(zip(rates, self._fan_out(pad, len(rates)), strict=True))
        rate_heads: dict[str | None, list[str]] = {}
        for rate, head in rate_pads.items():
            users = [r for r in children[None] if r.rate == rate]
            head = self.graph.add(head, [f"fps={rate}"]) if rate else head
            rate_heads[rate] = self._fan_out(head, len(users))
        # Parents come before their children: sorted by area, largest first.
        for request in sorted(parents, key=lambda r: -r.size.width * r.size.height):
            parent = parents[request]
            if parent is None:
                start = rate_heads[request.rate].pop(0)
            else:
                start = self._outlets[parent].pop()  # the parent's last outlet is reserved for its children
            made = fill_filters(self.graph, start, request.size, request.fill)
            outlets = self._fan_out(made, wanted[request] + len(children[request]))
            # Outlets for the request's own outputs first, then one per cascaded child, taken from the end.
            self._outlets[request] = outlets

    def _fan_out(self, pad: str, count: int) -> list[str]:
        """``count`` pads carrying the frames at ``pad`` (a ``split`` when more than one)."""
        if count == 1:
            return [pad]
        outs = [self.graph.label("s") for _ in range(count)]
        self.graph.add(pad, [f"split={count}"], outs)
        return outs
