"""The console's pages and actions (mounted under ``/console`` by :func:`mps.api.console.add_console`).

Pages are rendered on the server (Jinja2); ``console.js`` polls the two JSON endpoints every 2 s
to keep the task list and a running task's page current. Actions go through the same handlers as
the API (``ManageTask``, ``EnableWorkflow``/``DisableWorkflow``/``RunWorkflow``,
``EnableSchedule``/``DisableSchedule``/``RunSchedule``), so they keep the API's rules. An
orchestration's DAG (a schedule's, or a task's with each activity's state) is laid out by
:mod:`mps.api.console.dag` and drawn as SVG by ``_dag.html``.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates

from mps.api.actions import ActionRegistry, RequestContext
from mps.api.console.access import LOGIN_COOKIE, SESSION_COOKIE, ConsoleAccess, Session, same_token
from mps.api.console.dag import Layout, layout
from mps.api.console.views import (
    PAGE_SIZE,
    STATUSES,
    ListFilters,
    history_views,
    iso,
    owner_path,
    subtask_views,
    summary_json,
)
from mps.api.handlers import ApiServices
from mps.errors import MpsError
from mps.models.base import WireModel
from mps.store.base import TaskPage, TaskQuery, WorkflowKind, WorkflowRecord
from mps.templates import FAMILIES

log = logging.getLogger("mps.api.console")

#: Where the console lives in the API's URL space.
PREFIX = "/console"
#: Largest form body read (a login or an action: a few hundred bytes).
MAX_FORM_BYTES = 16 * 1024
#: Content-Security-Policy of every page: scripts only from the package; media from anywhere
#: (previews are presigned URLs of the object store, on its own origin).
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src * data: blob:; "
    "media-src * blob:; connect-src *; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
TEMPLATES_DIR = Path(__file__).with_name("templates")


class Console:
    """The console's endpoints over the API's services.

    Parameters:
        access: credentials and sessions.
        services: the store and storage the pages read.
        actions: the API's action registry (the buttons call its handlers).
    """

    def __init__(self, access: ConsoleAccess, services: ApiServices, actions: ActionRegistry) -> None:
        self.access, self.services, self.actions = access, services, actions
        self.templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
        self.templates.env.globals.update(prefix=PREFIX, statuses=STATUSES, owner_path=owner_path)

    def routes(self, app: FastAPI) -> None:
        """Add every route to ``app``."""
        get, post = ["GET"], ["POST"]
        for path, endpoint, methods in (
            ("", self.home, get), ("/", self.home, get),
            ("/login", self.login_page, get), ("/login", self.login, post), ("/logout", self.logout, post),
            ("/tasks", self.task_list, get), ("/tasks/{task_id}", self.task_page, get),
            ("/tasks/{task_id}/abort", self.abort, post),
            ("/tasks/{task_id}/redo", self.redo, post),
            ("/api/tasks", self.task_list_json, get), ("/api/tasks/{task_id}", self.task_json, get),
            ("/workflows", self.workflow_list, get), ("/workflows/{workflow_id}", self.workflow_page, get),
            ("/workflows/{workflow_id}/{verb}", self.workflow_action, post),
            ("/schedules", self.schedule_list, get), ("/schedules/{schedule_id}", self.schedule_page, get),
            ("/schedules/{schedule_id}/{verb}", self.schedule_action, post),
            ("/templates", self.template_list, get),
        ):  # fmt: skip
            app.add_api_route(PREFIX + path, endpoint, methods=methods, include_in_schema=False)

    # -- sessions ------------------------------------------------------------------------------

    def _session(self, request: Request) -> Session | None:
        return self.access.load(request.cookies.get(SESSION_COOKIE))

    def _render(self, request: Request, name: str, session: Session | None, **context: Any) -> Response:
        response = self.templates.TemplateResponse(
            request, name, {"session": session, "notice": request.query_params.get("notice", ""), **context}
        )
        return _secured(response)

    def _to_login(self, request: Request) -> Response:
        if request.url.path.startswith(PREFIX + "/api/"):
            return JSONResponse({"error": "login required"}, status_code=401)
        target = request.url.path + (("?" + request.url.query) if request.url.query else "")
        return RedirectResponse(f"{PREFIX}/login?{urlencode({'next': target})}", status_code=303)

    async def _form(self, request: Request) -> dict[str, str]:
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM_BYTES:
                return {}
        parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        return {key: values[0] for key, values in parsed.items()}

    async def _allowed(self, request: Request) -> tuple[Session | None, Response | None]:
        """The session of a POST that may act, or the refusal: login (none), 403 (viewer, CSRF)."""
        session = self._session(request)
        if session is None:
            return None, self._to_login(request)
        form = await self._form(request)
        token = form.get("csrf") or request.headers.get("x-csrf-token")
        if not same_token(token, session.csrf):
            log.warning("console: POST %s by %s refused: bad CSRF token", request.url.path, session.user)
            return None, _secured(Response("CSRF token missing or wrong", status_code=403))
        if not session.can_act:
            return None, _secured(Response("read-only session", status_code=403))
        return session, None

    # -- login ---------------------------------------------------------------------------------

    async def login_page(self, request: Request) -> Response:
        """The login form, with a fresh double-submit token."""
        token = uuid.uuid4().hex
        response = self._render(
            request, "login.html", None, token=token, next=_local(request.query_params.get("next", "")),
            error=request.query_params.get("error", ""),
        )  # fmt: skip
        response.set_cookie(LOGIN_COOKIE, token, max_age=600, path=PREFIX, httponly=True, samesite="strict",
                            secure=request.url.scheme == "https")  # fmt: skip
        return response

    async def login(self, request: Request) -> Response:
        """Check the credentials; a session cookie and a redirect, or the form again."""
        form = await self._form(request)
        target = _local(form.get("next", ""))
        if not same_token(form.get("csrf"), request.cookies.get(LOGIN_COOKIE, "") or "-"):
            return _secured(Response("login form expired: reload the page", status_code=403))
        session = self.access.login(form.get("user", ""), form.get("password", ""))
        if session is None:
            log.warning("console: failed login for %r from %s", form.get("user", "")[:64], _peer(request))
            query = urlencode({"error": "Wrong user or password.", "next": target})
            return RedirectResponse(f"{PREFIX}/login?{query}", status_code=303)
        log.info("console: %s logged in (%s) from %s", session.user, session.role, _peer(request))
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(SESSION_COOKIE, self.access.dump(session), max_age=self.access.max_age,
                            path=PREFIX, httponly=True, samesite="lax",
                            secure=request.url.scheme == "https")  # fmt: skip
        response.delete_cookie(LOGIN_COOKIE, path=PREFIX)
        return response

    async def logout(self, request: Request) -> Response:
        """End the session (a POST with the session's CSRF token; viewers may log out too)."""
        session = self._session(request)
        form = await self._form(request)
        if session is not None and not same_token(form.get("csrf"), session.csrf):
            return _secured(Response("CSRF token missing or wrong", status_code=403))
        response = RedirectResponse(f"{PREFIX}/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path=PREFIX)
        return response

    async def home(self, request: Request) -> Response:
        """``/console``: the task list."""
        return RedirectResponse(f"{PREFIX}/tasks", status_code=303)

    # -- tasks ---------------------------------------------------------------------------------

    async def task_list(self, request: Request) -> Response:
        """The task list: filters, one page, a link to the next (older) one."""
        session = self._session(request)
        if session is None:
            return self._to_login(request)
        filters = ListFilters.parse(request.query_params)
        page = await self._page(filters)
        next_url = f"{PREFIX}/tasks?{urlencode(filters.params(page.before))}" if page.before else ""
        rows = [summary_json(r) for r in page.tasks]
        return self._render(request, "tasks.html", session, filters=filters, rows=rows, next_url=next_url)

    async def _page(self, filters: ListFilters) -> TaskPage:
        store = self.services.store
        return await run_in_threadpool(store.find_tasks, filters.query(), PAGE_SIZE, filters.before)

    async def task_list_json(self, request: Request) -> Response:
        """The rows of the task list as JSON (what the page polls)."""
        if self._session(request) is None:
            return self._to_login(request)
        page = await self._page(ListFilters.parse(request.query_params))
        return _secured(JSONResponse({"Tasks": [summary_json(r) for r in page.tasks], "Next": page.before}))

    def _task_detail(self, task_id: str, previews: bool) -> dict[str, Any]:
        store = self.services.store
        task = store.get_task(task_id)
        subtasks = store.get_subtasks(task_id)
        history = store.task_history(task_id)
        views = subtask_views(task, subtasks, self.services.storage if previews else None, history=history)
        dag: Layout | None = None
        activities = task.request.get("Activities")
        if isinstance(activities, list) and activities:
            dag = layout(
                activities, {s.index: s.status for s in subtasks}, {s.index: s.kind for s in subtasks}
            )
        return {"task": task, "subtasks": views, "events": store.list_events(task_id) if previews else [],
                "history": history_views(history), "dag": dag}  # fmt: skip

    async def task_page(self, request: Request, task_id: str) -> Response:
        """One task: input, metadata, sub-tasks on a timeline, errors, previews, notifications, the
        DAG of an orchestration with each activity's state, and the task's history."""
        session = self._session(request)
        if session is None:
            return self._to_login(request)
        try:
            detail = await run_in_threadpool(self._task_detail, task_id, True)
        except MpsError as exc:
            return self._render(request, "missing.html", session, what=f"Task {task_id}", error=exc.message)
        task = detail["task"]
        kinds = {p.kind for view in detail["subtasks"] for p in view.previews}
        return self._render(request, "task.html", session, task=task, subtasks=detail["subtasks"],
                            events=detail["events"], iso=iso, players=kinds, history=detail["history"],
                            dag=detail["dag"], dag_links=True, owner=owner_path(task.task_id),
                            input_info=task.request.get("InputInfo"),
                            workflow_task=task.workflow_task)  # fmt: skip

    async def task_json(self, request: Request, task_id: str) -> Response:
        """A task's state, sub-tasks and history as JSON (what a running task's page polls)."""
        if self._session(request) is None:
            return self._to_login(request)
        try:
            detail = await run_in_threadpool(self._task_detail, task_id, False)
        except MpsError as exc:
            return _secured(JSONResponse({"error": exc.message}, status_code=404))
        task = detail["task"]
        return _secured(JSONResponse({
            "TaskId": task.task_id, "Status": task.status, "ErrCode": task.err_code, "Message": task.message,
            "BeginProcessTime": iso(task.begin_time), "FinishTime": iso(task.finish_time),
            "SubTasks": [view.json() for view in detail["subtasks"]],
            "History": [row.json() for row in detail["history"]],
        }))  # fmt: skip

    async def abort(self, request: Request, task_id: str) -> Response:
        """The Abort button: ``ManageTask`` ``Abort`` through the API's own handler."""
        session, refused = await self._allowed(request)
        if refused is not None:
            return refused
        assert session is not None
        notice = await self._act(
            request, session, "ManageTask", {"TaskId": task_id, "OperationType": "Abort"}
        )
        return _back(f"{PREFIX}/tasks/{task_id}", notice or "Task aborted.")

    async def redo(self, request: Request, task_id: str) -> Response:
        """The Redo button: ``ManageTask`` ``Redo`` (ours) through the API's own handler."""
        session, refused = await self._allowed(request)
        if refused is not None:
            return refused
        assert session is not None
        notice = await self._act(request, session, "ManageTask", {"TaskId": task_id, "OperationType": "Redo"})
        return _back(f"{PREFIX}/tasks/{task_id}", notice or "The failed parts run again.")

    async def _act(self, request: Request, session: Session, action: str, params: dict[str, Any]) -> str:
        """Run an API action as the session's user; "" on success, else the error to show."""
        _, error = await self._call(request, session, action, params)
        return error

    async def _call(
        self, request: Request, session: Session, action: str, params: dict[str, Any]
    ) -> tuple[dict[str, Any], str]:
        """Run an API action as the session's user: its answer and "", or {} and the error to show."""
        ctx = RequestContext(request_id=str(uuid.uuid4()), action=action, client_ip=_peer(request))
        try:
            answer = await run_in_threadpool(self.actions.get(action), params, ctx)
        except MpsError as exc:
            log.info("console: %s %s by %s refused: %s", action, params, session.user, exc)
            return {}, f"{action} refused: {exc.code}: {exc.message}"
        log.info("console: %s %s by %s", action, params, session.user)
        answer = answer.to_wire() if isinstance(answer, WireModel) else answer
        return (answer if isinstance(answer, dict) else {}), ""

    # -- workflows and templates ---------------------------------------------------------------

    async def _owned_list(self, request: Request, kind: WorkflowKind) -> Response:
        session = self._session(request)
        if session is None:
            return self._to_login(request)
        raw = request.query_params.get("offset", "0")
        offset = int(raw) if raw.isdigit() else 0
        total, records = await run_in_threadpool(
            lambda: self.services.store.list_workflows(None, None, None, offset, 100, kind=kind)
        )
        name = "workflows.html" if kind == "workflow" else "schedules.html"
        return self._render(request, name, session, total=total, workflows=records, offset=offset,
                            iso=iso)  # fmt: skip

    async def workflow_list(self, request: Request) -> Response:
        """Every workflow (not the schedules), by WorkflowId (100 a page)."""
        return await self._owned_list(request, "workflow")

    async def schedule_list(self, request: Request) -> Response:
        """Every schedule, by ScheduleId (100 a page)."""
        return await self._owned_list(request, "schedule")

    async def _owned(
        self, request: Request, session: Session, raw_id: str, kind: WorkflowKind
    ) -> tuple[WorkflowRecord | None, Any, Response | None]:
        """A workflow or schedule of ``kind`` and its latest tasks, or the "not found" page (an id
        of the other kind is not found either, with a link to where it is)."""
        what = "Workflow" if kind == "workflow" else "Schedule"
        if not raw_id.isdigit():
            missing = self._render(request, "missing.html", session, what=what, error=f"not a {what}Id")
            return None, None, missing

        def load() -> tuple[WorkflowRecord, Any]:
            record = self.services.store.get_workflow(int(raw_id))
            if record.kind != kind:
                return record, None
            return record, self.services.store.find_tasks(TaskQuery(workflow_id=record.workflow_id), 20)

        try:
            record, recent = await run_in_threadpool(load)
        except MpsError as exc:
            missing = self._render(
                request, "missing.html", session, what=f"{what} {raw_id}", error=exc.message
            )
            return None, None, missing
        if recent is None:
            other = "schedules" if record.kind == "schedule" else "workflows"
            missing = self._render(request, "missing.html", session, what=f"{what} {raw_id}",
                                   error=f"{raw_id} is a {record.kind}, not a {kind}",
                                   elsewhere=f"{PREFIX}/{other}/{raw_id}")  # fmt: skip
            return None, None, missing
        return record, recent, None

    async def workflow_page(self, request: Request, workflow_id: str) -> Response:
        """One workflow: trigger, outputs, task set, its latest tasks, Enable/Disable, Run once."""
        session = self._session(request)
        if session is None:
            return self._to_login(request)
        record, recent, missing = await self._owned(request, session, workflow_id, "workflow")
        if missing is not None:
            return missing
        assert record is not None
        return self._render(request, "workflow.html", session, workflow=record, body=record.body, iso=iso,
                            rows=[summary_json(r) for r in recent.tasks])  # fmt: skip

    async def schedule_page(self, request: Request, schedule_id: str) -> Response:
        """One schedule: trigger, its DAG, outputs, its latest tasks, Enable/Disable, Run once."""
        session = self._session(request)
        if session is None:
            return self._to_login(request)
        record, recent, missing = await self._owned(request, session, schedule_id, "schedule")
        if missing is not None:
            return missing
        assert record is not None
        activities = record.body.get("Activities")
        dag = layout(activities) if isinstance(activities, list) and activities else None
        return self._render(request, "schedule.html", session, schedule=record, body=record.body, iso=iso,
                            dag=dag, dag_links=False,
                            rows=[summary_json(r) for r in recent.tasks])  # fmt: skip

    async def _owned_action(self, request: Request, raw_id: str, verb: str, kind: WorkflowKind) -> Response:
        """Enable, Disable or Run once a workflow or schedule through the API's handler."""
        if verb not in ("enable", "disable", "run") or not raw_id.isdigit():
            return _secured(Response("not found", status_code=404))
        session, refused = await self._allowed(request)
        if refused is not None:
            return refused
        assert session is not None
        noun = "Workflow" if kind == "workflow" else "Schedule"
        action = {"enable": "Enable", "disable": "Disable", "run": "Run"}[verb] + noun
        answer, notice = await self._call(request, session, action, {f"{noun}Id": int(raw_id)})
        if not notice:
            count = answer.get("TaskCount", 0)
            notice = f"Run once: {count} task(s) started." if verb == "run" else f"{noun} {verb}d."
        return _back(f"{PREFIX}/{kind}s/{raw_id}", notice)

    async def workflow_action(self, request: Request, workflow_id: str, verb: str) -> Response:
        """Enable, Disable or Run once a workflow: ``EnableWorkflow``, ``DisableWorkflow``,
        ``RunWorkflow``."""
        return await self._owned_action(request, workflow_id, verb, "workflow")

    async def schedule_action(self, request: Request, schedule_id: str, verb: str) -> Response:
        """Enable, Disable or Run once a schedule: ``EnableSchedule``, ``DisableSchedule``,
        ``RunSchedule``."""
        return await self._owned_action(request, schedule_id, verb, "schedule")

    async def template_list(self, request: Request) -> Response:
        """Presets and custom templates of one family (read-only)."""
        session = self._session(request)
        if session is None:
            return self._to_login(request)
        first = next(iter(FAMILIES))
        family = request.query_params.get("family", first)
        family = family if family in FAMILIES else first
        action = f"Describe{FAMILIES[family].kind}s"
        ctx = RequestContext(request_id=str(uuid.uuid4()), action=action, client_ip=_peer(request))
        answer = await run_in_threadpool(self.actions.get(action), {"Limit": 100}, ctx)
        answer = answer.to_wire() if isinstance(answer, WireModel) else answer
        return self._render(request, "templates.html", session, families=list(FAMILIES), family=family,
                            total=answer.get("TotalCount", 0), items=answer.get(family, []))  # fmt: skip


def _secured(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    return response


def _back(path: str, notice: str) -> Response:
    return _secured(RedirectResponse(f"{path}?{urlencode({'notice': notice})}", status_code=303))


def _local(target: str) -> str:
    """A redirect target inside the console only (no open redirect)."""
    if target.startswith(PREFIX + "/") and not target.startswith("//") and "\\" not in target:
        return target
    return f"{PREFIX}/tasks"


def _peer(request: Request) -> str:
    return request.client.host if request.client else "?"


__all__ = ["CSP", "PREFIX", "Console"]
