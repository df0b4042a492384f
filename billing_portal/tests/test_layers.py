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


def test_an_exemption_that_no_longer_matches_fails(tmp_path: Path) -> None:
    """An exemption that no longer matches anything fails: the list cannot grow stale."""
    _copy_tree(tmp_path)
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            'ignore_imports = [\n    "*.tests.** -> **",',
            'ignore_imports = [\n    "accounts.models -> payments.models",'
            '\n    "*.tests.** -> **",',
            1,
        )
    )

    result = _lint_imports(tmp_path)

    assert result.returncode != 0
    assert "No matches for ignored import accounts.models -> payments.models" in (
        result.stdout + result.stderr
    )


def test_a_view_importing_up_breaks_the_layers_too(tmp_path: Path) -> None:
    """Views, admin, tasks and commands are not exempt: a page needing billing lives there."""
    _copy_tree(tmp_path)
    views = tmp_path / "dnszones" / "views.py"
    views.write_text("from billing.services import order_place  # noqa\n")

    result = _lint_imports(tmp_path)

    assert result.returncode == 1, result.stdout
    assert "dnszones is not allowed to import billing" in result.stdout


def _app_of(module: str) -> str:
    # billing_portal counts as one, the kernel with the project's settings and URLs: so the
    # project imports no app (its URLs include them by name) and the kernel nothing above it.
    return module.split(".")[0]


def test_the_apps_graph_over_every_module_has_no_cycle() -> None:
    """Counted over every module but tests and migrations (views, admin, tasks, commands and
    apps.py included), no two apps import each other, directly or through others."""
    import grimp

    packages = _root_packages()
    graph = grimp.build_graph(*packages)
    edges: dict[str, set[str]] = {}
    for module in graph.modules:
        if ".tests" in module or ".migrations" in module or module == "conftest":
            continue
        for imported in graph.find_modules_directly_imported_by(module):
            if ".tests" in imported:
                continue
            source, target = _app_of(module), _app_of(imported)
            if source != target:
                edges.setdefault(source, set()).add(target)

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            app = todo.pop()
            for target in edges.get(app, set()) - seen:
                if target == goal:
                    return True
                seen.add(target)
                todo.append(target)
        return False

    cycles = sorted(app for app in edges if reaches(app, app))
    assert cycles == [], f"apps on an import cycle: {cycles}"
