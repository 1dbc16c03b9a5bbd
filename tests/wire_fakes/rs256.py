"""Just enough RSA for a fake Google token endpoint, in the standard library: a throwaway key pair, its PKCS#8
PEM (for the service-account file), and RS256 (RSASSA-PKCS1-v1_5 with SHA-256) signing and verification."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass

SHA256_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")  # DigestInfo header for SHA-256
SMALL_PRIMES = [p for p in range(3, 2000) if all(p % d for d in range(2, int(p ** 0.5) + 1))]


def _probably_prime(n: int, rounds: int = 24) -> bool:
    if any(n % p == 0 for p in SMALL_PRIMES):
        return n in SMALL_PRIMES
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for _ in range(rounds):
        x = pow(secrets.randbelow(n - 3) + 2, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _prime(bits: int) -> int:
    while True:
        candidate = secrets.randbits(bits) | (3 << (bits - 2)) | 1
        if _probably_prime(candidate):
            return candidate


@dataclass
class Key:
    n: int
    e: int
    d: int
    p: int
    q: int

    @classmethod
    def generate(cls, bits: int = 2048) -> Key:
        e = 65537
        while True:
            p, q = _prime(bits // 2), _prime(bits // 2)
            phi = (p - 1) * (q - 1)
            if p != q and phi % e:
                return cls(p * q, e, pow(e, -1, phi), p, q)

    def pem(self) -> str:
        """PKCS#8 PrivateKeyInfo, as a Google service-account file carries it."""
        numbers = [0, self.n, self.e, self.d, self.p, self.q, self.d % (self.p - 1), self.d % (self.q - 1),
                   pow(self.q, -1, self.p)]
        rsa_key = _der(0x30, b"".join(_der_int(x) for x in numbers))
        algorithm = _der(0x30, _der(0x06, bytes.fromhex("2a864886f70d010101")) + _der(0x05, b""))
        info = _der(0x30, _der_int(0) + algorithm + _der(0x04, rsa_key))
        body = base64.encodebytes(info).decode().replace("\n", "")
        lines = [body[i:i + 64] for i in range(0, len(body), 64)]
        return "-----BEGIN PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END PRIVATE KEY-----\n"

    def _size(self) -> int:
        return (self.n.bit_length() + 7) // 8

    def _encoded(self, message: bytes) -> int:
        digest = SHA256_PREFIX + hashlib.sha256(message).digest()
        return int.from_bytes(b"\x00\x01" + b"\xff" * (self._size() - len(digest) - 3) + b"\x00" + digest, "big")

    def sign(self, message: bytes) -> bytes:
        return pow(self._encoded(message), self.d, self.n).to_bytes(self._size(), "big")

    def verify(self, message: bytes, signature: bytes) -> bool:
        return len(signature) == self._size() and pow(int.from_bytes(signature, "big"), self.e, self.n) == \
            self._encoded(message)


def _der(tag: int, content: bytes) -> bytes:
    n = len(content)
    length = bytes([n]) if n < 128 else bytes([0x80 | ((n.bit_length() + 7) // 8)]) + n.to_bytes(
        (n.bit_length() + 7) // 8, "big")
    return bytes([tag]) + length + content


def _der_int(x: int) -> bytes:
    return _der(0x02, x.to_bytes(x.bit_length() // 8 + 1, "big"))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwt(key: Key, claims: dict, kid: str | None = None) -> str:
    """An RS256 JWT, as a client of the token endpoint would make one (for the raw tests)."""
    header = {"alg": "RS256", "typ": "JWT", **({"kid": kid} if kid else {})}
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64url(key.sign(signing_input.encode()))}"


def read_jwt(key: Key, token: str) -> tuple[dict, dict] | None:
    """(header, claims) of an RS256 JWT whose signature `key` verifies, else None."""
    try:
        head, body, sig = token.split(".")
        header, claims = json.loads(unb64url(head)), json.loads(unb64url(body))
        ok = header.get("alg") == "RS256" and key.verify(f"{head}.{body}".encode(), unb64url(sig))
    except ValueError:
        return None
    return (header, claims) if ok else None
