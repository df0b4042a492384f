"""Self-service of VirtFusion VPS: the actions on the service's page and what the page reads
live from the panel (see provisioning.services.actions).

Power (boot, graceful shut down, restart, power off) and the console are safe to send again
after a lost answer; a reinstall and a root password reset are not (a second reinstall wipes
the server again, a second reset makes the password the customer was shown wrong), so a lost
answer leaves them "needs checking" for staff. The ids a reinstall or an ISO mount send must
be among those the panel offers this server: checked before anything is recorded, against
the same short-cached list the page showed. Resizing is the plan change (its own page)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from provisioning.errors import PanelError
from provisioning.models import Service
from provisioning.panels.base import VpsControls
from provisioning.services.actions import Action, ActionRefused, LiveRead, Panel, live_read

LIST_CACHE_SECONDS = 300  # the templates and ISOs offered change rarely
GB = 1024**3
# Result keys are shown to the customer as they are (capitalised): so they are words.
ROOT_PASSWORD = "root password"  # noqa: S105 (a label, not a password)
VNC_PASSWORD = "VNC password"  # noqa: S105 (a label, not a password)


def _controls(panel: Panel) -> VpsControls:
    if not isinstance(panel, VpsControls):
        raise PanelError("This server's panel has no VPS controls.", retryable=False)
    return panel


# --- live reads ---------------------------------------------------------------------------


def server_read(service: Service) -> LiveRead[dict[str, Any]]:
    return live_read(service, "server", lambda p, s: _controls(p).vps_server(s.external_id))


def traffic_read(service: Service) -> LiveRead[dict[str, Any]]:
    return live_read(service, "traffic", lambda p, s: _controls(p).vps_traffic(s.external_id))


def templates_read(service: Service) -> LiveRead[list[dict[str, Any]]]:
    return live_read(
        service,
        "os_templates",
        lambda p, s: _controls(p).vps_os_templates(s.external_id),
        ttl=LIST_CACHE_SECONDS,
    )


def isos_read(service: Service) -> LiveRead[list[dict[str, Any]]]:
    return live_read(
        service,
        "isos",
        lambda p, s: _controls(p).vps_isos(s.external_id),
        ttl=LIST_CACHE_SECONDS,
    )


# --- checks before anything is recorded ----------------------------------------------------


def _offered(read: LiveRead[list[dict[str, Any]]], raw: Any, *, what: str) -> dict[str, Any]:
    """The entry of the panel's list whose id the customer sent, or a refusal."""
    try:
        wanted = int(str(raw).strip())
    except ValueError as error:
        raise ActionRefused(f"Choose {what} from the list.") from error
    if not read.ok:
        raise ActionRefused(
            f"We could not check which {what}s your server is offered right now; "
            "try again in a few minutes."
        )
    found = next((item for item in read.data or [] if item["id"] == wanted), None)
    if found is None:
        raise ActionRefused(f"This {what} is not offered for your server.")
    return found


def _clean_reinstall(service: Service, params: dict[str, Any]) -> dict[str, Any]:
    template = _offered(
        templates_read(service), params.get("os_template_id"), what="operating system"
    )
    return {"os_template_id": template["id"], "template": template["name"]}


def _clean_iso_mount(service: Service, params: dict[str, Any]) -> dict[str, Any]:
    iso = _offered(isos_read(service), params.get("iso_id"), what="ISO image")
    return {"iso_id": iso["id"], "iso": iso["name"]}


def _clean_iso_unmount(service: Service, params: dict[str, Any]) -> dict[str, Any]:
    read = server_read(service)
    if read.ok and read.data and not read.data.get("iso_mounted"):
        raise ActionRefused("No ISO image is mounted on this server.")
    return {}


def _no_params(service: Service, params: dict[str, Any]) -> dict[str, Any]:
    return {}


# --- the calls (on the panels queue, outside transactions) --------------------------------


def _power(action: str) -> Callable[[Panel, Service, dict[str, Any]], None]:
    def call(panel: Panel, service: Service, params: dict[str, Any]) -> None:
        _controls(panel).vps_power(service.external_id, action=action)

    return call


def _reinstall(panel: Panel, service: Service, params: dict[str, Any]) -> dict[str, Any]:
    answer = _controls(panel).vps_reinstall(
        service.external_id,
        os_template_id=int(params["os_template_id"]),
        hostname=service.hostname,
    )
    result = {"operating system": params.get("template", "")}
    if answer.get("root_password"):
        result[ROOT_PASSWORD] = answer["root_password"]
    else:
        result["new password"] = "emailed to you by the control panel"
    return result


def _console(panel: Panel, service: Service, params: dict[str, Any]) -> dict[str, Any]:
    answer = _controls(panel).vps_console(service.external_id)
    return {"address": answer["address"], VNC_PASSWORD: answer["vnc_password"]}


def _iso_mount(panel: Panel, service: Service, params: dict[str, Any]) -> dict[str, Any]:
    _controls(panel).vps_iso_mount(service.external_id, iso_id=int(params["iso_id"]))
    return {"mounted": params.get("iso", "")}


def _iso_unmount(panel: Panel, service: Service, params: dict[str, Any]) -> None:
    _controls(panel).vps_iso_unmount(service.external_id)


def _password_reset(panel: Panel, service: Service, params: dict[str, Any]) -> dict[str, Any]:
    answer = _controls(panel).vps_password_reset(service.external_id)
    return {ROOT_PASSWORD: answer["root_password"]}


def _power_action(name: str, label: str, done: str) -> Action:
    return Action(
        name, label, _power(name), clean=_no_params, done_message=done, changes=("server",)
    )


ACTIONS: tuple[Action, ...] = (
    _power_action("boot", "Boot", "The server is booting."),
    _power_action("shutdown", "Shut down", "The server is shutting down."),
    _power_action("restart", "Restart", "The server is restarting."),
    _power_action("poweroff", "Power off", "The server was powered off."),
    Action(
        "reinstall",
        "Reinstall",
        _reinstall,
        repeatable=False,
        confirm="REINSTALL",
        clean=_clean_reinstall,
        secret_keys=(ROOT_PASSWORD,),
        done_message="The reinstall has started; the server is ready in a few minutes.",
        changes=("server",),
    ),
    Action(
        "console",
        "Open console access",
        _console,
        clean=_no_params,
        secret_keys=(VNC_PASSWORD,),
        done_message="Console access is open: connect a VNC viewer to the address below.",
    ),
    Action(
        "iso_mount",
        "Mount ISO",
        _iso_mount,
        clean=_clean_iso_mount,
        done_message="The ISO image is mounted; boot from it with a restart.",
        changes=("server",),
    ),
    Action(
        "iso_unmount",
        "Unmount ISO",
        _iso_unmount,
        clean=_clean_iso_unmount,
        done_message="The ISO image is unmounted.",
        changes=("server",),
    ),
    Action(
        "password_reset",
        "Reset root password",
        _password_reset,
        repeatable=False,
        clean=_no_params,
        secret_keys=(ROOT_PASSWORD,),
        done_message="The root password was reset.",
    ),
)


# --- the page -----------------------------------------------------------------------------


def _percent(used: float | None, allowed: float) -> int | None:
    if used is None or not allowed:
        return None
    return min(100, round(100 * used / allowed))


def usage_rows(server: dict[str, Any] | None) -> list[dict[str, Any]]:
    """CPU, memory and disk: used against the plan (None where the panel did not say)."""
    if not server:
        return []
    memory, disk = server.get("memory_mb") or 0, server.get("disk_gb") or 0
    cpu = server.get("cpu_percent")
    return [
        {
            "name": "CPU",
            "used": None if cpu is None else f"{cpu}%",
            "allowed": f"{server.get('cpu_cores') or '?'} cores",
            "percent": None if cpu is None else min(100, round(cpu)),
        },
        {
            "name": "Memory",
            "used": _or_none(server.get("memory_used_mb"), "{} MB"),
            "allowed": f"{memory} MB",
            "percent": _percent(server.get("memory_used_mb"), memory),
        },
        {
            "name": "Disk",
            "used": _or_none(server.get("disk_used_gb"), "{} GB"),
            "allowed": f"{disk} GB",
            "percent": _percent(server.get("disk_used_gb"), disk),
        },
    ]


def _or_none(value: Any, template: str) -> str | None:
    return None if value is None else template.format(value)


def traffic_summary(traffic: dict[str, Any] | None) -> dict[str, Any] | None:
    """The period's traffic in GB against the allowance (0 = unmetered)."""
    if traffic is None:
        return None
    used = traffic["total_bytes"] / GB
    limit = traffic["limit_gb"]
    return {
        "start": traffic["start"],
        "end": traffic["end"],
        "in_gb": round(traffic["rx_bytes"] / GB, 2),
        "out_gb": round(traffic["tx_bytes"] / GB, 2),
        "used_gb": round(used, 2),
        "limit_gb": limit,
        "percent": _percent(used, limit),
    }


def page_context(service: Service) -> dict[str, Any]:
    """What the service page's VPS section shows: live state, usage and the lists offered;
    each read degrades to a notice on its own when the panel does not answer."""
    server, traffic = server_read(service), traffic_read(service)
    templates, isos = templates_read(service), isos_read(service)
    return {
        "vps": server.data,
        "vps_notice": server.notice,
        "vps_usage": usage_rows(server.data),
        "vps_traffic": traffic_summary(traffic.data),
        "vps_traffic_notice": traffic.notice,
        "vps_templates": templates.data or [],
        "vps_templates_notice": templates.notice,
        "vps_isos": isos.data or [],
        "vps_isos_notice": isos.notice,
    }
