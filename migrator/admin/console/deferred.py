"""The services, as the console pages name them, imported on first use.

Every management command of a host project loads the admin (Django's autodiscovery), and
importing the services (catalog readers, engine, SQL parser) cost about 60 ms of each
``manage.py`` start, for pages most commands never serve.
"""

from __future__ import annotations

import importlib
from typing import Any


class _Deferred:
    """A module imported when one of its attributes is first asked for."""

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        return getattr(importlib.import_module(self._name), attribute)


services = _Deferred("migrator.services")
compat = _Deferred("migrator.services.compat")
