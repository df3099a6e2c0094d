"""Server side of MTProto's auth-key exchange (https://core.telegram.org/mtproto/auth_key).

``req_pq_multi`` -> ``resPQ``; ``req_DH_params`` -> ``server_DH_params_ok``;
``set_client_DH_params`` -> ``dh_gen_ok``. The client's inner data is accepted both in the legacy
``sha1 + data + random`` layout (what Telethon 1.45's ``crypto/rsa.encrypt`` sends) and in the
newer RSA_PAD layout, detected by which hash checks out.
"""

from __future__ import annotations

import os
import time
from hashlib import sha1, sha256

from telethon import helpers
from telethon.crypto import AES, AuthKey
from telethon.crypto.rsa import get_byte_array
from telethon.extensions import BinaryReader
from telethon.tl import TLObject
from telethon.tl.functions import ReqDHParamsRequest, ReqPqMultiRequest, SetClientDHParamsRequest
from telethon.tl.types import (
    ClientDHInnerData,
    DhGenOk,
    PQInnerData,
    PQInnerDataDc,
    PQInnerDataTempDc,
    ResPQ,
    ServerDHInnerData,
    ServerDHParamsOk,
)

from .rsa_key import ServerRsaKey

# The example product from Telegram's documentation: two 31-bit primes.
PQ_P = 1229236969
PQ_Q = 1402015859

# RFC 3526 2048-bit MODP group (group 14): a safe prime, generator 2.
DH_PRIME = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A0879"
    "8E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B"
    "0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA4836"
    "1C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804"
    "F1746C08CA18217C32905E462E36CE3BE39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6"
    "955817183995497CEA956AE515D2261898FA051015728E5A8AACAA68FFFFFFFFFFFFFFFF",
    16,
)
DH_G = 2
_SAFETY = 2 ** (2048 - 64)


class HandshakeError(Exception):
    """The client's handshake message did not check out."""


class Handshake:
    """State of one auth-key exchange on one connection."""

    def __init__(self, rsa_key: ServerRsaKey) -> None:
        self._rsa = rsa_key
        self._nonce: int | None = None
        self._server_nonce: int | None = None
        self._new_nonce: int | None = None
        self._a: int | None = None
        self._tmp_key: bytes = b""
        self._tmp_iv: bytes = b""

    def handle(self, request: TLObject) -> tuple[TLObject, AuthKey | None]:
        """Answer one plain-text handshake request; the key is set once the exchange is done."""
        if isinstance(request, ReqPqMultiRequest):
            return self._res_pq(request), None
        if isinstance(request, ReqDHParamsRequest):
            return self._server_dh_params(request), None
        if isinstance(request, SetClientDHParamsRequest):
            return self._dh_gen(request)
        raise HandshakeError(f"unexpected plain request {type(request).__name__}")

    def _res_pq(self, request: ReqPqMultiRequest) -> ResPQ:
        self._nonce = request.nonce
        self._server_nonce = int.from_bytes(os.urandom(16), "little", signed=True)
        return ResPQ(
            nonce=request.nonce,
            server_nonce=self._server_nonce,
            pq=get_byte_array(PQ_P * PQ_Q),
            server_public_key_fingerprints=[self._rsa.fingerprint],
        )

    def _check_nonces(self, nonce: int, server_nonce: int) -> None:
        if nonce != self._nonce or server_nonce != self._server_nonce:
            raise HandshakeError("nonce mismatch")

    def _decrypt_inner(self, encrypted: bytes) -> bytes:
        plain = self._rsa.decrypt_raw(encrypted)
        # Legacy layout: 0x00 | sha1(data) | data | random padding (255 bytes after the zero).
        with BinaryReader(plain[21:]) as reader:
            try:
                obj = reader.tgread_object()
                data = plain[21 : 21 + reader.tell_position()]
                if sha1(data).digest() == plain[1:21] and isinstance(obj, TLObject):  # noqa: S324 - MTProto mandates SHA1 here
                    return data
            except Exception:  # noqa: S110 - fall through to the RSA_PAD layout
                pass
        # RSA_PAD: temp_key_xor(32) | aes_encrypted(224).
        temp_key = bytes(
            a ^ b for a, b in zip(plain[:32], sha256(plain[32:]).digest(), strict=True)
        )
        data_with_hash = AES.decrypt_ige(plain[32:], temp_key, bytes(32))
        data_with_padding, digest = data_with_hash[:192][::-1], data_with_hash[192:]
        if sha256(temp_key + data_with_padding).digest() != digest:
            raise HandshakeError("RSA-encrypted inner data does not check out")
        return bytes(data_with_padding)

    def _server_dh_params(self, request: ReqDHParamsRequest) -> ServerDHParamsOk:
        self._check_nonces(request.nonce, request.server_nonce)
        if request.public_key_fingerprint != self._rsa.fingerprint:
            raise HandshakeError("unknown RSA fingerprint")
        with BinaryReader(self._decrypt_inner(request.encrypted_data)) as reader:
            inner = reader.tgread_object()
        if not isinstance(inner, PQInnerData | PQInnerDataDc | PQInnerDataTempDc):
            raise HandshakeError(f"unexpected inner data {type(inner).__name__}")
        self._check_nonces(inner.nonce, inner.server_nonce)
        if int.from_bytes(inner.p, "big") * int.from_bytes(inner.q, "big") != PQ_P * PQ_Q:
            raise HandshakeError("wrong factorisation")
        self._new_nonce = inner.new_nonce

        g_a = 0
        while not (_SAFETY <= g_a <= DH_PRIME - _SAFETY):
            self._a = int.from_bytes(os.urandom(256), "big")
            g_a = pow(DH_G, self._a, DH_PRIME)
        answer = bytes(
            ServerDHInnerData(
                nonce=self._nonce,
                server_nonce=self._server_nonce,
                g=DH_G,
                dh_prime=get_byte_array(DH_PRIME),
                g_a=get_byte_array(g_a),
                server_time=int(time.time()),
            )
        )
        self._tmp_key, self._tmp_iv = helpers.generate_key_data_from_nonce(
            self._server_nonce, self._new_nonce
        )
        with_hash = sha1(answer).digest() + answer  # noqa: S324 - MTProto mandates SHA1 here
        with_hash += os.urandom(-len(with_hash) % 16)
        return ServerDHParamsOk(
            nonce=self._nonce,
            server_nonce=self._server_nonce,
            encrypted_answer=AES.encrypt_ige(with_hash, self._tmp_key, self._tmp_iv),
        )

    def _dh_gen(self, request: SetClientDHParamsRequest) -> tuple[DhGenOk, AuthKey]:
        self._check_nonces(request.nonce, request.server_nonce)
        if self._a is None or self._new_nonce is None:
            raise HandshakeError("set_client_DH_params before req_DH_params")
        plain = AES.decrypt_ige(request.encrypted_data, self._tmp_key, self._tmp_iv)
        with BinaryReader(plain[20:]) as reader:
            inner = reader.tgread_object()
            length = reader.tell_position()
        if sha1(plain[20 : 20 + length]).digest() != plain[:20]:  # noqa: S324 - MTProto mandates SHA1 here
            raise HandshakeError("client DH inner data hash mismatch")
        if not isinstance(inner, ClientDHInnerData):
            raise HandshakeError(f"unexpected client DH data {type(inner).__name__}")
        g_b = int.from_bytes(inner.g_b, "big")
        if not (1 < g_b < DH_PRIME - 1):
            raise HandshakeError("g_b out of range")
        # The key is the 2048-bit number as 256 bytes, as Telegram makes it. Telethon drops
        # leading zero bytes (get_byte_array): in the 1 in 256 handshakes where the number has
        # one, its new_nonce_hash1 check fails and it makes a new key, as against Telegram.
        # (Mirroring Telethon instead gave 255-byte keys that a StringSession pads to 256 on
        # save: a different key on reload, and a rare "auth key not found" in the tests.)
        auth_key = AuthKey(pow(g_b, self._a, DH_PRIME).to_bytes(256, "big"))
        return (
            DhGenOk(
                nonce=self._nonce,
                server_nonce=self._server_nonce,
                new_nonce_hash1=auth_key.calc_new_nonce_hash(self._new_nonce, 1),
            ),
            auth_key,
        )
