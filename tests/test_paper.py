"""The report in paper/: every figure script runs, every number macro resolves, the PDF builds.

The scripts read the committed tables in results/ only; here they write into tmp_path.
"""

from __future__ import annotations

import re
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PAPER = Path(__file__).resolve().parent.parent / "paper"
FIG_SCRIPTS = sorted(PAPER.glob("fig_*.py"))
MACRO_USE = re.compile(r"\\(Vt[A-Za-z]+)")
MACRO_DEF = re.compile(r"\\newcommand\{\\(Vt[A-Za-z]+)\}")


def _run(script: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(script), str(out)],
        cwd=PAPER,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _tex_sources() -> list[Path]:
    return [PAPER / "vartools.tex", *sorted((PAPER / "sections").glob("*.tex"))]


def _defined(numbers: Path) -> set[str]:
    return set(MACRO_DEF.findall(numbers.read_text()))


@pytest.fixture(scope="module")
def numbers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """numbers.tex freshly generated from results/ into a temporary directory."""
    out = tmp_path_factory.mktemp("generated")
    proc = _run(PAPER / "make_numbers.py", out)
    assert proc.returncode == 0, proc.stderr
    return out / "numbers.tex"


def test_there_are_figure_scripts() -> None:
    """Between six and fourteen figures, each with its own script, each included in the text."""
    assert 6 <= len(FIG_SCRIPTS) <= 14
    text = "\n".join(p.read_text() for p in _tex_sources())
    for script in FIG_SCRIPTS:
        name = script.stem.removeprefix("fig_")
        assert f"figures/{name}.pdf" in text, f"{script.name}'s figure is not in the report"


@pytest.mark.parametrize("script", FIG_SCRIPTS, ids=lambda p: p.stem)
def test_figure_script_runs(script: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each fig_<name>.py writes <out>/<name>.pdf from results/ alone (run in-process, as
    ``python fig_<name>.py OUT`` would)."""
    monkeypatch.syspath_prepend(str(PAPER))
    monkeypatch.setattr(sys, "argv", [str(script), str(tmp_path)])
    runpy.run_path(str(script), run_name="__main__")
    pdf = tmp_path / f"{script.stem.removeprefix('fig_')}.pdf"
    assert pdf.exists() and pdf.stat().st_size > 1000
    assert pdf.read_bytes().startswith(b"%PDF")


def test_every_macro_used_is_defined(numbers: Path) -> None:
    """Every \\Vt... macro in the .tex sources is defined by make_numbers.py."""
    defined = _defined(numbers)
    used = {m for p in _tex_sources() for m in MACRO_USE.findall(p.read_text())}
    assert used, "the report quotes no generated numbers"
    assert not used - defined, f"undefined macros: {sorted(used - defined)}"


def test_macro_names_are_letters_and_unique(numbers: Path) -> None:
    """LaTeX macro names: letters only, each defined once."""
    names = MACRO_DEF.findall(numbers.read_text())
    assert len(names) == len(set(names))
    assert all(n.isalpha() for n in names)
    assert "VtVersion" in names


def test_committed_numbers_are_current(numbers: Path) -> None:
    """paper/generated/numbers.tex is what make_numbers.py writes from the committed results."""
    assert (PAPER / "generated" / "numbers.tex").read_text() == numbers.read_text(), (
        "paper/generated/numbers.tex is stale: run `make -C paper assets`"
    )


def test_no_hand_typed_measurement() -> None:
    """No number in scientific notation is typed into the text: measurements are macros."""
    for path in _tex_sources():
        text = path.read_text()
        assert not re.search(r"\d\s*\\times\s*10\^", text), f"{path.name} types a number by hand"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("latexmk") is None, reason="latexmk (TeX Live) is not installed")
def test_pdf_builds_cleanly(tmp_path: Path) -> None:
    """latexmk builds the report from a copy of paper/ with no undefined references or
    citations and no overfull box wider than 5 pt."""
    work = tmp_path / "paper"
    shutil.copytree(PAPER, work, ignore=shutil.ignore_patterns("build", "vartools.pdf"))
    proc = subprocess.run(
        [
            "latexmk",
            "-pdf",
            "-interaction=nonstopmode",
            "-halt-on-error",
            "-outdir=build",
            "vartools.tex",
        ],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=600,
    )
    log = (work / "build" / "vartools.log").read_text(errors="replace")
    assert proc.returncode == 0, log[-3000:]
    assert (work / "build" / "vartools.pdf").exists()
    assert not re.search(r"(Reference|Citation) `[^']*' .*undefined", log), "undefined refs"
    assert "There were undefined" not in log
    widths = [float(w) for w in re.findall(r"Overfull \\hbox \(([\d.]+)pt too wide\)", log)]
    assert all(w <= 5.0 for w in widths), f"overfull boxes: {widths}"
