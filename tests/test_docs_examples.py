"""Every Python example of README.md and docs/readme/*.md runs (hardening issue, item 12).

The ```python blocks of each file are executed in order in one namespace (a later
block may use an earlier one's names), with the repository root as the working
directory, so the documentation cannot drift from the code. A block may be skipped
only with a visible reason: an HTML comment on the line before its fence,
``<!-- docs-test: skip: REASON -->`` (the reason must be non-empty).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs" / "readme").glob("*.md"))]
SKIP = re.compile(r"<!--\s*docs-test:\s*skip:\s*(?P<reason>\S.*?)\s*-->")
FENCE = re.compile(r"^```python\s*$")


def python_blocks(text: str) -> list[tuple[int, str, str | None]]:
    """(line number, code, skip reason or None) of every ```python block, in order."""
    lines = text.splitlines()
    out = []
    i = 0
    while i < len(lines):
        if FENCE.match(lines[i]):
            start = i + 1
            j = start
            while j < len(lines) and lines[j].strip() != "```":
                j += 1
            if j == len(lines):
                raise ValueError(f"unclosed ```python block at line {i + 1}")
            prev = lines[i - 1] if i > 0 else ""
            m = SKIP.search(prev)
            if "docs-test" in prev and m is None:
                raise ValueError(
                    f"line {i}: a docs-test marker must read <!-- docs-test: skip: REASON -->"
                )
            out.append((start + 1, "\n".join(lines[start:j]) + "\n", m["reason"] if m else None))
            i = j
        i += 1
    return out


def _files_with_code() -> list[Path]:
    return [p for p in DOCS if python_blocks(p.read_text(encoding="utf-8"))]


def test_the_extractor_finds_blocks_and_reasons():
    text = "a\n```python\nx = 1\n```\n<!-- docs-test: skip: needs a GPU -->\n```python\ny\n```\n"
    assert python_blocks(text) == [(3, "x = 1\n", None), (7, "y\n", "needs a GPU")]
    with pytest.raises(ValueError, match="must read"):
        python_blocks("<!-- docs-test: skip -->\n```python\nx\n```\n")
    assert len(_files_with_code()) >= 3  # README, harness, reducers pages


@pytest.mark.parametrize("path", _files_with_code(), ids=lambda p: p.name)
def test_doc_examples_run(path, monkeypatch, capsys):
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(ROOT)
    namespace: dict[str, object] = {"__name__": f"docs_{path.stem}"}
    ran = 0
    for line, code, reason in python_blocks(path.read_text(encoding="utf-8")):
        if reason is not None:
            continue
        try:
            exec(compile(code, f"{path.name}:{line}", "exec", dont_inherit=True), namespace)  # noqa: S102
        except Exception as exc:  # noqa: BLE001 - re-raised with the block's place
            raise AssertionError(
                f"{path.relative_to(ROOT)}, the python block at line {line} fails: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        ran += 1
    out = capsys.readouterr().out
    assert ran > 0
    assert "..." not in out.replace("...,", ""), f"{path.name} prints elided columns:\n{out}"
