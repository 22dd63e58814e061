"""The fault injector, on the app's DynamoDB client of the test's moto account."""
import pytest

from tests.faults.injector import Faults


@pytest.fixture
def faults(aws):
    injector = Faults()
    yield injector
    injector.clear()
