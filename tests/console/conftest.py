"""Console tests: real transactions (workers and the live server see the data), the target
schema restored after each test, and users with and without the console's permissions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Permission

from bench._population import admin_models

from ..engine.conftest import restore_target_schema  # noqa: F401 - autouse fixture

ACTION_PERMISSIONS = ["apply", "rollback", "control", "manage_target", "approve"]


@pytest.fixture
def make_user(django_user_model: Any) -> Callable[..., Any]:
    """A staff user with the view permissions plus the named console permissions."""

    def make(name: str, *permissions: str, superuser: bool = False) -> Any:
        if superuser:
            return django_user_model.objects.create_superuser(name, f"{name}@example.com", "pw")
        user = django_user_model.objects.create_user(name, password="pw", is_staff=True)
        codenames = [f"view_{m}" for m in admin_models()]
        user.user_permissions.add(
            *Permission.objects.filter(
                content_type__app_label="migrator", codename__in=[*codenames, *permissions]
            )
        )
        return user

    return make
