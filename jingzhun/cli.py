"""The `jingzhun` command: the product's outside, as `shared/CONTRACT.md` fixes it.

Starts fast: heavy libraries (Prefect, Great Expectations, Splink) are imported by the commands that use them.
A run that cannot be done ends in one line on standard error and exit status 2, checked before any work; a bug in
one line and exit status 1. Tracebacks only with `--debug`. Nothing is printed after a run's figures.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import datetime as dt
import logging
import os
import sys
import threading
import traceback
from dataclasses import fields
from pathlib import Path
from typing import Any, NoReturn

from jingzhun.core import rules
from jingzhun.core.errors import UserError
from jingzhun.synthetic.settings import Settings

DEMO_PERSONS = 20_000
DEMO_SEED = 2026


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not a date in YYYY-MM-DD form: {text}") from error


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive whole number")
    return value


def _share(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("must be a share between 0 and 1, e.g. 0.4")
    return value


def build_parser() -> argparse.ArgumentParser:
    # Options every command takes, after its name (`jingzhun run --debug ...`).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="on failure, show the traceback (and Prefect's)")
    common.add_argument(
        "--rules",
        type=Path,
        metavar="DIR",
        help="a folder of one's own rules (default: $JINGZHUN_RULES, else the installed rules)",
    )

    def command(group: Any, name: str, help: str) -> argparse.ArgumentParser:
        return group.add_parser(name, parents=[common], help=help)

    parser = argparse.ArgumentParser(prog="jingzhun", description="精准: daily data governance and record matching")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = command(commands, "demo", help="generate a small synthetic district and run the daily flow on it")
    demo.add_argument("--out", type=Path, default=Path("demo-output"))
    demo.add_argument("--persons", type=_positive, default=DEMO_PERSONS)

    run = command(commands, "run", help="the daily flow on real inputs")
    run.add_argument("--inbox", type=Path, required=True)
    run.add_argument("--reference", type=Path, required=True)
    run.add_argument("--out", type=Path, required=True)
    run.add_argument("--mapping", type=Path)
    run.add_argument("--run-date", type=_date)

    reference = commands.add_parser("reference", help="reference data")
    reference_commands = reference.add_subparsers(dest="reference_command", required=True)
    generate = command(reference_commands, "generate", help="a synthetic reference set, inbox and ground truth")
    generate.add_argument("--out", type=Path, required=True)
    generate.add_argument("--persons", type=_positive, default=DEMO_PERSONS)
    generate.add_argument("--seed", type=int, default=DEMO_SEED)
    generate.add_argument("--day", type=_date, default=None, help="the day of the inbox (default: today)")
    # The day's size, and the phenomena of real exports (jingzhun/synthetic/settings.py).
    for option in fields(Settings):
        size = option.name == "day_rows"
        generate.add_argument(
            "--" + option.name.replace("_", "-"),
            type=_positive if size else _share,
            metavar="N" if size else "SHARE",
            default=option.default,
            help=option.metadata["help"],
        )

    evaluate = command(commands, "evaluate", help="precision and recall of a run against ground truth")
    evaluate.add_argument("--run", type=Path, required=True, help="the run's dated folder, e.g. OUT/2026-11-22")
    evaluate.add_argument("--truth", type=Path, required=True)

    model = command(commands, "model", help="the person-linkage model versions kept with the data (OUT/models/)")
    model_commands = model.add_subparsers(dest="model_command", required=True)
    for name, text in (
        ("list", "the versions, which is active, their figures"),
        ("promote", "make VERSION the active model"),
        ("rollback", "back to the version active before the current one"),
        ("train", "train a new version on the latest run in OUT, or on --inbox and --reference"),
    ):
        sub = command(model_commands, name, help=text)
        sub.add_argument("--out", type=Path, required=True, help="the output folder of the daily runs")
        if name == "promote":
            sub.add_argument("version")
        if name == "train":
            sub.add_argument("--inbox", type=Path)
            sub.add_argument("--reference", type=Path)

    address = commands.add_parser("address", help="address tools")
    address_commands = address.add_subparsers(dest="address_command", required=True)
    command(address_commands, "parse", help="one address a line on stdin, one JSON object a line on stdout")
    return parser


def _run_flow(debug: bool, **parameters: Any) -> dict[str, Any]:
    from jingzhun.flows.server import early_server, using
    from jingzhun.validation.suites import in_background

    # Prefect's temporary server boots in its own process while this one checks the inputs and imports the flow.
    with early_server() as server:
        from jingzhun.core.run import Run, exclusive
        from jingzhun.flows.steps import check_inputs

        # What makes a run impossible is said before the flow starts: the inputs, then the output folder (taking
        # its lock checks that it is a folder we can write).
        run = Run(**parameters)
        check_inputs(run)
        with exclusive(run.out):
            from jingzhun.flows.daily import daily

            if server is not None:  # while it boots on the other core, load what the steps would load later
                from jingzhun.flows.warm import warm_up

                warm_up(until=server.answers)
            prefect = logging.getLogger("prefect")
            if not debug:
                _without_tracebacks(logging.getLogger().handlers)
            try:
                # Great Expectations is imported in a process of its own, where the validate step will run its
                # suites: started once the server answers, not beside its boot and this process's loading (three on
                # two cores put off the flow's start by two seconds); it imports during the flow's first steps.
                with using(server), in_background():
                    return _start(daily, parameters)
            finally:
                # Prefect says "Stopping temporary server" at exit, after our figures or our one-line error;
                # from here on only its warnings are worth a line.
                prefect.setLevel(logging.WARNING)


def _start(daily: Any, parameters: dict[str, Any]) -> dict[str, Any]:
    try:
        return daily(**parameters)
    except RuntimeError as error:
        if "ephemeral Prefect API server" not in str(error):
            raise
    # The temporary server may still have been migrating its new database; the second start finds it ready.
    print(
        "jingzhun: Prefect's local server was slow to start; trying once more (Prefect 本地服务启动较慢，正在重试一次)",
        file=sys.stderr,
    )
    try:
        return daily(**parameters)
    except RuntimeError as error:
        if "ephemeral Prefect API server" not in str(error):
            raise
        raise UserError(
            "Prefect's local server did not start; set PREFECT_API_URL to a running server "
            "(Prefect 本地服务未能启动，请设置 PREFECT_API_URL 指向已运行的服务)"
        ) from error


class _NoTraceback(logging.Filter):
    """Prefect logs a failed task or flow with its traceback; on the console, without `--debug`, the line alone
    (the Prefect UI still gets the traceback: its handler formats the record before this console handler)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info = record.exc_text = None
        return True


def _without_tracebacks(handlers: list[logging.Handler]) -> None:
    for handler in handlers:
        if not any(isinstance(f, _NoTraceback) for f in handler.filters):
            handler.addFilter(_NoTraceback())


def _print_headline(head: dict[str, Any], run_dir: Path) -> None:
    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{value * 100:.1f}%"

    outcomes = head["outcomes"]
    print(f"outputs           {run_dir}")
    print(f"dispatch files    {run_dir / 'dispatch'}  ({head['dispatch_subdistricts']} subdistricts)")
    print(f"report            {run_dir / 'report.html'}")
    print(
        f"input rows        {head['input_rows']} in {head['input_files']} files; not read: "
        f"{head['unreadable_files']} files or sheets, {head['unread_rows']} rows (quarantine/files.csv)"
    )
    print(
        f"outcomes          dispatched {outcomes['dispatched']}, no_action {outcomes['no_action']}, "
        f"review {outcomes['review']}, quarantined {outcomes['quarantined']}"
    )
    print(f"person matched    {pct(head['person_match_rate'])}")
    print(f"committee routed  {pct(head['routing_rate'])}")
    for alert in head.get("alerts", []):
        print(f"alert             {alert}")  # a figure that moved since the previous run, as the report says


def _use_rules(folder: Path | None) -> None:
    """The rules of this command and of every process it starts: `--rules`, else JINGZHUN_RULES, checked first."""
    folder = folder or rules.chosen()
    if folder is not None:
        rules.use(rules.check(folder))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        _use_rules(args.rules)
        _command(args)
    except UserError as error:
        return _fail(args.debug, 2, str(error), error)
    except KeyboardInterrupt as error:
        return _fail(args.debug, 130, "interrupted (已中断)", error)
    except Exception as error:  # a bug: said in one line, the traceback with --debug
        from jingzhun.core.warehouse import out_of_memory

        if (reason := out_of_memory(error)) is not None:  # not a bug: the machine's memory (outside a step)
            return _fail(args.debug, 2, str(reason), error)
        return _fail(
            args.debug,
            1,
            "unexpected error, please report it; --debug shows the traceback "
            f"(程序内部错误，请报告；加 --debug 可查看详细信息): {type(error).__name__}: {error}",
            error,
        )
    return 0


def console() -> NoReturn:
    """The `jingzhun` command: `main`, then the exit Python makes, without its teardown. Tearing down frees every
    object one by one (the modules of Prefect, Splink, Polars and DuckDB, the division tables):
    1.6–2.6 s of a 10k-row day's 18–22 s, for memory the process gives back whole when it ends. What the exit must
    do is done first, in Python's order: threads still working are waited for, the `atexit` functions run (logging's
    flush, multiprocessing's clean-up of its semaphores, Prefect's), the standard streams are flushed. The warehouse
    needs nothing more: each step's connection is closed when the step ends. As mypy ends (`util.hard_exit`)."""
    status = main()
    for thread in threading.enumerate():
        if not thread.daemon and thread is not threading.current_thread():
            thread.join()
    atexit._run_exitfuncs()  # what the interpreter runs at exit (no public name)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a reader that has gone (`| head`), a closed stream
            stream.flush()
    os._exit(status)


def _fail(debug: bool, status: int, message: str, error: BaseException) -> int:
    if debug:
        traceback.print_exc()
    print(f"jingzhun: {' '.join(message.split())}", file=sys.stderr)  # one line, whatever the message holds
    # Prefect keeps a failed run's exception until the interpreter exits, and with it the frames of the failed
    # step: their DuckDB connection and types would outlive DuckDB's module, which nanobind (DuckDB's binding
    # library) then reports as 40-odd lines of leaks. Clearing the frames' variables lets them go now.
    # The exceptions a failure was raised from go too: one of DuckDB's own (its memory limit, said as a UserError)
    # would keep its type alive just the same.
    chain: list[BaseException] = []
    link: BaseException | None = error
    while link is not None and link not in chain:
        chain.append(link)
        traceback.clear_frames(link.__traceback__)
        link = link.__cause__ or link.__context__
    for link in chain:
        link.__cause__ = link.__context__ = None
    return status


def _command(args: argparse.Namespace) -> None:
    if args.command == "address":
        from jingzhun.cleansing.address import address_parse_cli

        address_parse_cli(sys.stdin, sys.stdout)
    elif args.command == "reference":
        from jingzhun.synthetic.generate import generate

        try:
            settings = Settings(**{option.name: getattr(args, option.name) for option in fields(Settings)})
            summary = generate(
                args.out, persons=args.persons, seed=args.seed, day=args.day or dt.date.today(), settings=settings
            )
        except ValueError as error:  # rates that cannot go together
            raise UserError(str(error)) from error
        print(summary)
    elif args.command == "evaluate":
        from jingzhun.evaluation.metrics import evaluate_run, format_evaluation

        print(format_evaluation(evaluate_run(args.run, args.truth)))
    elif args.command == "run":
        run_date = args.run_date or dt.date.today()
        head = _run_flow(
            args.debug,
            inbox=args.inbox,
            reference=args.reference,
            out=args.out,
            mapping=args.mapping,
            run_date=run_date,
            rules=rules.chosen(),
        )
        _print_headline(head, args.out / run_date.isoformat())
    elif args.command == "model":
        from jingzhun.matching.versions import command

        print(
            command(
                args.model_command,
                args.out,
                getattr(args, "version", None),
                getattr(args, "inbox", None),
                getattr(args, "reference", None),
            )
        )
    elif args.command == "demo":
        _demo(args.out, args.persons, args.debug)


def _demo(out: Path, persons: int, debug: bool) -> None:
    from jingzhun.evaluation.metrics import evaluate_run, format_evaluation
    from jingzhun.synthetic.generate import generate

    day = dt.date.today()
    generate(out / "synthetic", persons=persons, seed=DEMO_SEED, day=day)
    head = _run_flow(
        debug,
        inbox=out / "synthetic" / "inbox",
        reference=out / "synthetic" / "reference",
        out=out,
        run_date=day,
        rules=rules.chosen(),
    )
    _print_headline(head, out / day.isoformat())
    print()
    print(format_evaluation(evaluate_run(out / day.isoformat(), out / "synthetic" / "truth.csv")))


if __name__ == "__main__":
    console()
