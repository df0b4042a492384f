"""The second factor's services and reads: TOTP (authenticator apps), single-use recovery
codes and passkeys (WebAuthn), built on django-otp's devices and py_webauthn.

Every write owns its transaction, locks the user row (the portal's lock order: `user`), and
records an audit event; changes also email a notice to the account's address. Checking a
code locks the user too, so two requests with one TOTP code cannot both pass: django-otp's
`last_t` refuses the second (replay), and a recovery code is deleted as it is used.
"""

from __future__ import annotations

import io
import json
import secrets
from dataclasses import dataclass
from typing import Any

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_otp import devices_for_user
from django_otp.models import Device
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp.util import random_hex
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from accounts.audit import AccountAudit
from accounts.errors import SecondFactorError
from accounts.locks import user_lock
from accounts.models import Customer, Passkey, User
from billing_portal.common.audit import audit_record
from billing_portal.common.emails import email_send_on_commit
from billing_portal.common.request import RequestMeta

RECOVERY_CODE_COUNT = 10
TOTP_NAME = "Authenticator app"
RECOVERY_NAME = "Recovery codes"
PASSKEY_NAME_MAX = 64


@dataclass(frozen=True)
class RelyingParty:
    """Who the passkeys are for: the portal's domain and the origins a browser may report."""

    rp_id: str
    origins: list[str]
    name: str


# --- Reads --------------------------------------------------------------------------------


def user_has_second_factor(*, user: User) -> bool:
    """Whether the user has a confirmed TOTP device or passkey (recovery codes alone are a
    fallback, not a factor)."""
    return bool(
        TOTPDevice.objects.filter(user=user, confirmed=True).exists()
        or Passkey.objects.filter(user=user, confirmed=True).exists()
    )


def second_factor_required(*, user: User) -> bool:
    """Staff always need a second factor; customers when the provider requires it."""
    return bool(user.is_staff or settings.OTP_REQUIRED_FOR_CUSTOMERS)


def totp_device_for_user(*, user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def passkey_list_for_user(*, user: User) -> list[Passkey]:
    return list(Passkey.objects.filter(user=user, confirmed=True))


def recovery_codes_left(*, user: User) -> int:
    return int(StaticToken.objects.filter(device__user=user, device__confirmed=True).count())


def totp_qr_svg(*, device: TOTPDevice, user: User) -> str:
    """The otpauth:// URL as an inline SVG QR code (no image library, no external service)."""
    image = qrcode.make(totp_config_url(device=device, user=user), image_factory=_svg_factory())
    buffer = io.BytesIO()
    image.save(buffer)
    svg = buffer.getvalue().decode()
    # The XML declaration is not valid inside HTML.
    return svg[svg.index("<svg") :]


def _svg_factory() -> Any:
    # Paths rather than rectangles: the smallest SVG, drawn crisp at any size.
    return qrcode.image.svg.SvgPathImage


def totp_config_url(*, device: TOTPDevice, user: User) -> str:
    # django-otp builds the otpauth URL from the issuer setting and the user's username.
    url: str = device.config_url
    return url


def totp_secret_text(*, device: TOTPDevice) -> str:
    """The secret as base32 in groups of four, for typing into an app by hand."""
    from base64 import b32encode

    secret = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


# --- TOTP enrolment -----------------------------------------------------------------------


def totp_key_new() -> str:
    """A new TOTP key (hex, 20 random bytes) for the enrolment page; it is kept in the
    session, and a device is written only once a first code confirms it."""
    key: str = random_hex(20)
    return key


def totp_setup_device(*, user: User, key: str) -> TOTPDevice:
    """An unsaved device with `key`, for the enrolment page's QR code and typed secret."""
    return TOTPDevice(user=user, name=TOTP_NAME, key=key, confirmed=False)


@transaction.atomic
def totp_enrol_confirm(
    *, user: User, key: str, token: str, meta: RequestMeta | None = None
) -> tuple[TOTPDevice, list[str]]:
    """Confirm the key shown on the enrolment page with a first code; the user's earlier
    authenticator app is replaced. Returns the device and, when the user had no recovery
    codes yet, ten new ones (shown once). SecondFactorError for a wrong code."""
    user = user_lock(user.pk)
    device = totp_setup_device(user=user, key=key)
    token = _digits(token)
    # verify_token saves the device when the code is right.
    if not (_would_accept(device, token) and device.verify_token(token)):
        raise SecondFactorError("That code is not correct. Check the app's clock and try again.")
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    codes = _first_recovery_codes(user=user, meta=meta)
    _factor_changed(user=user, action=AccountAudit.SECOND_FACTOR_ENABLED, kind="totp", meta=meta)
    return device, codes


def _would_accept(device: Device, token: str) -> bool:
    """A read-only check first: django-otp's verify_token writes the device's failure count
    on a wrong code, and a refused code must write nothing (the lockout is axes', counted by
    the caller). It then accepts the code itself, recording the step used (replay)."""
    if isinstance(device, StaticDevice):
        return bool(device.token_set.filter(token=token).exists())
    if isinstance(device, TOTPDevice):
        if not (token.isascii() and token.isdigit()):
            return False
        totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
        return bool(totp.verify(int(token), device.tolerance, device.last_t + 1))
    return False


def _digits(token: str) -> str:
    return "".join(ch for ch in token if not ch.isspace())


# --- Recovery codes -----------------------------------------------------------------------


def _first_recovery_codes(*, user: User, meta: RequestMeta | None) -> list[str]:
    if StaticDevice.objects.filter(user=user, confirmed=True).exists():
        return []
    return _recovery_codes_write(user=user, meta=meta)


def _recovery_codes_write(*, user: User, meta: RequestMeta | None) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_NAME, confirmed=True)
    codes = [_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    audit_record(
        action=AccountAudit.RECOVERY_CODES_GENERATED,
        actor=user,
        customer=_customer_of(user),
        target=user,
        meta=meta,
        details={"count": len(codes)},
    )
    return codes


def _recovery_code() -> str:
    # Ten characters from a lower-case alphabet without look-alikes (0/o, 1/l): ~50 bits.
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "".join(secrets.choice(alphabet) for _ in range(10))


@transaction.atomic
def recovery_codes_regenerate(*, user: User, meta: RequestMeta | None = None) -> list[str]:
    """Ten new recovery codes replacing every earlier one; only for a user with a factor."""
    user = user_lock(user.pk)
    if not user_has_second_factor(user=user):
        raise SecondFactorError("Set up an authenticator app or a passkey first.")
    codes = _recovery_codes_write(user=user, meta=meta)
    email_send_on_commit(
        to=[user.email],
        name="account_second_factor_changed",
        context={"email": user.email, "change": "New recovery codes were generated"},
    )
    return codes


# --- Checking a code ----------------------------------------------------------------------


@transaction.atomic
def second_factor_check(*, user: User, token: str, meta: RequestMeta | None = None) -> Device:
    """The device that accepts `token`: a current TOTP code not used before, or an unused
    recovery code (deleted as it is used). Raises SecondFactorError otherwise; the caller
    counts that as a failed login."""
    user = user_lock(user.pk)
    token = _digits(token).lower()
    if not token or len(token) > 16:
        raise SecondFactorError("Enter the code from your app or a recovery code.")
    for device in devices_for_user(user, confirmed=True):
        if isinstance(device, Passkey):
            continue
        if _would_accept(device, token) and device.verify_token(token):
            if isinstance(device, StaticDevice):
                _recovery_code_used(user=user, device=device, meta=meta)
            return device
    raise SecondFactorError("That code is not correct, or it was used already.")


def _recovery_code_used(*, user: User, device: StaticDevice, meta: RequestMeta | None) -> None:
    left = device.token_set.count()
    audit_record(
        action=AccountAudit.RECOVERY_CODE_USED,
        actor=user,
        customer=_customer_of(user),
        target=user,
        meta=meta,
        details={"left": left},
    )
    email_send_on_commit(
        to=[user.email],
        name="account_second_factor_changed",
        context={"email": user.email, "change": f"A recovery code was used ({left} left)"},
    )


# --- Removing factors ---------------------------------------------------------------------


@transaction.atomic
def totp_remove(*, user: User, meta: RequestMeta | None = None) -> None:
    """Remove the authenticator app; without any passkey left, the recovery codes go too
    (the second factor is then off)."""
    user = user_lock(user.pk)
    deleted, _ = TOTPDevice.objects.filter(user=user).delete()
    if not deleted:
        return
    _drop_recovery_codes_if_no_factor(user=user)
    _factor_changed(user=user, action=AccountAudit.SECOND_FACTOR_REMOVED, kind="totp", meta=meta)


@transaction.atomic
def passkey_remove(*, user: User, passkey_id: int, meta: RequestMeta | None = None) -> None:
    """Remove one of the user's own passkeys; another user's is not found (Passkey.DoesNotExist)."""
    user = user_lock(user.pk)
    passkey = Passkey.objects.get(user=user, pk=passkey_id)
    name = passkey.name
    passkey.delete()
    _drop_recovery_codes_if_no_factor(user=user)
    _factor_changed(
        user=user,
        action=AccountAudit.SECOND_FACTOR_REMOVED,
        kind="passkey",
        meta=meta,
        name=name,
    )


@transaction.atomic
def second_factor_disable(*, user: User, meta: RequestMeta | None = None) -> None:
    """Remove every factor: authenticator app, passkeys and recovery codes."""
    user = user_lock(user.pk)
    TOTPDevice.objects.filter(user=user).delete()
    Passkey.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    _factor_changed(user=user, action=AccountAudit.SECOND_FACTOR_REMOVED, kind="all", meta=meta)


def _drop_recovery_codes_if_no_factor(*, user: User) -> None:
    if not user_has_second_factor(user=user):
        StaticDevice.objects.filter(user=user).delete()


def _factor_changed(
    *,
    user: User,
    action: AccountAudit,
    kind: str,
    meta: RequestMeta | None,
    name: str = "",
) -> None:
    details: dict[str, Any] = {"kind": kind}
    if name:
        details["name"] = name
    audit_record(
        action=action,
        actor=user,
        customer=_customer_of(user),
        target=user,
        meta=meta,
        details=details,
    )
    labels = {"totp": "An authenticator app", "passkey": "A passkey", "all": "Every second factor"}
    verb = "was added to" if action == AccountAudit.SECOND_FACTOR_ENABLED else "was removed from"
    email_send_on_commit(
        to=[user.email],
        name="account_second_factor_changed",
        context={
            "email": user.email,
            "change": f"{labels[kind]}{f' ({name})' if name else ''} {verb} your account",
            "ip_address": (meta or RequestMeta()).ip_address,
        },
    )


def _customer_of(user: User) -> Customer | None:
    return Customer.objects.filter(user=user).first()


# --- Passkeys -----------------------------------------------------------------------------


def passkey_registration_options(*, user: User, rp: RelyingParty) -> tuple[str, bytes]:
    """The options for navigator.credentials.create() as JSON, and the challenge the answer
    must sign (the caller keeps it in the session). The passkey is discoverable, so it can
    also sign in without the password."""
    options = generate_registration_options(
        rp_id=rp.rp_id,
        rp_name=rp.name,
        user_name=user.email,
        user_id=str(user.pk).encode(),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=[
            PublicKeyCredentialDescriptor(id=bytes(p.credential_id))
            for p in Passkey.objects.filter(user=user)
        ],
    )
    return options_to_json(options), options.challenge


@transaction.atomic
def passkey_register(
    *,
    user: User,
    credential: str,
    challenge: bytes,
    rp: RelyingParty,
    name: str,
    meta: RequestMeta | None = None,
) -> tuple[Passkey, list[str]]:
    """Store the new passkey after py_webauthn verified the browser's answer; returns it and,
    for a user without recovery codes yet, ten new ones. SecondFactorError if it fails."""
    name = " ".join(name.split())[:PASSKEY_NAME_MAX] or "Passkey"
    try:
        verified = verify_registration_response(
            credential=_json_object(credential),
            expected_challenge=challenge,
            expected_rp_id=rp.rp_id,
            expected_origin=rp.origins,
        )
    except (WebAuthnException, ValueError, TypeError, KeyError) as error:
        raise SecondFactorError("The passkey could not be registered. Try again.") from error
    user = user_lock(user.pk)
    if Passkey.objects.filter(credential_id=verified.credential_id).exists():
        raise SecondFactorError("This passkey is registered already.")
    passkey = Passkey.objects.create(
        user=user,
        name=name,
        confirmed=True,
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        transports=_transports(credential),
    )
    codes = _first_recovery_codes(user=user, meta=meta)
    _factor_changed(
        user=user, action=AccountAudit.SECOND_FACTOR_ENABLED, kind="passkey", meta=meta, name=name
    )
    return passkey, codes


def passkey_authentication_options(
    *, rp: RelyingParty, user: User | None = None
) -> tuple[str, bytes]:
    """Options for navigator.credentials.get(): for a known user (second factor) their
    passkeys; with no user (first factor) any discoverable passkey of this portal."""
    allow = (
        [
            PublicKeyCredentialDescriptor(id=bytes(p.credential_id))
            for p in Passkey.objects.filter(user=user)
        ]
        if user is not None
        else []
    )
    options = generate_authentication_options(
        rp_id=rp.rp_id,
        allow_credentials=allow,
        user_verification=(
            UserVerificationRequirement.PREFERRED
            if user is not None
            else UserVerificationRequirement.REQUIRED
        ),
    )
    return options_to_json(options), options.challenge


@transaction.atomic
def passkey_authenticate(
    *, credential: str, challenge: bytes, rp: RelyingParty, user: User | None = None
) -> Passkey:
    """The passkey that signed `challenge`, its counter and last use updated. With `user`
    (after the password) it must be theirs; without (as the only factor) the authenticator
    must have verified the person (PIN or biometrics). SecondFactorError otherwise."""
    data = _json_object(credential)
    try:
        from webauthn import base64url_to_bytes

        credential_id = base64url_to_bytes(str(data["rawId"]))
    except (KeyError, ValueError, TypeError) as error:
        raise SecondFactorError("The passkey answer was not understood.") from error
    found = Passkey.objects.filter(credential_id=credential_id, confirmed=True)
    if user is not None:
        found = found.filter(user=user)
    passkey = found.select_related("user").first()
    if passkey is None or not passkey.user.is_active:
        raise SecondFactorError("This passkey is not registered here.")
    user_lock(passkey.user_id)
    try:
        verified = verify_authentication_response(
            credential=data,
            expected_challenge=challenge,
            expected_rp_id=rp.rp_id,
            expected_origin=rp.origins,
            credential_public_key=bytes(passkey.public_key),
            credential_current_sign_count=passkey.sign_count,
            require_user_verification=user is None,
        )
    except (WebAuthnException, ValueError, TypeError, KeyError) as error:
        raise SecondFactorError("The passkey could not be verified. Try again.") from error
    passkey.sign_count = verified.new_sign_count
    passkey.last_used_at = timezone.now()
    passkey.save(update_fields=["sign_count", "last_used_at"])
    signed: Passkey = passkey
    return signed


def _json_object(credential: str) -> dict[str, Any]:
    try:
        data = json.loads(credential)
    except (TypeError, ValueError) as error:
        raise SecondFactorError("The passkey answer was not understood.") from error
    if not isinstance(data, dict):
        raise SecondFactorError("The passkey answer was not understood.")
    return data


def _transports(credential: str) -> list[str]:
    response = _json_object(credential).get("response")
    transports = response.get("transports") if isinstance(response, dict) else None
    if not isinstance(transports, list):
        return []
    return [str(t)[:32] for t in transports[:8]]


def credential_id_text(passkey: Passkey) -> str:
    return bytes_to_base64url(bytes(passkey.credential_id))


# --- Operators and the demo ---------------------------------------------------------------


@transaction.atomic
def totp_device_ensure(*, user: User) -> tuple[TOTPDevice, bool]:
    """The user's confirmed TOTP device, created if they have none (recovery codes they make
    on the security page); returns it and whether it was created. For seed_demo."""
    user = user_lock(user.pk)
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is not None:
        return device, False
    device = TOTPDevice.objects.create(user=user, name=TOTP_NAME, confirmed=True)
    return device, True


def totp_current_code(*, device: TOTPDevice) -> str:
    """The code the device's app shows now (for `manage.py totp_code` on a demo install)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"
