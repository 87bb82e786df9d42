"""`make run` checks its port first: a busy one fails at once with the PORT=... hint."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from backend.portcheck import main, port_problem

ROOT = Path(__file__).resolve().parents[2]


def test_a_free_port_passes():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert port_problem("127.0.0.1", port) is None
    assert main(["127.0.0.1", str(port)]) == 0


def test_a_busy_port_fails_with_the_make_hint(capsys):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]

        assert main(["127.0.0.1", str(port)]) == 1
        # the same check as make run, in a fresh process: it fails at once, before anything else
        result = subprocess.run(
            [sys.executable, "-m", "backend.portcheck", "127.0.0.1", str(port)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        )

    assert capsys.readouterr().err == (
        f"Port {port} on 127.0.0.1 is already in use (another server is running there).\n"
        f"Choose another port: make run PORT={port + 1}\n"
    )
    assert result.returncode == 1 and f"make run PORT={port + 1}" in result.stderr


def test_make_run_checks_the_port_before_migrating():
    recipe = (ROOT / "Makefile").read_text().split("\nrun:", 1)[1].split("\n\n", 1)[0]
    commands = [line.strip() for line in recipe.splitlines()[1:]]
    assert commands[0] == "@$(BIN)/python -m backend.portcheck $(HOST) $(PORT)"
    assert "migrate" in commands[1]
