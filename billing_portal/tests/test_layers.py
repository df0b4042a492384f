"""The layer contracts (pyproject.toml, `make lint`): a lower app never imports a higher one.

Proven both ways: the tree as it is keeps the contracts, and a copy of it with one deliberate
upward import (the accounts models importing payments) breaks them, so `make lint` fails.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _root_packages() -> list[str]:
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return config["tool"]["importlinter"]["root_packages"]


def _copy_tree(target: Path) -> None:
    shutil.copy(ROOT / "pyproject.toml", target / "pyproject.toml")
    for package in _root_packages():
        shutil.copytree(
            ROOT / package,
            target / package,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "migrations", "templates"),
        )


def test_the_tree_keeps_the_layer_contracts() -> None:
    result = _lint_imports(ROOT)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_an_upward_import_breaks_the_layers(tmp_path: Path) -> None:
    _copy_tree(tmp_path)
    models = tmp_path / "accounts" / "models.py"
    models.write_text(models.read_text() + "\nfrom payments.models import Payment  # noqa\n")

    result = _lint_imports(tmp_path)

    assert result.returncode == 1, result.stdout
    assert "accounts is not allowed to import payments" in result.stdout
    assert "accounts.models -> payments.models" in result.stdout


def test_an_import_inside_a_function_counts_too(tmp_path: Path) -> None:
    _copy_tree(tmp_path)
    selectors = tmp_path / "dnszones" / "selectors.py"
    selectors.write_text(
        selectors.read_text()
        + "\n\ndef _probe() -> None:\n    from provisioning.models import Service  # noqa\n"
    )

    result = _lint_imports(tmp_path)

    assert result.returncode == 1, result.stdout
    assert "dnszones is not allowed to import provisioning" in result.stdout


def test_a_backlog_entry_that_no_longer_matches_fails(tmp_path: Path) -> None:
    """The backlog only shrinks: once an upward import is gone, its ignore entry must go."""
    _copy_tree(tmp_path)
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            'ignore_imports = [\n    "*.views -> **",',
            'ignore_imports = [\n    "accounts.models -> payments.models",\n    "*.views -> **",',
            1,
        )
    )

    result = _lint_imports(tmp_path)

    assert result.returncode != 0
    assert "No matches for ignored import accounts.models -> payments.models" in (
        result.stdout + result.stderr
    )
