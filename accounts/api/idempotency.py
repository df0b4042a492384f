"""`Idempotency-Key` for POSTs that move money or create something (Brandur Leach's and
Stripe's design; the rows: accounts.models.IdempotencyKey).

    class InvoicePayWithCreditApi(IdempotentMixin, APIView):
        def post(self, request, pk): ... self.idempotency_reference ...

The first answer to a key (anything but a 5xx) is stored and sent again for the same key
and request, marked `Idempotent-Replayed: true`; the same key with another method, path or
body is a 422; the same key while its first request still runs is a 409. A 5xx releases the
key, so the client may retry with it. The view passes `idempotency_reference` to its service
as the service's own idempotency key, so even a request that died after the service
committed, and is then retried, has one effect.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.services import idempotency_claim, idempotency_finish, idempotency_release

HEADER = "Idempotency-Key"
KEY_FORMAT = re.compile(r"[\x21-\x7e]{1,255}")  # printable ASCII, no spaces
IDEMPOTENCY_PARAMETER = OpenApiParameter(
    HEADER,
    str,
    OpenApiParameter.HEADER,
    required=True,
    description=(
        "A unique value per operation (a UUID): a retry with the same key and body gets the "
        "first answer again instead of repeating the operation."
    ),
    pattern=f"^{KEY_FORMAT.pattern}$",
)


def _request_hash(request: Request) -> str:
    body = json.dumps(request.data, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


class IdempotentMixin:
    """Makes the view's POST idempotent by the Idempotency-Key header (required): the view
    writes `idempotent_post` instead of `post`."""

    idempotency_reference: str

    def idempotent_post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raise NotImplementedError

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get(HEADER, "")
        if not KEY_FORMAT.fullmatch(key):
            raise exceptions.ValidationError(
                {HEADER: ["Send an Idempotency-Key header: up to 255 printable characters."]}
            )
        claim = idempotency_claim(user=request.user, key=key, request_hash=_request_hash(request))
        if claim.replay is not None:
            status, body = claim.replay
            return Response(body, status=status, headers={"Idempotent-Replayed": "true"})
        self.idempotency_reference = f"api:{claim.record.pk}"
        try:
            try:
                response = self.idempotent_post(request, *args, **kwargs)
            except Exception as error:
                # The answer to store is the error answer the client gets.
                response = self.handle_exception(error)  # type: ignore[attr-defined]
        except BaseException:
            idempotency_release(record=claim.record)
            raise
        if response.status_code >= 500:
            idempotency_release(record=claim.record)
        else:
            body = JSONRenderer().render(response.data).decode() or "null"
            idempotency_finish(record=claim.record, status=response.status_code, body=body)
        return response
