"""Only payments/gateways/ knows the providers: a scan of the portal's source (not tests,
migrations or the benchmark harness, which play the provider's part) fails on a string
literal naming a registered gateway (`== "stripe"`, `GATEWAY = "paypal"`, a provider's
return page name...) or on a provider's payload key, so nothing outside the adapters
branches on a provider or parses its payloads. Docstrings are prose and not scanned."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from payments.gateways import registry

ROOT = Path(__file__).resolve().parents[2]
# Outside the scan: the adapters themselves, and what stands in for the providers.
SKIPPED_DIRS = {".venv", "node_modules", "migrations", "tests", "bench"}
SKIPPED_FILES = {"conftest.py"}
ADAPTERS = ROOT / "payments" / "gateways"

# Keys only a provider's payloads have (Payment.amount_refunded and the like are ours).
PAYLOAD_KEYS = {
    "amount_received",
    "amount_total",
    "billing_agreement_id",
    "client_reference_id",
    "currency_code",
    "custom_id",
    "last_payment_error",
    "payment_intent",
    "payment_status",
    "purchase_units",
    "setup_intent",
    "transaction_info",
}

# Every literal that must stay, with why; kept exact so a new one is a conscious choice.
ALLOWED = {
    # Payment.Method's "PayPal" choice (recorded in the migrations) and its help text.
    ("payments/models.py", "paypal"),
    ("payments/models.py", "PayPal"),
    ("payments/models.py", "Registry name: stripe, paypal, manual…"),
    # Settings: the providers' hosted pages the Content-Security-Policy lets forms go to.
    ("billing_portal/settings.py", "https://checkout.stripe.com"),
    ("billing_portal/settings.py", "https://hooks.stripe.com"),
    ("billing_portal/settings.py", "https://www.paypal.com"),
    ("billing_portal/settings.py", "https://www.sandbox.paypal.com"),
    # A sentence to staff refunding a payment to account credit.
    (
        "billing/services/refunds.py",
        "A credit purchase cannot be refunded to account credit: refund it to the card or "
        "PayPal, or record a refund made another way.",
    ),
}


def _sources() -> list[Path]:
    return [
        path
        for path in sorted(ROOT.rglob("*.py"))
        if not SKIPPED_DIRS & set(path.relative_to(ROOT).parts)
        and path.name not in SKIPPED_FILES
        and ADAPTERS not in path.parents
    ]


def _docstrings(tree: ast.AST) -> set[int]:
    kinds = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    return {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, kinds)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }


def _literals(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    docstrings = _docstrings(tree)
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def _offences() -> list[str]:
    provider = re.compile(rf"(?i)\b({'|'.join(map(re.escape, registry.names()))})\b")
    found = []
    for path in _sources():
        relative = path.relative_to(ROOT).as_posix()
        for line, value in _literals(path):
            if (relative, value) in ALLOWED:
                continue
            if provider.search(value) or value in PAYLOAD_KEYS:
                found.append(f"{relative}:{line}: {value!r}")
    return found


def test_no_source_outside_the_gateways_names_a_provider_or_reads_its_payloads():
    assert _offences() == []


def test_the_scan_sees_the_source_and_catches_a_provider_name(tmp_path, monkeypatch):
    assert len(_sources()) > 100  # the portal's modules, not an empty directory
    planted = tmp_path / "planted.py"
    planted.write_text(
        '"""Docstrings may say Stripe."""\nGATEWAY = "paypal"\nref = obj["payment_intent"]\n'
    )
    monkeypatch.setattr("payments.tests.test_no_provider_names._sources", lambda: [planted])
    monkeypatch.setattr("payments.tests.test_no_provider_names.ROOT", tmp_path)
    assert _offences() == ["planted.py:2: 'paypal'", "planted.py:3: 'payment_intent'"]


def test_every_allowance_is_still_needed():
    present = {
        (path.relative_to(ROOT).as_posix(), value)
        for path in _sources()
        for _line, value in _literals(path)
    }
    assert ALLOWED - present == set()
