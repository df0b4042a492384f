"""Self-service of game servers (Pterodactyl): the page shows the server's state and its usage
against the build limits (memory, disk, CPU), read live; power signals are buttons when the
panel lets us send them (a client API key that may act on the server), and otherwise the
page says why and points to the panel link (see provisioning.services.actions)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from provisioning.errors import PanelError
from provisioning.models import Service
from provisioning.panels.base import GameServerControls
from provisioning.services.actions import Action, ActionRefused, Panel, Params, live_read
from provisioning.services.servers import server_panel

STATUS = "game_status"
NOT_A_GAME_PANEL = "This service's panel has no game server controls."


def _controls(panel: Panel) -> GameServerControls:
    if not isinstance(panel, GameServerControls):
        raise PanelError(NOT_A_GAME_PANEL, retryable=False)
    return panel


def _power_allowed(service: Service, params: Params) -> Params:
    """Refused before anything is recorded when the panel is not set up for power (no
    client API key): the page hides the buttons then, so this is a stale page or a
    hand-made request."""
    panel = server_panel(service.server) if service.server else None
    if not isinstance(panel, GameServerControls) or not panel.game_power_enabled():
        raise ActionRefused("Power controls are not available for this game server.")
    return {}


def _power(signal: str) -> Callable[[Panel, Service, Params], None]:
    def call(panel: Panel, service: Service, params: Params) -> None:
        _controls(panel).game_power(service.external_id, signal=signal)

    return call


class Power(NamedTuple):
    """One power signal's button: its label, what the customer reads once it went through,
    and the word to type first (empty: none)."""

    label: str
    done_message: str
    confirm: str = ""


# Pterodactyl's power signals, in the buttons' order. Kill ends the process without saving
# (a world may lose its last minutes): typed.
POWER: dict[str, Power] = {
    "start": Power("Start", "The server is starting."),
    "restart": Power("Restart", "The server is restarting."),
    "stop": Power("Stop", "The server is stopping."),
    "kill": Power("Kill", "The server process was killed.", confirm="KILL"),
}

ACTIONS: tuple[Action, ...] = tuple(
    Action(
        signal,
        power.label,
        _power(signal),
        clean=_power_allowed,
        confirm=power.confirm,
        done_message=power.done_message,
        changes=(STATUS,),
    )
    for signal, power in POWER.items()
)


def _status(panel: Panel, service: Service) -> dict[str, Any]:
    return _controls(panel).game_status(service.external_id)


def _bars(status: dict[str, Any]) -> list[dict[str, Any]]:
    """Memory, disk and CPU: used against the limit, with a share for the progress bar
    (0 as a limit means unlimited on Pterodactyl)."""
    usage = status.get("usage") or {}
    limits = status.get("limits") or {}
    rows = (("Memory", "memory_mb", "MB"), ("Disk", "disk_mb", "MB"), ("CPU", "cpu_percent", "%"))
    bars = []
    for label, key, unit in rows:
        used, limit = usage.get(key), limits.get(key) or 0
        share = min(100, round(100 * used / limit)) if used is not None and limit else None
        bars.append({"label": label, "used": used, "limit": limit, "unit": unit, "share": share})
    return bars


def page_context(service: Service) -> dict[str, Any]:
    """The game server section: state, usage bars, power (or why not), the panel link."""
    read = live_read(service, STATUS, _status)
    status = read.data or {}
    return {
        "game": status,
        "game_notice": read.notice,
        "game_bars": _bars(status) if status else [],
        "game_power": bool(status.get("power_allowed")) and not status.get("suspended"),
    }
