"""``python -m mps``: the same as the ``mps`` command."""

from __future__ import annotations

from mps.cli.main import main

main()
