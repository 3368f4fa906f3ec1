"""Mainline DHT (BEP 5, BEP 32). `DhtNode` (one family) and `DualStackDht` (one node per family)
are the public surface; the modules beside them are their pure cores."""

from app.engine.dht.dual_stack import DualStackDht
from app.engine.dht.node import DEFAULT_BOOTSTRAP, DhtNode

__all__ = ["DEFAULT_BOOTSTRAP", "DhtNode", "DualStackDht"]
