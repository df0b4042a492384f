"""The sandbox's imitation of the self-service calls of Pterodactyl (pterodactyl.py): the same
method names and answers, so a demo product standing in for that module shows every control
(provisioning.services.actions). Mixed into SandboxPanel."""

from __future__ import annotations


class SandboxGames:
    pass
