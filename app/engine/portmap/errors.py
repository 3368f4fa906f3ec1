"""What goes wrong talking to a router."""

from app.engine.errors import RemoteProtocolError


class PortMapError(RemoteProtocolError):
    """A router's answer is malformed: it is dropped, the router is not believed."""
