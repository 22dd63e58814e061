"""Races run the app from many threads through Chalice's test client, which keeps the request on the
app object, shared by every thread; the local server (and Lambda, one request per process) never
shares it. Keep it per thread here, as `chalice local` does, so each thread serves its own request."""
import pytest
from chalice.local import LocalChalice

from tests.conftest import chalice_app


class _PerThreadRequest(LocalChalice):
    pass


@pytest.fixture(autouse=True)
def request_per_thread():
    original = chalice_app.__class__
    chalice_app.__class__ = _PerThreadRequest
    yield
    chalice_app.__class__ = original
