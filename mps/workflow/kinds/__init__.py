"""The registry of kinds of work: every kind mps runs, one line each.

A kind is declared whole in its own module of this package (:class:`~mps.workflow.kind.Kind`);
adding one is that module plus its line in :data:`KINDS`. Every table that used to list kinds
(the result tags, the input models, the template families, the operations, the sub-task types of
DescribeTasks, the message groups) is a lookup here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from mps.errors import MpsError
from mps.models import SubtaskInput
from mps.workflow.kind import Kind
from mps.workflow.kinds import adaptive, animated, rules, sample, snapshot, sprite, transcode


class UnknownKindError(MpsError):
    """A kind name (a stored sub-task's, a message's) that this version does not run."""

    code = "InternalError.UnknownKind"


class Registry:
    """The kinds, looked up by any of their names.

    Parameters:
        kinds: the kinds, in the order used when a request does not give one.
    """

    def __init__(self, kinds: Iterable[Kind]) -> None:
        self._kinds = tuple(kinds)
        self._by_name = {kind.name: kind for kind in self._kinds}
        self._by_input = {kind.input_model: kind for kind in self._kinds}
        self._by_set = {kind.set_name: kind for kind in self._kinds if kind.set_name is not None}
        self._by_activity = {kind.activity_type: kind for kind in self._kinds}
        if len(self._by_name) != len(self._kinds) or len(self._by_input) != len(self._kinds):
            raise ValueError("two kinds share a name or an input model")

    def __iter__(self) -> Iterator[Kind]:
        return iter(self._kinds)

    def __len__(self) -> int:
        return len(self._kinds)

    def named(self, name: str) -> Kind:
        """The kind whose result ``Type`` is ``name``.

        Raises:
            UnknownKindError: no such kind (a task stored by a version that had it).
        """
        try:
            return self._by_name[name]
        except KeyError:
            raise UnknownKindError(f"no kind of work is named {name!r}") from None

    def of_input(self, item: SubtaskInput) -> Kind:
        """The kind of a sub-task input."""
        try:
            return self._by_input[type(item)]
        except KeyError:
            raise UnknownKindError(f"no kind of work takes a {type(item).__name__}") from None

    def of_set(self, set_name: str) -> Kind | None:
        """The kind listed in ``MediaProcessTaskInput.<set_name>``, or None."""
        return self._by_set.get(set_name)

    def of_activity(self, activity_type: str) -> Kind | None:
        """The kind an orchestration's ``ActivityType`` runs, or None."""
        return self._by_activity.get(activity_type)


#: Every kind of work mps runs.
KINDS = Registry(
    [
        transcode.KIND,
        animated.KIND,
        snapshot.KIND,
        sample.KIND,
        sprite.KIND,
        adaptive.KIND,
        rules.KIND,
    ]
)

__all__ = ["KINDS", "Registry", "UnknownKindError"]
