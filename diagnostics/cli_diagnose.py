"""`migrate-diag diagnose VM`: one diagnosis from a terminal, streamed as text or as JSON."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TYPE_CHECKING, TextIO

from diagnostics.model import (
    AmbiguousVm,
    CloudUnreachable,
    Conclusion,
    Diagnosis,
    DiagnosisFinished,
    DiagnosisStarted,
    InvalidRequest,
    MigrationKind,
    MigrationRef,
    ProgressEvent,
    StepFinished,
)
from diagnostics.report import json as json_report
from diagnostics.report import text, timing

if TYPE_CHECKING:
    from diagnostics.settings import DiagnosticsSettings

# Documented in the README ("Exit status"); stable for scripts.
EXIT_NO_FAILURE = 0  # no failed migration, and the steps that matter ran
EXIT_OK = EXIT_NO_FAILURE
EXIT_USAGE = (
    2  # bad arguments, bad config, unknown/ambiguous VM, unknown host or migration
)
EXIT_UNREACHABLE = 3  # the cloud's endpoint could not be reached
EXIT_ROOT_CAUSE = 4  # a root cause from the catalogue was found
EXIT_INCONCLUSIVE = (
    5  # failed with an unknown cause, or steps that matter could not run
)
_EXIT_OF = {
    Conclusion.NO_FAILURE: EXIT_NO_FAILURE,
    Conclusion.ROOT_CAUSE: EXIT_ROOT_CAUSE,
    Conclusion.INCONCLUSIVE: EXIT_INCONCLUSIVE,
}
# libraries that log whole tracebacks for failures our collectors already report as one
# line per probe ("could not check …"); shown with --verbose
_NOISY_LOGGERS = ("paramiko", "kubernetes", "urllib3", "keystoneauth", "openstack")


def exit_status(diagnosis: Diagnosis) -> int:
    """The documented exit status of a finished diagnosis."""
    return _EXIT_OF[diagnosis.conclusion]


def unreachable_line(cloud: str | None, exc: CloudUnreachable) -> str:
    """One line naming the cloud and why: a service's error text (Nova's 500 message
    holds a newline and the exception class) is folded onto it."""
    name = repr(cloud) if cloud else "(the OS_* environment)"
    reason = " ".join(str(exc).split())
    if "refused the credentials" in reason:
        return f"migrate-diag: the cloud {name} refused the bot: {reason}"
    return f"migrate-diag: cannot reach the cloud {name}: {reason}"


def quiet_libraries(verbose: bool) -> None:
    """At the default level a failed probe is one line in its step, never a traceback."""
    for name in _NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.CRITICAL)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("vm", help="server name or UUID")
    parser.add_argument(
        "--migration",
        metavar="ID",
        help="diagnose this migration (default: the newest)",
    )
    parser.add_argument(
        "--target-host",
        metavar="HOST",
        help="evaluate whether HOST could take this VM (capacity, AZ, aggregates, CPU, services)",
    )
    parser.add_argument(
        "--kind",
        choices=[k.value for k in MigrationKind],
        help="the kind of move that was refused, when Nova recorded no migration",
    )
    parser.add_argument(
        "--cloud", metavar="NAME", help="cloud name in clouds.yaml (overrides config)"
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument(
        "--verbose",
        dest="show_requests",
        action="store_true",
        help="text: also list every request, when it ran and what it waited on",
    )


def ref_from_args(args: argparse.Namespace) -> MigrationRef:
    return MigrationRef(
        server=args.vm,
        migration_id=args.migration,
        target_host=args.target_host,
        kind=MigrationKind(args.kind) if args.kind else None,
    )


async def run(
    args: argparse.Namespace, settings: DiagnosticsSettings, out: TextIO = sys.stdout
) -> int:
    """Run one diagnosis; text streams each step as it finishes. Returns the exit status
    (see the EXIT_* constants)."""
    # The SDKs (openstacksdk, paramiko, kubernetes) load here, not at import: `--help` stays fast.
    from diagnostics.service import open_engine

    verbose = getattr(args, "show_requests", False) or getattr(args, "verbose", False)
    quiet_libraries(bool(verbose))
    if args.cloud:
        settings = settings.model_copy(
            update={
                "openstack": settings.openstack.model_copy(update={"cloud": args.cloud})
            }
        )
    style = text.Style(colour=args.format == "text" and out.isatty())

    async def stream(event: ProgressEvent) -> None:
        if args.format != "text":
            return
        if isinstance(event, DiagnosisStarted):
            out.write(text.header(event, style) + "\n")
        elif isinstance(event, StepFinished):
            out.write(text.step_line(event.step, style) + "\n")
        elif isinstance(event, DiagnosisFinished):
            out.write(text.verdict(event.diagnosis, style) + "\n")
        out.flush()

    err = sys.stderr
    try:
        async with open_engine(settings) as engine:
            diagnosis = await engine.diagnose(ref_from_args(args), stream)
    except AmbiguousVm as exc:
        err.write(f"migrate-diag: {exc}:\n")
        for server_id, name, status, host in exc.candidates:
            err.write(f"  {server_id}  {name}  {status}  {host or '-'}\n")
        return EXIT_USAGE
    except InvalidRequest as exc:
        err.write(f"migrate-diag: {exc}\n")
        return EXIT_USAGE
    except CloudUnreachable as exc:
        err.write(unreachable_line(settings.openstack.cloud, exc) + "\n")
        return EXIT_UNREACHABLE
    if args.format == "json":
        out.write(json_report.dumps(diagnosis) + "\n")
    elif getattr(args, "show_requests", False):
        out.write(timing.render(diagnosis.timing) + "\n")
        out.flush()
    return exit_status(diagnosis)
