"""The composition root: the one place that turns settings into wired-up objects."""

from __future__ import annotations

from pathlib import Path

from mps.runner.ffmpeg import FfmpegRunner
from mps.settings import Settings
from mps.templates import TemplateCatalog, load_presets, load_template_file
from mps.workflow.assets import AssetFetcher, default_font_file
from mps.workflow.engine import TaskEngine


def build_catalog(settings: Settings, templates_file: Path | None = None) -> TemplateCatalog:
    """Presets plus the custom templates of ``templates_file`` (Describe*Templates shape)."""
    custom = load_template_file(templates_file) if templates_file is not None else None
    return TemplateCatalog(load_presets(settings.presets_dir), custom)


def build_runner(settings: Settings) -> FfmpegRunner:
    return FfmpegRunner(settings.ffmpeg, settings.ffprobe, default_timeout=settings.ffmpeg_timeout)


def build_local_engine(settings: Settings, catalog: TemplateCatalog, asset_dir: Path) -> TaskEngine:
    """The engine of ``mps process``: local files allowed as watermark images."""
    if settings.font_file is None:
        settings = settings.model_copy(update={"font_file": default_font_file()})
    fetch = AssetFetcher(asset_dir, allow_private=settings.url_allow_private, local_files=True)
    return TaskEngine(build_runner(settings), catalog, fetch, settings)
