# SPDX-License-Identifier: MIT
"""peerio: socket helpers the tests' raw protocol peers share."""


def recv_exact(s, n):
    """Exactly n bytes from socket s; EOFError if the server closes first."""
    out = bytearray()
    while len(out) < n:
        b = s.recv(n - len(out))
        if not b:
            raise EOFError("the server closed the connection")
        out += b
    return bytes(out)
