"""MSE/PE (Message Stream Encryption, "Protocol Encryption"), both ends, sans-I/O.

There is no BEP; the reference is the Vuze wiki's "Message Stream Encryption" page, and
libtorrent is what real clients interoperate with. The exchange (A dials, B answers):

    1 A->B: Ya, PadA
    2 B->A: Yb, PadB
    3 A->B: HASH('req1', S), HASH('req2', SKEY) xor HASH('req3', S),
            ENCRYPT(VC, crypto_provide, len(PadC), PadC, len(IA)), ENCRYPT(IA)
    4 B->A: ENCRYPT(VC, crypto_select, len(PadD), PadD), ENCRYPT2(payload stream)
    5 A->B: ENCRYPT2(payload stream)

Y = G^X mod P is sent as 96 big-endian bytes, S is the shared Diffie-Hellman secret, SKEY
the torrent's info-hash, VC eight zero bytes. ENCRYPT is RC4 keyed HASH('keyA', S, SKEY) from
A to B and HASH('keyB', S, SKEY) from B to A, each with its first 1024 bytes discarded;
ENCRYPT2 is the method B selected (RC4 goes on; plaintext stops encrypting after IA).

`Initiator` and `Responder` take received bytes in (`receive_data`) and give bytes to send
out (`data_to_send`); once `result` is set the handshake is over and the BitTorrent stream
goes on as `result.method` says.
"""

from __future__ import annotations

import enum
import hashlib
import os
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from cryptography.hazmat.decrepit.ciphers.algorithms import ARC4
from cryptography.hazmat.primitives.ciphers import Cipher

from app.engine.errors import LocalProtocolError, RemoteProtocolError

# MSE: the 768-bit safe prime of the Oakley group 1 (RFC 2409), generator 2.
P = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404"
    "DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A63A36210000000000090563",
    16,
)
G = 2
KEY_BYTES = 96  # MSE: Ya, Yb and S are 768-bit numbers, sent as 96 big-endian bytes
SECRET_BYTES = 20  # MSE: private keys of at least 128 bits; 160 recommended
MAX_PAD = 512  # MSE: PadA, PadB, PadC and PadD are 0 to 512 bytes
VC = bytes(8)  # MSE: the verification constant
DISCARD = 1024  # MSE: the first 1024 bytes of each RC4 keystream are thrown away
PLAIN_HANDSHAKE = b"\x13BitTorrent protocol"  # BEP 3: how an unencrypted connection starts

_SELECT = struct.Struct(">IH")  # crypto_provide/crypto_select, then len(PadC)/len(PadD)
_U16 = struct.Struct(">H")

RandomBytes = Callable[[int], bytes]


class Method(enum.IntFlag):
    """MSE crypto_provide / crypto_select bits."""

    PLAINTEXT = 0x01  # only the handshake is obfuscated
    RC4 = 0x02  # the whole stream is encrypted


class Rc4Stream:
    """The two RC4 keystreams of one connection: one for what we send, one for what we receive."""

    def __init__(self, send_key: bytes, receive_key: bytes) -> None:
        self._send = _rc4(send_key)
        self._receive = _rc4(receive_key)
        self._scratch = bytearray()

    def encrypt(self, data: bytes | bytearray | memoryview) -> bytes:
        return self._send.update(data)

    def decrypt(self, data: bytes | bytearray | memoryview) -> bytes:
        return self._receive.update(data)

    def decrypt_into(self, view: memoryview) -> None:
        """Decrypt in place. OpenSSL refuses overlapping buffers, so through a reused scratch one."""
        size = len(view)
        if len(self._scratch) < size:
            self._scratch = bytearray(size)
        scratch = memoryview(self._scratch)[:size]
        self._receive.update_into(view, scratch)
        view[:] = scratch


def _rc4(key: bytes):  # type: ignore[no-untyped-def]  # cryptography's context has no public type
    context = Cipher(ARC4(key), mode=None).encryptor()
    context.update(bytes(DISCARD))
    return context


@dataclass(frozen=True, slots=True)
class MseResult:
    """How the BitTorrent stream goes on once the MSE handshake is over."""

    method: Method
    cipher: Rc4Stream | None  # None when plaintext was selected
    info_hash: bytes
    received: bytes  # already received and decrypted: IA, then the start of the BitTorrent stream


def looks_plain(prefix: bytes) -> bool | None:
    """Does a connection starting with `prefix` speak plain BitTorrent (True) or MSE (False)?
    None: too few bytes to tell yet."""
    size = min(len(prefix), len(PLAIN_HANDSHAKE))
    if prefix[:size] != PLAIN_HANDSHAKE[:size]:
        return False
    return True if size == len(PLAIN_HANDSHAKE) else None


def _sha1(*parts: bytes) -> bytes:
    return hashlib.sha1(b"".join(parts)).digest()


def _padding(random_bytes: RandomBytes) -> bytes:
    return random_bytes(int.from_bytes(random_bytes(2)) % (MAX_PAD + 1))


def _public_key(secret: int) -> bytes:
    return pow(G, secret, P).to_bytes(KEY_BYTES)


def _shared_secret(remote_key: bytes, secret: int) -> bytes:
    y = int.from_bytes(remote_key)
    if not 1 < y < P - 1:  # 0, 1 and P-1 would make S guessable
        raise RemoteProtocolError("garbage instead of an encrypted handshake (not a Diffie-Hellman key)")
    return pow(y, secret, P).to_bytes(KEY_BYTES)


def _stream(s: bytes, info_hash: bytes, initiator: bool) -> Rc4Stream:
    key_a, key_b = _sha1(b"keyA", s, info_hash), _sha1(b"keyB", s, info_hash)
    return Rc4Stream(key_a, key_b) if initiator else Rc4Stream(key_b, key_a)


class _Handshake:
    """What both ends share: a receive buffer, pending output and a state (the next step)."""

    def __init__(self, random_bytes: RandomBytes) -> None:
        self._random = random_bytes
        self._secret = int.from_bytes(random_bytes(SECRET_BYTES))
        self._buffer = bytearray()
        self._out = bytearray()
        self._cipher: Rc4Stream | None = None
        self._step: Callable[[], bool] = self._read_remote_key  # each step says: go on (True) or wait
        self.result: MseResult | None = None

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Take bytes from the peer; raises RemoteProtocolError if they are not MSE."""
        if self.result is not None:
            raise LocalProtocolError("the MSE handshake is already over")
        self._buffer += data
        while self.result is None and self._step():
            pass

    def data_to_send(self) -> bytes:
        out = bytes(self._out)
        self._out.clear()
        return out

    def _take(self, size: int) -> bytes | None:
        if len(self._buffer) < size:
            return None
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def _take_decrypted(self, size: int) -> bytes | None:
        data = self._take(size)
        assert self._cipher is not None
        return None if data is None else self._cipher.decrypt(data)

    def _sync(self, marker: bytes, window: int, failure: str) -> bool:
        """Drop bytes up to and including `marker`, which must start within `window` bytes."""
        at = self._buffer.find(marker, 0, window + len(marker))
        if at < 0:
            if len(self._buffer) >= window + len(marker):
                raise RemoteProtocolError(failure)
            return False
        del self._buffer[: at + len(marker)]
        return True

    def _finish(self, method: Method, info_hash: bytes, initial: bytes = b"") -> bool:
        assert self._cipher is not None
        rest = bytes(self._buffer)
        self._buffer.clear()
        if method is Method.RC4:
            rest = self._cipher.decrypt(rest)
        cipher = self._cipher if method is Method.RC4 else None
        self.result = MseResult(method, cipher, info_hash, initial + rest)
        return False

    def _go(self, step: Callable[[], bool]) -> bool:
        self._step = step
        return True

    def _read_remote_key(self) -> bool:
        raise NotImplementedError  # each end reads the other's public key its own way


class Initiator(_Handshake):
    """The dialing end (A): knows the torrent; offers `methods`; may send `initial_payload` (IA)
    with its third message, as libtorrent does with the BitTorrent handshake."""

    def __init__(
        self, info_hash: bytes, methods: Method, initial_payload: bytes = b"",
        random_bytes: RandomBytes = os.urandom,
    ) -> None:
        super().__init__(random_bytes)
        self.info_hash = info_hash
        self.methods = methods
        self._payload = initial_payload
        self._verification = b""
        self._pad = 0
        self._selected = Method.RC4
        self._out += _public_key(self._secret) + _padding(random_bytes)  # step 1: Ya, PadA

    def _read_remote_key(self) -> bool:
        remote = self._take(KEY_BYTES)
        if remote is None:
            return False
        s = _shared_secret(remote, self._secret)
        self._cipher = _stream(s, self.info_hash, initiator=True)
        self._out += self._third_message(s, self._cipher)
        self._verification = self._cipher.decrypt(VC)  # what B's ENCRYPT(VC) looks like
        self._step = self._sync_verification
        return True

    def _third_message(self, s: bytes, cipher: Rc4Stream) -> bytes:
        """Step 3: HASH('req1', S), HASH('req2', SKEY) xor HASH('req3', S), ENCRYPT(...)."""
        skey = bytes(a ^ b for a, b in zip(_sha1(b"req2", self.info_hash), _sha1(b"req3", s)))
        pad = _padding(self._random)
        fields = VC + _SELECT.pack(self.methods, len(pad)) + pad + _U16.pack(len(self._payload))
        return _sha1(b"req1", s) + skey + cipher.encrypt(fields + self._payload)

    def _sync_verification(self) -> bool:
        # MSE: B's ENCRYPT(VC) follows Yb after at most 512 bytes of PadB.
        found = self._sync(self._verification, MAX_PAD, "the peer's encrypted answer never started (no verification constant)")
        return found and self._go(self._read_select)

    def _read_select(self) -> bool:
        fields = self._take_decrypted(_SELECT.size)
        if fields is None:
            return False
        select, self._pad = _SELECT.unpack(fields)
        if select not in (Method.PLAINTEXT, Method.RC4) or not select & self.methods:
            raise RemoteProtocolError(f"the peer selected an encryption method we did not offer ({select:#x})")
        if self._pad > MAX_PAD:
            raise RemoteProtocolError(f"the peer's encrypted handshake has {self._pad} bytes of padding, more than 512")
        self._selected = Method(select)
        return self._go(self._read_pad)

    def _read_pad(self) -> bool:
        if self._take_decrypted(self._pad) is None:
            return False
        return self._finish(self._selected, self.info_hash)


class Responder(_Handshake):
    """The answering end (B): finds the torrent among `info_hashes()`; accepts `methods`.
    Offered both, it selects plaintext, as libtorrent does by default (prefer_rc4 off): a
    peer that wants RC4 only offers RC4 only."""

    def __init__(
        self, info_hashes: Callable[[], Iterable[bytes]], methods: Method,
        random_bytes: RandomBytes = os.urandom,
    ) -> None:
        super().__init__(random_bytes)
        self._info_hashes = info_hashes
        self.methods = methods
        self._s = b""
        self._info_hash = b""
        self._selected = Method.RC4
        self._pad = 0
        self._ia = 0

    def _read_remote_key(self) -> bool:
        remote = self._take(KEY_BYTES)
        if remote is None:
            return False
        self._s = _shared_secret(remote, self._secret)
        self._out += _public_key(self._secret) + _padding(self._random)  # step 2: Yb, PadB
        return self._go(self._sync_request)

    def _sync_request(self) -> bool:
        # MSE: A's HASH('req1', S) follows Ya after at most 512 bytes of PadA.
        found = self._sync(_sha1(b"req1", self._s), MAX_PAD, "garbage instead of an encrypted handshake")
        return found and self._go(self._read_stream_key)

    def _read_stream_key(self) -> bool:
        obfuscated = self._take(20)
        if obfuscated is None:
            return False
        wanted = bytes(a ^ b for a, b in zip(obfuscated, _sha1(b"req3", self._s)))
        matches = [ih for ih in self._info_hashes() if _sha1(b"req2", ih) == wanted]
        if not matches:
            raise RemoteProtocolError("the peer's handshake did not match any torrent")
        self._info_hash = matches[0]
        self._cipher = _stream(self._s, self._info_hash, initiator=False)
        return self._go(self._read_provide)

    def _read_provide(self) -> bool:
        fields = self._take_decrypted(len(VC) + _SELECT.size)
        if fields is None:
            return False
        if fields[: len(VC)] != VC:
            raise RemoteProtocolError("the peer's encrypted handshake did not decrypt (wrong verification constant)")
        provide, self._pad = _SELECT.unpack(fields[len(VC):])
        common = Method(provide & self.methods)
        if not common:
            raise RemoteProtocolError("no encryption method in common")
        if self._pad > MAX_PAD:
            raise RemoteProtocolError(f"the peer's encrypted handshake has {self._pad} bytes of padding, more than 512")
        self._selected = Method.PLAINTEXT if Method.PLAINTEXT in common else Method.RC4
        return self._go(self._read_pad)

    def _read_pad(self) -> bool:
        fields = self._take_decrypted(self._pad + _U16.size)
        if fields is None:
            return False
        (self._ia,) = _U16.unpack(fields[self._pad:])
        return self._go(self._read_initial_payload)

    def _read_initial_payload(self) -> bool:
        payload = self._take_decrypted(self._ia)  # MSE: IA is always RC4, whatever is selected
        if payload is None:
            return False
        assert self._cipher is not None
        pad = _padding(self._random)
        self._out += self._cipher.encrypt(VC + _SELECT.pack(self._selected, len(pad)) + pad)  # step 4
        return self._finish(self._selected, self._info_hash, payload)
