"""Template lookup: Tencent's preset templates (``presets/*.json``) and custom templates.

:class:`TemplateCatalog` keeps both in memory and answers the lookups task planning needs
(:class:`TemplateSource`) and the Describe/Create/Modify/Delete semantics of the API.
"""

from __future__ import annotations

from mps.templates.catalog import (
    FAMILIES,
    LEGACY_TRANSCODE_ALIASES,
    Family,
    TemplateCatalog,
    TemplateSource,
    default_presets_dir,
    definition_of,
    family,
    load_presets,
    load_template_file,
)

__all__ = [
    "FAMILIES",
    "LEGACY_TRANSCODE_ALIASES",
    "Family",
    "TemplateCatalog",
    "TemplateSource",
    "default_presets_dir",
    "definition_of",
    "family",
    "load_presets",
    "load_template_file",
]
