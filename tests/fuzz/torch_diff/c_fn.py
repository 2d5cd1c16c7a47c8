C = []


def c(name, code):
    C.append((name, code))


H = "Fn = M.autograd.Function\n"
c(
    "fn_wrong_grad_count",
    H
    + "class G(Fn):\n    @staticmethod\n    def forward(ctx, x, y):\n        return x * y\n    @staticmethod\n    def backward(ctx, g):\n        return g\nx = A(3, rg=True); y = A(3, rg=True); G.apply(x, y).sum().backward(); out = x.grad",
)
c(
    "fn_wrong_grad_shape",
    H
    + "class G(Fn):\n    @staticmethod\n    def forward(ctx, x):\n        return x * 2\n    @staticmethod\n    def backward(ctx, g):\n        return g[:2]\nx = A(3, rg=True); G.apply(x).sum().backward(); out = x.grad",
)
c(
    "fn_grad_bcast_shape",
    H
    + "class G(Fn):\n    @staticmethod\n    def forward(ctx, x):\n        return x * 2\n    @staticmethod\n    def backward(ctx, g):\n        return g.sum()\nx = A(3, rg=True); G.apply(x).sum().backward(); out = x.grad",
)
c(
    "fn_grad_none",
    H
    + "class G(Fn):\n    @staticmethod\n    def forward(ctx, x):\n        return x * 2\n    @staticmethod\n    def backward(ctx, g):\n        return None\nx = A(3, rg=True); G.apply(x).sum().backward(); out = x.grad",
)
c(
    "fn_grad_non_tensor",
    H
    + "class G(Fn):\n    @staticmethod\n    def forward(ctx, x):\n        return x * 2\n    @staticmethod\n    def backward(ctx, g):\n        return 'abc'\nx = A(3, rg=True); G.apply(x).sum().backward(); out = x.grad",
)
c(
    "fn_grad_raises",
    H
    + "class G(Fn):\n    @staticmethod\n    def forward(ctx, x):\n        return x * 2\n    @staticmethod\n    def backward(ctx, g):\n        raise ValueError('boom')\nx = A(3, rg=True); G.apply(x).sum().backward(); out = x.grad",
)
c(
    "fn_forward_non_tensor",
    H
    + "class G(Fn):\n    @staticmethod\n    def forward(ctx, x):\n        return 3\n    @staticmethod\n    def backward(ctx, g):\n        return g\nx = A(3, rg=True); out = G.apply(x)",
)
c(
    "fn_forward_tuple",
    H
    + "class G(Fn):\n    @staticmethod\n    def forward(ctx, x):\n        return x * 2, x * 3\n    @staticmethod\n    def backward(ctx, g1, g2):\n        return g1 * 2 + g2 * 3\nx = A(3, rg=True); a, b = G.apply(x); (a + b).sum().backward(); out = x.grad",
)
c(
    "fn_forward_returns_input",
    H
    + "class G(Fn):\n    @staticmethod\n    def forward(ctx, x):\n        return x\n    @staticmethod\n    def backward(ctx, g):\n        return g * 5\nx = A(3, rg=True); G.apply(x * 1).sum().backward(); out = x.grad",
)
c(
    "fn_saved_modified",
    H
    + "class G(Fn):\n    @staticmethod\n    def forward(ctx, x):\n        ctx.save_for_backward(x)\n        return x * 2\n    @staticmethod\n    def backward(ctx, g):\n        (x,) = ctx.saved_tensors\n        return g * x\nx = A(3, rg=True); y = x * 1; z = G.apply(y); y.add_(1.0); z.sum().backward(); out = x.grad",
)
c(
    "fn_grad_wrong_dtype",
    H
    + "class G(Fn):\n    @staticmethod\n    def forward(ctx, x):\n        return x * 2\n    @staticmethod\n    def backward(ctx, g):\n        return g.double()\nx = A(3, rg=True); G.apply(x).sum().backward(); out = x.grad",
)
c(
    "fn_grad_int",
    H
    + "class G(Fn):\n    @staticmethod\n    def forward(ctx, x):\n        return x * 2\n    @staticmethod\n    def backward(ctx, g):\n        return g.long()\nx = A(3, rg=True); G.apply(x).sum().backward(); out = x.grad",
)
c(
    "fn_mark_non_diff",
    H
    + "class G(Fn):\n    @staticmethod\n    def forward(ctx, x):\n        y = x.argmax()\n        ctx.mark_non_differentiable(y)\n        return x * 2, y\n    @staticmethod\n    def backward(ctx, g, gi):\n        return g * 2\nx = A(3, rg=True); a, i = G.apply(x); a.sum().backward(); out = (x.grad, i)",
)
c(
    "fn_apply_kwargs",
    H
    + "class G(Fn):\n    @staticmethod\n    def forward(ctx, x, k=2.0):\n        return x * k\n    @staticmethod\n    def backward(ctx, g):\n        return g\nx = A(3, rg=True); out = G.apply(x, k=3.0)",
)
c(
    "grad_outputs_shape_bad",
    "x = A(3, rg=True); y = x * 2; out = M.autograd.grad([y], [x], grad_outputs=[A(2)])",
)
c("grad_inputs_not_requiring", "x = A(3); y = x * 2; out = M.autograd.grad(y.sum(), x)")
c("grad_empty_inputs", "x = A(3, rg=True); y = (x * 2).sum(); out = M.autograd.grad(y, [])")
c(
    "backward_inputs_arg",
    "x = A(3, rg=True); z = A(3, rg=True); (x * z).sum().backward(inputs=[x]); out = (x.grad, z.grad)",
)
c(
    "checkpoint_basic",
    "cp = M.utils.checkpoint.checkpoint if TORCH else M.gradient_checkpoint.checkpoint\nx = A(3, rg=True); cp(lambda t: (t * t).sum(), x, use_reentrant=False).backward(); out = x.grad",
)
CASES = C
