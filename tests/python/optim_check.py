"""Shared by the optimizer tests: a rustdl optimizer and its numpy reference, stepped side by side
on the same weighted quadratic."""

import numpy as np
import rustdl
from conftest import assert_close
from rustdl import nn


def steps_match_reference(cls, ref, kw, device, steps, rtol, atol):
    """Runs `steps` steps of `cls(**kw)` on sum(scale * (p - target)^2) over two float32 parameters,
    and after each step compares them with `ref(p, grad, state, step, **kw)` in float64.

    Returns the optimizer, its parameters and the reference's per-parameter state.
    """
    rng = np.random.default_rng(0)
    inits = [rng.standard_normal((3, 4)), rng.standard_normal(5)]
    scales = [rng.uniform(0.5, 2.0, (3, 4)), rng.uniform(0.5, 2.0, 5)]
    targets = [rng.standard_normal((3, 4)), rng.standard_normal(5)]
    params = [nn.Parameter(rustdl.tensor(a, dtype=rustdl.float32, device=device)) for a in inits]
    opt = cls(params, **kw)
    ref_p = [a.astype(np.float32).astype(np.float64) for a in inits]
    ref_state = [{}, {}]
    for step in range(1, steps + 1):
        opt.zero_grad()
        loss = sum(
            (
                (p - rustdl.tensor(tg, dtype=rustdl.float32, device=device)) ** 2
                * rustdl.tensor(s, dtype=rustdl.float32, device=device)
            ).sum()
            for p, tg, s in zip(params, targets, scales)
        )
        loss.backward()
        opt.step()
        for i in range(2):
            grad = 2 * scales[i] * (ref_p[i] - targets[i])
            ref_p[i] = ref(ref_p[i], grad, ref_state[i], step, **kw)
            assert_close(params[i], ref_p[i], rtol=rtol, atol=atol)
    return opt, params, ref_state
