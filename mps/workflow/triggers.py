"""Which uploads fire which workflow: trigger rules, matching, deduplication keys. Pure.

A workflow's ``Trigger`` names a bucket, a directory (``Dir``) and the extensions that fire
(``Formats``, mps-api.md §9). :func:`trigger_rule` checks and normalises them once (the API
handlers call it to refuse a bad trigger with ``InvalidParameterValue.Dir`` / ``.Formats``);
:func:`matches` then decides for each :class:`~mps.workflow.events.ObjectCreated`. A file fires
when it sits anywhere under ``Dir`` (sub-directories included, as COS prefixes work) and its
extension is in ``Formats``. Objects written by mps never fire (no loops through an output
directory under a watched one).

A ``Schedule`` trigger (ours) watches the same kind of location but fires on a timer, never on an
upload: its rule carries the :class:`~mps.workflow.schedule.TickSchedule`, and
:attr:`TriggerRule.on_upload` is False, so the event intake and the reconcile scan pass it by
(the timed ticks of :mod:`mps.workflow.ticks` list its directory instead).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from mps.errors import InvalidParameterError
from mps.models.common import CosInputInfo, MediaInputInfo
from mps.models.workflows import WorkflowTrigger
from mps.store.base import BucketTrigger
from mps.workflow.events import ObjectCreated, is_written_by_mps
from mps.workflow.schedule import TickSchedule, parse_schedule

#: Tencent's built-in video extensions (mps-api.md §9).
VIDEO_FORMATS = frozenset(
    {"mp4", "ts", "flv", "wmv", "asf", "rm", "rmvb", "mpg", "mpeg", "3gp", "mov", "webm", "mkv", "avi", "m4v"}
)
#: ...audio extensions.
AUDIO_FORMATS = frozenset({"mp3", "m4a", "flac", "ogg", "wav", "amr", "aac"})
#: ...subtitle extensions.
SUBTITLE_FORMATS = frozenset({"vtt", "srt"})
#: The set an absent, empty or ``[""]`` ``Formats`` stands for.
DEFAULT_FORMATS = VIDEO_FORMATS | AUDIO_FORMATS | SUBTITLE_FORMATS
#: The ``Formats`` entry that lets every file through, with or without an extension.
ANY_FORMAT = "*"
#: A custom extension: alphanumeric, 1-64 characters (Tencent's rule).
_EXTENSION = re.compile(r"[a-z0-9]{1,64}")
#: Wire codes of a bad trigger.
FORMATS_ERROR = "InvalidParameterValue.Formats"
DIR_ERROR = "InvalidParameterValue.Dir"


@dataclass(frozen=True)
class TriggerRule:
    """A trigger, checked and normalised: what :func:`matches` compares events with.

    Attributes:
        bucket: the watched bucket.
        dir: the watched directory, ``/`` or ``/a/b/``.
        formats: lower-case extensions without dots, or ``{"*"}`` for any file.
        region: the trigger's region as given (echoed into the task's input).
        schedule: when a ``Schedule`` trigger ticks; None for the upload triggers.
    """

    bucket: str
    dir: str = "/"
    formats: frozenset[str] = DEFAULT_FORMATS
    region: str = ""
    schedule: TickSchedule | None = None

    @property
    def on_upload(self) -> bool:
        """Whether uploads fire it (Tencent's triggers), rather than a timer (``Schedule``)."""
        return self.schedule is None

    @property
    def prefix(self) -> str:
        """``dir`` as a key prefix: ``""`` for the whole bucket, ``a/b/`` otherwise."""
        return self.dir.lstrip("/")


def normalise_formats(formats: Iterable[str] | None) -> frozenset[str]:
    """The extensions a ``Formats`` list lets through.

    Parameters:
        formats: the list as given: the dot is optional (``mp4`` = ``.mp4``), case does not
            matter, ``*`` means any file; empty entries are ignored.

    Returns:
        lower-case extensions without dots; ``{"*"}`` when any file fires;
        :data:`DEFAULT_FORMATS` for None, ``[]`` or ``[""]``.

    Raises:
        InvalidParameterError: ``InvalidParameterValue.Formats`` for an entry that is not ``*``
            nor 1-64 letters and digits (after its optional leading dot).
    """
    found: set[str] = set()
    for raw in formats or ():
        value = str(raw).strip().lower()
        if value == ANY_FORMAT:
            return frozenset({ANY_FORMAT})
        extension = value.removeprefix(".")
        if value and not _EXTENSION.fullmatch(extension):
            raise InvalidParameterError(
                f"Formats: {raw!r} is not an extension (1-64 letters or digits, dot optional) or *",
                code=FORMATS_ERROR,
            )
        if extension:
            found.add(extension)
    return frozenset(found) or DEFAULT_FORMATS


def normalise_dir(directory: str | None) -> str:
    """A trigger's ``Dir`` as an absolute directory.

    Parameters:
        directory: as given; None or ``""`` means the whole bucket. A missing trailing ``/`` is
            added (``/in`` = ``/in/``).

    Returns:
        ``/`` or ``/a/b/``.

    Raises:
        InvalidParameterError: ``InvalidParameterValue.Dir`` for a relative path, an empty
            segment (``//``), a ``.`` or ``..`` segment, or a backslash.
    """
    if not directory or directory == "/":
        return "/"
    if not directory.startswith("/"):
        raise InvalidParameterError(f"Dir: {directory!r} must be absolute (/…/)", code=DIR_ERROR)
    segments = directory.strip("/").split("/")
    if "\\" in directory or any(part in ("", ".", "..") for part in segments):
        raise InvalidParameterError(
            f"Dir: {directory!r} must not contain empty, . or .. segments or backslashes", code=DIR_ERROR
        )
    return "/" + "/".join(segments) + "/"


def trigger_rule(trigger: WorkflowTrigger) -> TriggerRule:
    """Check a workflow's trigger and normalise it for matching.

    Parameters:
        trigger: the ``Trigger`` of a CreateWorkflow/ResetWorkflow request.

    Returns:
        the rule; its ``bucket`` and ``dir`` are what the store indexes (``trigger_bucket``,
        ``trigger_dir``).

    Raises:
        InvalidParameterError: ``InvalidParameterValue.Dir`` or ``InvalidParameterValue.Formats``;
            ``InvalidParameterValue.Trigger`` for a ``Schedule`` trigger's bad ``Cron`` or
            ``IntervalSeconds``.
    """
    timed = trigger.ScheduleTrigger
    schedule = None if timed is None else parse_schedule(timed.Cron, timed.IntervalSeconds)
    return TriggerRule(
        bucket=trigger.bucket,
        dir=normalise_dir(trigger.dir),
        formats=normalise_formats(trigger.formats),
        region=trigger.region,
        schedule=schedule,
    )


def matches(trigger: WorkflowTrigger | TriggerRule, event: ObjectCreated) -> bool:
    """Whether an upload fires a workflow with this trigger.

    Parameters:
        trigger: the workflow's trigger, or its :class:`TriggerRule` (cheaper when matching many
            events against one workflow).
        event: the new object.

    Returns:
        True when the bucket is the trigger's, the key is under its ``Dir`` and the extension is
        in its ``Formats`` (case-insensitive), and the object was not written by mps.

    Raises:
        InvalidParameterError: a stored trigger that no longer passes :func:`trigger_rule`.
    """
    rule = trigger if isinstance(trigger, TriggerRule) else trigger_rule(trigger)
    if is_written_by_mps(event) or event.bucket != rule.bucket:
        return False
    if not event.key.startswith(rule.prefix) or event.key.endswith("/"):
        return False
    if ANY_FORMAT in rule.formats:
        return True
    name = event.key.rsplit("/", 1)[-1]
    stem, dot, extension = name.rpartition(".")
    return bool(dot and stem) and extension.lower() in rule.formats


def dedupe_key(workflow_id: int, event: ObjectCreated, run: str | None = None) -> BucketTrigger:
    """The identity under which an event fires a workflow at most once.

    The version, when the bucket is versioned, names one write exactly (a re-upload of the same
    bytes is a new version and fires again); otherwise the ETag does, which every source reports
    alike (MinIO's ``eTag``, SeaweedFS's ``Seaweed-X-Amz-ETag``), so one object announced twice
    (a redelivery, or two notification paths) fires once. With neither, the size stands in.

    A reprocessing run (``RunWorkflow`` with ``Reprocess``) adds its own id, so it starts a new
    task for objects that already have one, once per run.

    Parameters:
        workflow_id: the workflow the event fires.
        event: the new object.
        run: the id of a reprocessing run; None for events, scans and timed ticks.

    Returns:
        the :class:`~mps.store.base.BucketTrigger` to claim (``TaskStore.claim_trigger``).
    """
    if event.version_id:
        token = f"version:{event.version_id}"
    elif event.etag:
        token = event.etag.lower()
    else:
        token = f"size:{event.size}"
    if run is not None:
        token = f"{token}#run:{run}"
    return BucketTrigger(workflow_id=workflow_id, bucket=event.bucket, key=event.key, etag=token)


def input_info_for(event: ObjectCreated, region: str = "") -> MediaInputInfo:
    """The ``InputInfo`` of the task an upload fires, in Tencent's shape.

    Parameters:
        event: the new object.
        region: the trigger's region, echoed (mps has one store and ignores it).

    Returns:
        ``{Type: COS, CosInputInfo: {Bucket, Region, Object: "/" + key}}``.
    """
    return MediaInputInfo(
        Type="COS", CosInputInfo=CosInputInfo(Bucket=event.bucket, Region=region, Object="/" + event.key)
    )


__all__ = [
    "ANY_FORMAT",
    "AUDIO_FORMATS",
    "DEFAULT_FORMATS",
    "SUBTITLE_FORMATS",
    "TriggerRule",
    "VIDEO_FORMATS",
    "dedupe_key",
    "input_info_for",
    "matches",
    "normalise_dir",
    "normalise_formats",
    "trigger_rule",
]
