"""The server side of Telegram's 2FA password check (SRP-2048, https://core.telegram.org/api/srp).

Written from Telegram's description, independently of ``telethon.password`` (the client side),
so a sign-in with a cloud password checks one implementation against the other:

- ``x = PH2(password, salt1, salt2)``, the verifier ``v = g^x mod p`` is all the server keeps;
- ``account.getPassword`` hands out ``B = (k*v + g^b) mod p`` with ``k = H(p | g)``;
- ``auth.checkPassword`` gets ``g_a`` and ``M1``; the server computes ``u = H(g_a | B)``,
  ``S = (g_a * v^u)^b mod p``, ``K = H(S)`` and
  ``M1 = H(H(p) xor H(g) | H(salt1) | H(salt2) | g_a | B | K)``, and compares.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from typing import TypeAlias

from telethon.tl import types

from .models import PasswordRecord

# The 2048-bit safe prime Telegram uses for SRP (and that Telethon recognises without factoring
# it, for g in 3, 4, 5, 7). Telethon refuses any other prime unless it proves it prime: slow.
PRIME = int(
    "C71CAEB9C6B1C9048E6C522F70F13F73980D40238E3E21C14934D037563D930F"
    "48198A0AA7C14058229493D22530F4DBFA336F6E0AC925139543AED44CCE7C37"
    "20FD51F69458705AC68CD4FE6B6B13ABDC9746512969328454F18FAF8C595F64"
    "2477FE96BB2A941D5BCD1D4AC8CC49880708FA9B378E3C4F3A9060BEE67CF9A4"
    "A4A695811051907E162753B56B0F6B410DBA74D8A84B2A14B3144E0EF1284754"
    "FD17ED950D5965B4B9DD46582DB1178D169C6BC465B0D6FF9CA3928FEF5B9AE4"
    "E418FC15E83EBEA0F87FA9FF5EED70050DED2849F47BF959D956850CE929851F"
    "0D8115F635B105EE2E4E15D04B2454BF6F4FADF034B10403119CD8E3B92FCC5B",
    16,
)
GENERATOR = 3  # valid for PRIME: PRIME % 3 == 2
SIZE = 256  # bytes of every number that is hashed
PBKDF2_ITERATIONS = 100_000

Algo: TypeAlias = types.PasswordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow


def _h(*parts: bytes) -> bytes:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part)
    return digest.digest()


def to_bytes(number: int) -> bytes:
    """A number as the 256-byte big-endian string SRP hashes."""
    return number.to_bytes(SIZE, "big")


PRIME_BYTES = to_bytes(PRIME)


def password_hash(password: str, salt1: bytes, salt2: bytes) -> bytes:
    """``PH2``: ``SH(pbkdf2(sha512, PH1, salt1, 100000), salt2)`` with
    ``PH1 = SH(SH(password, salt1), salt2)`` and ``SH(data, salt) = H(salt | data | salt)``."""
    ph1 = _h(salt2, _h(salt1, password.encode(), salt1), salt2)
    derived = hashlib.pbkdf2_hmac("sha512", ph1, salt1, PBKDF2_ITERATIONS)
    return _h(salt2, derived, salt2)


def make_password(password: str, hint: str | None = None) -> PasswordRecord:
    """Fresh salts and the verifier ``v = g^x mod p`` for ``password``."""
    salt1, salt2 = os.urandom(40), os.urandom(16)
    x = int.from_bytes(password_hash(password, salt1, salt2), "big")
    return PasswordRecord(salt1=salt1, salt2=salt2, verifier=pow(GENERATOR, x, PRIME), hint=hint)


def algo(record: PasswordRecord) -> Algo:
    """The ``current_algo`` of ``account.password`` for a set password."""
    return Algo(salt1=record.salt1, salt2=record.salt2, g=GENERATOR, p=PRIME_BYTES)


def new_algo() -> Algo:
    """What a client would use to set a new password (salt1 is extended by the client)."""
    return Algo(salt1=os.urandom(8), salt2=os.urandom(16), g=GENERATOR, p=PRIME_BYTES)


def _multiplier() -> int:
    return int.from_bytes(_h(PRIME_BYTES, to_bytes(GENERATOR)), "big")


def _is_good_exp(value: int) -> bool:
    """Telegram's check on ``g^a`` / ``g^b``: neither the value nor ``p - value`` is short."""
    min_bits = 2048 - 64
    return 0 < value < PRIME and min(value, PRIME - value).bit_length() >= min_bits


@dataclass
class SrpChallenge:
    """One ``account.getPassword`` answer, remembered until ``auth.checkPassword``."""

    srp_id: int
    user_id: int
    b: int
    srp_b: int  # B = (k*v + g^b) mod p
    password: PasswordRecord

    @property
    def srp_b_bytes(self) -> bytes:
        return to_bytes(self.srp_b)


def new_challenge(user_id: int, record: PasswordRecord) -> SrpChallenge:
    """A random ``b`` (with ``g^b`` good, as the client checks) and ``B``."""
    while True:
        b = int.from_bytes(os.urandom(SIZE), "big")
        g_b = pow(GENERATOR, b, PRIME)
        srp_b = (_multiplier() * record.verifier + g_b) % PRIME
        if _is_good_exp(g_b) and 0 < srp_b < PRIME:
            return SrpChallenge(
                srp_id=secrets.randbits(63), user_id=user_id, b=b, srp_b=srp_b, password=record
            )


def expected_m1(challenge: SrpChallenge, g_a_bytes: bytes) -> bytes | None:
    """The proof ``M1`` the right password yields for the client's ``g_a``; None if ``g_a`` is
    not acceptable (zero, out of range, or short)."""
    g_a = int.from_bytes(g_a_bytes, "big")
    if len(g_a_bytes) > SIZE or not _is_good_exp(g_a):
        return None
    a_bytes, b_bytes = to_bytes(g_a), challenge.srp_b_bytes
    u = int.from_bytes(_h(a_bytes, b_bytes), "big")
    if u == 0:
        return None
    s = pow(g_a * pow(challenge.password.verifier, u, PRIME) % PRIME, challenge.b, PRIME)
    k = _h(to_bytes(s))
    p_g = bytes(x ^ y for x, y in zip(_h(PRIME_BYTES), _h(to_bytes(GENERATOR)), strict=True))
    record = challenge.password
    return _h(p_g, _h(record.salt1), _h(record.salt2), a_bytes, b_bytes, k)


def check(challenge: SrpChallenge, g_a: bytes, m1: bytes) -> bool:
    """Whether the client's ``M1`` proves it knows the password."""
    expected = expected_m1(challenge, g_a)
    return expected is not None and hmac.compare_digest(expected, m1)
