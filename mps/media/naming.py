"""Output names: Tencent's defaults, ``OutputObjectPath`` overrides, and the rule that no name
can climb out of the output directory.

Every name here is a POSIX key relative to the output root (a bucket, or ``--output-dir``).
``OutputDir`` ``/out/`` plus ``a_transcode_100010.mp4`` gives ``out/a_transcode_100010.mp4``; an
``OutputObjectPath`` starting with ``/`` is taken from the root instead of from ``OutputDir``.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from mps.errors import InvalidParameterError
from mps.models.common import NumberFormat

#: Default name patterns per sub-task kind (mps-api.md §6).
DEFAULT_PATTERNS = {
    "transcode": "{inputName}_transcode_{definition}.{format}",
    "transcode_segment": "{inputName}_transcode_{definition}_{number}.{format}",
    "snapshotByTimeOffset": "{inputName}_snapshotByTimeOffset_{definition}_{number}.{format}",
    "sampleSnapshot": "{inputName}_sampleSnapshot_{definition}_{number}.{format}",
    "imageSprite": "{inputName}_imageSprite_{definition}_{number}.{format}",
    "imageSprite_vtt": "{inputName}_imageSprite_{definition}.{format}",
    "animatedGraphic": "{inputName}_animatedGraphic_{definition}.{format}",
    "adaptiveDynamicStreaming": "{inputName}_adaptiveDynamicStreaming_{definition}.{format}",
    "adaptiveDynamicStreaming_subStream": (
        "{inputName}_adaptiveDynamicStreaming_{definition}_{subStreamNumber}.{format}"
    ),
    "adaptiveDynamicStreaming_segment": (
        "{inputName}_adaptiveDynamicStreaming_{definition}_{subStreamNumber}_{segmentNumber}.{format}"
    ),
}


def input_stem(file_name: str) -> str:
    """``{inputName}``: the source's file name without its extension."""
    stem, dot, _ext = file_name.rpartition(".")
    return stem if dot and stem else file_name


def format_number(index: int, number_format: NumberFormat | None) -> str:
    """The ``{number}`` of the ``index``-th file (0-based) under ``number_format``."""
    fmt = number_format or NumberFormat()
    value = str(fmt.InitialValue + index * fmt.Increment)
    return value.rjust(fmt.MinLength, fmt.PlaceHolder)


def normalize_dir(output_dir: str | None) -> str:
    """``OutputDir`` as a relative key prefix (``"/out/"`` -> ``"out"``), checked for climbing."""
    return safe_key(output_dir or "/", field="OutputDir") if (output_dir or "/").strip("/") else ""


def safe_key(path: str, *, field: str = "OutputObjectPath") -> str:
    """A relative key with no ``..``, no empty or control characters, or raise.

    Raises:
        InvalidParameterError: ``InvalidParameterValue.<field>`` for a path that would leave
            the output root or that no store could hold.
    """
    if any(ord(ch) < 32 for ch in path) or "\\" in path:
        raise InvalidParameterError.field(field, f"{field} {path!r} contains a control character or '\\'")
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise InvalidParameterError.field(field, f"{field} {path!r} climbs out of the output directory")
    if not parts:
        raise InvalidParameterError.field(field, f"{field} {path!r} names no file")
    return "/".join(parts)


@dataclass(frozen=True)
class Namer:
    """Names the files of one sub-task.

    Attributes:
        input_name: the source file name (``a.mov``).
        output_dir: ``OutputDir`` as given (``/out/``), or None for the input's directory.
        definition: the template ID.
    """

    input_name: str
    output_dir: str | None
    definition: int

    def key(
        self,
        kind: str,
        fmt: str,
        *,
        index: int = 0,
        custom: str | None = None,
        number_format: NumberFormat | None = None,
        numbered: bool = False,
    ) -> str:
        """The output key of one file.

        Parameters:
            kind: a key of :data:`DEFAULT_PATTERNS`.
            fmt: the file extension (``mp4``, ``jpg``, ``vtt``...).
            index: 0-based position among the files of a numbered output.
            custom: ``OutputObjectPath`` (or ``WebVttObjectName``...), which replaces the default.
            number_format: ``ObjectNumberFormat``.
            numbered: the output has several files; a custom name without ``{number}`` gets
                ``_{number}`` before its extension so the files do not overwrite each other.
        """
        pattern = custom or DEFAULT_PATTERNS[kind]
        if custom and numbered and "{number}" not in pattern:
            root, ext = posixpath.splitext(pattern)
            pattern = f"{root}_{{number}}{ext}"
        name = (
            pattern.replace("{inputName}", input_stem(self.input_name))
            .replace("{definition}", str(self.definition))
            .replace("{format}", fmt)
            .replace("{number}", format_number(index, number_format))
        )
        if name.startswith("/"):
            return safe_key(name)
        prefix = normalize_dir(self.output_dir)
        return safe_key(f"{prefix}/{name}" if prefix else name)


@dataclass(frozen=True)
class LadderNamer:
    """Names the files of one adaptive streaming ladder (abr.md).

    The manifest is named like any output (``OutputObjectPath``, relative to ``OutputDir`` or
    absolute); sub-streams (``SubStreamObjectName``) and segments (``SegmentObjectName``) are
    relative to the manifest's directory, so the manifest reaches them by relative URIs. A custom
    name that lacks ``{subStreamNumber}`` (or ``{segmentNumber}``) gets ``_<number>`` before its
    extension, so the files of different rungs never overwrite each other.

    Attributes:
        namer: the sub-task's :class:`Namer` (input name, ``OutputDir``, definition).
        manifest_name: ``OutputObjectPath``.
        sub_stream_name: ``SubStreamObjectName``.
        segment_name: ``SegmentObjectName``.
    """

    namer: Namer
    manifest_name: str | None = None
    sub_stream_name: str | None = None
    segment_name: str | None = None

    def manifest(self, fmt: str) -> str:
        """The manifest's key (``fmt``: ``m3u8`` or ``mpd``).

        Raises:
            InvalidParameterError: ``InvalidParameterValue.OutputObjectPath``: a custom name that
                does not end in ``.{fmt}``, or climbs out of the output root.
        """
        key = self.namer.key("adaptiveDynamicStreaming", fmt, custom=self.manifest_name)
        if self.manifest_name and not key.endswith(f".{fmt}"):
            raise InvalidParameterError.field("OutputObjectPath", f"OutputObjectPath must end in .{fmt}")
        return key

    def sub_stream(self, manifest_key: str, number: int, fmt: str) -> str:
        """The key of sub-stream ``number`` (its playlist for HLS, its media file for DASH)."""
        pattern = _numbered(self.sub_stream_name, ("subStreamNumber",))
        pattern = pattern or DEFAULT_PATTERNS["adaptiveDynamicStreaming_subStream"]
        return self._beside(manifest_key, pattern.replace("{subStreamNumber}", str(number)), fmt,
                            "SubStreamObjectName")  # fmt: skip

    def segment(self, manifest_key: str, number: int, segment: int | str, fmt: str) -> str:
        """The key of segment ``segment`` (0-based, or ``init``) of sub-stream ``number``."""
        pattern = _numbered(self.segment_name, ("subStreamNumber", "segmentNumber"))
        pattern = pattern or DEFAULT_PATTERNS["adaptiveDynamicStreaming_segment"]
        name = pattern.replace("{subStreamNumber}", str(number)).replace("{segmentNumber}", str(segment))
        return self._beside(manifest_key, name, fmt, "SegmentObjectName")

    def _beside(self, manifest_key: str, name: str, fmt: str, field: str) -> str:
        if name.startswith("/"):
            raise InvalidParameterError.field(field, f"{field} must be a relative name")
        folder = posixpath.dirname(manifest_key)
        namer = Namer(self.namer.input_name, f"/{folder}/" if folder else "/", self.namer.definition)
        key = namer.key("adaptiveDynamicStreaming", fmt, custom=name)
        if folder and not key.startswith(f"{folder}/"):
            raise InvalidParameterError.field(
                field, f"{field} {name!r} climbs out of the manifest's directory"
            )
        return key


def _numbered(pattern: str | None, placeholders: tuple[str, ...]) -> str | None:
    """``pattern`` with ``_{placeholder}`` added before the extension for each one it lacks."""
    if not pattern:
        return None
    root, ext = posixpath.splitext(pattern)
    for placeholder in placeholders:
        if f"{{{placeholder}}}" not in pattern:
            root += f"_{{{placeholder}}}"
    return root + ext
