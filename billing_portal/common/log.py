"""Logging pieces wired in settings.LOGGING: the request id on every record, and the JSON
formatter used when LOG_FORMAT=json (one object a line: time, level, logger, message,
request_id, and any `extra` fields)."""

from __future__ import annotations

import logging

from pythonjsonlogger.json import JsonFormatter

from billing_portal.common.context import request_id_get

NO_REQUEST_ID = "-"


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record (NO_REQUEST_ID outside a request or task). On the
    handler, so records propagated from every logger get it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_get() or NO_REQUEST_ID
        return True


def json_formatter() -> JsonFormatter:
    return JsonFormatter(
        "%(levelname)s %(name)s %(message)s %(request_id)s",
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp="time",  # ISO 8601 in UTC
    )
