"""Shared test setup: the local servers, the test environment and the network guard."""

pytest_plugins = ["tests.support.servers", "tests.support.fault_proxy"]
