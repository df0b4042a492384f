"""What a migration that moves models from one app to another needs besides the state: the
content types follow the models, so the permissions staff groups hold (and admin log entries)
stay attached. Used by the migrations of issue 13's moves; keep it stable, as they run it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db import migrations

Mover = Callable[[Any, Any], None]


def _content_types_to(source: str, target: str, models: Sequence[str]) -> Mover:
    def move(apps: Any, schema_editor: Any) -> None:
        content_type = apps.get_model("contenttypes", "ContentType")
        types = content_type.objects.using(schema_editor.connection.alias)
        for model in models:
            old = types.filter(app_label=source, model=model).first()
            if old is None:
                continue
            # A type the target app already has (made by a post-migrate run in between) has
            # no grants yet: it gives way to the one carrying the staff groups' permissions.
            types.filter(app_label=target, model=model).delete()
            old.app_label = target
            old.save(update_fields=["app_label"])
        content_type.objects.clear_cache()

    return move


def content_types_moved(*, source: str, target: str, models: Sequence[str]) -> migrations.RunPython:
    """A reversible RunPython relabelling the content types of `models` from `source` to
    `target` (backwards: from `target` to `source`)."""
    return migrations.RunPython(
        _content_types_to(source, target, models), _content_types_to(target, source, models)
    )
