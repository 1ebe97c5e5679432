"""`migrate-diag`: the one command line — diagnose, demo, sim, serve, history.

Only argparse and the light model load at import: openstacksdk, kubernetes, paramiko, pydantic
settings, Slack and the sim are imported by the subcommand that needs them, so `--help` and
`--version` answer at once (tests/deploy/test_cli_startup.py holds that line).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from diagnostics import cli_diagnose
from diagnostics.model import ConfigError

if TYPE_CHECKING:
    from bot.settings import BotSettings

DEFAULT_DEMO_SCENARIO = "libvirt-tls-expired-cert"
DISTRIBUTION = "migrate-diag"
SIM_ONLY_MODULES = {"asyncssh"}  # installed by the `sim` extra only


class _VersionAction(argparse.Action):
    """`--version`, read from the installed distribution only when asked."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(
            option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs
        )

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            found = version(DISTRIBUTION)
        except PackageNotFoundError:  # running from a checkout that was never installed
            found = "unknown"
        parser.exit(message=f"{parser.prog} {found}\n")


def _bot_settings(path: Path | None) -> BotSettings:
    from bot.settings import BotSettings
    from diagnostics.settings import load_settings

    return load_settings(path, BotSettings)


def _config_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        default=os.environ.get("MIGRATE_DIAG_CONFIG"),
        help="YAML config (default: $MIGRATE_DIAG_CONFIG, else built-in defaults)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="migrate-diag",
        description="Find out why a VM migration failed in an OpenStack / PCD region.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument(
        "--version", action=_VersionAction, help="print the version and exit"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    diagnose = sub.add_parser("diagnose", help="diagnose a VM's migration")
    cli_diagnose.add_arguments(diagnose)
    _config_arg(diagnose)

    demo = sub.add_parser(
        "demo", help="diagnose a failed migration on an embedded sim region"
    )
    demo.add_argument("--scenario", default=DEFAULT_DEMO_SCENARIO)
    demo.add_argument("--html", type=Path, default=Path("demo-thread.html"))
    loop = demo.add_mutually_exclusive_group()
    loop.add_argument(
        "--watch",
        action="store_true",
        help="let the region fail a migration and watch the bot post about it unprompted",
    )
    loop.add_argument(
        "--fix",
        action="store_true",
        help="the whole loop: failure, diagnosis, check of a healthy host, Retry to it,"
        " the move on the sim, resolved",
    )

    sim = sub.add_parser("sim", help="the simulated region")
    sim_sub = sim.add_subparsers(dest="sim_command", required=True)
    sim_sub.add_parser("list", help="list bundled scenarios")
    up = sim_sub.add_parser("up", help="run a region in the foreground")
    up.add_argument("--scenario", required=True, help="scenario name or YAML path")
    up.add_argument("--state-dir", type=Path, default=Path("state"))
    up.add_argument("--latency", type=int, default=0, metavar="MS")
    up.add_argument("--amqp-url", help="publish Nova notifications to this RabbitMQ")
    up.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="FAMILY=MODE[@AFTER]",
        help="inject an outage: keystone|nova|placement|neutron|cinder|kubernetes="
        "500|503|hang (keystone also 401|revoke), ssh=refused|hang; @AFTER lets that "
        "many requests through first (sim/README.md)",
    )

    serve = sub.add_parser("serve", help="run the Slack bot")
    _config_arg(serve)

    history = sub.add_parser("history", help="list past diagnoses (audit trail)")
    history.add_argument("--vm")
    history.add_argument("--host")
    history.add_argument("--since", help="ISO time or relative like 24h, 7d")
    history.add_argument(
        "--case", help="one case's timeline: who did what, when (case id)"
    )
    _config_arg(history)
    return parser


def entry() -> None:
    """The `migrate-diag` console script: ``main``, then leave without tearing down.

    Once the answer is written nothing is left to do, but finalising the interpreter (every
    module and object of the SDKs, and any worker still blocked in a call abandoned at
    its timeout) costs a second or more after the result is out. Flush what was written,
    then exit at once. ``main`` itself returns normally (tests and embedders call it).

    pydantic looks for plugins by reading the entry points of every installed
    distribution when the first model is built (tens of ms on each cold start); this
    program uses none, so the scan is skipped unless ``PYDANTIC_DISABLE_PLUGINS`` is set.
    """
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    code = main()
    import logging

    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import asyncio
    import logging
    import warnings

    # openstacksdk's own deprecation notices are not the operator's business at 3 a.m.
    warnings.filterwarnings("ignore", category=DeprecationWarning, module="openstack")
    warnings.filterwarnings("ignore", module=r"openstack\.")
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return asyncio.run(_dispatch(args))
    except ConfigError as exc:
        sys.stderr.write(f"migrate-diag: {exc}\n")
        return cli_diagnose.EXIT_USAGE
    except ModuleNotFoundError as exc:
        if exc.name not in SIM_ONLY_MODULES:
            raise
        # `pip install migrate-diag` runs diagnose and serve; the simulator is an extra
        sys.stderr.write(
            f"migrate-diag: {args.command} needs the simulated region, which is not "
            "installed: pip install 'migrate-diag[sim]'\n"
        )
        return cli_diagnose.EXIT_USAGE
    except KeyboardInterrupt:
        return 130


async def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "diagnose":
        return await cli_diagnose.run(args, _bot_settings(args.config))
    if args.command == "demo":
        from sim.demo.demo import run_demo
        from sim.demo.fix import fix_demo
        from sim.demo.watch import watch_demo

        if args.fix:
            return await fix_demo(args.scenario, sys.stdout, html_path=args.html)
        if args.watch:
            return await watch_demo(args.scenario, sys.stdout, html_path=args.html)
        return await run_demo(args.scenario, args.html, sys.stdout)
    if args.command == "sim":
        return await _sim(args)
    if args.command == "serve":
        from bot.serve import serve

        await serve(_bot_settings(args.config))
        return 0
    if args.command == "history":
        from bot.history import print_history

        settings = _bot_settings(args.config)
        if args.case:
            from bot.timeline import print_timeline

            return await print_timeline(settings, args.case)
        return await print_history(
            settings, vm=args.vm, host=args.host, since=args.since
        )
    raise AssertionError(args.command)


async def _sim(args: argparse.Namespace) -> int:
    from sim.scenario.load import ScenarioError, list_scenarios, load_scenario

    if args.sim_command == "list":
        for name in list_scenarios():
            scenario = load_scenario(name)
            expect = scenario.expect.root_cause if scenario.expect else "-"
            sys.stdout.write(
                f"{name:36} {scenario.mode:12} {expect or 'healthy':24} {scenario.description}\n"
            )
        return 0
    from sim.region.faults import FaultError, parse_fault
    from sim.run import serve

    try:
        faults = dict(parse_fault(f) for f in args.fault)
        await serve(
            args.scenario,
            args.state_dir,
            latency_ms=args.latency,
            amqp_url=args.amqp_url,
            out=sys.stdout,
            faults=faults,
        )
    except (ScenarioError, FaultError) as exc:
        sys.stderr.write(f"migrate-diag: {exc}\n")
        return cli_diagnose.EXIT_USAGE
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
