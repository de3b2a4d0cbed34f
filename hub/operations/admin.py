"""The JSON admin API: the operators' commands over HTTP, for scripts, under /api/ on the admin
listener (HUB_ADMIN_PORT) beside the console, never on the partners' port.

Every call carries `Authorization: Bearer <token>`, an operator's own token from `hub operators
token`: the console's guard (hub.console.app) finds whose it is, and that name goes into the audit
trail for every change and every stored message shown (personal data). A viewer's token may only read.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.console import auth
from hub.errors import ValidationFailed
from hub.operations.failed_messages import FailedMessages, NotFound, make_filter, to_json
from hub.store.failed import Filter


class FilterModel(BaseModel):
    system: str | None = None
    target: str | None = None
    type: str | None = None
    error_class: str | None = None
    group: str | None = None
    since: str | None = None
    until: str | None = None
    state: str = "failed"

    def to_filter(self) -> Filter:
        return make_filter(**self.model_dump())


class ReplayRequest(BaseModel):
    ids: list[int] = Field(default_factory=list)
    filter: FilterModel | None = None
    reason: str = "replayed by an operator"
    dry_run: bool = False
    force: bool = False


class EditRequest(BaseModel):
    payload: dict[str, Any]
    reason: str = Field(min_length=1)
    replay: bool = True


class DiscardRequest(BaseModel):
    ids: list[int] = Field(min_length=1)
    reason: str = Field(min_length=1)


def _json(value: Any, status_code: int = 200) -> Response:
    if dataclasses.is_dataclass(value):
        value = dataclasses.asdict(value)  # type: ignore[arg-type]
    elif isinstance(value, list):
        value = [dataclasses.asdict(v) if dataclasses.is_dataclass(v) else v for v in value]  # type: ignore[arg-type]
    return Response(to_json(value), status_code=status_code, media_type="application/json")


class AdminApi:
    """The API's routes, to be mounted at /api on the admin listener."""

    def __init__(self, service: FailedMessages) -> None:
        self.service = service

    def routes(self) -> list[Route]:
        return [
            Route("/failed", self._guard(self.list_failed), methods=["GET"]),
            Route("/failed/replay", self._guard(self.replay, changes=True), methods=["POST"]),
            Route("/failed/discard", self._guard(self.discard, changes=True), methods=["POST"]),
            Route("/failed/{id:int}", self._guard(self.show), methods=["GET"]),
            Route("/failed/{id:int}/edit", self._guard(self.edit, changes=True), methods=["POST"]),
            Route("/audit", self._guard(self.audit), methods=["GET"]),
            Route("/audit/verify", self._guard(self.verify), methods=["GET"]),
        ]

    def _guard(self, handler, *, changes: bool = False):  # type: ignore[no-untyped-def]
        async def guarded(request: Request) -> Response:
            operator = auth.require_operator(request) if changes else auth.current(request)
            try:
                return await handler(request, operator.name)
            except NotFound as exc:
                return _json({"error": str(exc)}, 404)
            except ValidationFailed as exc:
                return _json({"error": "invalid", "errors": [dataclasses.asdict(e) for e in exc.errors]}, 422)
            except (ValidationError, ValueError) as exc:
                return _json({"error": str(exc)}, 400)

        return guarded

    async def list_failed(self, request: Request, operator: str) -> Response:
        params = dict(request.query_params)
        view, limit = params.pop("view", "groups"), int(params.pop("limit", "200"))
        where = FilterModel(**params).to_filter()
        if view == "messages":
            return _json(await run_in_threadpool(self.service.find, where, limit))
        return _json(await run_in_threadpool(self.service.groups, where))

    async def show(self, request: Request, operator: str) -> Response:
        failed_id = request.path_params["id"]
        where = f"GET /api/failed/{failed_id}"
        return _json(await run_in_threadpool(lambda: self.service.show(failed_id, operator=operator, where=where)))

    async def replay(self, request: Request, operator: str) -> Response:
        body = ReplayRequest.model_validate_json(await request.body())
        where = body.filter.to_filter() if body.filter else None

        def run():  # type: ignore[no-untyped-def]
            messages = self.service.select(body.ids, where)
            return self.service.replay(
                messages, operator=operator, reason=body.reason, dry_run=body.dry_run, force=body.force
            )

        return _json(await run_in_threadpool(run))

    async def edit(self, request: Request, operator: str) -> Response:
        body = EditRequest.model_validate_json(await request.body())
        outcome = await run_in_threadpool(
            lambda: self.service.edit(
                request.path_params["id"], body.payload, operator=operator, reason=body.reason, replay=body.replay
            )
        )
        return _json(outcome)

    async def discard(self, request: Request, operator: str) -> Response:
        body = DiscardRequest.model_validate_json(await request.body())
        ids = await run_in_threadpool(
            lambda: self.service.discard(self.service.select(body.ids), operator=operator, reason=body.reason)
        )
        return _json({"discarded": ids})

    async def audit(self, request: Request, operator: str) -> Response:
        limit = int(request.query_params.get("limit", "100"))
        return _json(await run_in_threadpool(self.service.audit_entries, limit))

    async def verify(self, request: Request, operator: str) -> Response:
        return _json(await run_in_threadpool(self.service.audit.verify))
