"""The ``edge-agent`` command line."""

from __future__ import annotations

import argparse
import contextlib
import json
import mimetypes
import signal
import sys
import threading
import uuid
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from edge_agent import __version__
from edge_agent.errors import ConfigError, EdgeAgentError, ModelError, PayloadError
from edge_agent.results.schema import ERROR_SCHEMA

__all__ = ["main"]

EXIT_USAGE = 2
EXIT_FAILURE = 1


def _config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-c",
        "--config",
        action="append",
        type=Path,
        default=[],
        metavar="FILE",
        help="config or fleet file (repeatable; later files win)",
    )
    p.add_argument("--device", help="device id (default: hostname)")
    p.add_argument("--broker", help="broker URL, e.g. unix:///run/mosquitto/edge-agent.sock")
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set any config key, e.g. --set pipelines.faces.threads=2",
    )


def _operator_parsers(sub: Any) -> None:
    """``status``, ``tail`` and ``account``: the commands for a running installation."""
    status = sub.add_parser("status", help="show a running daemon's status, variants and stats")
    _config_args(status)
    status.add_argument("--json", action="store_true", help="one JSON document for machines")
    status.add_argument(
        "--wait", type=float, default=5.0, help="seconds to wait for stats (default 5)"
    )

    tail = sub.add_parser("tail", help="follow results, events and errors live")
    _config_args(tail)
    tail.add_argument("--pipeline", help="only this pipeline's results and events")
    tail.add_argument("--json", action="store_true", help="the documents, one per line")
    tail.add_argument("--count", type=int, default=0, help="stop after N documents")

    account = sub.add_parser(
        "account", help="broker accounts for control clients and Home Assistant"
    )
    asub = account.add_subparsers(dest="account_command", required=True)
    aadd = asub.add_parser("add", help="create credentials and ACL for a control client or HA")
    aadd.add_argument("name")
    aadd.add_argument("--role", choices=["control", "homeassistant"], required=True)
    aadd.add_argument(
        "--password-file", type=Path, default=Path("/etc/mosquitto/edge-agent/passwd")
    )
    aadd.add_argument("--acl-file", type=Path, default=Path("/etc/mosquitto/edge-agent/acl"))
    aadd.add_argument("--prefix", default="edge-agent", help="topic prefix of the daemon")
    aadd.add_argument("--password-out", type=Path, help="write the password to this file (0600)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edge-agent", description=__doc__)
    parser.add_argument("--version", action="version", version=f"edge-agent {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the daemon")
    _config_args(run)

    config = sub.add_parser("config", help="check or show configuration")
    csub = config.add_subparsers(dest="config_command", required=True)
    check = csub.add_parser("check", help="validate a config or fleet file")
    check.add_argument("file", type=Path)
    check.add_argument("--device", help="resolve for this device id (fleet files)")
    show = csub.add_parser("show", help="print the effective config and where each value came from")
    csub.add_parser("reference", help="print every config key as markdown (README reference)")
    _config_args(show)

    infer = sub.add_parser(
        "infer", help="run a pipeline on files and print the results (no broker)"
    )
    _config_args(infer)
    infer.add_argument("--pipeline", required=True)
    infer.add_argument("--variant", help="variant to use (default: the sizing choice)")
    infer.add_argument("--route", help="route whose options apply (default: the pipeline's first)")
    infer.add_argument(
        "--pretty", action="store_true", help="indented JSON instead of one document per line"
    )
    infer.add_argument("files", nargs="+", type=Path)

    plan = sub.add_parser("plan", help="show which variant each family would run, and why")
    _config_args(plan)
    plan.add_argument("--budget", help="memory budget to plan for, e.g. 300MB (default: now)")
    plan.add_argument(
        "--profile",
        choices=["pi-zero-2w", "pi4-2gb", "pi5-8gb"],
        help="plan for a board's assumed model budget (see the README: Elastic sizing)",
    )

    _operator_parsers(sub)

    privacy = sub.add_parser("privacy-check", help="check config, broker and unit for leaks")
    _config_args(privacy)
    privacy.add_argument(
        "--mosquitto-conf", type=Path, default=Path("/etc/mosquitto/mosquitto.conf")
    )
    privacy.add_argument("--unit", type=Path, help="unit file (default: the installed one)")
    privacy.add_argument("--json", action="store_true")

    sensor = sub.add_parser("sensor", help="manage sensor broker accounts")
    ssub = sensor.add_subparsers(dest="sensor_command", required=True)
    add = ssub.add_parser("add", help="create broker credentials and ACL for a sensor")
    add.add_argument("name")
    add.add_argument("--password-file", type=Path, default=Path("/etc/mosquitto/edge-agent/passwd"))
    add.add_argument("--acl-file", type=Path, default=Path("/etc/mosquitto/edge-agent/acl"))
    add.add_argument("--prefix", default="edge-agent", help="topic prefix of the results")
    add.add_argument("--password-out", type=Path, help="write the password to this file (0600)")

    demo = sub.add_parser("demo", help="start a private broker, the daemon and a demo publisher")
    _config_args(demo)
    demo.add_argument("--rounds", type=int, default=0, help="publish rounds (0: until Ctrl-C)")
    demo.add_argument(
        "--embedded-broker",
        action="store_true",
        help="use the embedded amqtt broker even when mosquitto is installed",
    )
    return parser


def _flags(args: argparse.Namespace) -> tuple[dict[str, str], dict[str, str]]:
    flags: dict[str, str] = {}
    names: dict[str, str] = {}
    if getattr(args, "broker", None):
        flags["broker.url"], names["broker.url"] = args.broker, "--broker"
    if getattr(args, "log_level", None):
        flags["log.level"], names["log.level"] = args.log_level, "--log-level"
    for item in getattr(args, "set", []):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
        flags[key.strip()] = value
        names[key.strip()] = f"--set {key.strip()}"
    return flags, names


def _load(args: argparse.Namespace) -> Any:
    from edge_agent.config.loader import load_config

    flags, names = _flags(args)
    return load_config(args.config, device_id=args.device, flags=flags, flag_names=names)


def _cmd_run(args: argparse.Namespace) -> int:
    from edge_agent.daemon import Daemon
    from edge_agent.logs import configure_logging

    config = _load(args)
    settings = config.settings
    configure_logging(settings.log.level, settings.log.format, capture_native=True)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    daemon = Daemon(settings, reload_source=lambda: _load(args).settings)
    daemon.run_until(stop)
    return 0


def _cmd_config(args: argparse.Namespace) -> int:
    from edge_agent.config.loader import effective_lines, load_config

    if args.config_command == "check":
        config = load_config([args.file], device_id=args.device)
        print(
            f"{args.file}: ok (device {config.settings.device_id}, "
            f"{len(config.settings.pipelines)} pipelines, {len(config.settings.routes)} routes)"
        )
        return 0
    if args.config_command == "reference":
        from edge_agent.config.reference import reference_markdown

        print(reference_markdown(), end="")
        return 0
    config = _load(args)
    print("\n".join(effective_lines(config)))
    return 0


def _cmd_infer(args: argparse.Namespace) -> int:
    """JSON Lines on stdout (one document per result), logs on stderr; 1 if an input failed."""
    from edge_agent.infer import infer_files
    from edge_agent.logs import configure_logging

    config = _load(args)
    settings = config.settings
    configure_logging(settings.log.level, settings.log.format, capture_native=True)
    failed = 0
    for doc in infer_files(
        settings, args.pipeline, args.files, variant=args.variant, route=args.route
    ):
        failed += doc.get("schema") == ERROR_SCHEMA
        text = json.dumps(doc, indent=2) if args.pretty else json.dumps(doc, separators=(",", ":"))
        print(text, flush=True)
    return EXIT_FAILURE if failed else 0


def _cmd_plan(args: argparse.Namespace) -> int:
    from edge_agent.planning import plan_text

    config = _load(args)
    print(plan_text(config.settings, args.budget, args.profile))
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    from edge_agent.console.status import format_status, read_status

    settings = _load(args).settings
    got = read_status(settings, wait_s=args.wait)
    if args.json:
        print(json.dumps({"device": settings.device_id, **got}, indent=2))
    else:
        print(format_status(settings.device_id, got), end="")
    return 0 if got["status"] == "online" else EXIT_FAILURE


def _cmd_tail(args: argparse.Namespace) -> int:
    from edge_agent.console.tail import tail

    settings = _load(args).settings
    with contextlib.suppress(KeyboardInterrupt):
        tail(settings, sys.stdout, pipeline=args.pipeline, as_json=args.json, count=args.count)
    return 0


def _cmd_privacy(args: argparse.Namespace) -> int:
    from edge_agent.privacy import find_unit, format_json, format_text, run_privacy_check

    config = _load(args)
    unit = args.unit if args.unit is not None else find_unit()
    report = run_privacy_check(
        config.settings.model_dump(mode="json"), mosquitto_conf=args.mosquitto_conf, unit_path=unit
    )
    print(format_json(report) if args.json else format_text(report))
    return int(report.exit_status)


def _cmd_sensor(args: argparse.Namespace) -> int:
    from edge_agent.deploy.sensors import BrokerFiles, add_sensor, reload_broker

    files = BrokerFiles(passwd_file=args.password_file, acl_file=args.acl_file)
    added = add_sensor(args.name, files, topic_prefix=args.prefix, password_out=args.password_out)
    _report_account("sensor", added, reload_broker)
    return 0


def _report_account(what: str, added: Any, reload_broker: Any) -> None:
    """Say what ``sensor add`` / ``account add`` did; reload mosquitto when files changed."""
    if added.password is not None and added.password_file is None:
        print(f"{what} {added.name}: password {added.password}  (shown once; store it now)")
    elif added.password_file is not None:
        print(f"{what} {added.name}: password written to {added.password_file}")
    else:
        print(f"{what} {added.name}: already set up")
    if added.changed and reload_broker():
        print("mosquitto reloaded")


def _cmd_account(args: argparse.Namespace) -> int:
    from edge_agent.deploy.accounts import add_client_account
    from edge_agent.deploy.sensors import BrokerFiles, reload_broker

    files = BrokerFiles(passwd_file=args.password_file, acl_file=args.acl_file)
    added = add_client_account(
        args.name, files, role=args.role, topic_prefix=args.prefix, password_out=args.password_out
    )
    _report_account(f"{args.role} account", added, reload_broker)
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from edge_agent.demo import run_demo

    flags, _names = _flags(args)
    return run_demo(
        args.config,
        device=args.device,
        flags=flags,
        rounds=args.rounds,
        embedded_broker=args.embedded_broker,
    )


_COMMANDS = {
    "run": _cmd_run,
    "config": _cmd_config,
    "infer": _cmd_infer,
    "plan": _cmd_plan,
    "status": _cmd_status,
    "tail": _cmd_tail,
    "privacy-check": _cmd_privacy,
    "sensor": _cmd_sensor,
    "account": _cmd_account,
    "demo": _cmd_demo,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    Exit status: 0 success, 1 runtime failure, 2 usage or configuration error.
    """
    args = _parser().parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except ConfigError as exc:
        print(f"edge-agent: config error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (ModelError, PayloadError) as exc:
        print(f"edge-agent: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except EdgeAgentError as exc:
        print(f"edge-agent: {exc}", file=sys.stderr)
        return EXIT_FAILURE


def guess_content_type(path: Path) -> str | None:
    """Content type from a file name, for ``infer``."""
    kind, _ = mimetypes.guess_type(path.name)
    return {"audio/x-wav": "audio/wav", "audio/wave": "audio/wav"}.get(kind or "", kind)


def new_request_id() -> str:
    """A fresh request id."""
    return uuid.uuid4().hex


if __name__ == "__main__":
    sys.exit(main())
