"""The `jingzhun` command: the product's outside, as `shared/CONTRACT.md` fixes it.

Starts fast: heavy libraries (Prefect, Great Expectations, Splink) are imported by the commands that use them.
A user's mistake ends in one line on standard error and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any

from jingzhun import rules
from jingzhun.errors import UserError

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jingzhun", description="精准: daily data governance and record matching")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="generate a small synthetic district and run the daily flow on it")
    demo.add_argument("--out", type=Path, default=Path("demo-output"))
    demo.add_argument("--persons", type=_positive, default=DEMO_PERSONS)

    run = commands.add_parser("run", help="the daily flow on real inputs")
    run.add_argument("--inbox", type=Path, required=True)
    run.add_argument("--reference", type=Path, required=True)
    run.add_argument("--out", type=Path, required=True)
    run.add_argument("--mapping", type=Path)
    run.add_argument("--run-date", type=_date)

    reference = commands.add_parser("reference", help="reference data")
    reference_commands = reference.add_subparsers(dest="reference_command", required=True)
    generate = reference_commands.add_parser("generate", help="a synthetic reference set, inbox and ground truth")
    generate.add_argument("--out", type=Path, required=True)
    generate.add_argument("--persons", type=_positive, default=DEMO_PERSONS)
    generate.add_argument("--seed", type=int, default=DEMO_SEED)
    generate.add_argument("--day", type=_date, default=None, help="the day of the inbox (default: today)")

    evaluate = commands.add_parser("evaluate", help="precision and recall of a run against ground truth")
    evaluate.add_argument("--run", type=Path, required=True, help="the run's dated folder, e.g. OUT/2026-11-22")
    evaluate.add_argument("--truth", type=Path, required=True)

    address = commands.add_parser("address", help="address tools")
    address_commands = address.add_subparsers(dest="address_command", required=True)
    parse = address_commands.add_parser("parse", help="one address a line on stdin, one JSON object a line on stdout")

    for command in (demo, run, generate, evaluate, parse):  # what every command takes
        command.add_argument("--rules", type=Path, metavar="DIR",
                             help="a folder of one's own rules (default: $JINGZHUN_RULES, else the installed rules)")
    return parser


def _run_flow(**parameters: Any) -> dict[str, Any]:
    from flows.steps import check_inputs
    from jingzhun.run import Run

    # A missing input is reported before Prefect's local server takes its ten seconds to start.
    check_inputs(Run(**parameters))
    from flows.daily import daily

    try:
        return daily(**parameters)
    except RuntimeError as error:
        if "ephemeral Prefect API server" not in str(error):
            raise
    # The temporary server may still have been migrating its new database; the second start finds it ready.
    print("jingzhun: Prefect's local server was slow to start; trying once more "
          "(Prefect 本地服务启动较慢，正在重试一次)", file=sys.stderr)
    try:
        return daily(**parameters)
    except RuntimeError as error:
        if "ephemeral Prefect API server" not in str(error):
            raise
        raise UserError("Prefect's local server did not start; set PREFECT_API_URL to a running server "
                        "(Prefect 本地服务未能启动，请设置 PREFECT_API_URL 指向已运行的服务)") from error


def _print_headline(head: dict[str, Any], run_dir: Path) -> None:
    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{value * 100:.1f}%"

    outcomes = head["outcomes"]
    print(f"outputs           {run_dir}")
    print(f"dispatch files    {run_dir / 'dispatch'}  ({head['dispatch_subdistricts']} subdistricts)")
    print(f"report            {run_dir / 'report.html'}")
    print(f"input rows        {head['input_rows']} in {head['input_files']} files "
          f"({head['unreadable_files']} unreadable)")
    print(f"outcomes          dispatched {outcomes['dispatched']}, no_action {outcomes['no_action']}, "
          f"review {outcomes['review']}, quarantined {outcomes['quarantined']}")
    print(f"person matched    {pct(head['person_match_rate'])}")
    print(f"committee routed  {pct(head['routing_rate'])}")


def _use_rules(folder: Path | None) -> None:
    """The rules of this command and of every process it starts: `--rules`, else JINGZHUN_RULES, checked first."""
    folder = folder or rules.chosen()
    if folder is not None:
        rules.use(rules.check(folder))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        _use_rules(args.rules)
        if args.command == "address":
            from cleansing.address import address_parse_cli

            address_parse_cli(sys.stdin, sys.stdout)
        elif args.command == "reference":
            from synthetic.generate import generate

            summary = generate(args.out, persons=args.persons, seed=args.seed, day=args.day or dt.date.today())
            print(summary)
        elif args.command == "evaluate":
            from evaluation.metrics import evaluate_run, format_evaluation

            print(format_evaluation(evaluate_run(args.run, args.truth)))
        elif args.command == "run":
            run_date = args.run_date or dt.date.today()
            head = _run_flow(inbox=args.inbox, reference=args.reference, out=args.out, mapping=args.mapping,
                             run_date=run_date, rules=rules.chosen())
            _print_headline(head, args.out / run_date.isoformat())
        elif args.command == "demo":
            _demo(args.out, args.persons)
    except UserError as error:
        print(f"jingzhun: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("jingzhun: interrupted", file=sys.stderr)
        return 130
    return 0


def _demo(out: Path, persons: int) -> None:
    from evaluation.metrics import evaluate_run, format_evaluation
    from synthetic.generate import generate

    day = dt.date.today()
    generate(out / "synthetic", persons=persons, seed=DEMO_SEED, day=day)
    head = _run_flow(inbox=out / "synthetic" / "inbox", reference=out / "synthetic" / "reference", out=out,
                     run_date=day, rules=rules.chosen())
    _print_headline(head, out / day.isoformat())
    print()
    print(format_evaluation(evaluate_run(out / day.isoformat(), out / "synthetic" / "truth.csv")))


if __name__ == "__main__":
    sys.exit(main())
