"""A small builder for ffmpeg filter graphs, so no operation concatenates graph strings by hand."""

from __future__ import annotations

from dataclasses import dataclass, field


def escape_value(value: str) -> str:
    """Escape a filter option value (first level), then for the graph (second level).

    ffmpeg parses a graph twice: the graph parser splits on ``[],;`` and quotes, then each filter's
    option parser splits on ``:`` and quotes. Every special character of both levels is escaped,
    so user text (drawtext) and paths cannot end an option or start a new filter.
    """
    level1 = "".join("\\" + ch if ch in "\\':" else ch for ch in value)
    return "".join("\\" + ch if ch in "\\'[],;" else ch for ch in level1)


@dataclass
class FilterGraph:
    """Chains of filters joined by labelled pads, rendered for ``-filter_complex``."""

    chains: list[str] = field(default_factory=list)
    _next: int = 0

    def label(self, hint: str = "v") -> str:
        """A fresh pad label, e.g. ``[v3]``."""
        self._next += 1
        return f"[{hint}{self._next}]"

    def add(self, inputs: str | list[str], filters: list[str], outputs: str | list[str] | None = None) -> str:
        """Append ``inputs`` -> ``filters`` -> ``outputs`` and return the (last) output label."""
        if outputs is None:
            outputs = self.label()
        ins = "".join([inputs] if isinstance(inputs, str) else inputs)
        outs = [outputs] if isinstance(outputs, str) else outputs
        self.chains.append(f"{ins}{','.join(filters)}{''.join(outs)}")
        return outs[-1]

    def render(self) -> str:
        return ";".join(self.chains)
