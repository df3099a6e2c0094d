"""The test server's RSA key: generation, fingerprint, raw decryption, client registration.

Telethon encrypts the handshake's ``p_q_inner_data`` with the server's RSA key, chosen by the
fingerprint listed in ``resPQ``. We generate a fresh 2048-bit key per process (``cryptography`` or
the ``openssl`` CLI when there, else the pure-Python ``rsa`` package Telethon depends on) and
register its public half with ``telethon.crypto.rsa.add_key``.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from dataclasses import dataclass

import rsa
from telethon.crypto import rsa as telethon_rsa


@dataclass(frozen=True)
class ServerRsaKey:
    """A raw ("textbook") RSA key pair, as MTProto's handshake uses it."""

    n: int
    e: int
    d: int

    @property
    def public_key_pem(self) -> str:
        """The public key as PKCS#1 PEM (``-----BEGIN RSA PUBLIC KEY-----``)."""
        return rsa.PublicKey(self.n, self.e).save_pkcs1().decode("ascii")

    @property
    def fingerprint(self) -> int:
        """Telegram's fingerprint: the low 64 bits of SHA1(n, e) as TL bytes, signed."""
        return int(telethon_rsa._compute_fingerprint(rsa.PublicKey(self.n, self.e)))

    def decrypt_raw(self, cipher: bytes) -> bytes:
        """Raw RSA decryption, returning 256 big-endian bytes."""
        value = pow(int.from_bytes(cipher, "big"), self.d, self.n)
        return value.to_bytes(256, "big")


def _generate_with_cryptography() -> ServerRsaKey | None:
    try:
        from cryptography.hazmat.primitives.asymmetric import rsa as crsa
    except ImportError:
        return None
    private = crsa.generate_private_key(public_exponent=65537, key_size=2048)
    numbers = private.private_numbers()
    return ServerRsaKey(n=numbers.public_numbers.n, e=numbers.public_numbers.e, d=numbers.d)


def _generate_with_openssl() -> ServerRsaKey | None:
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    try:
        pem = subprocess.run(
            [openssl, "genrsa", "-traditional", "2048"],
            capture_output=True,
            check=True,
            timeout=30,
        ).stdout
        private = rsa.PrivateKey.load_pkcs1(pem)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    return ServerRsaKey(n=private.n, e=private.e, d=private.d)


def generate_key() -> ServerRsaKey:
    """Make a new 2048-bit key: ``cryptography`` or the ``openssl`` CLI (~0.1 s) when there,
    else pure-Python ``rsa.newkeys`` (1-10 s)."""
    key = _generate_with_cryptography() or _generate_with_openssl()
    if key is not None:
        return key
    public, private = rsa.newkeys(2048)
    return ServerRsaKey(n=public.n, e=public.e, d=private.d)


@functools.lru_cache(maxsize=1)
def process_key() -> ServerRsaKey:
    """One key per test process, generated on first use and shared by all servers."""
    return generate_key()


def register_with_telethon(public_key_pem: str) -> None:
    """Make Telethon's authenticator accept this key (as a "new", non-legacy key)."""
    telethon_rsa.add_key(public_key_pem, old=False)
