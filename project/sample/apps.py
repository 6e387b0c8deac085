from django.apps import AppConfig


class SampleConfig(AppConfig):
    name = "project.sample"
    label = "sample"
    default_auto_field = "django.db.models.BigAutoField"
