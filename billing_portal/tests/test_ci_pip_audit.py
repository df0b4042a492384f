"""CI's pip-audit wrapper (.ci/pip_audit.py, issue 16): a known vulnerability fails CI, an
unreachable vulnerability service only warns, any other failure of pip-audit fails. Run
against a fake pip-audit that answers as the real one does (pip_audit/_cli.py 2.10: exit 1
with the JSON report on stdout for vulnerabilities, exit 1 with its connection error and tip
on stderr, or an uncaught requests error, when the service cannot be reached)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WRAPPER = ROOT / ".ci" / "pip_audit.py"

CLEAN = {"dependencies": [{"name": "django", "version": "5.2.19", "vulns": []}], "fixes": []}
VULNERABLE = {
    "dependencies": [
        {"name": "django", "version": "5.2.19", "vulns": []},
        {
            "name": "requests",
            "version": "2.0.0",
            "vulns": [
                {
                    "id": "PYSEC-2023-74",
                    "fix_versions": ["2.31.0"],
                    "aliases": ["CVE-2023-32681"],
                    "description": "Proxy-Authorization header leak",
                }
            ],
        },
    ],
    "fixes": [],
}
UNREACHABLE_TIP = (
    "ERROR:pip_audit._cli:Could not connect to PyPI's vulnerability feed\n"
    "ERROR:pip_audit._cli:Tip: your network may be blocking this service. "
    "Try another service with `-s SERVICE`\n"
)
DNS_FAILURE = (
    "Traceback (most recent call last):\n"
    '  File "pip_audit/_service/pypi.py", line 64, in query\n'
    "requests.exceptions.ConnectionError: HTTPSConnectionPool(host='pypi.org', port=443): "
    "Max retries exceeded with url: /pypi/django/5.2.19/json (Caused by "
    "NameResolutionError: Failed to resolve 'pypi.org' "
    "([Errno -3] Temporary failure in name resolution))\n"
)


def _fake(tmp_path: Path, *, code: int, stdout: str = "", stderr: str = "") -> str:
    """A pip-audit that records its arguments and answers with this output."""
    script = tmp_path / "fake_pip_audit.py"
    script.write_text(
        "import json, sys\n"
        f"open({str(tmp_path / 'args.json')!r}, 'w').write(json.dumps(sys.argv[1:]))\n"
        f"sys.stdout.write({stdout!r})\n"
        f"sys.stderr.write({stderr!r})\n"
        f"sys.exit({code})\n"
    )
    return f"{sys.executable} {script}"


def _run(tmp_path: Path, fake: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(WRAPPER), "requirements-dev.txt"],
        capture_output=True,
        text=True,
        env={"PIP_AUDIT": fake, "PATH": "/usr/bin:/bin"},
        cwd=ROOT,
        check=False,
    )


def test_no_known_vulnerability_passes_and_audits_the_pinned_files(tmp_path):
    result = _run(tmp_path, _fake(tmp_path, code=0, stdout=json.dumps(CLEAN)))
    assert result.returncode == 0
    assert "no known vulnerabilities" in result.stdout
    args = json.loads((tmp_path / "args.json").read_text())
    assert args[args.index("--requirement") + 1] == "requirements-dev.txt"
    assert {"--disable-pip", "--no-deps"} <= set(args)
    assert args[args.index("--format") + 1] == "json"


def test_a_known_vulnerability_fails(tmp_path):
    fake = _fake(
        tmp_path,
        code=1,
        stdout=json.dumps(VULNERABLE),
        stderr="Found 1 known vulnerability in 1 package\n",
    )
    result = _run(tmp_path, fake)
    assert result.returncode == 1
    assert "requests 2.0.0: PYSEC-2023-74 (fixed in 2.31.0)" in result.stderr


@pytest.mark.parametrize("stderr", [UNREACHABLE_TIP, DNS_FAILURE], ids=["tip", "dns"])
def test_an_unreachable_service_only_warns(tmp_path, stderr):
    result = _run(tmp_path, _fake(tmp_path, code=1, stderr=stderr))
    assert result.returncode == 0
    assert "WARNING: the vulnerability service could not be reached" in result.stdout


def test_any_other_failure_fails(tmp_path):
    stderr = "ERROR:pip_audit._cli:invalid requirements input: requirements-dev.txt\n"
    result = _run(tmp_path, _fake(tmp_path, code=1, stderr=stderr))
    assert result.returncode == 2
    assert "invalid requirements input" in result.stderr


def test_a_missing_pip_audit_fails(tmp_path):
    result = _run(tmp_path, str(tmp_path / "no-such-pip-audit"))
    assert result.returncode == 2
    assert "pip-audit is not installed" in result.stderr
