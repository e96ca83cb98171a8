"""Pure media logic: probe parsing, geometry, naming and the ffmpeg argv builders of each operation.

Nothing here starts a process or touches the network; :mod:`mps.runner` runs what is built here.
"""

from __future__ import annotations
