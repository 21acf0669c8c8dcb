"""The ``vartools`` command: demo, list, run, compare, plot, reproduce.

Examples::

    vartools --version
    vartools demo                                   # SF vs SF+RLOO on bern200
    vartools list                                   # experiments, settings, estimators
    vartools run demo_liu --scale quick             # writes results/quick/demo_liu/
    vartools run demo_liu demo_rebar --executor processes --workers 2
    vartools run demo_liu --executor dask --scheduler tcp://10.0.0.5:8786
    vartools compare --problem liu_toy --param eta=-4 --estimators sf sf+loo --n 4 --reps 2000
    vartools compare --problem liu_toy --estimators sf sf+loo --n 8 --equal-evals
    vartools plot demo_liu                          # results/quick/demo_liu/figures/*.png, *.pdf
    vartools reproduce --scale quick                # every experiment, then every figure

Exit status: 0 on success, 1 on a failed experiment or a bad name, 2 on a usage error,
130 when interrupted (finished cells are kept; rerun the same command to resume), 141
when the reader of the output went away (``vartools compare ... | head``): quietly.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from vartools._version import __version__
from vartools.cli.commands import (
    cmd_compare,
    cmd_demo,
    cmd_list,
    cmd_plot,
    cmd_reproduce,
    cmd_run,
)
from vartools.cli.params import at_least
from vartools.cli.table import format_table

__all__ = ["build_parser", "format_table", "main"]


def _add_executor_options(p: argparse.ArgumentParser, where: str) -> None:
    """--executor and --workers (run, reproduce and compare share them)."""
    p.add_argument(
        "--executor", choices=["serial", "processes", "dask"], default="serial", help=where
    )
    p.add_argument(
        "--workers",
        type=at_least(1),
        default=None,
        help="worker processes for processes/dask (default: the CPU count)",
    )


def _add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--scale",
        choices=["quick", "full"],
        default="quick",
        help="quick (seconds, for CI) or full (the published scale); default quick",
    )
    p.add_argument(
        "--seed",
        type=at_least(0),
        default=None,
        help="root seed of the seed tree (default: each experiment's own)",
    )
    _add_executor_options(
        p, "where cells run (default serial); dask needs pip install 'vartools[dask]'"
    )
    p.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDR",
        help="Dask scheduler address, e.g. tcp://HOST:8786 (default: a local cluster on 127.0.0.1)",
    )
    p.add_argument(
        "--out",
        default=None,
        metavar="DIR",
        help="results root; each experiment writes DIR/<name>/ (default: results for the "
        "full scale, results/quick for the quick scale, which git ignores)",
    )
    p.add_argument(
        "--raw",
        action="store_true",
        help="also write the replicate estimates (raw.npz, not committed)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--max-cells",
        type=at_least(0),
        default=None,
        metavar="K",
        help="compute at most K new cells per experiment, then stop (resume later)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``vartools`` command."""
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="vartools",
        description="Variance of Monte Carlo gradient estimators: measure, compare, reproduce.",
        epilog=__doc__.split("Examples::", 1)[1] if __doc__ else None,
        formatter_class=fmt,
    )
    parser.add_argument("--version", action="version", version=f"vartools {__version__}")
    parser.add_argument(
        "--experiments",
        default=None,
        metavar="DIR",
        help="experiments directory (default: $VARTOOLS_EXPERIMENTS, "
        "./experiments, or the source checkout's)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "demo",
        help="SF vs SF+RLOO on bern200 (the issue-2 example)",
        formatter_class=fmt,
        description="Measure the score-function estimator with and without a "
        "leave-one-out baseline on bern200 (200 Bernoullis), n in {2, 16}, "
        "2000 replicates, seed 0, and print a compact table.",
        epilog="example:\n  vartools demo",
    )
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser(
        "list",
        help="list experiments, settings, estimators, reducers",
        formatter_class=fmt,
        epilog="example:\n  vartools list",
    )
    p.add_argument(
        "--strict", action="store_true", help="exit 1 if an experiment file fails to load"
    )
    p.set_defaults(func=cmd_list)

    p = sub.add_parser(
        "run",
        help="run experiments by name",
        formatter_class=fmt,
        description="Run experiments; results go to OUT/<name>/ (summary.csv, "
        "training.csv, meta.json), OUT being results/quick for the quick scale (the "
        "default) and results for the full scale. Finished cells are cached: an interrupted run "
        "resumes where it stopped.",
        epilog="examples:\n  vartools run demo_liu          # writes results/quick/demo_liu/\n"
        "  vartools run demo_liu demo_rebar --scale full --executor processes "
        "--workers 2\n  vartools run demo_liu --executor dask --scheduler "
        "tcp://127.0.0.1:8786",
    )
    p.add_argument("names", nargs="+", metavar="NAME", help="experiment names (vartools list)")
    _add_run_options(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "compare",
        help="an ad-hoc comparison table (no experiment file)",
        formatter_class=fmt,
        epilog="examples:\n  vartools compare --problem liu_toy --param eta=-4 "
        "--estimators sf sf+loo --n 4 --reps 2000\n  vartools compare --problem "
        "gaussian_cost --param cost=cos --param k=2 --estimators sf pathwise "
        "--n 1 8\n  vartools compare --problem liu_toy --estimators sf sf+loo "
        "--n 8 --equal-evals",
    )
    p.add_argument("--problem", required=True, help="a setting name (vartools list)")
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a keyword argument of the setting (repeatable), e.g. eta=-4",
    )
    p.add_argument(
        "--estimators",
        nargs="+",
        required=True,
        metavar="NAME",
        help="estimator names; the first is the reference of the ratios",
    )
    p.add_argument(
        "--n",
        nargs="+",
        type=at_least(1),
        default=[4],
        metavar="N",
        help="samples per estimate (with --equal-evals: f-evaluation budgets)",
    )
    p.add_argument(
        "--reps", type=at_least(2), default=2000, help="replicate estimates (default 2000)"
    )
    p.add_argument("--seed", type=at_least(0), default=0, help="root seed (default 0)")
    p.add_argument(
        "--equal-evals",
        action="store_true",
        help="compare at equal f-evaluation budgets (--n gives the budgets)",
    )
    p.add_argument(
        "--coords",
        type=at_least(-1),
        default=3,
        help="parameter coordinates to show besides the aggregates (-1: all)",
    )
    p.add_argument("--csv", default=None, metavar="PATH", help="also write the full table")
    _add_executor_options(
        p, "where the replicates are computed (default serial; the numbers are the same)"
    )
    p.add_argument(
        "--allow-small-reps",
        action="store_true",
        help="accept --reps below 100 (a warning: the intervals then undercover)",
    )
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser(
        "plot",
        help="figures from results (PNG and PDF)",
        formatter_class=fmt,
        epilog="examples:\n"
        "  vartools plot demo_liu               # results/quick/demo_liu/figures/\n"
        "  vartools plot demo_liu --scale full  # results/demo_liu/figures/",
    )
    p.add_argument("names", nargs="+", metavar="NAME")
    p.add_argument(
        "--scale",
        choices=["quick", "full"],
        default="quick",
        help="which results to plot (default quick, as for run)",
    )
    p.add_argument(
        "--out",
        default=None,
        metavar="DIR",
        help="results root (default: results/quick for the quick scale, results for full)",
    )
    p.set_defaults(func=cmd_plot)

    p = sub.add_parser(
        "reproduce",
        help="every experiment, then every figure",
        formatter_class=fmt,
        epilog="examples:\n  vartools reproduce                 # quick scale\n"
        "  vartools reproduce --scale full --executor processes",
    )
    _add_run_options(p)
    p.set_defaults(func=cmd_reproduce)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``vartools`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print(
            "\ninterrupted: finished cells are saved; rerun the same command to resume",
            file=sys.stderr,
        )
        return 130
    except BrokenPipeError:
        _silence_stdout()
        return 141
    except (ValueError, TypeError, OSError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _silence_stdout() -> None:
    """After a broken pipe (``| head``): send what is left of stdout to /dev/null.

    Python flushes stdout at exit; without this the flush raises BrokenPipeError again
    and prints a traceback (Python docs, "Note on SIGPIPE").
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout without a file descriptor
        pass


if __name__ == "__main__":
    sys.exit(main())
