"""The demo's data generator."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from project.sample.models import Tenant

pytestmark = pytest.mark.django_db


def test_demo_data_creates_release_1_0_configs() -> None:
    call_command("demo_data", "--tenants", "1234", stdout=io.StringIO())
    assert Tenant.objects.count() == 1234
    config = Tenant.objects.order_by("pk").first().config
    assert set(config) == {"maxMemoryMB", "durabilityMode", "region"}
    call_command("demo_data", "--tenants", "10", stdout=io.StringIO())
    assert Tenant.objects.count() == 1234  # refuses to add to existing data without --replace
    call_command("demo_data", "--tenants", "10", "--replace", stdout=io.StringIO())
    assert Tenant.objects.count() == 10
