"""Per-connection MTProto 2.0 encrypted state, server side.

The client encrypts with x = 0 and the server with x = 8 in the msg_key and AES key/IV
derivations (https://core.telegram.org/mtproto/description); Telethon's
``MTProtoState._calc_key`` implements both directions, so it is reused here.
"""

from __future__ import annotations

import os
import struct
import time
from dataclasses import dataclass
from hashlib import sha256

from telethon.crypto import AES, AuthKey
from telethon.network.mtprotostate import MTProtoState


class DecryptError(Exception):
    """An encrypted message failed its msg_key check or was malformed."""


@dataclass
class InboundMessage:
    """One decrypted client message (before container/gzip unpacking)."""

    salt: int
    session_id: int
    msg_id: int
    seq_no: int
    body: bytes


def auth_key_id(body: bytes) -> int:
    """The auth_key_id prefix of a transport payload (0 for plain messages)."""
    return int(struct.unpack("<Q", body[:8])[0])


class MsgIdClock:
    """Server msg_ids: time-based, increasing, odd (1 mod 4 for responses, else 3 mod 4)."""

    def __init__(self) -> None:
        self._last = 0

    def next_msg_id(self, *, response: bool) -> int:
        now = time.time()
        msg_id = (int(now) << 32) | (int((now % 1) * 2**32) & ~3)
        msg_id = max(msg_id, self._last + 4) & ~3
        self._last = msg_id
        return msg_id | (1 if response else 3)


class ServerSession:
    """Encrypts and decrypts one connection's messages with one auth key."""

    def __init__(self, auth_key: AuthKey) -> None:
        self.auth_key = auth_key
        self.session_id: int | None = None
        self.salt = int.from_bytes(os.urandom(8), "little", signed=True)
        self._clock = MsgIdClock()
        self._sequence = 0

    def decrypt(self, body: bytes) -> InboundMessage:
        key = self.auth_key.key
        if len(body) < 24 + 32 or (len(body) - 24) % 16:
            raise DecryptError("encrypted message too short or misaligned")
        msg_key = body[8:24]
        aes_key, aes_iv = MTProtoState._calc_key(key, msg_key, True)
        plain = AES.decrypt_ige(body[24:], aes_key, aes_iv)
        if sha256(key[88 : 88 + 32] + plain).digest()[8:24] != msg_key:
            raise DecryptError("msg_key mismatch")
        salt, session_id, msg_id, seq_no, length = struct.unpack("<qqqii", plain[:32])
        if length < 0 or 32 + length > len(plain):
            raise DecryptError("bad inner length")
        return InboundMessage(salt, session_id, msg_id, seq_no, plain[32 : 32 + length])

    def next_seq_no(self, content_related: bool) -> int:
        if content_related:
            self._sequence += 1
            return self._sequence * 2 - 1
        return self._sequence * 2

    def encrypt(self, payload: bytes, *, content_related: bool, response: bool) -> bytes:
        """Wrap one serialized object as an encrypted message for the client."""
        if self.session_id is None:
            raise RuntimeError("no client session yet")
        msg_id = self._clock.next_msg_id(response=response)
        seq_no = self.next_seq_no(content_related)
        data = struct.pack("<qqqii", self.salt, self.session_id, msg_id, seq_no, len(payload))
        data += payload
        data += os.urandom(-(len(data) + 12) % 16 + 12)
        key = self.auth_key.key
        msg_key = sha256(key[96 : 96 + 32] + data).digest()[8:24]
        aes_key, aes_iv = MTProtoState._calc_key(key, msg_key, False)
        return (
            struct.pack("<Q", self.auth_key.key_id)
            + msg_key
            + bytes(AES.encrypt_ige(data, aes_key, aes_iv))
        )
