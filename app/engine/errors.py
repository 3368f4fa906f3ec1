"""The engine's exception tree: every error the engine raises on purpose is an EngineError."""


class EngineError(Exception):
    """Base class: a failure the engine expected and can describe in one sentence."""


class MetainfoError(EngineError):
    """A .torrent file (or info dictionary) is malformed or unsafe."""


class BencodeError(MetainfoError):
    """Bytes are not canonical bencode."""


class MagnetError(EngineError):
    """A magnet link is malformed."""


class TrackerError(EngineError):
    """A tracker could not be reached or answered with an error."""


class StorageError(EngineError):
    """Reading or writing the torrent's files failed (disk full, permission, ...)."""


class RemoteProtocolError(EngineError):
    """The remote peer broke the protocol: disconnect that peer only."""


class LocalProtocolError(EngineError):
    """We tried to do something the protocol forbids: a bug on our side."""
