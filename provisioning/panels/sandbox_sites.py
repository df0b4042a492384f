"""The sandbox's imitation of the self-service calls of the WordPress site backend
(wordpress.py): the same method names and answers, so a demo product standing in for it
shows every control (provisioning.services.actions). Mixed into SandboxPanel."""

from __future__ import annotations


class SandboxSites:
    pass
