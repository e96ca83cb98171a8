"""Pure ffmpeg argv builders, one module per operation (``transcode``, ``snapshot``, ...).

Each module exposes ``build_<op>(spec, meta, ...) -> Command`` and starts no process.
"""

from __future__ import annotations
