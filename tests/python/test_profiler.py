"""``rustdl.profiler``: record_function ranges (counts, nesting, real wall time), nn.Module calls,
backward and optimizer steps, schedules (which steps are recorded), the Chrome trace, the table,
and the ``rustdl.autograd.profiler`` aliases."""

import gzip
import json
import os
import time

import pytest
import rustdl
import rustdl.nn as nn
from rustdl.nn.modules import module as module_mod
from rustdl.profiler import (
    ProfilerAction,
    ProfilerActivity,
    profile,
    record_function,
    schedule,
    tensorboard_trace_handler,
)


def _counts(prof):
    return {e.key: e.count for e in prof.key_averages()}


def test_record_function_counts_nesting_and_time():
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(3):
            with record_function("outer"):
                with record_function("inner"):
                    time.sleep(0.002)
                with record_function("inner"):
                    pass
    assert _counts(prof) == {"outer": 3, "inner": 6}
    evs = prof.events()
    outers = [e for e in evs if e.name == "outer"]
    assert all(e.depth == 0 and e.cpu_parent is None for e in outers)
    for o in outers:
        assert [c.name for c in o.cpu_children] == ["inner", "inner"]
        assert all(c.cpu_parent is o and c.depth == 1 for c in o.cpu_children)
        assert o.cpu_time_total >= sum(c.cpu_time_total for c in o.cpu_children)
        assert o.self_cpu_time_total == pytest.approx(
            o.cpu_time_total - sum(c.cpu_time_total for c in o.cpu_children)
        )
        assert o.cpu_children[0].cpu_time_total >= 2000  # the sleep, in microseconds
    avg = {e.key: e for e in prof.key_averages()}
    assert avg["inner"].cpu_time_total == pytest.approx(
        sum(e.cpu_time_total for e in evs if e.name == "inner")
    )


def test_record_function_as_decorator_and_outside_a_profiler():
    @record_function("decorated")
    def f(x):
        return x + 1

    assert f(1) == 2  # no profiler: just runs
    with record_function("nobody listens"):
        pass
    with profile() as prof:
        for i in range(4):
            f(i)
    assert _counts(prof) == {"decorated": 4}
    with pytest.raises(TypeError, match="record_function"):
        record_function(3)


def test_module_calls_backward_and_optimizer_step_are_ranges():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    seen = []
    model[0].register_forward_hook(lambda m, i, o: seen.append(tuple(o.shape)))
    opt = rustdl.optim.SGD(model.parameters(), lr=0.1)
    before = (rustdl.Tensor.__dict__["backward"], rustdl.optim.Optimizer.__dict__["step"])
    with profile(record_shapes=True) as prof:
        for _ in range(2):
            loss = model(rustdl.randn(5, 4)).sum()
            loss.backward()
            opt.step()
            opt.zero_grad()
    counts = _counts(prof)
    assert counts["nn.Module: Sequential"] == 2 and counts["nn.Module: Linear"] == 4
    assert counts["nn.Module: ReLU"] == 2 and counts["Tensor.backward"] == 2
    assert counts["Optimizer.step#SGD.step"] == 2
    assert seen == [(5, 8), (5, 8)]  # hooks still run while profiled
    seq = next(e for e in prof.events() if e.name == "nn.Module: Sequential")
    assert [c.name for c in seq.cpu_children] == ["nn.Module: Linear", "nn.Module: ReLU", "nn.Module: Linear"]
    assert seq.input_shapes == [[5, 4]] and seq.cpu_children[2].input_shapes == [[5, 8]]
    shapes = {(e.key, e.input_shapes) for e in prof.key_averages(group_by_input_shape=True)}
    assert ("nn.Module: Linear", "[[5, 4]]") in shapes and ("nn.Module: Linear", "[[5, 8]]") in shapes
    # everything is put back afterwards
    assert module_mod._profile_call is None
    assert (rustdl.Tensor.__dict__["backward"], rustdl.optim.Optimizer.__dict__["step"]) == before
    n = len(prof.events())
    model(rustdl.randn(1, 4))
    assert len(prof.events()) == n


def test_schedule_phases():
    s = schedule(skip_first=1, wait=1, warmup=1, active=2, repeat=2)
    N, W, R, S = (
        ProfilerAction.NONE,
        ProfilerAction.WARMUP,
        ProfilerAction.RECORD,
        ProfilerAction.RECORD_AND_SAVE,
    )
    assert [s(i) for i in range(12)] == [N, N, W, R, S, N, W, R, S, N, N, N]
    forever = schedule(wait=0, warmup=0, active=1)
    assert [forever(i) for i in range(3)] == [S, S, S]
    with pytest.raises(ValueError, match="active"):
        schedule(wait=1, warmup=0, active=0)


def test_profile_records_only_the_scheduled_steps():
    cycles = []

    def ready(prof):
        cycles.append(sorted({e.name for e in prof.events() if e.name.startswith("ProfilerStep#")}))
        cycles.append(_counts(prof).get("work"))

    with profile(schedule=schedule(wait=1, warmup=1, active=2, repeat=2), on_trace_ready=ready) as prof:
        for _ in range(10):
            with record_function("work"):
                pass
            prof.step()
    assert cycles == [["ProfilerStep#2", "ProfilerStep#3"], 2, ["ProfilerStep#6", "ProfilerStep#7"], 2]
    step = next(e for e in prof.events() if e.name == "ProfilerStep#6")
    assert [c.name for c in step.cpu_children] == ["work"]


def test_profile_without_schedule_hands_the_trace_over_at_exit():
    calls = []
    with profile(on_trace_ready=calls.append) as prof:
        for _ in range(3):
            with record_function("w"):
                pass
            prof.step()
    assert calls == [prof] and _counts(prof) == {"w": 3}  # no ProfilerStep ranges without a schedule


def test_chrome_trace_and_trace_handler(tmp_path):
    with profile(
        with_stack=True, on_trace_ready=tensorboard_trace_handler(str(tmp_path / "tb"), "worker0")
    ) as prof:
        with record_function("outer"):
            with record_function("inner"):
                nn.Linear(2, 2)(rustdl.ones(1, 2))
    prof.export_chrome_trace(str(tmp_path / "trace.json"))
    prof.export_chrome_trace(str(tmp_path / "trace.json.gz"))
    doc = json.loads((tmp_path / "trace.json").read_text())
    assert (
        json.loads(gzip.decompress((tmp_path / "trace.json.gz").read_bytes()))["traceEvents"]
        == doc["traceEvents"]
    )
    events = {e["name"]: e for e in doc["traceEvents"]}
    assert set(events) == {"outer", "inner", "nn.Module: Linear"}
    o, i = events["outer"], events["inner"]
    assert all(e["ph"] == "X" and e["pid"] == os.getpid() for e in events.values())
    assert o["ts"] <= i["ts"] and i["ts"] + i["dur"] <= o["ts"] + o["dur"] + 1e-3
    assert "test_profiler.py" in o["args"]["Call stack"]
    (name,) = os.listdir(tmp_path / "tb")
    assert name.startswith("worker0.") and name.endswith(".pt.trace.json")
    assert {e["name"] for e in json.loads((tmp_path / "tb" / name).read_text())["traceEvents"]} == set(events)


def test_table_names_counts_sorting_and_limit():
    with profile() as prof:
        for _ in range(5):
            with record_function("fast"):
                pass
        with record_function("slow"):
            time.sleep(0.003)
    table = prof.key_averages().table(sort_by="cpu_time_total", row_limit=10)
    lines = table.splitlines()
    assert "Name" in lines[1] and "# of Calls" in lines[1] and "Self CPU time total" in lines[-1]
    rows = [line.split() for line in lines[3:-2]]
    assert [r[0] for r in rows] == ["slow", "fast"] and [r[-1] for r in rows] == ["1", "5"]
    assert len(prof.key_averages().table(sort_by="count", row_limit=1).splitlines()) == 6
    assert prof.key_averages().table(sort_by="count").splitlines()[3].split()[0] == "fast"
    assert "slow" in prof.key_averages().table(sort_by="self_cuda_time_total")
    with pytest.raises(ValueError, match="sort_by"):
        prof.key_averages().table(sort_by="nonsense")


def test_one_profiler_at_a_time_and_autograd_alias():
    with profile():
        with pytest.raises(RuntimeError, match="already running"):
            profile().start()
    ap = rustdl.autograd.profiler
    with ap.profile(record_shapes=True) as prof:
        with ap.record_function("legacy"):
            nn.ReLU()(rustdl.ones(3))
    assert _counts(prof) == {"legacy": 1, "nn.Module: ReLU": 1}
    assert prof.function_events[0].name == "legacy" and prof.total_average().count == 2
    with ap.profile(enabled=False) as off:
        with ap.record_function("x"):
            pass
    assert len(off.events()) == 0
