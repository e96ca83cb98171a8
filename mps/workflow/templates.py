"""Template lookup for the service: Tencent's presets first, then custom templates in the task store.

The API (Create/Describe*Template), the submit path (:func:`mps.workflow.resolve.check_request`) and
the worker all read templates through :class:`StoreTemplates`, so a Definition means the same thing
everywhere. Custom templates are stored as :class:`mps.store.base.TemplateRecord` whose ``body`` is the
template object in Describe shape without ``Definition``; :func:`template_from_record` turns one back
into the family's model.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import ValidationError

from mps.errors import InvalidParameterError, ResourceNotFoundError
from mps.models.base import WireModel
from mps.models.validation import invalid_parameter
from mps.store.base import TaskStore, TemplateRecord
from mps.templates import Family, TemplateCatalog, family


def store_family(fam: Family) -> str:
    """The task store's family name of a template family (``TranscodeTemplate`` -> ``Transcode``)."""
    return fam.kind.removesuffix("Template")


def iso_time(value: datetime) -> str:
    """A time in Tencent's ISO 8601 UTC shape, ``2024-01-02T03:04:05Z``."""
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def template_from_record(fam: Family, record: TemplateRecord) -> WireModel:
    """The family's model for a stored custom template.

    Parameters:
        fam: the family the record belongs to.
        record: as read from the task store.

    Returns:
        The template with its Definition, Name, create/update times and (for the Preset/Custom
        families) ``Type: Custom``; a watermark keeps its own ``Type`` (image or text).

    Raises:
        InvalidParameterError: the stored body no longer validates (e.g. a model became stricter);
            named after the template so the operator can find it.
    """
    data = {
        **record.body,
        "Definition": record.definition,
        "Name": record.name,
        "CreateTime": iso_time(record.create_time),
        "UpdateTime": iso_time(record.update_time),
    }
    if fam.preset_typed:
        data["Type"] = "Custom"
    try:
        return fam.model.model_validate(data)
    except ValidationError as exc:
        error = invalid_parameter(exc)
        message = f"stored {fam.kind} {record.definition} is invalid: {error.message}"
        raise InvalidParameterError(message, code=error.code) from None


class StoreTemplates:
    """Implements :class:`mps.workflow.resolve.TemplateLookup` over presets and the task store.

    Presets (and the legacy transcode aliases 10/20/30/40) are answered from memory; anything else is
    read from the store on each call, so a template created or modified through the API is seen by
    the next task without a restart. Custom Definitions start at 1000001, so they never shadow a preset.

    Parameters:
        presets: a catalog of the presets (custom templates in it are answered too, first).
        store: the task store holding custom templates.
    """

    def __init__(self, presets: TemplateCatalog, store: TaskStore) -> None:
        self.presets = presets
        self.store = store

    def get(self, family_name: str, definition: int) -> WireModel:
        """The template ``definition`` of a family.

        Parameters:
            family_name: a set key (``TranscodeTemplateSet``) or kind (``TranscodeTemplate``).
            definition: the template ID.

        Returns:
            A copy of the template: the caller may change it freely.

        Raises:
            ResourceNotFoundError: ``ResourceNotFound.TemplateNotExist`` when neither has it.
            InvalidParameterError: an unknown family name, or a stored body that no longer validates.
        """
        fam = family(family_name)
        try:
            return self.presets.get(fam.set_key, definition)
        except ResourceNotFoundError:
            pass
        record = self.store.get_template(store_family(fam), int(definition))
        return template_from_record(fam, record)

    def is_preset(self, family_name: str, definition: int) -> bool:
        """Whether ``definition`` is a preset (or legacy alias) of the family: read-only to the API."""
        return self.presets.is_preset(family_name, definition)

    def custom(self, family_name: str, definition: int) -> tuple[Family, TemplateRecord]:
        """The stored record of a custom template, with its family.

        Raises:
            ResourceNotFoundError: ``ResourceNotFound.TemplateNotExist``.
        """
        fam = family(family_name)
        return fam, self.store.get_template(store_family(fam), int(definition))


__all__ = ["StoreTemplates", "iso_time", "store_family", "template_from_record"]
