"""UPnP IGD through miniupnpc: SSDP discovery, AddPortMapping, DeletePortMapping, the external address.

miniupnpc is a blocking C library: every method here blocks and must run in a thread
(asyncio.to_thread), one call at a time (a lock guards the library's object). Its answers
and failures become plain words (UpnpError).

Bound to an address, SSDP goes out of that address's interface only (miniupnpc's
`multicastif`) and the minissdpd cache, which knows routers on every interface, is not asked.
"""

from __future__ import annotations

import threading

import miniupnpc

from app.engine.errors import EngineError

DISCOVERY_MS = 2000  # how long SSDP waits for routers to answer
NO_ROUTER = "the router did not answer"
_TRIES_FOR_A_FREE_PORT = 8  # a taken external port: try the next few before giving up

# UPnP IGD (WANIPConnection:1 and :2) error strings as miniupnpc raises them, in plain words
_ERRORS = {
    "ConflictInMappingEntry": "the port is already mapped to another computer",
    "OnlyPermanentLeasesSupported": "the router accepts only permanent mappings",
    "Action Failed": "the router refused",
    "Not Authorized": "the router refused (port mapping is switched off on it)",
    "Invalid Args": "the router found the request malformed",
    "No UPnP device discovered": "no router among the devices that answered",
}


class UpnpError(EngineError):
    """An Internet Gateway Device could not be found or refused a request."""


class UpnpClient:
    def __init__(self, bind_host: str | None, discovery_ms: int = DISCOVERY_MS) -> None:
        options = {"multicastif": bind_host, "minissdpdsocket": ""} if bind_host else {}
        self._upnp = miniupnpc.UPnP(**options)
        self._upnp.discoverdelay = discovery_ms
        self._bind_host = bind_host
        self._lock = threading.Lock()

    def discover(self) -> str:
        """Find the router and return its external address ('' if it does not say)."""
        with self._lock:
            try:
                found = self._upnp.discover()
            except Exception:  # miniupnpc raises when nothing answered (its words: "Success")
                found = 0
            if not found:
                raise UpnpError(NO_ROUTER)
            try:
                self._upnp.selectigd()
                return str(self._upnp.externalipaddress() or "")
            except Exception as exc:  # miniupnpc raises bare Exceptions with the IGD's words
                raise _plain(exc) from exc

    def add(self, transport: str, internal_port: int, lifetime: int, description: str,
            first: int | None = None) -> int:
        """Map `internal_port` to external port `first` (by default the same number) or, if
        another computer holds that one, to one of the next few; return the one mapped."""
        first = first or internal_port
        with self._lock:
            client = self._bind_host or self._upnp.lanaddr
            for external in range(first, min(first + _TRIES_FOR_A_FREE_PORT, 65536)):
                if self._try_add(external, transport, client, internal_port, description, lifetime):
                    return external
        raise UpnpError(_ERRORS["ConflictInMappingEntry"])

    def _try_add(self, external: int, transport: str, client: str, internal: int, description: str,
                 lifetime: int) -> bool:
        try:
            return bool(self._upnp.addportmapping(external, transport, client, internal, description, "", lifetime))
        except Exception as exc:  # miniupnpc raises bare Exceptions with the IGD's words
            if "ConflictInMappingEntry" in str(exc):
                return False  # someone else holds this external port: try the next
            if "OnlyPermanentLeasesSupported" in str(exc) and lifetime:
                return self._try_add(external, transport, client, internal, description, 0)
            raise _plain(exc) from exc

    def delete(self, transport: str, external_port: int) -> None:
        with self._lock:
            try:
                self._upnp.deleteportmapping(external_port, transport)
            except Exception as exc:  # miniupnpc raises bare Exceptions with the IGD's words
                raise _plain(exc) from exc


def _plain(exc: Exception) -> UpnpError:
    text = str(exc)
    return UpnpError(next((words for key, words in _ERRORS.items() if key in text), f"UPnP: {text}"))
