"""Shared by the DhtNode tests."""

from typing import Any

from app.engine.dht.node import DhtNode


def unlimited_node(**options: Any) -> DhtNode:
    """A node without query rate limits: every node of a loopback DHT shares the IP 127.0.0.1."""
    return DhtNode(max_queries_per_second=10_000.0, max_queries_per_ip_per_second=10_000.0, **options)
