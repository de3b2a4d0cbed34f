"""Who is asking: what the console's pages and its JSON API call to know the operator and their role.

The console's middleware (hub.console.app) has already found the operator from the session cookie (pages)
or the API token (/api) and checked a POST's CSRF token; these functions say what a handler may do.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote

from markupsafe import Markup, escape
from starlette.exceptions import HTTPException
from starlette.requests import Request

OPERATOR_KEY = "hub.operator"  # where the middleware puts the Operator in the request's scope
CSRF_KEY = "hub.csrf"  # ... and the CSRF token a form of this request must carry
ENDED_KEY = "hub.session_ended"  # ... and whether the browser came with a session that has ended


@dataclass(frozen=True)
class Operator:
    name: str
    role: Literal["viewer", "operator"]


class NotAllowed(HTTPException):
    """A viewer asked for a change: 403, said as a page (or JSON under /api)."""

    def __init__(self, operator: Operator) -> None:
        super().__init__(403, f"your role ({operator.role}) may not do this")


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def current(request: Request) -> Operator:
    """The operator logged in (or whose API token came); otherwise a page goes to the login form, and the
    API answers 401."""
    operator = request.scope.get(OPERATOR_KEY)
    if isinstance(operator, Operator):
        return operator
    if is_api(request):
        raise HTTPException(401, "an API token is needed: Authorization: Bearer <token from `hub operators token`>")
    back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    ended = "&ended" if request.scope.get(ENDED_KEY) else ""  # the login form says why it is back
    raise HTTPException(303, "log in first", headers={"Location": f"/login?next={quote(back, safe='')}{ended}"})


def require_operator(request: Request) -> Operator:
    """Like `current`, but 403 for a viewer: for every handler that changes something."""
    operator = current(request)
    if operator.role != "operator":
        raise NotAllowed(operator)
    return operator


def csrf_token(secret: str) -> str:
    """The CSRF token of a session (or of a visitor's pre-login cookie): derived from its secret id, which
    no other site can read, so a forged form cannot carry it; the id itself is never put in a page."""
    return hashlib.sha256(b"hub-console-csrf:" + secret.encode()).hexdigest()


def csrf_input(request: Request) -> Markup:
    """The hidden field every POST form of the console carries."""
    return Markup('<input type="hidden" name="csrf" value="{}">').format(escape(request.scope.get(CSRF_KEY, "")))
