"""JAX stays optional: ``import vartools`` never imports it; without it the JAX path says
which extra to install."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_import_vartools_does_not_import_jax():
    code = (
        "import sys, vartools, vartools.harness.runner, vartools.cli.main; "
        "print('jax' in sys.modules or any(m.startswith('jax.') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_missing_jax_names_the_extra(monkeypatch):
    for name in list(sys.modules):
        if name == "vartools.jax" or name.startswith("vartools.jax."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "jax", None)  # import jax now raises ImportError
    with pytest.raises(ImportError, match=r'pip install "vartools\[jax\]"'):
        import vartools.jax  # noqa: F401


def test_require_jax_message(monkeypatch):
    from vartools.jax._compat import require_jax

    monkeypatch.setitem(sys.modules, "jax", None)
    with pytest.raises(ImportError, match=r'pip install "vartools\[jax\]"'):
        require_jax()
