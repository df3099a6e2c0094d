"""The server accepts both RSA layouts for p_q_inner_data (Telethon 1.45 sends the legacy one)."""

from __future__ import annotations

import os
from hashlib import sha256

from telethon.crypto import AES, rsa
from telethon.extensions import BinaryReader
from telethon.tl.functions import ReqPqMultiRequest
from telethon.tl.types import PQInnerData

from tests.telegram_server.handshake import Handshake
from tests.telegram_server.rsa_key import process_key


def _rsa_pad_encrypt(data: bytes) -> bytes:
    """Client side of RSA_PAD (https://core.telegram.org/mtproto/auth_key#presenting-proof-of-work-server-authentication)."""
    key = process_key()
    data_with_padding = data + os.urandom(192 - len(data))
    while True:
        temp_key = os.urandom(32)
        data_with_hash = data_with_padding[::-1] + sha256(temp_key + data_with_padding).digest()
        aes_encrypted = AES.encrypt_ige(data_with_hash, temp_key, bytes(32))
        temp_key_xor = bytes(
            a ^ b for a, b in zip(temp_key, sha256(aes_encrypted).digest(), strict=True)
        )
        value = int.from_bytes(temp_key_xor + aes_encrypted, "big")
        if value < key.n:
            return pow(value, key.e, key.n).to_bytes(256, "big")


def _inner(nonce: int, server_nonce: int) -> bytes:
    return bytes(
        PQInnerData(
            pq=b"\x01", p=b"\x01", q=b"\x01", nonce=nonce, server_nonce=server_nonce, new_nonce=7
        )
    )


def _decrypt(handshake: Handshake, cipher: bytes) -> object:
    with BinaryReader(handshake._decrypt_inner(cipher)) as reader:
        return reader.tgread_object()


def test_both_rsa_layouts_decrypt() -> None:
    key = process_key()
    rsa.add_key(key.public_key_pem, old=False)
    handshake = Handshake(key)
    handshake.handle(ReqPqMultiRequest(nonce=5))
    data = _inner(5, 6)

    legacy = rsa.encrypt(key.fingerprint, data)
    assert legacy is not None
    assert _decrypt(handshake, legacy).new_nonce == 7
    assert _decrypt(handshake, _rsa_pad_encrypt(data)).new_nonce == 7
