"""Mainline DHT (BEP 5). `DhtNode` is the public surface; the modules beside it are its pure cores."""

from app.engine.dht.node import DEFAULT_BOOTSTRAP, DhtNode

__all__ = ["DEFAULT_BOOTSTRAP", "DhtNode"]
