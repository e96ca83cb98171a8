from __future__ import annotations

from mps.media.filters import FilterGraph, escape_value


def test_graph_labels_are_unique_and_chained() -> None:
    graph = FilterGraph()
    a = graph.add("[0:v]", ["scale=2:2"])
    b = graph.add(a, ["fps=1"], "[out]")
    assert a != b
    assert graph.render() == f"[0:v]scale=2:2{a};{a}fps=1[out]"


def test_escape_value_neutralises_both_levels() -> None:
    assert escape_value("a:b") == "a\\\\:b"
    escaped = escape_value("x';movie=/etc/passwd[v];[v]")
    # every graph-level separator is preceded by a backslash
    for special in "[];":
        for index, char in enumerate(escaped):
            if char == special:
                assert escaped[index - 1] == "\\"
