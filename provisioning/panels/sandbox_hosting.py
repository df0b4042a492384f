"""The sandbox's imitation of the self-service calls of the hosting panels (directadmin.py,
nextpanel.py) and of support subscriptions (support.py): the same method names and answers,
so a demo product standing in for those modules shows every control
(provisioning.services.actions). Mixed into SandboxPanel."""

from __future__ import annotations


class SandboxHosting:
    pass
