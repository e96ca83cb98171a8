"""The web console of ``mps api`` at ``/console``: watch tasks (an orchestration's DAG with each
activity's state, the history), workflows, schedules and templates; abort or redo a task, enable,
disable or run once a workflow or schedule.

Server-rendered pages (Jinja2 templates in ``templates/``) with one small script
(``static/console.js``) that polls JSON every 2 s; no build step. DAGs are SVG drawn by the
server from the layout of :mod:`mps.api.console.dag`. The HLS and DASH players are hls.js and
dash.js, vendored minified in ``static/vendor/`` (see the README), so the console works offline.
Access rules are in :mod:`mps.api.console.access`. New actions are POST routes in
:class:`~mps.api.console.routes.Console` that call the API's own handler through the registry.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from mps.api.actions import ActionRegistry
from mps.api.console.access import ConsoleAccess
from mps.api.console.routes import PREFIX, Console
from mps.api.handlers import ApiServices
from mps.settings import Settings

log = logging.getLogger("mps.api.console")

#: The console's scripts, styles and vendored players.
STATIC_DIR = Path(__file__).with_name("static")


def add_console(app: FastAPI, settings: Settings, services: ApiServices, actions: ActionRegistry) -> bool:
    """Mount the console on ``app`` when a credential is configured.

    Returns:
        Whether the console is on; off (no route: 404), it says why in the log.
    """
    access = ConsoleAccess(settings)
    if not access.enabled:
        log.info(
            "console off: set MPS_CONSOLE_PASSWORD (or MPS_SECRET_ID/MPS_SECRET_KEY, or "
            "MPS_CONSOLE_VIEWER_PASSWORD) to serve it at %s",
            PREFIX,
        )
        return False
    Console(access, services, actions).routes(app)
    app.mount(PREFIX + "/static", StaticFiles(directory=STATIC_DIR), name="console-static")
    log.info("console at %s", PREFIX)
    return True


__all__ = ["PREFIX", "STATIC_DIR", "add_console"]
