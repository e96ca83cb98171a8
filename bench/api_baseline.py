"""``mps api`` as an older checkout served it: uvicorn's pure-Python HTTP parser (h11) and the
asyncio loop, whatever this environment has installed. ``bench/api_load.py --baseline DIR`` runs
this with ``PYTHONPATH=DIR``, so ``mps`` is imported from DIR."""

from __future__ import annotations

import sys

import uvicorn.config

uvicorn.config.HTTP_PROTOCOLS["auto"] = uvicorn.config.HTTP_PROTOCOLS["h11"]
uvicorn.config.LOOP_FACTORIES["auto"] = uvicorn.config.LOOP_FACTORIES["asyncio"]

from mps.cli.main import main  # noqa: E402 (after the patch above)

sys.argv = ["mps", "api", *sys.argv[1:]]
main()
