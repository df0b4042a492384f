"""Sentry: started only with SENTRY_DSN, and what it sends carries no cookies, credentials,
emails or card numbers (checked on the event and on what reaches a DSN on loopback)."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from billing_portal.common.context import request_id_reset, request_id_set
from billing_portal.common.sentry import before_send, scrub_text

ROOT = Path(__file__).resolve().parents[2]

CARDS = ["4242 4242 4242 4242", "5555-5555-5555-4444", "378282246310005", "4000056655665556"]


def _event() -> dict:
    return {
        "message": "Payment by jane.doe+billing@example.co.uk with card 4242 4242 4242 4242",
        "user": {
            "id": "17",
            "email": "jane@example.com",
            "username": "jane",
            "ip_address": "203.0.113.9",
        },
        "request": {
            "url": "https://portal.example.com/invoices/5/",
            "query_string": "email=jane%40example.com&next=/",
            "cookies": {"__Host-sessionid": "s3ss10n", "__Host-csrftoken": "c5rf"},
            "headers": {
                "Authorization": "Bearer sk_live_abc",
                "Cookie": "a=b",
                "proxy-authorization": "Basic eA==",
                "X-Api-Key": "k",
                "User-Agent": "Mozilla/5.0",
                "Host": "portal.example.com",
            },
            "data": {
                "email": "jane@example.com",
                "new_password1": "hunter2-hunter2",
                "card": "5555-5555-5555-4444",
                "amount": "10.00",
            },
        },
        "exception": {
            "values": [
                {
                    "type": "GatewayError",
                    "value": "card 378282246310005 declined for jane@example.com",
                    "stacktrace": {
                        "frames": [
                            {
                                "function": "pay",
                                "vars": {
                                    "customer_email": "'jane@example.com'",
                                    "api_token": "'tok_123'",
                                    "order_reference": "'1234567890123'",
                                    "pan": "'4000056655665556'",
                                },
                            }
                        ]
                    },
                }
            ]
        },
        "breadcrumbs": {"values": [{"message": "mail to jane@example.com sent"}]},
    }


def test_before_send_removes_cookies_credentials_and_user_details():
    event = before_send(_event(), None)
    request = event["request"]
    assert "cookies" not in request
    assert set(request["headers"]) == {"User-Agent", "Host"}
    assert event["user"] == {"id": "17"}
    assert request["data"]["new_password1"] == "[Filtered]"
    assert event["exception"]["values"][0]["stacktrace"]["frames"][0]["vars"]["api_token"] == (
        "[Filtered]"
    )


def test_before_send_replaces_emails_and_card_numbers_anywhere():
    text = json.dumps(before_send(_event(), None))
    assert "@example" not in text
    assert "%40example" not in text  # URL-encoded, in the query string
    for card in CARDS:
        assert card not in text
    assert "[card]" in text
    assert "[email]" in text
    assert "'1234567890123'" in text  # a number that fails the Luhn check is kept
    assert "10.00" in text


def test_before_send_tags_the_request_id():
    token = request_id_set("abc123")
    try:
        assert before_send({"message": "x"}, None)["tags"]["request_id"] == "abc123"
    finally:
        request_id_reset(token)


@pytest.mark.parametrize("card", CARDS)
def test_card_numbers_are_recognised(card):
    assert scrub_text(f"paid with {card}.") == "paid with [card]."


@pytest.mark.parametrize("text", ["invoice INV-2026-00012", "2026-03-01 12:00:00", "id 42"])
def test_ordinary_text_is_left_alone(text):
    assert scrub_text(text) == text


# --- the SDK in a fresh process -----------------------------------------------------------


@pytest.fixture
def dsn_server() -> Iterator[tuple[str, list[bytes]]]:
    """A stand-in for Sentry's ingest on a free loopback port; yields (DSN, bodies)."""
    bodies: list[bytes] = []

    class Ingest(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            bodies.append(body)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Ingest)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://publickey@127.0.0.1:{server.server_address[1]}/1", bodies
    finally:
        server.shutdown()
        server.server_close()


REPORT_SCRIPT = """
import json, logging, sentry_sdk
client = sentry_sdk.get_client()
print(json.dumps({"active": client.is_active(),
                  "pii": client.options.get("send_default_pii"),
                  "scrubbed": getattr(client.options.get("before_send"), "__module__", None)}))
if client.is_active():
    logging.getLogger("payments").error("card 4242 4242 4242 4242 of jane@example.com refused")
    sentry_sdk.flush(timeout=10)
"""


def _shell(**variables: str) -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith("SENTRY_")}
    env.update({"DEBUG": "true", "READ_DOT_ENV_FILE": "false", **variables})
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-v", "0", "-c", REPORT_SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_without_a_dsn_sentry_is_not_started(dsn_server):
    _, bodies = dsn_server
    assert _shell() == {"active": False, "pii": None, "scrubbed": None}
    assert bodies == []


def test_with_a_dsn_reports_are_sent_scrubbed(dsn_server):
    dsn, bodies = dsn_server
    state = _shell(SENTRY_DSN=dsn)
    assert state == {"active": True, "pii": False, "scrubbed": "billing_portal.common.sentry"}
    sent = b"".join(bodies).decode()
    assert "refused" in sent  # the error log line arrived as an event...
    assert "[card] of [email] refused" in sent  # ...without the card number or the address
    assert "4242" not in sent
    assert "jane@example.com" not in sent
