"""Sample records of every example share group, one round at a time (``--demo``)."""

from example_project.jobs import demo as jobs_demo
from example_project.shop import demo as shop_demo


def records(round_number: int):
    yield from jobs_demo.records(round_number)
    yield from shop_demo.records(round_number)
