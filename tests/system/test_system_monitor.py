"""tblog.SystemMonitor: samples read back with TensorBoard's loaders are plausible, land in
their own run at wall-clock steps that survive a resume, stop with the writer, and GPU tags
come from NVML (a fake pynvml here) or torch.cuda, never without a GPU."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import types

import pytest
import tb

import tblog
from tblog.system import monitor as monitor_module

CPU_TAGS = {
    "system/cpu_percent",
    "system/host_cpu_percent",
    "system/rss_mb",
    "system/host_memory_used_mb",
    "system/host_memory_available_mb",
}


@pytest.fixture
def no_gpu(monkeypatch):
    """No NVML and no CUDA, whatever the machine has."""
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import raises ImportError
    monkeypatch.setattr(monitor_module.Gpus, "sample", lambda self: {})


def _series(run_dir) -> dict[str, list[tuple[int, float]]]:
    acc = tb.accumulator(str(run_dir))
    return {
        tag: [(e.step, float(tb.array(e).item())) for e in acc.Tensors(tag)]
        for tag in acc.Tags()["tensors"]
    }


_WORKLOAD = """
import resource, sys, time
import numpy as np
if sys.argv[2] == "proc":
    sys.modules["psutil"] = None  # the /proc fallback
sys.modules["pynvml"] = None
import tblog
# getrusage's peak may start at the parent's RSS (carried over exec after a vfork): a
# touched block above it makes the peak this process's own
inherited_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
block = np.ones(int(max(200, inherited_mb + 64)) << 17)
w = tblog.SummaryWriter(sys.argv[1])
with tblog.SystemMonitor(w, interval_s=0.3) as mon:
    deadline = time.monotonic() + 1.0
    i = 0
    while time.monotonic() < deadline:  # one core busy, logging
        i += 1
        if i % 1000 == 0:
            w.add_scalar("loss", float(i), i)
w.close()
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, mon.samples)
"""


@pytest.mark.parametrize("source", ["psutil", "proc"])
def test_samples_are_plausible_and_in_their_own_run(tmp_path, source):
    """In a fresh process (its peak RSS is its big block): RSS within 2x of
    getrusage's peak, CPU % within [0, 100 x CPUs], memory within the machine's."""
    started = time.time()
    done = subprocess.run(
        [sys.executable, "-c", _WORKLOAD, str(tmp_path), source],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    peak_mb, samples = done.stdout.split()
    peak_mb, samples = float(peak_mb), int(samples)
    series = _series(tmp_path / "system")
    assert set(series) >= CPU_TAGS
    assert samples >= 2
    for tag in CPU_TAGS:
        assert len(series[tag]) == samples, tag
        steps = [s for s, _ in series[tag]]
        assert steps == sorted(set(steps)), tag  # strictly increasing
        assert steps[0] >= int(started * 1000)  # wall-clock milliseconds
    for _, rss in series["system/rss_mb"]:
        assert peak_mb / 2 <= rss <= peak_mb * 2
    ncpu = os.cpu_count() or 1
    busy = [pct for _, pct in series["system/cpu_percent"]]
    assert all(0 <= pct <= 100 * ncpu for pct in busy)
    assert max(busy) > 10  # the loop kept one core busy
    for _, pct in series["system/host_cpu_percent"]:
        assert 0 <= pct <= 100
    total_mb = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / (1 << 20)
    used = dict(series["system/host_memory_used_mb"])
    for step, avail in series["system/host_memory_available_mb"]:
        assert 0 < avail <= total_mb
        assert 0 < used[step] + avail <= total_mb * 1.01
    # the training run holds only the training points
    assert set(_series(tmp_path)) == {"loss"}


def test_stops_when_the_writer_closes(tmp_path, no_gpu):
    w = tblog.SummaryWriter(str(tmp_path))
    mon = tblog.SystemMonitor(w, interval_s=60).start()
    thread = mon.thread
    assert thread is not None and thread.is_alive()
    w.close()
    thread.join(30)
    assert not thread.is_alive() and mon.thread is None
    assert mon.samples == 1  # the last sample, taken when it saw the writer closed
    assert len(_series(tmp_path / "system")["system/rss_mb"]) == 1


def test_system_stats_argument_starts_and_stops_a_monitor(tmp_path, no_gpu):
    before = {t for t in threading.enumerate() if t.name == "tblog-system"}
    w = tblog.SummaryWriter(str(tmp_path), system_stats=True)
    ours = [t for t in threading.enumerate() if t.name == "tblog-system" and t not in before]
    assert len(ours) == 1
    w.add_scalar("loss", 1.0, 0)
    w.close()
    ours[0].join(30)
    assert not ours[0].is_alive()
    assert "system/cpu_percent" in _series(tmp_path / "system")


def test_rank_run_and_path_writer(tmp_path, no_gpu):
    """A rank's writer: the samples go under its run; a log dir path works as the writer."""
    w = tblog.SummaryWriter(str(tmp_path / "rank_1"))
    with tblog.SystemMonitor(w, interval_s=60):
        pass
    w.close()
    with tblog.SystemMonitor(str(tmp_path / "keras"), interval_s=60):
        pass
    assert "system/rss_mb" in _series(tmp_path / "rank_1" / "system")
    assert "system/rss_mb" in _series(tmp_path / "keras" / "system")


def test_no_gpu_tags_without_a_gpu(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    w = tblog.SummaryWriter(str(tmp_path))
    with tblog.SystemMonitor(w, interval_s=60):
        pass
    w.close()
    tags = set(_series(tmp_path / "system"))
    assert tags >= CPU_TAGS
    assert not [t for t in tags if "gpu" in t]


class _FakeNvml(types.ModuleType):
    """What SystemMonitor uses of nvidia-ml-py, for two GPUs."""

    NVML_TEMPERATURE_GPU = 0
    UTIL = (37, 81)
    USED = (3 << 30, 512 << 20)
    TEMP = (55, 71)

    def __init__(self):
        super().__init__("pynvml")
        self.shutdown = 0

    def nvmlInit(self):
        pass

    def nvmlShutdown(self):
        self.shutdown += 1

    def nvmlDeviceGetCount(self):
        return 2

    def nvmlDeviceGetHandleByIndex(self, i):
        return ("handle", i)

    def nvmlDeviceGetUtilizationRates(self, h):
        return types.SimpleNamespace(gpu=self.UTIL[h[1]], memory=0)

    def nvmlDeviceGetMemoryInfo(self, h):
        return types.SimpleNamespace(used=self.USED[h[1]], total=80 << 30, free=0)

    def nvmlDeviceGetTemperature(self, h, sensor):
        assert sensor == self.NVML_TEMPERATURE_GPU
        return self.TEMP[h[1]]


def test_fake_nvml_gives_the_gpu_tags(tmp_path, monkeypatch):
    fake = _FakeNvml()
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    w = tblog.SummaryWriter(str(tmp_path))
    with tblog.SystemMonitor(w, interval_s=60):
        pass
    w.close()
    series = _series(tmp_path / "system")
    for i in range(2):
        assert series[f"system/gpu{i}/utilization"][0][1] == fake.UTIL[i]
        assert series[f"system/gpu{i}/memory_used_mb"][0][1] == fake.USED[i] / (1 << 20)
        assert series[f"system/gpu{i}/temperature_c"][0][1] == fake.TEMP[i]
    assert not [t for t in series if t.startswith("system/gpu2")]
    assert fake.shutdown == 1


def test_torch_cuda_fallback(tmp_path, monkeypatch):
    """No NVML: what torch.cuda reports (this process's allocated memory); utilisation
    and temperature only where torch can query them (here it cannot)."""
    monkeypatch.setitem(sys.modules, "pynvml", None)
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda i: (256 << 20) * (i + 1))

    def unavailable(i):
        raise ModuleNotFoundError("pynvml")

    monkeypatch.setattr(torch.cuda, "utilization", unavailable)
    monkeypatch.setattr(torch.cuda, "temperature", unavailable)
    w = tblog.SummaryWriter(str(tmp_path))
    with tblog.SystemMonitor(w, interval_s=60):
        pass
    w.close()
    series = _series(tmp_path / "system")
    assert series["system/gpu0/memory_used_mb"][0][1] == 256
    assert not [t for t in series if "gpu" in t and "memory" not in t]


def test_samples_survive_a_resume_under_both_loaders(tmp_path, no_gpu):
    """A resumed process's START (at training step 50) purges the training points at or
    after 50, never the earlier process's system samples."""
    counts = []
    for purge_step, steps in ((None, range(100)), (50, range(50, 80))):
        w = tblog.SummaryWriter(str(tmp_path), purge_step=purge_step)
        with tblog.SystemMonitor(w, interval_s=0.05) as mon:
            for step in steps:
                w.add_scalar("loss", float(step), step)
            time.sleep(0.2)
        counts.append(mon.samples)
        w.close()
    total = sum(counts)
    assert [s for s, _ in _series(tmp_path)["loss"]] == list(range(80))
    series = _series(tmp_path / "system")["system/rss_mb"]
    assert len(series) == total
    legacy = tb.legacy_accumulator(str(tmp_path / "system")).Scalars("system/rss_mb")
    assert len(legacy) == total
    assert [e.step for e in legacy] == sorted({e.step for e in legacy})


def test_bad_interval():
    with pytest.raises(ValueError, match="interval_s"):
        tblog.SystemMonitor("somewhere", interval_s=0)


def test_sampling_never_runs_on_the_callers_thread(tmp_path, monkeypatch, no_gpu):
    from tblog.system import sampler

    callers = []
    real = sampler.CpuMemory.sample

    def sample(self):
        callers.append(threading.current_thread().name)
        return real(self)

    monkeypatch.setattr(sampler.CpuMemory, "sample", sample)
    w = tblog.SummaryWriter(str(tmp_path))
    with tblog.SystemMonitor(w, interval_s=0.05):
        for step in range(2000):
            w.add_scalar("loss", 1.0, step)
        time.sleep(0.3)
    w.close()
    assert len(callers) >= 2
    assert set(callers) == {"tblog-system"}
