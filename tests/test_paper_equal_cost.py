"""Equal cost as a checked rule: every comparison the report quotes is at an equal number of
f evaluations, or prints both costs next to it.

paper/make_numbers.py generates every comparison macro from two table rows and records them in
paper/generated/comparisons.json (macro, rows, n_evals of each side, labelled, label_macro).
A comparison macro is one whose name says it compares (Over, Vs, Ratio, Gain, Eff, Worse,
Than, Below, Share). ``problems`` lists what breaks the rule; the negative tests feed it a
synthetic unequal, unlabelled comparison and check that it is caught.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

PAPER = Path(__file__).resolve().parent.parent / "paper"
USE = re.compile(r"\\(Vt[A-Za-z]+)")
COMPARING = re.compile(r"(Over|Vs|Ratio|Gain|Eff|Worse|Than|Below|Share)")
WINDOW = 300  # characters either side of a use in which the cost label must appear


def _sources() -> str:
    files = [PAPER / "vartools.tex", *sorted((PAPER / "sections").glob("*.tex"))]
    return "\n".join(p.read_text() for p in files)


def problems(tex: str, comparisons: list[dict[str, Any]]) -> list[str]:
    """Every breach of the equal-cost rule in ``tex`` given the generated ``comparisons``."""
    known = {c["macro"]: c for c in comparisons}
    out = []
    for m in USE.finditer(tex):
        name = m.group(1)
        if name.endswith("Cost") or not COMPARING.search(name[2:]):
            continue
        c = known.get(name)
        if c is None:
            out.append(f"\\{name} compares but is not a generated comparison (comparisons.json)")
            continue
        if c.get("pending"):
            continue  # its table does not exist yet: the \ifnum around it is off
        equal = c["left"]["n_evals"] == c["right"]["n_evals"]
        if equal != c["equal_cost"]:
            out.append(f"\\{name}: equal_cost disagrees with the n_evals of its rows")
        if equal:
            continue
        if not c.get("labelled") or not c.get("label_macro"):
            out.append(
                f"\\{name} compares {c['left']['n_evals']} vs {c['right']['n_evals']} "
                "f evaluations and is not labelled"
            )
            continue
        near = tex[max(m.start() - WINDOW, 0) : m.end() + WINDOW]
        if f"\\{c['label_macro']}" not in near:
            out.append(
                f"\\{name} ({c['left']['n_evals']} vs {c['right']['n_evals']} evaluations) "
                f"is quoted without \\{c['label_macro']} next to it"
            )
    return out


@pytest.fixture(scope="module")
def comparisons() -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads((PAPER / "generated" / "comparisons.json").read_text())
    return data


def test_the_report_quotes_comparisons(comparisons: list[dict[str, Any]]) -> None:
    """The rule is not vacuous: the report quotes many comparisons, some at unequal cost."""
    tex = _sources()
    live = [c for c in comparisons if not c.get("pending")]
    used = set(USE.findall(tex)) & {c["macro"] for c in live}
    assert len(used) >= 30
    assert any(not c["equal_cost"] for c in live if c["macro"] in used)


def test_every_quoted_comparison_is_equal_cost_or_labelled(
    comparisons: list[dict[str, Any]],
) -> None:
    """Every comparison macro in the .tex is generated, and equal-cost or labelled in place."""
    assert problems(_sources(), comparisons) == []


def test_labels_state_the_costs(comparisons: list[dict[str, Any]]) -> None:
    """Each label macro's text names the two costs of its comparison."""
    numbers = (PAPER / "generated" / "numbers.tex").read_text()
    for c in comparisons:
        if c.get("pending") or c["equal_cost"]:
            continue
        m = re.search(r"\\newcommand\{\\" + c["label_macro"] + r"\}\{(.*)\}", numbers)
        assert m, c["label_macro"]
        costs = [f"{c[s]['n_evals']:,}".replace(",", "{,}") for s in ("left", "right")]
        assert f"{costs[0]} vs {costs[1]}" in m.group(1)


def _side(n: int) -> dict[str, Any]:
    return {"experiment": "x", "estimator": "e", "where": {}, "n_evals": n}


def test_catches_an_unequal_unlabelled_comparison() -> None:
    """A synthetic 64-vs-1 comparison without a label is reported."""
    comps = [
        {
            "macro": "VtFooOverBar",
            "left": _side(64),
            "right": _side(1),
            "equal_cost": False,
            "labelled": False,
            "label_macro": None,
        }
    ]
    found = problems(r"the delta method divides the variance by \VtFooOverBar.", comps)
    assert len(found) == 1 and "not labelled" in found[0]


def test_catches_a_label_missing_from_the_text() -> None:
    """Labelled in comparisons.json, but the text does not quote the label next to it."""
    comps = [
        {
            "macro": "VtFooOverBar",
            "left": _side(64),
            "right": _side(1),
            "equal_cost": False,
            "labelled": True,
            "label_macro": "VtFooOverBarCost",
        }
    ]
    far = " " * (2 * WINDOW)
    assert problems(r"ratio \VtFooOverBar." + far + r"\VtFooOverBarCost", comps)
    assert problems(r"ratio \VtFooOverBar{} (\VtFooOverBarCost).", comps) == []


def test_catches_a_hand_made_or_mislabelled_comparison() -> None:
    """A comparison macro absent from comparisons.json, or whose equal_cost flag lies."""
    assert problems(r"\VtBazOverQux", [])
    comps = [
        {
            "macro": "VtFooOverBar",
            "left": _side(2),
            "right": _side(1),
            "equal_cost": True,
            "labelled": False,
            "label_macro": None,
        }
    ]
    assert len(problems(r"\VtFooOverBar", comps)) == 2


def test_equal_cost_needs_no_label() -> None:
    """At equal cost nothing needs printing."""
    comps = [
        {
            "macro": "VtFooOverBar",
            "left": _side(2),
            "right": _side(2),
            "equal_cost": True,
            "labelled": False,
            "label_macro": None,
        }
    ]
    assert problems(r"\VtFooOverBar", comps) == []


def test_committed_comparisons_are_current(tmp_path: Path) -> None:
    """paper/generated/comparisons.json and hyperparameters.tex are what make_numbers writes."""
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, str(PAPER / "make_numbers.py"), str(tmp_path)],
        cwd=PAPER,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    for name in ("comparisons.json", "hyperparameters.tex"):
        assert (tmp_path / name).read_text() == (PAPER / "generated" / name).read_text(), name
