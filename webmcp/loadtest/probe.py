"""Readings once a second: the server's memory and CPU (its process and children, when its pid is
known) and the driver's own CPU, with psutil. CPU is a percentage of one core, from the change in
user+system time since the last reading. Finding the children scans every process, so the list is
refreshed every few seconds only, and the driver reads from a thread."""

from __future__ import annotations

import threading
import time
from typing import Any

import psutil

from webmcp.loadtest.errors import BenchUsageError

CHILDREN_EVERY = 5.0  # seconds between scans for the server's child processes
MIN_INTERVAL = 0.25  # seconds: a shorter span makes CPU percentages meaningless


class Probe:
    def __init__(self, pid: int | None) -> None:
        self.server: psutil.Process | None = None
        if pid is not None:
            try:
                self.server = psutil.Process(pid)
            except psutil.Error:
                raise BenchUsageError(f"--pid {pid}: no such process") from None
        self.driver = psutil.Process()
        self._procs: list[psutil.Process] = []
        self._found = -1e9
        self.rss: list[float] = []
        self.server_cpu: list[float] = []
        self.driver_cpu: list[float] = []
        self._last = (time.monotonic(), self._server_seconds(), self._driver_seconds())
        self._origin = self._last
        self._readings: dict[str, Any] = {}
        self._lock = threading.Lock()  # the driver reads from a thread, and once more at the end

    def _tree(self) -> list[psutil.Process]:
        if self.server is None:
            return []
        if time.monotonic() - self._found > CHILDREN_EVERY:
            self._found = time.monotonic()
            try:
                self._procs = [self.server, *self.server.children(recursive=True)]
            except psutil.Error:
                self._procs = [self.server]
        return self._procs

    def _server_seconds(self) -> float:
        total = 0.0
        for proc in self._tree():
            try:
                times = proc.cpu_times()
            except psutil.Error:
                continue
            total += times.user + times.system
        return total

    def _driver_seconds(self) -> float:
        times = self.driver.cpu_times()
        return times.user + times.system

    def _server_rss(self) -> float | None:
        if self.server is None or not self.server.is_running():
            return None
        total = 0
        for proc in self._tree():
            try:
                total += proc.memory_info().rss
            except psutil.Error:
                continue
        return total / 1e6

    def read(self) -> dict[str, Any]:
        """This reading; one taken too soon after the last (the run's final one) repeats the last."""
        with self._lock:
            if time.monotonic() - self._last[0] < MIN_INTERVAL and self._readings:
                return dict(self._readings)
            self._readings = self._read()
            return dict(self._readings)

    def _read(self) -> dict[str, Any]:
        now, server, driver = time.monotonic(), self._server_seconds(), self._driver_seconds()
        last_now, last_server, last_driver = self._last
        self._last = (now, server, driver)
        wall = max(now - last_now, 1e-6)
        readings: dict[str, Any] = {"driver_cpu": round(max(0.0, driver - last_driver) / wall * 100, 1)}
        self.driver_cpu.append(readings["driver_cpu"])
        rss = self._server_rss()
        if rss is not None:
            readings["rss_mb"] = round(rss, 2)
            readings["server_cpu"] = round(max(0.0, server - last_server) / wall * 100, 1)
            self.rss.append(readings["rss_mb"])
            self.server_cpu.append(readings["server_cpu"])
        return readings

    def cpu_seconds(self) -> tuple[float, float]:
        """(server, driver) CPU seconds from the probe's start to its last reading."""
        return self._last[1] - self._origin[1], self._last[2] - self._origin[2]

    def summary(self) -> dict[str, Any] | None:
        """The server's figures over the run (None when its pid is unknown)."""
        if self.server is None or not self.rss:
            return None
        return {
            "pid": self.server.pid,
            "rss_mb": {"first": self.rss[0], "last": self.rss[-1], "max": max(self.rss)},
            "cpu_percent": {"mean": round(sum(self.server_cpu) / len(self.server_cpu), 1),
                            "max": max(self.server_cpu)},
        }
