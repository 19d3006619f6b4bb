"""Several `webmcp serve` instances on loopback behind a real nginx (round-robin, no affinity): the harness of
the multi-instance tests and of bench/fleet.py.

nginx comes from Debian's packages, installed by scripts/install_nginx.sh the first time a test needs it
(a failed install fails those tests; nothing is skipped). It runs as this user's own process, with its
configuration, pid, logs and temp folders in a folder of the test.

A rolling restart takes an instance out of the upstream (`down`, then `nginx -s reload`) before SIGTERM,
as Kubernetes removes a terminating pod's endpoint before its preStop hook ends: nginx (open source) has
no active health checks, and it does not pass a POST that reached an instance on to another one, so the
instance must stop getting new requests before it drains.

Use: `with fleet(folder, config, 3) as running:` starts three instances of `config` and nginx; clients go to
`running.url`; `running.instances[i]` can be stopped, started or killed; `running.nginx.set_down(port)`
takes one out; `running.rolling_restart()` restarts them all; `running.nginx.upstreams()` lists which
instance served each request. Request the `nginx_installed` fixture so that nginx is there.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

from tests.integration.redis_server import free_port

ROOT = Path(__file__).resolve().parents[2]
INSTALL = ROOT / "scripts" / "install_nginx.sh"


def nginx_binary() -> str:
    """The nginx binary, installed from Debian's packages if it is not there yet."""
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if found is None:
        done = subprocess.run([str(INSTALL)], capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, f"{INSTALL} failed:\n{done.stdout}\n{done.stderr}"
        found = shutil.which("nginx") or "/usr/sbin/nginx"
    assert os.path.exists(found), "nginx is not installed"
    return found


def get_status(url: str, timeout: float = 2.0) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0


@dataclass
class Instance:
    """One `webmcp serve --transport http` process on its own loopback port."""

    config: Path
    port: int
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Instance:
        with open(self.log, "ab") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "webmcp", "serve", "-c", str(self.config), "--transport", "http",
                 "--port", str(self.port)], cwd=self.config.parent, stdout=subprocess.DEVNULL, stderr=err,
                env={**os.environ, **self.env})
        deadline = time.monotonic() + 30
        while get_status(f"http://127.0.0.1:{self.port}/readyz") != 200:
            assert self.proc.poll() is None, f"instance on {self.port} exited:\n{self.log.read_text()}"
            assert time.monotonic() < deadline, f"instance on {self.port} not ready:\n{self.log.read_text()}"
            time.sleep(0.05)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM (graceful drain), then wait; the exit code."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        self.proc = None
        return code

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None


class Nginx:
    """nginx on a free loopback port, proxying to `ports` round-robin."""

    def __init__(self, folder: Path, ports: list[int]) -> None:
        self.folder = folder
        self.ports = ports
        self.down: set[int] = set()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/mcp"
        self.binary = nginx_binary()
        self.proc: subprocess.Popen[bytes] | None = None
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi", "logs"):
            (folder / sub).mkdir(parents=True, exist_ok=True)

    @property
    def conf(self) -> Path:
        return self.folder / "nginx.conf"

    def _write(self) -> None:
        d = self.folder
        servers = "\n".join(f"    server 127.0.0.1:{p}{' down' if p in self.down else ''};" for p in self.ports)
        user = "user root;\n" if os.geteuid() == 0 else ""  # workers keep access to the test's folder
        self.conf.write_text(f"""{user}worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/logs/error.log warn;
events {{ worker_connections 4096; }}
http {{
  log_format upstream '$upstream_addr $status $request_time';
  access_log {d}/logs/access.log upstream;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  upstream webmcp {{
{servers}
    keepalive 64;
  }}
  server {{
    listen 127.0.0.1:{self.port};
    location / {{
      proxy_pass http://webmcp;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_buffering off;
      proxy_read_timeout 300s;
      proxy_next_upstream error timeout http_502 http_503;
    }}
  }}
}}
""")

    def _workers(self) -> set[int]:
        assert self.proc is not None
        return {c.pid for c in psutil.Process(self.proc.pid).children() if c.status() != psutil.STATUS_ZOMBIE}

    def start(self) -> Nginx:
        self._write()
        self.proc = subprocess.Popen([self.binary, "-p", str(self.folder), "-c", str(self.conf), "-g", "daemon off;"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 15
        while get_status(f"http://127.0.0.1:{self.port}/healthz") == 0:
            if self.proc.poll() is not None:
                raise AssertionError(f"nginx exited: {self.proc.stderr.read().decode() if self.proc.stderr else ''}")
            assert time.monotonic() < deadline, "nginx did not start"
            time.sleep(0.05)
        return self

    def set_down(self, port: int, down: bool = True) -> None:
        """Take an instance out of the upstream (or put it back); returns once new workers serve that."""
        (self.down.add if down else self.down.discard)(port)
        self._write()
        before = self._workers()
        test = subprocess.run([self.binary, "-t", "-q", "-p", str(self.folder), "-c", str(self.conf)],
                              capture_output=True, text=True)
        assert test.returncode == 0, test.stderr
        assert self.proc is not None
        self.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while not (self._workers() - before):
            assert time.monotonic() < deadline, "nginx did not reload"
            time.sleep(0.02)

    def upstreams(self) -> list[str]:
        """The upstream address of each request so far (the access log)."""
        path = self.folder / "logs" / "access.log"
        return [line.split()[0] for line in path.read_text().splitlines()] if path.exists() else []

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
            if self.proc.stderr:
                self.proc.stderr.close()
            self.proc = None


@dataclass
class Fleet:
    instances: list[Instance]
    nginx: Nginx

    @property
    def url(self) -> str:
        return self.nginx.url

    def pids(self) -> set[int]:
        return {i.pid for i in self.instances}

    def rolling_restart(self, pause: float = 0.3) -> None:
        """Each instance in turn: out of nginx, SIGTERM (it drains and exits 0), started again, back in."""
        for instance in self.instances:
            self.nginx.set_down(instance.port)
            time.sleep(pause)  # the preStop sleep: requests routed just before the reload reach it meanwhile
            assert instance.stop() == 0, instance.log.read_text()
            instance.start()
            self.nginx.set_down(instance.port, down=False)


@contextlib.contextmanager
def fleet(folder: Path, config: Path, count: int = 3, env: dict[str, str] | None = None) -> Iterator[Fleet]:
    """`count` instances of `config`, each on its own port, behind one nginx."""
    instances = [Instance(config, free_port(), folder / f"instance-{i}.log", env or {}) for i in range(count)]
    proxy = Nginx(folder / "nginx", [i.port for i in instances])
    try:
        for instance in instances:
            instance.start()
        proxy.start()
        yield Fleet(instances, proxy)
    finally:
        proxy.stop()
        for instance in instances:
            instance.kill()


@pytest.fixture(scope="session")
def nginx_installed() -> str:
    """nginx, installed once per test session if needed."""
    return nginx_binary()
