C = []


def c(name, code):
    C.append((name, code))


fns = [
    "xavier_uniform_",
    "xavier_normal_",
    "kaiming_uniform_",
    "kaiming_normal_",
    "orthogonal_",
    "uniform_",
    "normal_",
    "zeros_",
    "ones_",
    "constant_",
    "eye_",
    "dirac_",
    "trunc_normal_",
    "sparse_",
]
shapes = [
    "A(3)",
    "A(())" if False else "L(1.0)",
    "A(0, 3)",
    "A(3, 0)",
    "A(2, 3)",
    "A(2, 3, 4)",
    "A(2, 3).t()",
    "I([[1, 2]])",
]
for f in fns:
    for s in shapes:
        args = {"constant_": ", 0.5", "sparse_": ", 0.5"}.get(f, "")
        code = (
            f"x = {s}; nn.init.{f}(x{args}); out = (x.shape, x.dtype)"
            if f not in ("zeros_", "ones_", "constant_", "eye_", "dirac_")
            else f"x = {s}; nn.init.{f}(x{args}); out = x"
        )
        c(f"{f}_{s}", code)
c("calc_gain_bad", "out = nn.init.calculate_gain('foo')")
c("calc_gain_leaky", "out = nn.init.calculate_gain('leaky_relu', 0.2)")
c("kaiming_bad_mode", "x = A(2, 3); nn.init.kaiming_uniform_(x, mode='foo')")
c("kaiming_bad_nl", "x = A(2, 3); nn.init.kaiming_uniform_(x, nonlinearity='foo')")
c("uniform_bad_range", "x = A(2, 3); nn.init.uniform_(x, 1.0, 0.0); out = x.shape")
c("normal_neg_std", "x = A(2, 3); nn.init.normal_(x, 0.0, -1.0); out = x.shape")
c("trunc_bad", "x = A(2, 3); nn.init.trunc_normal_(x, a=2.0, b=-2.0); out = x.shape")
c("init_rg_leaf", "x = A(2, 3, rg=True); nn.init.zeros_(x); out = (x, x.requires_grad)")
c("init_param", "p = nn.Parameter(A(2, 3)); nn.init.ones_(p); out = p")
CASES = C
