"""The API's one error shape, for every view (DRF's EXCEPTION_HANDLER, through
drf-standardized-errors).

Every error answer is `{"type", "code", "detail", "errors"}`: `type` is `validation_error`,
`client_error` or `server_error` (drf-standardized-errors' types), `code` a stable
machine-readable code, `detail` a sentence for people, and `errors` the messages per field
(`non_field_errors` for the request as a whole; empty when no field is at fault). A
`DomainError` a service raises is a 400 with its own code (409/422 where it says so), a
missing object a 404, a failing outside system a 503: bad input never answers 500.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_standardized_errors.formatter import ExceptionFormatter, flatten_errors
from drf_standardized_errors.handler import ExceptionHandler
from drf_standardized_errors.openapi import AutoSchema
from drf_standardized_errors.types import VALIDATION_ERROR
from rest_framework import exceptions, serializers
from rest_framework.settings import api_settings

from billing_portal.common.errors import (
    DomainError,
    ExternalServiceError,
    ExternalServiceUnavailable,
)


class ApiError(exceptions.APIException):
    """A refusal with its own status and code (a service's DomainError, mostly)."""

    def __init__(self, detail: str, *, code: str, status: int) -> None:
        self.status_code = status
        super().__init__(detail=detail, code=code)


class ApiExceptionHandler(ExceptionHandler):
    def convert_known_exceptions(self, exc: Exception) -> Exception:
        if isinstance(exc, ExternalServiceUnavailable | ExternalServiceError):
            # An outside system's `status` is its own HTTP answer (0 when none came), not
            # ours to pass on: the portal says the service it needs is failing.
            return ApiError(exc.message, code=exc.code, status=503)
        if isinstance(exc, DomainError):
            status = getattr(exc, "status", 400)
            if not 400 <= status < 500:
                status = 400  # a refusal is the client's to correct, never a server error
            return ApiError(exc.message, code=exc.code, status=status)
        if isinstance(exc, ObjectDoesNotExist):
            return exceptions.NotFound()
        if isinstance(exc, DjangoValidationError):
            return exceptions.ValidationError(list(exc.messages))
        return super().convert_known_exceptions(exc)


class ApiErrorFormatter(ExceptionFormatter):
    def run(self) -> dict[str, Any]:
        error_type = self.get_error_type()
        errors = flatten_errors(self.exc.detail)
        by_field: dict[str, list[str]] = {}
        for error in errors:
            attr = error.attr or api_settings.NON_FIELD_ERRORS_KEY
            by_field.setdefault(attr, []).append(error.detail)
        if error_type == VALIDATION_ERROR:
            fields = [attr for attr in by_field if attr != api_settings.NON_FIELD_ERRORS_KEY]
            code = "invalid"
            detail = (
                f"Check {', '.join(fields)}: {by_field[fields[0]][0]}"
                if fields
                else (errors[0].detail if errors else "The request is not valid.")
            )
        else:
            code = errors[0].code if errors else "error"
            detail = errors[0].detail if errors else "The request failed."
            by_field = {}
        return {"type": error_type, "code": code, "detail": detail, "errors": by_field}


class ErrorSerializer(serializers.Serializer):
    """The one error shape, for the schema."""

    type = serializers.ChoiceField(choices=["validation_error", "client_error", "server_error"])
    code = serializers.CharField()
    detail = serializers.CharField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


class ApiAutoSchema(AutoSchema):
    """drf-standardized-errors' schema (an error response on each operation, with
    ErrorSerializer as its body) without its examples, which show its own shape."""

    def _get_error_response_examples(self) -> list[Any]:
        return []
