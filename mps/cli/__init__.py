"""The ``mps`` command line: thin commands over the composition root."""

from __future__ import annotations
