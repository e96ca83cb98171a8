"""Template actions: Create/Modify/Delete/Describe for the six families, from one table (mps-api.md §10).

The families differ only in their model (:data:`mps.templates.FAMILIES`), so one generic class
answers all 24 actions. Custom templates live in the task store, presets in the catalog:

- Create validates the whole template with the family's model, then stores it; the store hands out
  the Definition (1000001 and up per family, so it never collides with a preset).
- Modify merges the given fields onto the stored template (nested objects key by key, as Tencent's
  ``*ForUpdate`` shapes are partial) and validates the result before replacing it.
- Presets are read-only: ``InvalidParameterValue.ModifyDefaultTemplate`` / ``DeleteDefaultTemplate``.
- Describe lists presets (``Type: Preset``) then custom templates (``Custom``), by Definition.

Watermark images (``ImageTemplate.ImageContent``, base64 PNG or JPEG) are stored as objects in the
assets bucket under a key derived from their content, and the template keeps ``ImageUrl`` as an
``s3://`` URL, which is what the worker's asset fetcher reads. Deleting a template leaves its image:
another template may use the same one.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, cast

from pydantic import Field

from mps.api.actions import Handler, RequestContext
from mps.api.handlers import WATERMARK_PREFIX, ApiServices, parse_params
from mps.errors import InvalidParameterError
from mps.models import WireModel
from mps.models.base import UnsupportedFields
from mps.models.fields import UNKNOWN_PARAMETER, check_fields
from mps.store.base import TemplateRecord
from mps.templates import FAMILIES, Family, definition_of
from mps.workflow.templates import store_family, template_from_record

#: Keys a client may send that are not part of the stored body: the store owns them.
_RESERVED = frozenset({"Definition", "Type", "CreateTime", "UpdateTime"})
#: Longest Name and Comment (Tencent's documented limits).
MAX_NAME, MAX_COMMENT = 64, 256
#: Modify values that mean "back to automatic" (mps-api.md §10): the key is removed, not stored.
_RESETS: dict[str, dict[str, int]] = {"VideoTemplate": {"Vcrf": 100, "Bframes": -1, "Compress": -1}}
#: Custom templates read per store call when Describe lists them.
_PAGE = 100
#: Image types a watermark may be, by their first bytes.
_IMAGE_TYPES = {b"\x89PNG\r\n\x1a\n": ("png", "image/png"), b"\xff\xd8\xff": ("jpg", "image/jpeg")}


class DefinitionRequest(WireModel):
    """Delete*Template (and the Definition of Modify*Template)."""

    Definition: int = Field(ge=1)


class DescribeTemplatesRequest(WireModel):
    """Describe*Templates filters and paging."""

    Definitions: list[int] | None = Field(default=None, max_length=100)
    Offset: int = Field(default=0, ge=0)
    Limit: int = Field(default=10, ge=1, le=100)
    Type: str | None = None
    Name: str | None = None


class DescribeTranscodeTemplatesRequest(DescribeTemplatesRequest):
    """DescribeTranscodeTemplates: Tencent's further filters are refused rather than ignored, since
    ignoring a filter would answer templates the caller excluded."""

    unsupported_fields: ClassVar[UnsupportedFields] = dict.fromkeys(
        ("ContainerType", "TEHDType", "TranscodeType", "SceneType", "CompressType", "EnhanceSceneType",
         "EnhanceTranscodeType", "EnhanceType"),
        (),
    )  # fmt: skip


class DescribeAdaptiveDynamicStreamingTemplatesRequest(DescribeTemplatesRequest):
    """DescribeAdaptiveDynamicStreamingTemplates: ``PureAudio`` 0 or 1 keeps only the templates
    that are (or are not) audio-only ladders."""

    PureAudio: int | None = Field(default=None, ge=0, le=1)


#: The families whose Describe request has filters of its own.
_DESCRIBE_REQUESTS: dict[str, type[DescribeTemplatesRequest]] = {
    "TranscodeTemplateSet": DescribeTranscodeTemplatesRequest,
    "AdaptiveDynamicStreamingTemplateSet": DescribeAdaptiveDynamicStreamingTemplatesRequest,
}


def _describe_request(fam: Family) -> type[DescribeTemplatesRequest]:
    return _DESCRIBE_REQUESTS.get(fam.set_key, DescribeTemplatesRequest)


class TemplateActions:
    """The 24 template actions.

    Parameters:
        services: the store, the template lookup, the object store and the assets bucket.
    """

    def __init__(self, services: ApiServices) -> None:
        self.services = services

    def actions(self) -> dict[str, Handler]:
        """Action name -> handler, four per family."""
        table: dict[str, Handler] = {}
        for fam in FAMILIES.values():
            table[f"Create{fam.kind}"] = self._bind(self.create, fam)
            table[f"Modify{fam.kind}"] = self._bind(self.modify, fam)
            table[f"Delete{fam.kind}"] = self._bind(self.delete, fam)
            table[f"Describe{fam.kind}s"] = self._bind(self.describe, fam)
        return table

    @staticmethod
    def _bind(method: Callable[[Family, dict[str, Any]], dict[str, Any]], fam: Family) -> Handler:
        def handler(params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
            return method(fam, params)

        handler.__name__ = f"{method.__name__}_{fam.kind}"
        return handler

    def create(self, fam: Family, params: dict[str, Any]) -> dict[str, Any]:
        """``Create<Kind>``: validate, store; answer ``Definition`` (and ``ImageUrl`` for images).

        Raises:
            InvalidParameterError: a field the family's model refuses.
            MpsError: ``LimitExceeded.TooMuchTemplate`` when the family is full.
        """
        _check_request_fields(fam, params, allowed=set() if fam.preset_typed else {"Type"})
        data = {key: value for key, value in params.items() if key not in _RESERVED}
        if not fam.preset_typed:
            data["Type"] = params.get("Type")
        image = _take_image(fam, data, required=True)
        url = self._validated_with_image(fam, data, image)
        record = self.services.store.create_template(
            store_family(fam), data.pop("Name", ""), _body(fam, data)
        )
        return {"Definition": record.definition, **({"ImageUrl": url} if url else {})}

    def modify(self, fam: Family, params: dict[str, Any]) -> dict[str, Any]:
        """``Modify<Kind>``: merge the given fields onto the stored template and revalidate.

        Raises:
            InvalidParameterError: ``InvalidParameterValue.ModifyDefaultTemplate`` for a preset, or
                a merged value the model refuses.
            ResourceNotFoundError: ``ResourceNotFound.TemplateNotExist``.
        """
        _check_request_fields(fam, params, allowed={"Definition"})
        definition = parse_params(DefinitionRequest, params, known_fields=False).Definition
        if self.services.templates.is_preset(fam.set_key, definition):
            raise InvalidParameterError.field("ModifyDefaultTemplate", f"{fam.kind} {definition} is a preset")
        record = self.services.store.get_template(store_family(fam), definition)
        changes = {key: value for key, value in params.items() if key not in _RESERVED}
        image = _take_image(fam, changes, required=False)
        data = _reset(_merge({**record.body, "Name": record.name}, changes), changes)
        url = self._validated_with_image(fam, data, image)
        name = data.pop("Name", record.name)
        self.services.store.update_template(store_family(fam), definition, _body(fam, data), name=name)
        return {"ImageUrl": url} if url else {}

    def delete(self, fam: Family, params: dict[str, Any]) -> dict[str, Any]:
        """``Delete<Kind>``.

        Raises:
            InvalidParameterError: ``InvalidParameterValue.DeleteDefaultTemplate`` for a preset.
            ResourceNotFoundError: ``ResourceNotFound.TemplateNotExist``.
        """
        definition = parse_params(DefinitionRequest, params).Definition
        if self.services.templates.is_preset(fam.set_key, definition):
            raise InvalidParameterError.field("DeleteDefaultTemplate", f"{fam.kind} {definition} is a preset")
        self.services.store.delete_template(store_family(fam), definition)
        return {}

    def describe(self, fam: Family, params: dict[str, Any]) -> dict[str, Any]:
        """``Describe<Kind>s``: presets then custom templates, filtered, by Definition, one page.

        Custom templates are read whole (at most 1000 per family) and paged here, so the ``Type``
        filter of watermarks (image/text, a body field) pages correctly.

        Raises:
            InvalidParameterError: bad paging, too many Definitions, or an unknown ``Type``.
        """
        request = parse_params(_describe_request(fam), params)
        kind, name = request.Type or None, request.Name or None
        _check_type_filter(fam, kind)
        presets = [] if kind == "Custom" else self._presets(fam, request.Definitions, kind, name)
        custom = [] if kind == "Preset" else self._custom(fam, request.Definitions, kind, name)
        matches = [*presets, *custom]
        pure_audio = getattr(request, "PureAudio", None)
        if pure_audio is not None:
            matches = [t for t in matches if getattr(t, "PureAudio", 0) == pure_audio]
        page = matches[request.Offset : request.Offset + request.Limit]
        return {"TotalCount": len(matches), fam.set_key: [template.to_wire() for template in page]}

    def _presets(
        self, fam: Family, definitions: list[int] | None, kind: str | None, name: str | None
    ) -> list[WireModel]:
        catalog = self.services.templates.presets
        found: list[WireModel] = []
        while True:
            total, page = catalog.describe(
                fam.set_key, definitions, kind, name, offset=len(found), limit=_PAGE
            )
            found += [t for t in page if catalog.is_preset(fam.set_key, definition_of(t))]
            if not page or len(found) >= total:
                return found

    def _custom(
        self, fam: Family, definitions: list[int] | None, kind: str | None, name: str | None
    ) -> list[WireModel]:
        records: list[TemplateRecord] = []
        while True:
            total, page = self.services.store.list_templates(
                store_family(fam), definitions, name, offset=len(records), limit=_PAGE
            )
            records += page
            if not page or len(records) >= total:
                break
        templates = [template_from_record(fam, record) for record in records]
        if kind is None or fam.preset_typed:
            return templates
        return [t for t in templates if cast(Any, t).Type == kind]

    def _validated_with_image(self, fam: Family, data: dict[str, Any], image: bytes | None) -> str | None:
        """Validate ``data``, then (only then) upload ``image`` and point ``ImageUrl`` at it."""
        _validate(fam, data)
        if image is None:
            return None
        url = self._store_image(image)
        data["ImageTemplate"]["ImageUrl"] = url
        return url

    def _store_image(self, data: bytes) -> str:
        """Upload a watermark image (content-addressed, so a repeat is the same object)."""
        extension, content_type = _image_type(data)
        bucket = self.services.assets_bucket
        key = f"{WATERMARK_PREFIX}{hashlib.sha256(data).hexdigest()}.{extension}"
        storage = self.services.storage
        storage.ensure_bucket(bucket)
        with tempfile.TemporaryDirectory(dir=self.services.settings.work_dir) as scratch:
            path = Path(scratch) / f"image.{extension}"
            path.write_bytes(data)
            storage.put(bucket, key, path, content_type=content_type)
        return f"s3://{bucket}/{key}"


def _take_image(fam: Family, data: dict[str, Any], *, required: bool) -> bytes | None:
    """Decode and remove ``ImageTemplate.ImageContent``, leaving a placeholder ``ImageUrl`` to validate.

    Raises:
        InvalidParameterError: ``InvalidParameterValue.ImageContent`` (not base64 PNG/JPEG, or
            missing from a new image watermark); ``InvalidParameterValue.Type`` for svg.
    """
    if fam.preset_typed:
        return None
    if data.get("Type") == "svg":
        raise InvalidParameterError.field("Type", "svg watermarks are not supported by this server")
    template = data.get("ImageTemplate")
    if isinstance(template, dict):
        # ImageUrl is ours to set (a request naming one is refused first): copy before popping.
        template = data["ImageTemplate"] = dict(template)
    if not isinstance(template, dict) or "ImageContent" not in template:
        if required and data.get("Type") == "image":
            raise InvalidParameterError("ImageTemplate.ImageContent is required", code="MissingParameter")
        return None
    content = template.pop("ImageContent")
    try:
        image = base64.b64decode(str(content), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidParameterError.field("ImageContent", "ImageContent is not valid base64") from None
    _image_type(image)
    template["ImageUrl"] = "s3://pending/image"
    return image


def _image_type(data: bytes) -> tuple[str, str]:
    for magic, found in _IMAGE_TYPES.items():
        if data.startswith(magic):
            return found
    raise InvalidParameterError.field("ImageContent", "ImageContent must be a PNG or JPEG image")


def _validate(fam: Family, data: dict[str, Any]) -> WireModel:
    """The template as the family's model would hold it, or the error naming the bad field."""
    for field, limit in (("Name", MAX_NAME), ("Comment", MAX_COMMENT)):
        value = data.get(field)
        if value is not None and len(str(value)) > limit:
            raise InvalidParameterError.field(field, f"{field} is longer than {limit} characters")
    typed = {**data, "Definition": 1, **({"Type": "Custom"} if fam.preset_typed else {})}
    return parse_params(fam.model, typed, known_fields=False)


def _check_request_fields(fam: Family, params: dict[str, Any], *, allowed: set[str]) -> None:
    """Refuse what a Create/Modify request may not carry, before anything is looked up.

    The family's model is the Describe shape: ``Definition`` and the times are the store's, and
    ``Type`` is Preset/Custom except for watermarks, so only the names in ``allowed`` of those pass.

    Raises:
        InvalidParameterError: ``UnknownParameter`` or ``UnsupportedOperation``
            (:func:`~mps.models.fields.check_fields`).
    """
    store_owned = sorted(_RESERVED & params.keys() - allowed)
    if store_owned:
        raise InvalidParameterError(
            f"{store_owned[0]} is not a parameter of this request", code=UNKNOWN_PARAMETER
        )
    check_fields(fam.model, {k: v for k, v in params.items() if k not in allowed})


def _body(fam: Family, data: dict[str, Any]) -> dict[str, Any]:
    """What the store keeps: the validated template in wire form, minus what the store owns."""
    template = _validate(fam, data).to_wire()
    kept = {"Type"} if not fam.preset_typed else set()
    return {k: v for k, v in template.items() if k not in (_RESERVED - kept) and k != "Name"}


def _merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``changes`` onto ``base``: nested objects merged key by key, a null leaves a value as it was."""
    merged = copy.deepcopy(base)
    for key, value in changes.items():
        if value is None:
            continue
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _reset(merged: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Drop the nested fields that ``changes`` set to their "automatic" value (``Vcrf: 100``...)."""
    for parent, resets in _RESETS.items():
        asked = changes.get(parent)
        if not isinstance(asked, dict) or not isinstance(merged.get(parent), dict):
            continue
        for key, value in resets.items():
            if key in asked and str(asked[key]) == str(value):
                merged[parent].pop(key, None)
    return merged


def _check_type_filter(fam: Family, kind: str | None) -> None:
    allowed = ("Preset", "Custom") if fam.preset_typed else ("image", "text")
    if kind is not None and kind not in allowed:
        raise InvalidParameterError.field("Type", f"Type must be one of {', '.join(allowed)}")


__all__ = ["DescribeTemplatesRequest", "DescribeTranscodeTemplatesRequest", "TemplateActions"]
