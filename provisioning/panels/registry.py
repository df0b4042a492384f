"""Panel modules by name: how to build one for a server, the product settings it needs, the
staff look-ups it offers and the check it makes before a package change.

The modules in `provisioning/panels/` are registered here. Modules of other apps (the `dns`
module of `dnszones`, whose "panel" is the zone service) are named by the setting
`PROVISIONING_MODULES` (dotted paths of Python modules) and loaded by `modules_load` when the
app registry is ready: provisioning never imports them, so the apps stay independent. Such a
module describes itself with plain attributes, because it cannot import this one:

- `NAME`, `LABEL`: the module's name (Product.module, Server.module) and its label;
- `Panel`: called with the server's `ServerCredentials`, gives an object with the
  `Lifecycle` methods (and `change_package`, `PackageChange`, when it offers it);
- `PRODUCT_SETTINGS`: dicts with the fields of `SettingSpec` (name, label, required, kind,
  help): what Product.module_settings must hold;
- optionally `change_check(*, customer_id, to_product) -> str`: why a service of this
  customer cannot move to `to_product` ("" when it can), e.g. a smaller plan than what the
  customer uses.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

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
    # Why a customer's service cannot move to a product ("" when it can); None: no check.
    change_check: Callable[..., str] | None = None


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


def module_from_path(path: str) -> ModuleInfo:
    """The ModuleInfo of a module of another app, named by its dotted path (see above)."""
    module = importlib.import_module(path)
    specs = tuple(SettingSpec(**spec) for spec in getattr(module, "PRODUCT_SETTINGS", ()))
    return ModuleInfo(
        name=module.NAME,
        label=module.LABEL,
        factory=module.Panel,
        product_settings=specs,
        change_check=getattr(module, "change_check", None),
    )


def modules_load() -> None:
    """Register the modules of PROVISIONING_MODULES (called when the app registry is
    ready: they may use their app's models)."""
    for path in settings.PROVISIONING_MODULES:
        module_register(module_from_path(path))


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
