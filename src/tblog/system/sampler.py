"""One sample of the machine's load: the process's and the host's CPU and memory (psutil
when installed, else ``/proc``) and per GPU its utilisation, memory used and temperature
(NVML through ``nvidia-ml-py``'s ``pynvml`` when installed, else what an already imported
``torch.cuda`` reports; nothing without a GPU). Runs on the monitor's thread only.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from typing import Any

MB = 1 << 20


def _psutil() -> Any:
    try:
        return importlib.import_module("psutil")
    except ImportError:
        return None


class CpuMemory:
    """CPU % and memory of this process and of the host, as ``{tag suffix: value}``.

    CPU % is measured over the time since the previous sample (the first sample reports
    the time since this object was made): process CPU in ``[0, 100 * cpus]``, host CPU
    in ``[0, 100]`` (CPU times tick every 10 ms: over a short window, such as the last
    sample's at stop, the ratio is clamped to those ranges)."""

    def __init__(self) -> None:
        self._ps = _psutil()
        if self._ps is not None:
            self._proc = self._ps.Process()
            self._proc.cpu_percent(None)  # start both measurements now
            self._ps.cpu_percent(None)
        else:
            self._last = (time.monotonic(), _process_cpu_s(), _host_ticks())

    def sample(self) -> dict[str, float]:
        out = self._sample()
        top = 100.0 * (os.cpu_count() or 1)
        for name, high in (("cpu_percent", top), ("host_cpu_percent", 100.0)):
            if name in out:
                out[name] = min(max(out[name], 0.0), high)
        return out

    def _sample(self) -> dict[str, float]:
        ps = self._ps
        if ps is not None:
            vm = ps.virtual_memory()
            return {
                "cpu_percent": float(self._proc.cpu_percent(None)),
                "host_cpu_percent": float(ps.cpu_percent(None)),
                "rss_mb": self._proc.memory_info().rss / MB,
                "host_memory_used_mb": (vm.total - vm.available) / MB,
                "host_memory_available_mb": vm.available / MB,
            }
        now, cpu, ticks = time.monotonic(), _process_cpu_s(), _host_ticks()
        then, cpu0, ticks0 = self._last
        self._last = (now, cpu, ticks)
        out = {"cpu_percent": 100.0 * (cpu - cpu0) / max(now - then, 1e-9)}
        if ticks is not None and ticks0 is not None:
            busy, total = ticks[0] - ticks0[0], ticks[1] - ticks0[1]
            out["host_cpu_percent"] = 100.0 * busy / total if total > 0 else 0.0
        rss = _proc_rss()
        if rss is not None:
            out["rss_mb"] = rss / MB
        mem = _meminfo()
        if "MemTotal" in mem and "MemAvailable" in mem:
            out["host_memory_used_mb"] = (mem["MemTotal"] - mem["MemAvailable"]) / MB
            out["host_memory_available_mb"] = mem["MemAvailable"] / MB
        return out


def _process_cpu_s() -> float:
    t = os.times()
    return t.user + t.system


def _host_ticks() -> tuple[int, int] | None:
    """``(busy, total)`` jiffies of all CPUs from ``/proc/stat``."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def _proc_rss() -> int | None:
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _meminfo() -> dict[str, int]:
    out = {}
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                name, _, rest = line.partition(":")
                parts = rest.split()
                if parts and parts[0].isdigit():
                    out[name] = int(parts[0]) * 1024
    except OSError:
        pass
    return out


class Gpus:
    """Per GPU ``{"gpu<i>/utilization": %, "gpu<i>/memory_used_mb": MB,
    "gpu<i>/temperature_c": C}`` (what the source offers), ``{}`` without a GPU."""

    def __init__(self) -> None:
        self._nvml: Any = None
        self._handles: list[Any] = []
        try:
            nvml = importlib.import_module("pynvml")
            nvml.nvmlInit()
            self._handles = [
                nvml.nvmlDeviceGetHandleByIndex(i) for i in range(nvml.nvmlDeviceGetCount())
            ]
            self._nvml = nvml
        except Exception:  # noqa: BLE001 - no NVML (not installed, no driver): torch or nothing
            self._nvml = None

    @property
    def source(self) -> str:
        if self._nvml is not None:
            return "nvml"
        return "torch" if _torch_cuda() is not None else "none"

    def sample(self) -> dict[str, float]:
        nvml = self._nvml
        if nvml is None:
            return _torch_sample()
        out: dict[str, float] = {}
        for i, h in enumerate(self._handles):
            for name in ("utilization", "memory_used_mb", "temperature_c"):
                try:
                    out[f"gpu{i}/{name}"] = _nvml_read(nvml, h, name)
                except Exception:  # noqa: BLE001 - a query this GPU does not support
                    continue
        return out

    def close(self) -> None:
        if self._nvml is not None:
            try:
                self._nvml.nvmlShutdown()
            except Exception:  # noqa: BLE001 - already shut down
                pass
            self._nvml = None


def _nvml_read(nvml: Any, handle: Any, name: str) -> float:
    if name == "utilization":
        return float(nvml.nvmlDeviceGetUtilizationRates(handle).gpu)
    if name == "memory_used_mb":
        return float(nvml.nvmlDeviceGetMemoryInfo(handle).used) / MB
    return float(nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU))


def _torch_cuda() -> Any:
    """``torch.cuda`` when torch is already imported and CUDA is available, else ``None``."""
    torch = sys.modules.get("torch")
    cuda = getattr(torch, "cuda", None)
    try:
        return cuda if cuda is not None and cuda.is_available() else None
    except Exception:  # noqa: BLE001 - a broken CUDA setup reports nothing
        return None


def _torch_sample() -> dict[str, float]:
    """What ``torch.cuda`` reports without creating a CUDA context: this process's
    allocated memory once CUDA is initialised, and utilisation/temperature where torch
    can query them."""
    cuda = _torch_cuda()
    if cuda is None:
        return {}
    out: dict[str, float] = {}
    for i in range(cuda.device_count()):
        if cuda.is_initialized():
            out[f"gpu{i}/memory_used_mb"] = float(cuda.memory_allocated(i)) / MB
        for name, fn in (("utilization", "utilization"), ("temperature_c", "temperature")):
            try:
                out[f"gpu{i}/{name}"] = float(getattr(cuda, fn)(i))
            except Exception:  # noqa: BLE001 - needs pynvml/amdsmi: not reported
                continue
    return out
