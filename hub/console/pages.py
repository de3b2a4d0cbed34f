"""The console's pages: what failed and why, one message, its edit, replays, discards, a trace,
the audit trail and an overview. Server-rendered HTML forms, usable without JavaScript.

Every action goes through `FailedMessages`, the one way the CLI and the JSON API act too, under
the name of the operator who is logged in; so does every look at a stored message (personal data).
Person codes in a message are shown as pseudonyms until the operator presses reveal, which the audit
trail records as a view in clear. Viewers see every page; every POST that changes something is
refused to them (`auth.require_operator`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lxml import etree
from prometheus_client import REGISTRY
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, ImmutableMultiDict
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from hub.console import auth
from hub.console.replays import JobState, ReplayJobs
from hub.envelope import utcnow
from hub.errors import Unroutable, ValidationFailed
from hub.operations.failed_messages import DELETED, STATES, FailedMessages, NotFound, make_filter, to_json
from hub.operations.trace import trace
from hub.runtime.components import Components
from hub.store.failed import Filter
from hub.store.status import RecentCounts

PAGE = 50
FILTER_FIELDS = ("system", "target", "type", "error_class", "group", "since", "until", "state")
OLDEST_ALERT = dt.timedelta(hours=1)  # HubOldestMessageTooOld
GROWING_ALERT = 50  # HubFailedStoreGrowing: more entries for a target than an hour ago
BACKLOG_WARN = 1000  # HubQueueGrowing, which also asks that the backlog keeps growing

log = logging.getLogger(__name__)
LISTED = 200  # the ids a confirmation page names
CIRCUIT_STATES = {0: "closed", 1: "half-open", 2: "open"}  # hub_target_circuit_state
_PRETTY = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True, huge_tree=False)


OPTIONAL: dict[str, Any] = {
    "error": None,
    "discard_error": None,
    "reason_error": None,
    "quarantined": False,
    "next_query": None,
    "paged": False,
    "reason": "",
    "replay": True,
}


class BadSelection(ValueError):
    pass


@dataclass(frozen=True)
class Selection:
    """What an operator chose to replay: ids, or a filter (a group is a filter on its id)."""

    ids: tuple[int, ...]
    fields: dict[str, str]

    @classmethod
    def of(cls, form: Mapping[str, Any] | FormData) -> Selection:
        ids: list[int] = []
        raw = form.getlist("ids") if isinstance(form, ImmutableMultiDict) else form.get("ids", [])
        for value in raw:
            for part in str(value).replace(",", " ").split():
                if not part.isdigit():
                    raise BadSelection(f"{part!r} is not a failed message's id")
                ids.append(int(part))
        fields = {name: str(form.get(name) or "").strip() for name in FILTER_FIELDS}
        return cls(tuple(dict.fromkeys(ids)), {k: v for k, v in fields.items() if v})

    def where(self) -> Filter | None:
        return None if self.ids else filter_of(self.fields)

    def describe(self) -> dict[str, Any]:
        return {"ids": list(self.ids)} if self.ids else {"filter": self.fields}


def filter_of(fields: Mapping[str, str]) -> Filter:
    values = {name: fields.get(name) or None for name in FILTER_FIELDS if name != "state"}
    try:
        return make_filter(**values, state=fields.get("state") or "failed")
    except ValueError as exc:
        raise BadSelection(str(exc)) from None


def routes(parts: Components, service: FailedMessages, jobs: ReplayJobs, templates: Jinja2Templates) -> list[Route]:
    """The pages, for the console's app to mount next to its login and static files."""
    return Pages(parts, service, jobs, templates).routes()


class Pages:
    def __init__(
        self, parts: Components, service: FailedMessages, jobs: ReplayJobs, templates: Jinja2Templates
    ) -> None:
        self.parts = parts
        self.service = service
        self.jobs = jobs
        self.templates = templates

    def routes(self) -> list[Route]:
        return [
            Route("/", self.overview, methods=["GET"]),
            Route("/failed", self.failed, methods=["GET"]),
            Route("/failed/{id:int}", self.detail, methods=["GET"]),
            Route("/failed/{id:int}/reveal", self.reveal, methods=["POST"]),
            Route("/failed/{id:int}/edit", self.edit_form, methods=["GET"]),
            Route("/failed/{id:int}/edit", self.edit_save, methods=["POST"]),
            Route("/failed/{id:int}/discard", self.discard, methods=["POST"]),
            Route("/replay", self.replay_dry_run, methods=["POST"]),
            Route("/replay/confirm", self.replay_confirm, methods=["POST"]),
            Route("/replays", self.replay_list, methods=["GET"]),
            Route("/replays/{job:int}", self.replay_job, methods=["GET"]),
            Route("/trace/{message_id}", self.trace, methods=["GET"]),
            Route("/audit", self.audit, methods=["GET"]),
        ]

    def page(self, request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
        """`name` rendered; what a template shows only in some cases is there, empty, in the others
        (the templates are strict: a name missing is an error, not a blank)."""
        context = {**OPTIONAL, "operator": auth.current(request), **context}
        return self.templates.TemplateResponse(request, name, context, status_code=status_code)

    def not_found(self, request: Request, what: str) -> Response:
        return self.page(request, "not_found.html", 404, what=what)

    # -- overview ----------------------------------------------------------------------------------

    async def overview(self, request: Request) -> Response:
        auth.current(request)
        figures = await run_in_threadpool(self._overview, utcnow())
        return self.page(request, "overview.html", **figures)

    def _overview(self, now: dt.datetime) -> dict[str, Any]:
        targets = sorted(self.parts.router.targets)
        hour_ago = now - dt.timedelta(hours=1)
        counts = self.parts.store.target_counts(targets, now - dt.timedelta(days=1), hour_ago)
        flows: dict[tuple[str, str, str], dict[str, int]] = {}
        for (source, type_, target), by_status in self.parts.store.flow_counts(targets, hour_ago).items():
            flow = flows.setdefault((self._flow_of(type_), source, target), {})
            for status, records in by_status.items():
                flow[status] = flow.get(status, 0) + records
        waiting: dict[str, int] = {}
        for (target, _), count in self.parts.failed.waiting_counts().items():
            waiting[target] = waiting.get(target, 0) + count
        new = self.parts.failed.new_since(hour_ago)
        backlog = self._backlog(targets)
        rows = []
        for target in targets:
            oldest = self.parts.store.oldest_undelivered(target)
            age = now - oldest if oldest else None
            rows.append(
                {
                    "target": target,
                    "oldest": _age(age) if age is not None else "none waiting",
                    "oldest_alert": age is not None and age > OLDEST_ALERT,
                    "failed": waiting.get(target, 0),
                    "new": new.get(target, 0),
                    "growing_alert": new.get(target, 0) > GROWING_ALERT,
                    "circuit": _circuit(target),
                    "backlog": backlog.get(target),
                    "backlog_warn": backlog.get(target, 0) > BACKLOG_WARN,
                    "counts": counts.get(target, RecentCounts()),
                }
            )
        return {"flows": sorted(flows.items()), "targets": rows, "jobs": self.jobs.recent(5), "now": now}

    def _backlog(self, targets: list[str]) -> dict[str, int]:
        """Each target's delivery queue, as the broker counts it; nothing when it does not answer."""
        queues = {self.parts.topology.delivery_queue(t): t for t in targets}
        try:
            ready = self.parts.broker.backlog(list(queues))
        except Exception as exc:
            log.warning("the broker's queues cannot be read for the overview", extra={"error": str(exc)[:200]})
            return {}
        return {queues[name]: count for name, count in ready.items()}

    def _flow_of(self, type_: str) -> str:
        try:
            return self.parts.router.route(type_).flow
        except Unroutable:  # a type whose route was taken out since
            return type_

    # -- failed messages ---------------------------------------------------------------------------

    async def failed(self, request: Request) -> Response:
        auth.current(request)
        params = request.query_params
        fields = {name: params.get(name, "").strip() for name in FILTER_FIELDS}
        fields = {k: v for k, v in fields.items() if v}
        after = params.get("after", "")
        try:
            where = filter_of(fields)
            start = int(after) if after else None
        except (BadSelection, ValueError) as exc:
            return self.page(
                request, "failed.html", 400, fields=fields, error=str(exc), groups=[], rows=[], states=STATES
            )

        def load():  # type: ignore[no-untyped-def]
            return self.service.groups(where), self.service.find(where, PAGE + 1, after=start)

        groups, rows = await run_in_threadpool(load)
        more = len(rows) > PAGE
        rows = rows[:PAGE]
        next_query = {**fields, "after": str(rows[-1].id)} if more else None
        return self.page(
            request,
            "failed.html",
            fields=fields,
            groups=groups,
            rows=rows,
            next_query=next_query,
            paged=bool(start),
            states=STATES,
            error=None,
        )

    async def detail(self, request: Request) -> Response:
        return await self._detail(request, clear=False)

    async def reveal(self, request: Request) -> Response:
        """Person codes in clear: for operators only (a viewer watches the exchange, not people)."""
        auth.require_operator(request)
        return await self._detail(request, clear=True)

    async def _detail(self, request: Request, *, clear: bool, status_code: int = 200, **context: Any) -> Response:
        who = auth.current(request)
        failed_id = request.path_params["id"]
        where = f"{request.method} {request.url.path}"
        try:
            detail = await run_in_threadpool(
                lambda: self.service.show(failed_id, operator=who.name, where=where, codes_in_clear=clear)
            )
        except NotFound:
            return self.not_found(request, f"failed message {failed_id}")
        shown: Callable[[str], str] = (lambda text: text) if clear else self.parts.pseudonymizer.scrub
        return self.page(
            request,
            "detail.html",
            status_code,
            message=detail.message,
            envelope=shown(to_json(detail.envelope)) if detail.envelope else None,
            raw=shown(detail.raw) if detail.raw else None,
            xml=shown(_pretty(detail.source_xml)) if detail.source_xml else None,
            clear=clear,
            **context,
        )

    async def discard(self, request: Request) -> Response:
        who = auth.require_operator(request)
        form = await request.form()
        reason = str(form.get("reason") or "").strip()
        failed_id = request.path_params["id"]
        if not reason:
            return await self._detail(
                request, clear=False, status_code=400, discard_error="Say why it is discarded: a reason is required."
            )
        try:
            await run_in_threadpool(
                lambda: self.service.discard(self.service.select([failed_id]), operator=who.name, reason=reason)
            )
        except NotFound:
            return self.not_found(request, f"failed message {failed_id}")
        return RedirectResponse(f"/failed/{failed_id}", status_code=303)

    # -- edit --------------------------------------------------------------------------------------

    async def edit_form(self, request: Request) -> Response:
        """The record in clear, to be changed: for operators only, as reveal is."""
        who = auth.require_operator(request)
        failed_id = request.path_params["id"]
        where = f"GET {request.url.path}"
        try:
            detail = await run_in_threadpool(lambda: self.service.show(failed_id, operator=who.name, where=where))
        except NotFound:
            return self.not_found(request, f"failed message {failed_id}")
        if detail.envelope is None:
            return self.page(request, "edit.html", 409, message=detail.message, fields=[], errors={}, cannot=detail.raw)
        payload = detail.envelope["payload"]
        fields = [_field(name, value, _shown(value)) for name, value in payload.items()]
        return self.page(request, "edit.html", message=detail.message, fields=fields, errors={}, cannot=None)

    async def edit_save(self, request: Request) -> Response:
        who = auth.require_operator(request)
        failed_id = request.path_params["id"]
        form = await request.form()
        try:
            message, original = await run_in_threadpool(
                lambda: (self.service.select([failed_id])[0], self.service.payload_of(failed_id))
            )
        except NotFound:
            return self.not_found(request, f"failed message {failed_id}")
        if original is None:
            return self.page(request, "edit.html", 409, message=message, fields=[], errors={}, cannot=DELETED)
        payload: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for name, value in original.items():
            typed = str(form.get(f"field.{name}", ""))
            try:
                payload[name] = _parsed(typed, value)
            except ValueError as exc:
                errors[name] = str(exc)
        reason = str(form.get("reason") or "").strip()
        if not reason:
            errors["reason"] = "Say why you change it: a reason is required."
        replay = form.get("replay") == "1"
        if not errors:
            try:
                outcome = await run_in_threadpool(
                    lambda: self.service.edit(failed_id, payload, operator=who.name, reason=reason, replay=replay)
                )
            except ValidationFailed as exc:
                for error in exc.errors:
                    name = error.field.removeprefix("payload/").split("/")[0] or "payload"
                    errors[name] = f"{errors[name]}; {error.message}" if name in errors else error.message
            else:
                done = "saved and replayed" if outcome.replayed else "saved"
                return RedirectResponse(f"/failed/{failed_id}?edited={done.replace(' ', '+')}", status_code=303)
        fields = [_field(name, original[name], str(form.get(f"field.{name}", ""))) for name in original]
        return self.page(
            request,
            "edit.html",
            422,
            message=message,
            fields=fields,
            errors=errors,
            cannot=None,
            reason=reason,
            replay=replay,
        )

    # -- replay ------------------------------------------------------------------------------------

    async def replay_dry_run(self, request: Request) -> Response:
        auth.require_operator(request)
        form = await request.form()
        force = form.get("force") == "1"
        try:
            selection = Selection.of(form)
            messages, outcome = await run_in_threadpool(self._dry_run, selection, force)
        except (BadSelection, NotFound) as exc:
            return self.page(request, "replay_confirm.html", 400, error=str(exc), selection=None)
        return self.page(
            request,
            "replay_confirm.html",
            selection=selection,
            count=len(outcome.replayed),
            listed=outcome.replayed[:LISTED],
            skipped=outcome.skipped,
            selected=len(messages),
            force=force,
            quarantined=any("quarantined" in why for why in outcome.skipped.values()),
            error=None,
        )

    def _dry_run(self, selection: Selection, force: bool):  # type: ignore[no-untyped-def]
        if not selection.ids and not selection.fields:
            raise BadSelection("choose what to replay: tick messages, or replay a group or a filter")
        messages = self.service.select(selection.ids, selection.where())
        return messages, self.service.replay(messages, operator="", reason="", dry_run=True, force=force)

    async def replay_confirm(self, request: Request) -> Response:
        who = auth.require_operator(request)
        form = await request.form()
        reason = str(form.get("reason") or "").strip()
        force = form.get("force") == "1"
        try:
            selection = Selection.of(form)
            messages, outcome = await run_in_threadpool(self._dry_run, selection, force)
        except (BadSelection, NotFound) as exc:
            return self.page(request, "replay_confirm.html", 400, error=str(exc), selection=None)
        if not reason:
            return self.page(
                request,
                "replay_confirm.html",
                400,
                selection=selection,
                count=len(outcome.replayed),
                listed=outcome.replayed[:LISTED],
                skipped=outcome.skipped,
                selected=len(messages),
                force=force,
                quarantined=False,
                error=None,
                reason_error="Say why they are replayed: a reason is required.",
            )
        job = await run_in_threadpool(
            lambda: self.jobs.create(
                outcome.replayed, operator=who.name, reason=reason, selection=selection.describe(), force=force
            )
        )
        return RedirectResponse(f"/replays/{job}", status_code=303)

    async def replay_job(self, request: Request) -> Response:
        auth.current(request)
        job = await run_in_threadpool(self.jobs.get, request.path_params["job"])
        if job is None:
            return self.not_found(request, f"replay job {request.path_params['job']}")
        return self.page(request, "replay_job.html", job=job, running=job.state == JobState.RUNNING)

    async def replay_list(self, request: Request) -> Response:
        auth.current(request)
        jobs = await run_in_threadpool(self.jobs.recent, 50)
        return self.page(request, "replays.html", jobs=jobs)

    # -- trace and audit ---------------------------------------------------------------------------

    async def trace(self, request: Request) -> Response:
        auth.current(request)
        message_id = request.path_params["message_id"]
        parts = self.parts
        steps = await run_in_threadpool(lambda: trace(message_id, parts.store, parts.failed, parts.message_log))
        entry = await run_in_threadpool(parts.failed.entry_for, message_id)
        if not steps:
            return self.not_found(request, f"message {message_id}")
        return self.page(request, "trace.html", message_id=message_id, steps=steps, entry=entry)

    async def audit(self, request: Request) -> Response:
        auth.current(request)
        search = request.query_params.get("q", "").strip()

        def load():  # type: ignore[no-untyped-def]
            return self.service.audit_entries(200, search=search or None), self.service.audit.verify()

        entries, verdict = await run_in_threadpool(load)
        return self.page(request, "audit.html", entries=entries, verdict=verdict, q=search)


def _circuit(target: str) -> str | None:
    """The circuit of `target` as this process's workers see it; None where this process runs none
    (a gateway alone: the circuits are in the workers' processes)."""
    state = REGISTRY.get_sample_value("hub_target_circuit_state", {"target": target})
    return None if state is None else CIRCUIT_STATES.get(int(state), "unknown")


def _age(age: dt.timedelta) -> str:
    seconds = int(age.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} days"


def _pretty(xml: str) -> str:
    try:
        return etree.tostring(etree.fromstring(xml.encode(), _PRETTY), pretty_print=True, encoding="unicode")
    except etree.XMLSyntaxError:
        return xml


def _shown(value: Any) -> str:
    """A payload value as its form input holds it: text as it is, anything else as JSON."""
    if isinstance(value, str):
        return value
    return "" if value is None else json.dumps(value, ensure_ascii=False)


def _parsed(typed: str, original: Any) -> Any:
    """A form input back into the payload's value, of the kind the original was."""
    if isinstance(original, str):
        return typed
    if original is None and not typed.strip():
        return None
    if original is None and not typed.strip().startswith(("{", "[", '"')) and not _is_json(typed):
        return typed
    try:
        return json.loads(typed)
    except json.JSONDecodeError:
        kind = "a number" if isinstance(original, int | float) else "JSON"
        raise ValueError(f"write {kind} here, like {_shown(original) or 'null'}") from None


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except json.JSONDecodeError:
        return False
    return True


def _field(name: str, original: Any, value: str) -> dict[str, Any]:
    structured = isinstance(original, dict | list)
    return {
        "name": name,
        "value": value,
        "structured": structured,
        "kind": "text" if original is None or isinstance(original, str) else "JSON",
    }
