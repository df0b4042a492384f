"""Serializers of the staff infrastructure API (billing/api/staff_servers.py): servers with
write-only credentials, their status, and services as staff see them.

A server's input is checked by the admin's own server form (`provisioning.admin.ServerForm`:
a module the portal has, a URL, credentials as an object of strings and required on a new
server, the model's rules such as a unique name), so the API refuses exactly what the admin
refuses; its errors come back under the API's field names.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from django.forms.models import model_to_dict
from rest_framework import serializers

from billing.api.serializers import ServiceDetailSerializer
from provisioning.admin import ServerForm
from provisioning.models import Server, Service
from provisioning.panels.registry import module_choices
from provisioning.services.server_records import EDITABLE_FIELDS

MAX_INT = 2**31 - 1  # PostgreSQL's integer
MAX_ID = 2**63 - 1
# The admin form's names for what the API calls otherwise.
FORM_FIELD_NAMES = {"new_credentials": "credentials", "__all__": "non_field_errors"}


def _no_nul(value: Any) -> None:
    # PostgreSQL's jsonb cannot hold U+0000: refused here rather than failing on save.
    if "\\u0000" in json.dumps(value):
        raise serializers.ValidationError("Text may not contain the NUL character.")


def _capacity(**kwargs: Any) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=0, max_value=MAX_INT, required=False, **kwargs)


class ServerInputSerializer(serializers.Serializer):
    """A new server, or (partial) what changes on one: every field but the credentials is
    shown again in answers; `credentials` are written only, and left out they are kept."""

    group = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, allow_null=True, required=False, help_text="Group id."
    )
    module = serializers.ChoiceField(choices=module_choices())
    name = serializers.CharField(max_length=100)
    base_url = serializers.CharField(max_length=300, help_text="The panel's URL.")
    options = serializers.DictField(
        required=False, validators=[_no_nul], help_text="Non-secret panel settings."
    )
    capacity_accounts = _capacity()
    capacity_memory_mb = _capacity(allow_null=True)
    capacity_disk_gb = _capacity(allow_null=True)
    capacity_cpu = _capacity(allow_null=True)
    location = serializers.CharField(max_length=100, allow_blank=True, required=False)
    tags = serializers.ListField(
        child=serializers.CharField(max_length=100), required=False, validators=[_no_nul]
    )
    is_active = serializers.BooleanField(required=False)
    is_online = serializers.BooleanField(required=False)
    credentials = serializers.DictField(
        child=serializers.CharField(max_length=2000),
        write_only=True,
        help_text=(
            'The panel credentials, e.g. {"api_key": "npk_...", "api_secret": "nps_..."}; '
            "stored encrypted and never shown. Leave out on a change to keep them."
        ),
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """The admin's server form over the server as it would be: its values for the
        service (`values`, `credentials`: None keeps the stored ones)."""
        server: Server | None = self.instance
        # A copy: the form writes its values onto the instance it checks.
        target = copy.copy(server) if server is not None else Server()
        form = ServerForm(data=_form_data(attrs, server), instance=target)
        if not form.is_valid():
            raise serializers.ValidationError(
                {FORM_FIELD_NAMES.get(name, name): errors for name, errors in form.errors.items()}
            )
        return {
            "values": {name: form.cleaned_data[name] for name in EDITABLE_FIELDS},
            "credentials": form.cleaned_data["new_credentials"],
        }


def _form_data(attrs: dict[str, Any], server: Server | None) -> dict[str, Any]:
    """What the admin form would be posted: the server's current values (a new server's
    defaults) overlaid with the request's."""
    data: dict[str, Any] = model_to_dict(server or Server(), fields=EDITABLE_FIELDS)
    data.update({name: value for name, value in attrs.items() if name != "credentials"})
    for name in ("capacity_memory_mb", "capacity_disk_gb", "capacity_cpu", "group"):
        if data.get(name) is None:
            data[name] = ""  # an empty form field
    for name in ("options", "tags"):
        data[name] = json.dumps(data[name])  # as the admin's textarea posts it
    credentials = attrs.get("credentials")
    data["new_credentials"] = json.dumps(credentials) if credentials else ""
    return data


class ServerSerializer(serializers.ModelSerializer):
    """A server as staff see it: never its credentials, only which ones are stored."""

    credential_keys = serializers.SerializerMethodField(
        help_text="The names of the stored credentials (their values are never shown)."
    )
    utilisation = serializers.SerializerMethodField(help_text="Accounts in use, in percent.")

    class Meta:
        model = Server
        fields = [
            "id",
            *EDITABLE_FIELDS,
            "current_accounts",
            "utilisation",
            "last_checked_at",
            "last_check_error",
            "credential_keys",
        ]
        read_only_fields = fields

    def get_credential_keys(self, server: Server) -> list[str]:
        return sorted(server.credentials)

    def get_utilisation(self, server: Server) -> float:
        return utilisation_percent(server)


def utilisation_percent(server: Server) -> float:
    return round(server.utilisation * 100, 1)


class ServerStatusSerializer(serializers.Serializer):
    """One server's state as its last health check and the portal's account count see it
    (the NextPanel seed's server status)."""

    server_id = serializers.IntegerField(source="id")
    name = serializers.CharField()
    module = serializers.CharField()
    url = serializers.CharField(source="base_url")
    is_active = serializers.BooleanField()
    is_online = serializers.BooleanField()
    current_accounts = serializers.IntegerField()
    capacity = serializers.IntegerField(source="capacity_accounts")
    available_slots = serializers.SerializerMethodField()
    utilisation = serializers.SerializerMethodField(help_text="Accounts in use, in percent.")
    last_checked_at = serializers.DateTimeField(allow_null=True)
    last_check_error = serializers.CharField()

    def get_available_slots(self, server: Server) -> int:
        return max(0, server.capacity_accounts - server.current_accounts)

    def get_utilisation(self, server: Server) -> float:
        return utilisation_percent(server)


class StaffServiceSerializer(ServiceDetailSerializer):
    """A service with whose it is and where it runs (never its secrets)."""

    customer_email = serializers.EmailField(source="customer.user.email")
    server_name = serializers.CharField(source="server.name", allow_null=True, default=None)
    # A URL, or "" before the panel gave one (a URL field's schema would refuse "").
    panel_url = serializers.CharField(help_text="The panel's URL; empty when there is none.")

    class Meta(ServiceDetailSerializer.Meta):
        model = Service
        fields = [
            *ServiceDetailSerializer.Meta.fields,
            "customer",
            "customer_email",
            "server",
            "server_name",
            "external_id",
        ]
        read_only_fields = fields


class ProvisionSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=500, help_text="Why it is set up without (or before) its payment."
    )


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=500, help_text="Recorded in the audit log (and a suspension's email)."
    )


class OptionalReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class ServiceStatsSerializer(serializers.Serializer):
    service = serializers.IntegerField()
    module = serializers.CharField()
    stats = serializers.DictField(
        child=serializers.JSONField(),
        help_text="The panel's figures, e.g. domains and domains_limit (null: not reported).",
    )
