"""The console's web app, served on the admin listener (HUB_ADMIN_HOST:HUB_ADMIN_PORT), never on the
partners' SOAP port: the login, the pages (hub.console.pages), the JSON API under /api/ and a stylesheet.

What guards it, for every request, before any handler runs (`Guard`):
- pages: the operator comes from a session cookie whose id is random, kept in the store only as a hash,
  ended after HUB_CONSOLE_SESSION_MINUTES idle or 12 hours, and at logout; a new id at every login, so a
  cookie planted before the login is never the session after it (fixation);
- every POST of a page carries the CSRF token of its session (or, before the login, of a pre-login
  cookie): without it, or with another, the answer is 403 and the handler never runs;
- /api/: the operator comes from `Authorization: Bearer <token>` (`hub operators token`), never from
  a cookie, so no other site can make a browser call it; a viewer's token may only read;
- every answer carries a strict Content-Security-Policy, refuses framing and is never cached
  (pages show personal data), but the stylesheet;
- logins: five failures for a name or from an address in 15 minutes stop further attempts for 15
  minutes, with the same message as a wrong password; each success and failure is audited (name and
  address, never the password). Jinja2 escapes every value a page shows (stored XML included).
"""

from __future__ import annotations

import datetime as dt
import hmac
import ipaddress
import secrets
from collections.abc import Callable, Iterable
from contextlib import asynccontextmanager
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.console import auth, pages
from hub.console.replays import ReplayJobs
from hub.envelope import utcnow
from hub.operations.failed_messages import FailedMessages
from hub.runtime.components import Components
from hub.store.operators import OperatorStore

HERE = Path(__file__).parent
SESSION_COOKIE = "hub_session"
LOGIN_COOKIE = "hub_login"  # a visitor's random value before the login: the login form's CSRF token is its
LOGIN_REFUSED = "name or password is wrong, or too many attempts; wait and try again"
MAX_FORM_BYTES = 1024 * 1024
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


def templates() -> Jinja2Templates:
    """The pages' templates: autoescaped, so nothing stored (a message's XML, a reason) becomes markup;
    `csrf_input()` writes the form's CSRF field."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True)
    env.globals["csrf_input"] = jinja2.pass_context(lambda context: auth.csrf_input(context["request"]))
    return Jinja2Templates(env=env)


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def local_path(target: str | None) -> str:
    """Where to go after the login: a path of this site, never another site (an open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    return "/" if parts.scheme or parts.netloc else target


class Guard:
    """Sessions, API tokens, CSRF and security headers around the whole app (see the module's doc)."""

    def __init__(self, app: ASGIApp, accounts: OperatorStore, idle: dt.timedelta, *, secure: bool) -> None:
        self.app, self.accounts, self.idle, self.secure = app, accounts, idle, secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        static = path.startswith("/static/")
        cookies_out: list[str] = []

        async def send_guarded(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), *SECURITY_HEADERS]
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                headers += [(b"set-cookie", cookie.encode("latin-1")) for cookie in cookies_out]
                message = {**message, "headers": headers}
            await send(message)

        if static:
            await self.app(scope, receive, send_guarded)
            return
        request = Request(scope)
        if path.startswith("/api/"):
            refusal = await self._api(scope, request)
            if refusal is not None:
                await refusal(scope, receive, send_guarded)
                return
            await self.app(scope, receive, send_guarded)
            return
        secret = await self._page(scope, request, cookies_out)
        scope[auth.CSRF_KEY] = auth.csrf_token(secret)
        if scope["method"] not in SAFE_METHODS:
            body = await _body(receive)
            if body is None:
                await _refuse(413, "the form is too large")(scope, receive, send_guarded)
                return
            given = await _form_field(scope, body, "csrf")
            if not hmac.compare_digest(given.encode(), scope[auth.CSRF_KEY].encode()):
                if auth.OPERATOR_KEY in scope:
                    page = "The form was not this console's, or it is too old: go back, reload and try again."
                else:
                    page = "You are not logged in, or your session has ended: log in and do it again."
                await _refuse(403, page)(scope, receive, send_guarded)
                return
            receive = _replay(body)
        await self.app(scope, receive, send_guarded)

    async def _api(self, scope: Scope, request: Request) -> Response | None:
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer "):
            return None  # `auth.current` answers 401 where the handler needs an operator
        account = await run_in_threadpool(self.accounts.token_account, header.removeprefix("Bearer ").strip())
        if account is None:
            return JSONResponse({"error": "unknown or revoked API token"}, 401)
        scope[auth.OPERATOR_KEY] = auth.Operator(account.name, account.role)
        if account.role != "operator" and scope["method"] not in SAFE_METHODS:
            return JSONResponse({"error": f"your role ({account.role}) may only read"}, 403)
        return None

    async def _page(self, scope: Scope, request: Request, cookies_out: list[str]) -> str:
        """The session's operator into the scope; the secret the request's CSRF token derives from."""
        session = request.cookies.get(SESSION_COOKIE)
        if session:
            account = await run_in_threadpool(self.accounts.session, session, self.idle)
            if account is not None:
                scope[auth.OPERATOR_KEY] = auth.Operator(account.name, account.role)
                scope["hub.session"] = session
                return session
            cookies_out.append(self.cookie(SESSION_COOKIE, ""))
            scope[auth.ENDED_KEY] = True
        visitor = request.cookies.get(LOGIN_COOKIE)
        if not visitor or len(visitor) < 32:
            visitor = secrets.token_urlsafe(32)
            cookies_out.append(self.cookie(LOGIN_COOKIE, visitor))
        return visitor

    def cookie(self, name: str, value: str) -> str:
        return cookie(name, value, secure=self.secure)


def cookie(name: str, value: str, *, secure: bool) -> str:
    """A Set-Cookie value: HttpOnly (no script reads it), SameSite=Strict (no other site's link or form
    sends it), Secure unless the listener is on loopback only, where a tunnel or a proxy on the host
    brings TLS; an empty value ends the cookie."""
    jar: SimpleCookie = SimpleCookie()
    jar[name] = value
    jar[name].update({"path": "/", "httponly": True, "samesite": "Strict", "secure": secure})
    if not value:
        jar[name]["max-age"] = 0
    return jar[name].OutputString()


async def _body(receive: Receive) -> bytes | None:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    """The body read by the guard, given again to the handler."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def _form_field(scope: Scope, body: bytes, name: str) -> str:
    try:
        form = await Request(scope, _replay(body)).form()
    except Exception:  # not a form at all: no token either
        return ""
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _refuse(status: int, why: str) -> Response:
    """Before any handler ran (no templates, no operator): a plain page in the console's style."""
    page = (
        '<!doctype html><html lang="en"><meta charset="utf-8"><title>Refused</title>'
        '<link rel="stylesheet" href="/static/console.css"><main><h1>Refused</h1>'
        f'<p class="error" role="alert">{why}</p><p><a href="/">Back to the overview</a> · '
        '<a href="/login">Log in</a></p></main></html>'
    )
    return Response(page, status_code=status, media_type="text/html")


class Console:
    """The console's app and what its handlers share: the accounts, the audit trail, the templates."""

    def __init__(
        self,
        parts: Components,
        service: FailedMessages,
        jobs: ReplayJobs,
        accounts: OperatorStore,
        *,
        idle: dt.timedelta,
        secure: bool,
        api_routes: Iterable[BaseRoute] = (),
    ) -> None:
        self.parts, self.service, self.jobs, self.accounts = parts, service, jobs, accounts
        self.secure, self.idle = secure, idle
        self.audit = parts.audit
        self.templates = templates()
        self.api_routes = list(api_routes)

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/login", self.login_form, methods=["GET"]),
            Route("/login", self.login, methods=["POST"]),
            Route("/logout", self.logout, methods=["POST"]),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
            Mount("/api", routes=self.api_routes),
            *pages.routes(self.parts, self.service, self.jobs, self.templates),
        ]

    def _login_page(self, request: Request, status: int = 200, error: str = "", name: str = "") -> Response:
        target = local_path(request.query_params.get("next"))
        context = {"next": target, "error": error, "name": name, "ended": "ended" in request.query_params}
        return self.templates.TemplateResponse(request, "login.html", context, status_code=status)

    async def login_form(self, request: Request) -> Response:
        return self._login_page(request)

    async def login(self, request: Request) -> Response:
        form = await request.form()
        name, password = str(form.get("name") or "").strip(), str(form.get("password") or "")
        address = request.client.host if request.client else "unknown"
        account = await run_in_threadpool(self.accounts.authenticate, name, password, address)
        if account is None:
            await run_in_threadpool(self._audit, name or "(no name)", "login-failed", address)
            return self._login_page(request, 401, LOGIN_REFUSED, name)
        old = request.scope.get("hub.session")
        if old:
            await run_in_threadpool(self.accounts.close_session, old)
        await run_in_threadpool(self.accounts.tidy, self.idle)
        session = await run_in_threadpool(self.accounts.open_session, account.name)
        await run_in_threadpool(self._audit, account.name, "login", address)
        response = RedirectResponse(local_path(str(form.get("next") or "")), status_code=303)
        response.raw_headers.append(
            (b"set-cookie", cookie(SESSION_COOKIE, session, secure=self.secure).encode("latin-1"))
        )
        response.raw_headers.append((b"set-cookie", cookie(LOGIN_COOKIE, "", secure=self.secure).encode("latin-1")))
        return response

    async def logout(self, request: Request) -> Response:
        session = request.scope.get("hub.session")
        if session:
            operator = auth.current(request)
            await run_in_threadpool(self.accounts.close_session, session)
            address = request.client.host if request.client else "unknown"
            await run_in_threadpool(self._audit, operator.name, "logout", address)
        response = RedirectResponse("/login", status_code=303)
        response.raw_headers.append((b"set-cookie", cookie(SESSION_COOKIE, "", secure=self.secure).encode("latin-1")))
        return response

    def _audit(self, name: str, action: str, address: str) -> None:
        self.audit.record(
            operator=name[:200], action=action, subject="console", reason="", details={"address": address}
        )

    async def refused(self, request: Request, exc: Exception) -> Response:
        """An HTTPException as the asker reads it: JSON under /api, a page elsewhere; a redirect as is."""
        assert isinstance(exc, HTTPException)
        headers = dict(exc.headers or {})
        if auth.is_api(request):
            return JSONResponse({"error": exc.detail}, exc.status_code, headers=headers)
        if 300 <= exc.status_code < 400:
            return Response(status_code=exc.status_code, headers=headers)
        operator = request.scope.get(auth.OPERATOR_KEY)
        context = {"operator": operator, "status": exc.status_code, "message": exc.detail}
        return self.templates.TemplateResponse(request, "error.html", context, exc.status_code, headers=headers)

    def app(self, lifespan: Callable[[Starlette], Any]) -> Starlette:
        app = Starlette(routes=self.routes(), exception_handlers={HTTPException: self.refused}, lifespan=lifespan)
        app.add_middleware(Guard, accounts=self.accounts, idle=self.idle, secure=self.secure)
        return app


def console_app(
    parts: Components,
    service: FailedMessages,
    *,
    jobs: ReplayJobs | None = None,
    clock: Callable[[], dt.datetime] = utcnow,
    api_routes: Iterable[BaseRoute] = (),
) -> Starlette:
    """The console for `parts`' store, acting through `service` (with a publisher, to replay). `jobs`: the
    replay jobs' runner, started and stopped by whoever runs the process (the hub); without it, one of
    the app's own, run while the app is (its lifespan). `clock`: the time sessions and throttling see."""
    settings = parts.settings
    accounts = OperatorStore(parts.db, clock)
    own_jobs = jobs is None
    runner = jobs or ReplayJobs(parts.db, service)

    @asynccontextmanager
    async def lifespan(_: Starlette):  # type: ignore[no-untyped-def]
        if own_jobs:
            runner.start()
        try:
            yield
        finally:
            if own_jobs:
                runner.stop()

    idle = dt.timedelta(minutes=settings.console_session_minutes)
    secure = not is_loopback(settings.admin_host)
    return Console(parts, service, runner, accounts, idle=idle, secure=secure, api_routes=api_routes).app(lifespan)
