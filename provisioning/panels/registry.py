"""Panel modules by name: how to build one for a server, the product settings it needs, and
the staff look-ups it offers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from provisioning.panels import (
    directadmin,
    nextpanel,
    pterodactyl,
    sandbox,
    support,
    virtfusion,
    wordpress,
)
from provisioning.panels.base import Lifecycle, ServerCredentials, SettingSpec


@dataclass(frozen=True)
class ModuleInfo:
    name: str
    label: str
    factory: Callable[[ServerCredentials], Lifecycle]
    product_settings: tuple[SettingSpec, ...] = ()
    # Staff look-ups for product set-up: name -> method name on the panel (no arguments).
    lookups: dict[str, str] = field(default_factory=dict)


MODULES: dict[str, ModuleInfo] = {}


def module_register(info: ModuleInfo) -> None:
    MODULES[info.name] = info


module_register(
    ModuleInfo("sandbox", sandbox.LABEL, sandbox.SandboxPanel, sandbox.PRODUCT_SETTINGS)
)
for _info in (
    ModuleInfo(
        "pterodactyl",
        pterodactyl.LABEL,
        pterodactyl.PterodactylPanel,
        pterodactyl.PRODUCT_SETTINGS,
        pterodactyl.LOOKUPS,
    ),
    ModuleInfo(
        "virtfusion",
        virtfusion.LABEL,
        virtfusion.VirtFusionPanel,
        virtfusion.PRODUCT_SETTINGS,
        virtfusion.LOOKUPS,
    ),
    ModuleInfo(
        "directadmin",
        directadmin.LABEL,
        directadmin.DirectAdminPanel,
        directadmin.PRODUCT_SETTINGS,
        directadmin.LOOKUPS,
    ),
    ModuleInfo("nextpanel", nextpanel.LABEL, nextpanel.NextPanel, nextpanel.PRODUCT_SETTINGS),
    ModuleInfo(
        "wordpress", wordpress.LABEL, wordpress.WordPressBackend, wordpress.PRODUCT_SETTINGS
    ),
    ModuleInfo("support", support.LABEL, support.SupportBackend, support.PRODUCT_SETTINGS),
):
    module_register(_info)


def module_choices() -> list[tuple[str, str]]:
    return [(info.name, info.label) for info in MODULES.values()]


def panel_for(module: str, credentials: ServerCredentials) -> Lifecycle:
    info = MODULES.get(module)
    if info is None:
        raise KeyError(f"No panel module named {module!r}.")
    return info.factory(credentials)


def module_settings_errors(module: str, values: dict[str, Any]) -> dict[str, str]:
    """Field -> message for product settings the module needs and did not get right."""
    info = MODULES.get(module)
    if info is None:
        return {"module": f"Unknown provisioning module {module!r}."} if module else {}
    errors: dict[str, str] = {}
    for spec in info.product_settings:
        value = values.get(spec.name)
        if value in (None, ""):
            if spec.required:
                errors[spec.name] = f"{spec.label} is required by the {info.label} module."
            continue
        if spec.kind is int:
            try:
                int(value)
            except (TypeError, ValueError):
                errors[spec.name] = f"{spec.label} must be a whole number."
    return errors
