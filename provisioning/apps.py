from django.apps import AppConfig


class ProvisioningConfig(AppConfig):
    name = "provisioning"
    verbose_name = "Provisioning"

    def ready(self) -> None:
        # Modules of other apps (PROVISIONING_MODULES), loaded by path once models exist.
        from provisioning.panels.registry import modules_load

        modules_load()
