"""The `hub` command: serve, demo, simulate, cluster, status, trace, dashboard, config, pki; operators' and
contract commands."""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import re
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from hub import __version__, exits, logs
from hub.settings import DEV_PKI_DIR, Settings, get_settings


def _without_credentials(urls: str) -> str:
    """The broker's nodes, as `hub serve` prints them: every node of a cluster's URL, no password."""
    return re.sub(r"//[^/@;]*@", "//", urls)


def _serve(args: argparse.Namespace) -> int:
    from hub.http_server import CannotListen
    from hub.runtime import Hub

    settings = get_settings()
    hub = Hub(settings)
    logs.configure(settings.log_level, settings.log_format, hub.pseudonymize.scrub)
    try:
        hub.start(gateway=args.role in ("all", "gateway"), workers=args.role in ("all", "worker"))
    except BaseException as exc:
        with contextlib.suppress(Exception):  # what started is stopped; a part that never started may refuse
            hub.stop()
        if isinstance(exc, CannotListen):
            admin = settings.admin_port is not None and f":{settings.admin_port}:" in f"{exc}"
            which = "HUB_ADMIN_PORT (or HUB_ADMIN_HOST)" if admin else "HUB_HTTP_PORT (or HUB_HTTP_HOST)"
            raise exits.CommandFailed(f"{exc}: set {which}", exits.UNAVAILABLE) from exc
        raise
    # What start-up built (schemas, models, modules) lives as long as the process: frozen, it is out of
    # the way of the collector's full passes, which would otherwise walk it again and again.
    gc.collect()
    gc.freeze()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    broker = _without_credentials(settings.broker_url)
    print(f"hub {__version__} serving ({args.role}) on {hub.gateway_url}, broker {broker}", flush=True)
    if hub.console_url:
        print(f"the operators' console and JSON API on {hub.console_url}", flush=True)
    print("running in the foreground until Ctrl-C or SIGTERM", flush=True)
    stop.wait()
    hub.stop()
    return 0


def _demo(args: argparse.Namespace) -> int:
    from hub.simulation.demo import run_demo

    return run_demo(get_settings(), records=args.records, batch_size=args.batch_size, timeout=args.timeout)


def _cluster_dev(args: argparse.Namespace) -> int:
    from hub.simulation.cluster import DevCluster

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    cluster = DevCluster(args.folder, balancer_port=args.port, log_level=args.log_level)
    print(f"starting the development cluster in {cluster.folder} (about half a minute)", flush=True)
    try:
        cluster.start()
        width = max(len(name) for name in cluster.urls())
        for name, url in cluster.urls().items():
            print(f"  {name:<{width}}  {url}")
        print(
            f"send with: hub simulate sopa --url {cluster.url} --pki {cluster.pki}\n"
            "running in the foreground until Ctrl-C or SIGTERM; then everything stops and is removed",
            flush=True,
        )
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)  # a second Ctrl-C must not leave half the cluster running
        print("stopping and removing the development cluster", flush=True)
        cluster.remove()
    return 0


def _status(args: argparse.Namespace) -> int:
    from hub.runtime import build

    store = build(get_settings(), create=False).store
    status = store.receipt_status(args.id) or store.message_status(args.id)
    if status is None:
        raise exits.CommandFailed(f"no receipt or record {args.id}", exits.NO)
    print(f"receipt {status.receipt_id}: " + " ".join(f"{k}={v}" for k, v in status.counts.items()))
    for record in status.records:
        reason = f" {record.error_class}: {record.reason}" if record.error_class else ""
        print(f"  {record.message_id} {record.record_id} {record.status}{reason}")
    return 0


def _trace(args: argparse.Namespace) -> int:
    from hub.operations.trace import trace
    from hub.runtime import build

    parts = build(get_settings(), create=False)
    steps = trace(args.id, parts.store, parts.failed, parts.message_log)
    if not steps:
        raise exits.CommandFailed(f"nothing is known of message {args.id}", exits.NO)
    for step in steps:
        print(f"{step.at:%Y-%m-%d %H:%M:%S.%f}"[:-3] + f"  {step.what:<16} {step.detail}")
    return 0


def _generated(path: Path, content: bytes, command: str, *, check: bool) -> int:
    """Write a generated file where it changed; with `check`, only say whether it is current."""
    from hub.generated import is_current, write_if_changed

    if check:
        if not is_current(path, content):
            print(f"{path} is out of date: run `{command}`", file=sys.stderr)
            return 1
        return 0
    if write_if_changed(path, content):
        print(f"wrote {path}")
    return 0


def _dashboard(args: argparse.Namespace) -> int:
    from hub.operations.dashboard import DASHBOARD_FILE, render
    from hub.rules.access import load_rules
    from hub.systems import discover

    systems = discover()
    content = render(*load_rules(get_settings(), systems), systems)
    return _generated(args.output or DASHBOARD_FILE, content, "hub dashboard", check=args.check)


def _config(args: argparse.Namespace) -> int:
    from hub.operations.configuration import CONFIGURATION_FILE, render

    return _generated(args.output or CONFIGURATION_FILE, render(), "hub config", check=args.check)


def _pki_dev(args: argparse.Namespace) -> int:
    from hub.devpki import create
    from hub.systems import discover

    made = create(args.out, ["hub", *sorted(discover())], days=args.days)
    print(f"{args.out}: keys and certificates for {', '.join(made) or 'nobody new (all there already)'}")
    print("development only: never use these keys in production, nor give partners' keys to the hub")
    return 0


class HelpFormatter(argparse.HelpFormatter):
    """Every option's help ends with its default, unless it says the default itself or has none."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        unset = default is None or default is False or default == [] or default == argparse.SUPPRESS
        if not action.option_strings or unset or "default" in text:
            return action.help
        return f"{text} (default: %(default)s)"


class HubParser(argparse.ArgumentParser):
    """Every command's parser: defaults in the help; subcommands are made of the same class."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)


def _describe_commands(parser: argparse.ArgumentParser) -> None:
    """A command's one-line help in its parent's list is also the description its own --help opens with;
    a command knows its name (`hub failed edit`)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                if sub.description is None:
                    sub.description = helps.get(name)
                sub.set_defaults(prog=sub.prog)  # the command a failure's line is said by
                _describe_commands(sub)


def _add_development_commands(commands: argparse._SubParsersAction) -> None:
    """`hub demo` and `hub simulate`, where the simulators are: the production image leaves them out."""
    try:
        from hub.simulation.serve import describe_shared_options
    except ModuleNotFoundError:
        return
    from hub.systems import discover

    demo = commands.add_parser(
        "demo", help="flow F1 end to end in one process, over real HTTP SOAP, with throwaway keys and store"
    )
    demo.add_argument("--records", type=int, default=3000, help="records sent by SOPA, LIETIS and GVS together")
    demo.add_argument("--batch-size", type=int, default=100, help="records per SOAP request")
    demo.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for delivery")
    demo.set_defaults(func=_demo)

    cluster = commands.add_parser("cluster", help="the production topology on this machine, without Docker")
    cluster_commands = cluster.add_subparsers(dest="cluster_command", required=True, metavar="<command>")
    dev = cluster_commands.add_parser(
        "dev",
        help="a three-node RabbitMQ cluster, PostgreSQL, two gateways behind HAProxy, two workers and every "
        "simulator, on free ports under one folder; in the foreground until Ctrl-C or SIGTERM, then all removed",
    )
    dev.add_argument("--port", type=int, default=8080, help="the balancer's port, where partners send (0: a free one)")
    dev.add_argument(
        "--folder",
        type=Path,
        help="where data, keys and logs live (default: a new temporary folder, removed at the end)",
    )
    dev.add_argument("--log-level", default="WARNING", help="the hub processes' log level (their logs are in logs/)")
    dev.set_defaults(func=_cluster_dev)

    simulate = commands.add_parser("simulate", help="run a system's simulator")
    systems = simulate.add_subparsers(dest="system", required=True, metavar="<system>")
    for name, system in sorted(discover().items()):
        if system.simulator is not None:
            sub = systems.add_parser(name, help=f"the simulator of {system.title}")
            system.simulator.add_arguments(sub)
            describe_shared_options(sub)
            sub.set_defaults(func=lambda args, sim=system.simulator: sim.run(args))


def build_parser() -> argparse.ArgumentParser:
    parser = HubParser(
        prog="hub",
        description="The welfare data-exchange hub. Settings come from HUB_* environment variables "
        "(docs/configuration.md); `hub <command> --help` says what each command does.",
        epilog="A failure is one line on stderr and an exit code: 1 the answer is no (nothing found, a check "
        "failed), 2 the command cannot run as given (arguments, a file, a setting, no store or key), 3 something "
        "it needs does not answer (broker, database, port), 4 a fault in the hub (see --debug); 130 interrupted, "
        "141 output no longer read.",
    )
    parser.add_argument("--version", action="version", version=f"hub {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="on a failure, print its traceback too (also when HUB_LOG_LEVEL=DEBUG)"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="<command>")

    serve = commands.add_parser(
        "serve", help="run the gateway and the delivery workers, in the foreground until Ctrl-C or SIGTERM"
    )
    serve.add_argument(
        "--role",
        choices=("all", "gateway", "worker"),
        default="all",
        help="run both halves in this process, or one of them (several processes share the broker and the store)",
    )
    serve.set_defaults(func=_serve)
    _add_development_commands(commands)

    status = commands.add_parser("status", help="what became of a receipt or a record")
    status.add_argument("id", help="receipt id (the request's MessageID) or a record's message id")
    status.set_defaults(func=_status)

    tracing = commands.add_parser("trace", help="one message's journey through the hub")
    tracing.add_argument("id", help="the record's message id (from the receipt or `hub status`)")
    tracing.set_defaults(func=_trace)

    dashboard = commands.add_parser("dashboard", help="write the Grafana dashboard from the routes")
    dashboard.add_argument("--check", action="store_true", help="only say whether the file is up to date")
    dashboard.add_argument("--output", type=Path, help="where to write (default: the committed file)")
    dashboard.set_defaults(func=_dashboard)

    config = commands.add_parser("config", help="write docs/configuration.md from the settings")
    config.add_argument("--check", action="store_true", help="only say whether the file is up to date")
    config.add_argument("--output", type=Path, help="where to write (default: the committed file)")
    config.set_defaults(func=_config)

    pki = commands.add_parser("pki", help="keys and certificates")
    pki_commands = pki.add_subparsers(dest="pki_command", required=True, metavar="<command>")
    dev = pki_commands.add_parser("dev", help="self-signed keys for the hub and every system (development only)")
    dev.add_argument("--out", type=Path, default=DEV_PKI_DIR, help="folder (default %(default)s, where the hub looks)")
    dev.add_argument("--days", type=int, default=365, help="how long the certificates are valid, in days")
    dev.set_defaults(func=_pki_dev)

    from hub.console.accounts import add_commands as add_account_commands
    from hub.contracts.cli import add_commands as add_contract_commands
    from hub.operations.cli import add_commands as add_operator_commands

    add_operator_commands(commands)
    add_account_commands(commands)
    add_contract_commands(commands)
    _describe_commands(parser)
    return parser


def _settings() -> Settings:
    """The settings, or the first wrong one as a line naming its variable."""
    try:
        return get_settings()
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        variable = "HUB_" + "__".join(str(part) for part in error["loc"]).upper()
        raise exits.CommandFailed(
            f"{variable}={error.get('input')!s}: {error['msg']} ({len(exc.errors())} wrong in all; "
            "docs/configuration.md lists the settings)"
        ) from None


def main(argv: list[str] | None = None) -> int:
    """Every `hub` command: its exit code; a failure is one line on stderr (hub.exits)."""
    invocation = exits.Invocation(debug=os.environ.get("HUB_LOG_LEVEL", "").upper() == "DEBUG")

    def command() -> int:
        args = build_parser().parse_args(argv)
        invocation.name, invocation.debug = args.prog, invocation.debug or args.debug
        settings = _settings()
        quiet = args.command == "demo" and "HUB_LOG_LEVEL" not in os.environ
        logs.configure("WARNING" if quiet else settings.log_level, settings.log_format)
        return int(args.func(args) or 0)

    return exits.run(command, invocation)


if __name__ == "__main__":
    raise SystemExit(main())
