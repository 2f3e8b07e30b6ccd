from django.apps import AppConfig


class BenchmarkProjectConfig(AppConfig):
    name = "benchmarks.project"
    label = "benchmarks"
