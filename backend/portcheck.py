"""`python -m backend.portcheck HOST PORT`: exit at once, with a hint, when the port is taken.

`make run` calls it before migrating and seeding, so a busy port is reported in a second
rather than after the demo data is loaded.
"""

from __future__ import annotations

import errno
import socket
import sys


def port_problem(host: str, port: int) -> str | None:
    """Why `host:port` cannot be listened on, or None when it is free."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as runserver and gunicorn do
        try:
            probe.bind((host.strip("[]"), port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return f"Port {port} on {host} is already in use (another server is running there)."
            return f"Cannot listen on {host}:{port}: {exc.strerror or exc}."
    return None


def main(argv: list[str]) -> int:
    host, port = argv[0], int(argv[1])
    problem = port_problem(host, port)
    if problem is None:
        return 0
    print(f"{problem}\nChoose another port: make run PORT={port + 1}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
