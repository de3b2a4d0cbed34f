"""How every `hub` command ends: its exit code, and a failure said in one line on stderr, never a traceback.

- 0: done
- 1: done, and the answer is no: nothing found, a check failed (a stale file, an invalid message, a
  broken audit trail)
- 2: the command cannot run as given: wrong arguments, a missing file, a wrong setting, no store or
  key where it was looked for
- 3: something the command needs does not answer: the broker, the database, a port already taken
- 4: a fault in the hub itself; `hub --debug ...` (or HUB_LOG_LEVEL=DEBUG) shows its traceback
- 130: interrupted (Ctrl-C); 141: whoever read the output stopped reading (`hub ... | head`), as
  for any Unix tool

Scripts can tell "the answer is no" (1) from "could not ask" (2, 3): `hub audit verify` exits 1 for a
broken trail, never for a database that does not answer.
"""

from __future__ import annotations

import os
import re
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass

DONE, NO, USAGE, UNAVAILABLE, FAULT = 0, 1, 2, 3, 4
INTERRUPTED, BROKEN_PIPE = 130, 141


class CommandFailed(Exception):
    """An expected failure: the message says what is wrong and what to do; `code` is the exit code."""

    def __init__(self, message: str, code: int = USAGE) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Invocation:
    """What a failure's line needs of the command line, known once it is parsed."""

    name: str = "hub"  # the command, as `hub failed edit`
    debug: bool = False  # print the traceback before the line


def run(command: Callable[[], int], invocation: Invocation) -> int:
    """`command`'s exit code; whatever it raises becomes one line on stderr, `name: what is wrong`, and
    its exit code."""
    try:
        code = command()
        sys.stdout.flush()  # a reader that went away is found here, not by the interpreter at exit
        return code
    except BrokenPipeError:
        # Python ignores SIGPIPE, so the write failed instead of ending the process as it ends `cat`;
        # what is still buffered goes nowhere, rather than failing again at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return BROKEN_PIPE
    except KeyboardInterrupt:
        return INTERRUPTED
    except Exception as exc:
        code, line = explain(exc)
        name = invocation.name
        if invocation.debug:
            traceback.print_exc()
        elif code == FAULT:
            again = " ".join(["hub", "--debug", *name.split()[1:], "..."])
            line += f" (a fault in the hub: `{again}` shows where)"
        print(f"{name}: {line}", file=sys.stderr)
        return code


def explain(exc: Exception) -> tuple[int, str]:
    """The exit code of a failure and the one line saying it."""
    from hub.errors import STORE_UNAVAILABLE, BrokerUnavailable, ConfigurationError, classify
    from hub.store.crypto import KeyUnavailable

    if isinstance(exc, CommandFailed):
        return exc.code, one_line(str(exc))
    if isinstance(exc, ConfigurationError):
        return USAGE, one_line(str(exc))
    if isinstance(exc, BrokerUnavailable):
        return UNAVAILABLE, f"{one_line(str(exc))}: is HUB_BROKER_URL ({broker_address()}) right, and the broker up?"
    if classify(exc) == (STORE_UNAVAILABLE, False):
        cause = getattr(exc, "orig", None) or exc
        return UNAVAILABLE, f"the store does not answer ({one_line(str(cause))}): is HUB_STORE_URL right, and it up?"
    if isinstance(exc, KeyUnavailable):
        return USAGE, f"{exc}: HUB_STORE_KEYS (or HUB_STORE_KEY_FILE) must hold the key that sealed it"
    if isinstance(exc, OSError):
        return UNAVAILABLE, one_line(str(exc))
    return FAULT, f"{type(exc).__name__}: {one_line(str(exc))}"


def one_line(text: str) -> str:
    """The first line of a message, its spacing made single."""
    first = text.strip().splitlines()[0] if text.strip() else ""
    return " ".join(first.split())


def broker_address() -> str:
    """HUB_BROKER_URL without its passwords."""
    from hub.settings import get_settings

    return re.sub(r"://[^@/;]*@", "://", get_settings().broker_url)
