#!/usr/bin/env python3
"""CI's audit of the pinned requirements for known vulnerabilities (pip-audit).

pip-audit exits 1 both when it finds a vulnerability and when it cannot reach the
vulnerability service, so this wrapper reads its output to tell them apart:

- exit 0: nothing found; or the service was unreachable (a warning is printed: CI must not
  fail because PyPI's or OSV's feed is down or the network blocks it);
- exit 1: a known vulnerability in a pinned requirement (each is listed);
- exit 2: pip-audit failed for any other reason (a bad requirements file, a crash).

Usage: .ci/pip_audit.py [requirements files...] (default requirements-dev.txt, which includes
requirements.txt). PIP_AUDIT names the pip-audit command (default: the one next to this
Python), for the tests, which run it against a fake pip-audit's output.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

OK, VULNERABLE, FAILED = 0, 1, 2
# What pip-audit (and requests under it) print when the service cannot be reached or
# answers with a server error: its own ConnectionError messages and tip, an uncaught
# requests error, or its ServiceError around an HTTP error.
UNREACHABLE = (
    "Could not connect to",
    "your network may be blocking this service",
    "is not redirecting properly",
    "requests.exceptions.ConnectionError",
    "requests.exceptions.ConnectTimeout",
    "requests.exceptions.ReadTimeout",
    "requests.exceptions.SSLError",
    "Max retries exceeded",
    "NameResolutionError",
    "Temporary failure in name resolution",
    "Name or service not known",
    "Network is unreachable",
    "Connection refused",
    "Connection reset by peer",
    "pip_audit._service.interface.ServiceError",
)


def pip_audit_command() -> list[str]:
    configured = os.environ.get("PIP_AUDIT")
    if configured:
        return shlex.split(configured)
    return [str(Path(sys.executable).with_name("pip-audit"))]


def vulnerabilities(report: str) -> list[str]:
    """'name version: id (fix versions)' for each vulnerability in a JSON report; [] when
    the report is not pip-audit's JSON (nothing was audited)."""
    try:
        data = json.loads(report)
    except ValueError:
        return []
    dependencies = data.get("dependencies", []) if isinstance(data, dict) else []
    found = []
    for dependency in dependencies:
        for vuln in dependency.get("vulns", []):
            fixes = ", ".join(vuln.get("fix_versions", [])) or "no fix yet"
            found.append(
                f"{dependency.get('name')} {dependency.get('version')}: "
                f"{vuln.get('id')} (fixed in {fixes})"
            )
    return found


def classify(returncode: int, stdout: str, stderr: str) -> tuple[int, str]:
    """The wrapper's exit code for pip-audit's, and what to print."""
    found = vulnerabilities(stdout)
    if found:
        listed = "\n".join(f"  {line}" for line in found)
        return VULNERABLE, f"pip-audit: {len(found)} known vulnerabilities:\n{listed}"
    if returncode == 0:
        return OK, "pip-audit: no known vulnerabilities in the pinned requirements."
    if any(marker in stderr for marker in UNREACHABLE):
        last = stderr.strip().splitlines()[-1] if stderr.strip() else ""
        return OK, (
            "pip-audit: WARNING: the vulnerability service could not be reached; the "
            f"requirements were not audited this time ({last})."
        )
    return FAILED, f"pip-audit failed (exit {returncode}):\n{stderr.strip()}"


def main(argv: list[str]) -> int:
    files = argv or ["requirements-dev.txt"]
    command = [*pip_audit_command(), "--disable-pip", "--no-deps", "--progress-spinner", "off"]
    command += ["--format", "json"]
    for name in files:
        command += ["--requirement", name]
    try:
        # The command line is ours: pip-audit and the requirement files named on ours.
        result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    except FileNotFoundError:
        sys.stderr.write(f"pip-audit is not installed ({command[0]}): make install-dev\n")
        return FAILED
    code, message = classify(result.returncode, result.stdout, result.stderr)
    (sys.stderr if code else sys.stdout).write(message + "\n")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
