"""The OpenAPI schema is generated with no warning: two serializers of one component name, or
two choice sets sharing an enum name, make drf-spectacular describe one of them wrongly (a
PayPal subscription described as a DNS plan's, once), which only a warning tells."""

from __future__ import annotations

from django.core.management import call_command


def test_the_schema_generates_without_a_warning(tmp_path):
    call_command("spectacular", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))
    assert (tmp_path / "schema.yml").read_text().startswith("openapi: 3.1")
