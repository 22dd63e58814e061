from tests import budget


def pytest_configure(config):
    budget.remember(config)  # the fuzz test's schema (and its example budget) is built at import
