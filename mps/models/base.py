"""The base of every wire model: Tencent's field names, lenient on input, exact on output."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class WireModel(BaseModel):
    """A model whose field names are the MPS API 3.0 names, spelled exactly.

    Unknown keys are ignored on input, as the SDK itself does: newer SDKs send fields this
    server does not know yet, and refusing them would break those clients. Values are coerced
    in lax mode because GET-mode and legacy-signature clients send every value as a string.
    """

    model_config = ConfigDict(extra="ignore", populate_by_name=True, validate_assignment=False)

    def to_wire(self) -> dict[str, Any]:
        """The JSON object for this model with the fields that are not set left out."""
        return self.model_dump(mode="json", exclude_none=True)
