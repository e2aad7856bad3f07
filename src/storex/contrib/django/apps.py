"""The Django application of StoreX (label ``storex``)."""

from __future__ import annotations

from django.apps import AppConfig


class StorexConfig(AppConfig):
    name = "storex.contrib.django"
    label = "storex"
    verbose_name = "StoreX recommendations"

    def ready(self) -> None:
        from storex.contrib.django import checks  # noqa: F401  (registers the settings check)
