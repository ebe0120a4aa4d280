"""``commissim viz``: serve the SolaraViz page (``model/app.py``) on 127.0.0.1.

Runs ``python -m solara run commissim.model.app`` in a child process with the options that
keep the page offline (``--production``: browser files from the local
``solara-assets`` package; no version check; no telemetry), prints the address
and forwards Ctrl-C. Each browser tab gets its own model.
"""

from __future__ import annotations

import argparse
import errno
import importlib.util
import os
import signal
import socket
import subprocess
import sys

from ..errors import UserError

DEFAULT_PORT = 8765
DEFAULT_HOST = "127.0.0.1"
APP_MODULE = "commissim.model.app"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port to serve on (default {DEFAULT_PORT})")
    parser.add_argument("--host", default=DEFAULT_HOST,
                        help=f"address to listen on (default {DEFAULT_HOST}: this machine only)")


def check_port(host: str, port: int) -> None:
    """Raise UserError when ``host:port`` cannot be listened on (busy, or not this machine's address)."""
    if not 1 <= port <= 65535:
        raise UserError(f"--port {port} is not a valid port (1-65535)")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise UserError(f"--host {host!r} is not a known address ({exc.strerror})") from None
    family, _, _, _, addr = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does
        try:
            s.bind(addr)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise UserError(
                    f"port {port} on {host} is already in use (another `commissim viz`?); "
                    f"stop that server or choose another port with --port"
                ) from None
            if exc.errno == errno.EACCES:
                raise UserError(f"no permission to listen on port {port}; choose a port above 1024") from None
            raise UserError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def server_command(host: str, port: int) -> list[str]:
    return [
        sys.executable, "-m", "solara", "run", APP_MODULE,
        "--host", host, "--port", str(port),
        "--production", "--no-open", "--no-check-version",
    ]


def server_env() -> dict[str, str]:
    env = dict(os.environ)
    env["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] = "False"
    env["SOLARA_THEME_SHOW_BANNER"] = "False"  # the corner banner covered the summary table at 1400 x 900
    return env


def url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def _stop(proc: subprocess.Popen) -> None:
    """Stop the server child: SIGINT (as Ctrl-C would), then SIGTERM, then SIGKILL."""
    for sig, wait in ((signal.SIGINT, 10), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        if proc.poll() is not None:
            return
        try:
            proc.send_signal(sig)
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        except KeyboardInterrupt:  # a second Ctrl-C: go straight to the next signal
            continue


def run(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("solara") is None:
        raise UserError("Solara is not installed; install the project with `pip install -e .` (it pins solara)")
    host, port = args.host, args.port
    check_port(host, port)
    print(f"commissim viz: serving the SolaraViz page at {url(host, port)} (Ctrl-C to stop)", flush=True)
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"commissim viz: note: listening on {host}, so other machines may reach the page", flush=True)

    proc = subprocess.Popen(server_command(host, port), env=server_env())

    def on_term(signum, frame):  # forward a polite stop (e.g. from a test harness) to the server
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        code = proc.wait()
    except KeyboardInterrupt:
        _stop(proc)
        print("commissim viz: stopped", file=sys.stderr, flush=True)
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        if proc.poll() is None:
            _stop(proc)
    if code != 0:
        print(f"commissim viz: the Solara server exited with code {code}", file=sys.stderr)
    return code
