"""Where the paper's figure scripts read tables and write figures (a source checkout).

Every script in ``paper/`` reads the committed tables in ``results/`` (never
recomputing an estimate) and writes into an output directory: the first command-line
argument, else ``$VT_PAPER_OUT``, else ``paper/figures`` (figures) or
``paper/generated`` (numbers). ``$VT_RESULTS`` points at another results directory.
The defaults are the folders of the source checkout this package lives in.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from vartools.plots.style import save_figure

__all__ = ["REPOSITORY", "meta", "out_dir", "read", "results_dir", "save_paper_figure"]

#: The source checkout: the folder holding vartools/, results/ and paper/.
REPOSITORY = Path(__file__).resolve().parent.parent.parent


def results_dir() -> Path:
    """The results directory: ``$VT_RESULTS`` or the checkout's ``results/``."""
    return Path(os.environ.get("VT_RESULTS", REPOSITORY / "results"))


def out_dir(default: str = "figures") -> Path:
    """The output directory (argv[1], ``$VT_PAPER_OUT`` or ``paper/<default>``), created."""
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    if path is None:
        env = os.environ.get("VT_PAPER_OUT")
        path = Path(env) if env else REPOSITORY / "paper" / default
    path.mkdir(parents=True, exist_ok=True)
    return path


def read(experiment: str, table: str = "summary") -> pd.DataFrame:
    """``results/<experiment>/<table>.csv``, with a message naming the command if missing.

    Raises ``IncompleteTableError`` naming the missing rows when the table has fewer rows
    than its meta.json records (a truncated file); an older meta.json is not checked.
    """
    path = results_dir() / experiment / f"{table}.csv"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `vartools run {experiment} --scale full`")
    df = pd.read_csv(path)
    meta_path = path.parent / "meta.json"
    if meta_path.exists():  # a table shorter than meta.json records is an error
        from vartools.harness.storage import check_complete

        tables = json.loads(meta_path.read_text()).get("tables") or {}
        check_complete(df, tables.get(path.name), path)
    return df


def meta(experiment: str) -> dict[str, Any]:
    """``results/<experiment>/meta.json``."""
    with open(results_dir() / experiment / "meta.json") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


def save_paper_figure(fig: Figure, name: str) -> Path:
    """Write ``<out>/<name>.pdf`` (fonts embedded, no timestamp), print and return its path."""
    (path,) = save_figure(fig, out_dir() / name, formats=("pdf",))
    print(path)
    return path
