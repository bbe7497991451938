"""When the suite runs under tools/offline (as `make test` does where it can), the network really is gone."""
from __future__ import annotations

import os
import socket

import pytest


@pytest.mark.skipif(os.environ.get("ATTNMEM_OFFLINE") != "1", reason="not running under tools/offline")
def test_no_network_but_loopback():
    with pytest.raises(OSError):
        socket.create_connection(("1.1.1.1", 443), timeout=2)
    with pytest.raises(OSError):
        socket.getaddrinfo("pypi.org", 443)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.close()
