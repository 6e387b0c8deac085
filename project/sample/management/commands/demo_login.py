"""``manage.py demo_login``: make sure the demo superuser exists and print how to log in."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

USERNAME = PASSWORD = "demo"


class Command(BaseCommand):
    help = "Create the demo superuser (demo/demo) if missing and print the login."

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()  # noqa: N806 - a class
        if not User.objects.filter(username=USERNAME).exists():
            User.objects.create_superuser(USERNAME, "demo@example.invalid", PASSWORD)
        self.stdout.write(
            self.style.SUCCESS(
                f"Admin console: http://127.0.0.1:8000/admin/  login {USERNAME} / {PASSWORD}"
            )
        )
