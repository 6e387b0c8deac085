"""``manage.py demo_data [--tenants N]``: fill the demo's tenants table (release 1.0 shape)."""

from __future__ import annotations

import random
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from project.sample.models import Tenant

MEMORY_MB = [256, 512, 1024, 2048, 4096]
DURABILITY = ["strict", "relaxed", "none"]


def tenant_config(rng: random.Random) -> dict[str, Any]:
    return {
        "maxMemoryMB": rng.choice(MEMORY_MB),
        "durabilityMode": rng.choice(DURABILITY),
        "region": rng.choice(["eu-west", "us-east", "ap-south"]),
    }


class Command(BaseCommand):
    help = "Create demo tenants with release-1.0 configs (maxMemoryMB, durabilityMode)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--tenants", type=int, default=100_000)
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--database", default="default")
        parser.add_argument("--replace", action="store_true", help="Delete existing tenants first.")

    def handle(self, *args: Any, **options: Any) -> None:
        count = options["tenants"]
        if count < 0:
            raise CommandError("--tenants must be zero or more")
        rng = random.Random(options["seed"])
        alias = options["database"]
        with transaction.atomic(using=alias):
            if options["replace"]:
                Tenant.objects.using(alias).all().delete()
            elif Tenant.objects.using(alias).exists():
                self.stdout.write("Tenants already exist; use --replace to recreate them.")
                return
            batch: list[Tenant] = []
            for index in range(count):
                batch.append(Tenant(name=f"tenant-{index:07d}", config=tenant_config(rng)))
                if len(batch) == 5000:
                    Tenant.objects.using(alias).bulk_create(batch)
                    batch = []
            Tenant.objects.using(alias).bulk_create(batch)
        self.stdout.write(self.style.SUCCESS(f"Created {count} tenants."))
