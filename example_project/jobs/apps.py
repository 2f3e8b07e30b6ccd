from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "example_project.jobs"
    label = "jobs"
