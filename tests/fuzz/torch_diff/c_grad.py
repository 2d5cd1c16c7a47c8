C = []


def c(name, code):
    C.append((name, code))


c("inplace_leaf", "x = A(3, rg=True); x.add_(1.0)")
c("inplace_leaf_mul", "x = A(3, rg=True); x.mul_(2.0)")
c("inplace_leaf_setitem", "x = A(3, rg=True); x[0] = 1.0")
c("inplace_leaf_view", "x = A(3, rg=True); x[1:].add_(1.0)")
c("inplace_leaf_view_t", "x = A(2, 3, rg=True); x.t().mul_(2.0)")
c("inplace_leaf_zero", "x = A(3, rg=True); x.zero_()")
c("inplace_leaf_fill", "x = A(3, rg=True); x.fill_(1.0)")
c("inplace_leaf_copy", "x = A(3, rg=True); x.copy_(A(3))")
c("inplace_leaf_clamp", "x = A(3, rg=True); x.clamp_(0, 1)")
c("inplace_leaf_relu", "x = A(3, rg=True); x.relu_()")
c("inplace_leaf_nograd", "x = A(3, rg=True)\nwith M.no_grad():\n    x.add_(1.0)\nout = (x, x.requires_grad)")
c("inplace_leaf_data", "x = A(3, rg=True); x.data.add_(1.0); out = x")
c("inplace_leaf_scatter", "x = A(3, rg=True); x.scatter_(0, I([0]), 1.0)")
c("inplace_leaf_index_add", "x = A(3, rg=True); x.index_add_(0, I([0]), A(1))")
c(
    "inplace_leaf_masked_fill",
    "x = A(3, rg=True); x.masked_fill_(M.tensor([True, False, False], device=dev), 1.0)",
)
c("inplace_leaf_uniform", "x = A(3, rg=True); x.uniform_()")
c("inplace_leaf_normal_nograd", "x = A(3, rg=True)\nwith M.no_grad():\n    x.normal_()\nout = x.shape")
c("inplace_leaf_exp", "x = A(3, rg=True); x.exp_()")
c("inplace_leaf_iadd", "x = A(3, rg=True); x += 1")
c("inplace_leaf_put", "x = A(3, rg=True); x.put_(I([0]), L([1.0]))")
c("inplace_leaf_fill_diag", "x = A(3, 3, rg=True); x.fill_diagonal_(1.0)")
c("inplace_leaf_index_fill", "x = A(3, rg=True); x.index_fill_(0, I([0]), 1.0)")
c(
    "inplace_view_of_nonleaf",
    "x = A(3, rg=True); y = x * 2; y[1:].mul_(3.0); y.sum().backward(); out = x.grad",
)
c("inplace_nonleaf_grad", "x = A(3, rg=True); y = x * 1; y.mul_(y); y.sum().backward(); out = x.grad")
c("inplace_saved_exp", "x = A(3, rg=True); y = x.exp(); y.add_(1.0); y.sum().backward(); out = x.grad")
c("inplace_saved_sigmoid", "x = A(3, rg=True); y = x.sigmoid(); y.mul_(2.0); y.sum().backward()")
c("inplace_saved_mul_input", "x = A(3, rg=True); z = x * 1; y = z * z; z.add_(1.0); y.sum().backward()")
c("inplace_saved_pow", "x = A(3, rg=True); z = x + 0; y = z ** 2; z.zero_(); y.sum().backward()")
c(
    "inplace_base_after_view_saved",
    "x = A(3, rg=True); z = x + 0; v = z[:2]; y = (v * v).sum(); z[0] = 5.0; y.backward()",
)
c("inplace_setitem_grad", "x = A(4, rg=True); y = x * 2; y[1] = 0.0; y.sum().backward(); out = x.grad")
c(
    "inplace_setitem_tensor_grad",
    "x = A(4, rg=True); w = A(2, rg=True); y = x * 2; y[1:3] = w * 3; y.sum().backward(); out = (x.grad, w.grad)",
)
c(
    "inplace_setitem_mask_grad",
    "x = A(4, rg=True); y = x * 2; y[y > 0] = 0.0; y.sum().backward(); out = x.grad",
)
c(
    "inplace_setitem_longidx_grad",
    "x = A(4, rg=True); w = A(2, rg=True); y = x * 2; y[I([0, 2])] = w; (y * L([1.0, 2.0, 3.0, 4.0])).sum().backward(); out = (x.grad, w.grad)",
)
c(
    "inplace_copy_grad",
    "x = A(3, rg=True); w = A(3, rg=True); y = x * 1; y.copy_(w * 2); y.sum().backward(); out = (x.grad, w.grad)",
)
c(
    "inplace_copy_bcast_grad",
    "x = A(2, 3, rg=True); w = A(3, rg=True); y = x * 1; y.copy_(w); y.sum().backward(); out = (x.grad, w.grad)",
)
c(
    "inplace_transpose_view_grad",
    "x = A(2, 3, rg=True); y = x * 1; y.t()[0].mul_(5.0); (y * A(2, 3)).sum().backward(); out = x.grad",
)
c("inplace_expand_view", "x = A(3, rg=True); y = (x * 1).expand(2, 3); y.add_(1.0)")
c("inplace_clamp_grad", "x = A(4, rg=True); y = x * 1; y.clamp_(-0.5, 0.5); y.sum().backward(); out = x.grad")
c(
    "inplace_scatter_grad",
    "x = A(2, 3, rg=True); s = A(1, 2, rg=True); y = x * 1; y.scatter_(1, I([[0, 2]]), s); (y * A(2, 3)).sum().backward(); out = (x.grad, s.grad)",
)
c(
    "inplace_index_add_grad",
    "x = A(3, rg=True); s = A(2, rg=True); y = x * 1; y.index_add_(0, I([0, 0]), s); (y * L([1.0, 2.0, 3.0])).sum().backward(); out = (x.grad, s.grad)",
)
c(
    "inplace_masked_fill_grad",
    "x = A(3, rg=True); y = x * 1; y.masked_fill_(M.tensor([True, False, True], device=dev), 0.0); y.sum().backward(); out = x.grad",
)
c(
    "inplace_div_grad",
    "x = A(3, rg=True); d = L([2.0, 3.0, 4.0]).requires_grad_(); y = x * 1; y.div_(d); y.sum().backward(); out = (x.grad, d.grad)",
)
c(
    "inplace_pow_grad",
    "x = L([1.0, 2.0, 3.0]).requires_grad_(); y = x * 1; y.pow_(2); y.sum().backward(); out = x.grad",
)
c(
    "inplace_sub_alpha_grad",
    "x = A(3, rg=True); w = A(3, rg=True); y = x * 1; y.sub_(w, alpha=2); y.sum().backward(); out = (x.grad, w.grad)",
)
c(
    "inplace_addcmul_grad",
    "x = A(3, rg=True); y = x * 1; y.addcmul_(x, x, value=0.5); y.sum().backward(); out = x.grad",
)
c(
    "inplace_lerp_grad",
    "x = A(3, rg=True); y = x * 1; y.lerp_(L([1.0, 1.0, 1.0]), 0.25); y.sum().backward(); out = x.grad",
)
c(
    "inplace_fill_diag_grad",
    "x = A(3, 3, rg=True); y = x * 1; y.fill_diagonal_(0.0); y.sum().backward(); out = x.grad",
)
c(
    "inplace_index_fill_grad",
    "x = A(3, rg=True); y = x * 1; y.index_fill_(0, I([1]), 0.0); y.sum().backward(); out = x.grad",
)
c(
    "inplace_put_grad",
    "x = A(3, rg=True); s = A(1, rg=True); y = x * 1; y.put_(I([2]), s); (y * L([1.0, 2.0, 3.0])).sum().backward(); out = (x.grad, s.grad)",
)
c(
    "inplace_relu_grad",
    "x = A(4, rg=True); y = x * 1; F.relu(y, inplace=True); (y * 2).sum().backward(); out = x.grad",
)
c("inplace_sigmoid_grad", "x = A(4, rg=True); y = x * 1; y.sigmoid_(); y.sum().backward(); out = x.grad")
c("inplace_tanh_grad", "x = A(4, rg=True); y = x * 1; y.tanh_(); y.sum().backward(); out = x.grad")
c(
    "inplace_leaky_grad",
    "x = A(4, rg=True); y = x * 1; F.leaky_relu(y, 0.2, inplace=True); y.sum().backward(); out = x.grad",
)
c(
    "inplace_elu_grad",
    "x = A(4, rg=True); y = x * 1; F.elu(y, inplace=True); y.sum().backward(); out = x.grad",
)
c(
    "inplace_hardtanh_grad",
    "x = A(4, rg=True); y = x * 1; F.hardtanh(y, inplace=True); y.sum().backward(); out = x.grad",
)
c(
    "inplace_dropout_eval_grad",
    "x = A(4, rg=True); y = x * 1; F.dropout(y, 0.5, training=False, inplace=True); y.sum().backward(); out = x.grad",
)
c(
    "inplace_silu_grad",
    "x = A(4, rg=True); y = x * 1; F.silu(y, inplace=True); y.sum().backward(); out = x.grad",
)
c(
    "inplace_hardswish_grad",
    "x = A(4, rg=True); y = x * 1; F.hardswish(y, inplace=True); y.sum().backward(); out = x.grad",
)
c(
    "inplace_threshold_grad",
    "x = A(4, rg=True); y = x * 1; F.threshold(y, 0.1, 20.0, inplace=True); y.sum().backward(); out = x.grad",
)
c(
    "inplace_celu_grad",
    "x = A(4, rg=True); y = x * 1; F.celu(y, inplace=True); y.sum().backward(); out = x.grad",
)
c(
    "inplace_selu_grad",
    "x = A(4, rg=True); y = x * 1; F.selu(y, inplace=True); y.sum().backward(); out = x.grad",
)
c(
    "inplace_rrelu_eval_grad",
    "x = A(4, rg=True); y = x * 1; F.rrelu(y, training=False, inplace=True); y.sum().backward(); out = x.grad",
)
c(
    "inplace_mish_grad",
    "x = A(4, rg=True); y = x * 1; F.mish(y, inplace=True); y.sum().backward(); out = x.grad",
)
c(
    "inplace_hardsigmoid_grad",
    "x = A(4, rg=True); y = x * 1; F.hardsigmoid(y, inplace=True); y.sum().backward(); out = x.grad",
)
c(
    "inplace_relu6_grad",
    "x = A(4, rg=True) * 4; x.retain_grad(); y = x * 1; F.relu6(y, inplace=True); y.sum().backward(); out = x.grad",
)
c("inplace_relu_leaf", "x = A(4, rg=True); F.relu(x, inplace=True)")
c("inplace_view_relu_leaf", "x = A(4, rg=True); F.relu(x[:2], inplace=True)")
c(
    "ReLU_inplace_module_grad",
    "x = A(4, rg=True); y = x * 1; nn.ReLU(inplace=True)(y); y.sum().backward(); out = x.grad",
)
c("backward_twice", "x = A(3, rg=True); y = (x * x).sum(); y.backward(); y.backward()")
c(
    "backward_twice_retain",
    "x = A(3, rg=True); y = (x * x).sum(); y.backward(retain_graph=True); y.backward(); out = x.grad",
)
c("backward_nonscalar", "x = A(3, rg=True); (x * 2).backward()")
c("backward_nonscalar_grad", "x = A(3, rg=True); (x * 2).backward(L([1.0, 2.0, 3.0])); out = x.grad")
c("backward_grad_bad_shape", "x = A(3, rg=True); (x * 2).backward(L([1.0, 2.0]))")
c("backward_grad_bcast_shape", "x = A(3, rg=True); (x * 2).backward(L([1.0]))")
c("backward_no_grad_fn", "x = A(3); x.sum().backward()")
c("backward_leaf_scalar", "x = L(2.0).requires_grad_(); x.backward(); out = x.grad")
c("backward_empty", "x = A(0, rg=True); x.sum().backward(); out = x.grad")
c("backward_int_grad", "x = I([1]); x.requires_grad_()")
c("backward_under_nograd", "x = A(3, rg=True)\nwith M.no_grad():\n    y = (x * 2).sum()\ny.backward()")
c("grad_of_nonleaf", "x = A(3, rg=True); y = x * 2; y.sum().backward(); out = y.grad")
c(
    "autograd_grad_unused",
    "x = A(3, rg=True); z = A(3, rg=True); y = (x * 2).sum(); out = M.autograd.grad(y, [x, z])",
)
c(
    "autograd_grad_unused_ok",
    "x = A(3, rg=True); z = A(3, rg=True); y = (x * 2).sum(); out = M.autograd.grad(y, [x, z], allow_unused=True)",
)
c("autograd_grad_nonscalar", "x = A(3, rg=True); y = x * 2; out = M.autograd.grad(y, x)")
c("autograd_grad_twice", "x = A(3, rg=True); y = (x * x).sum(); M.autograd.grad(y, x); M.autograd.grad(y, x)")
c(
    "autograd_grad_create",
    "x = A(3, rg=True); y = (x ** 3).sum(); g, = M.autograd.grad(y, x, create_graph=True); g.sum().backward(); out = x.grad",
)
c("requires_grad_nonleaf_false", "x = A(3, rg=True); y = x * 2; y.requires_grad_(False)")
c("retain_grad_leaf", "x = A(3, rg=True); x.retain_grad(); x.sum().backward(); out = x.grad")
c(
    "detach_inplace_shared",
    "x = A(3, rg=True); y = x * 2; d = y.detach(); d.zero_(); y.sum().backward(); out = x.grad",
)
c(
    "detach_inplace_saved",
    "x = A(3, rg=True); y = x.exp(); d = y.detach(); d.zero_(); y.sum().backward(); out = x.grad",
)
c("grad_nan", "x = L([0.0]).requires_grad_(); y = x.sqrt(); y.backward(); out = x.grad")
c("grad_abs0", "x = L([0.0]).requires_grad_(); x.abs().sum().backward(); out = x.grad")
c("grad_max_ties", "x = L([1.0, 1.0, 0.0]).requires_grad_(); x.max().backward(); out = x.grad")
c(
    "grad_max_dim_ties",
    "x = L([[1.0, 1.0, 0.0]]).requires_grad_(); x.max(1)[0].sum().backward(); out = x.grad",
)
c("grad_amax_ties", "x = L([1.0, 1.0, 0.0]).requires_grad_(); x.amax().backward(); out = x.grad")
c("grad_min_ties", "x = L([1.0, 0.0, 0.0]).requires_grad_(); x.min().backward(); out = x.grad")
c("grad_median", "x = L([3.0, 1.0, 2.0, 4.0]).requires_grad_(); x.median().backward(); out = x.grad")
c("grad_norm0", "x = M.zeros(3, device=dev).requires_grad_(); x.norm().backward(); out = x.grad")
c(
    "grad_clamp_edges",
    "x = L([0.0, 1.0, 0.5]).requires_grad_(); x.clamp(0.0, 1.0).sum().backward(); out = x.grad",
)
c(
    "grad_maximum_ties",
    "x = L([1.0, 2.0]).requires_grad_(); y = L([1.0, 1.0]).requires_grad_(); M.maximum(x, y).sum().backward(); out = (x.grad, y.grad)",
)
c("grad_where", "x = A(3, rg=True); M.where(x > 0, x, x * 2).sum().backward(); out = x.grad")
c(
    "grad_where_nan_branch",
    "x = L([0.0, 1.0]).requires_grad_(); M.where(x > 0, x.log(), x).sum().backward(); out = x.grad",
)
c("grad_pow_0_0", "x = L([0.0]).requires_grad_(); (x ** 0.0).sum().backward(); out = x.grad")
c("grad_pow_neg_base", "x = L([-2.0]).requires_grad_(); (x ** 2).sum().backward(); out = x.grad")
c(
    "grad_pow_tensor_exp",
    "b = L([0.0, 2.0]).requires_grad_(); e = L([2.0, 0.5]).requires_grad_(); (b ** e).sum().backward(); out = (b.grad, e.grad)",
)
c("grad_expand_sum", "x = A(3, rg=True); x.expand(4, 3).sum().backward(); out = x.grad")
c("grad_index_dup", "x = A(3, rg=True); x[I([0, 0, 2])].sum().backward(); out = x.grad")
c("grad_gather_dup", "x = A(3, rg=True); x.gather(0, I([1, 1])).sum().backward(); out = x.grad")
c("grad_cat_empty", "x = A(2, rg=True); M.cat([x, M.zeros(0, device=dev)]).sum().backward(); out = x.grad")
c("grad_std_one", "x = L([1.0]).requires_grad_(); x.std().backward(); out = x.grad")
c(
    "grad_softmax_inf",
    "x = L([float('-inf'), 0.0]).requires_grad_(); F.softmax(x, 0)[1].backward(); out = x.grad",
)
c(
    "grad_logsumexp_inf",
    "x = L([float('-inf'), float('-inf')]).requires_grad_(); x.logsumexp(0).backward(); out = x.grad",
)
c("grad_ce_ignore_all", "x = A(2, 3, rg=True); F.cross_entropy(x, I([-100, -100])).backward(); out = x.grad")
c("grad_cumprod_zero", "x = L([2.0, 0.0, 3.0]).requires_grad_(); x.cumprod(0).sum().backward(); out = x.grad")
c("grad_prod_zero", "x = L([2.0, 0.0, 3.0]).requires_grad_(); x.prod().backward(); out = x.grad")
c("grad_prod_two_zeros", "x = L([2.0, 0.0, 0.0]).requires_grad_(); x.prod().backward(); out = x.grad")
c("grad_kthvalue", "x = L([3.0, 1.0, 2.0]).requires_grad_(); M.kthvalue(x, 2)[0].backward(); out = x.grad")
c(
    "grad_quantile",
    "x = L([3.0, 1.0, 2.0, 5.0]).requires_grad_(); M.quantile(x, 0.4).backward(); out = x.grad",
)
c(
    "grad_cdist",
    "x = A(2, 3, rg=True); y = A(2, 3, rg=True); M.cdist(x, y).sum().backward(); out = (x.grad, y.grad)",
)
c(
    "grad_cdist_p1",
    "x = A(2, 3, rg=True); y = (A(2, 3) + 0.1).requires_grad_(); M.cdist(x, y, p=1).sum().backward(); out = (x.grad, y.grad)",
)
c(
    "grad_normalize_zero",
    "x = M.zeros(2, 3, device=dev).requires_grad_(); F.normalize(x).sum().backward(); out = x.grad",
)
c(
    "grad_cos_sim_zero",
    "x = M.zeros(2, 3, device=dev).requires_grad_(); F.cosine_similarity(x, A(2, 3)).sum().backward(); out = x.grad",
)
c(
    "grad_einsum",
    "x = A(2, 3, rg=True); y = A(3, 4, rg=True); M.einsum('ij,jk->ik', x, y).sum().backward(); out = (x.grad, y.grad)",
)
c("grad_einsum_trace", "x = A(3, 3, rg=True); M.einsum('ii->', x).backward(); out = x.grad")
c(
    "grad_einsum_diag",
    "x = A(3, 3, rg=True); (M.einsum('ii->i', x) * L([1.0, 2.0, 3.0])).sum().backward(); out = x.grad",
)
c(
    "grad_kron",
    "x = A(2, 2, rg=True); y = A(2, 1, rg=True); (M.kron(x, y) * A(4, 2)).sum().backward(); out = (x.grad, y.grad)",
)
c("grad_diag_embed", "x = A(2, 3, rg=True); (M.diag_embed(x, 1) * A(2, 4, 4)).sum().backward(); out = x.grad")
c(
    "grad_diagonal",
    "x = A(3, 4, rg=True); (M.diagonal(x, 1) * L([1.0, 2.0, 3.0])).sum().backward(); out = x.grad",
)
c(
    "grad_cross",
    "x = A(2, 3, rg=True); y = A(2, 3, rg=True); (M.cross(x, y.flip(0), dim=1) * A(2, 3)).sum().backward(); out = (x.grad, y.grad)",
)
c("grad_tile", "x = A(2, rg=True); (M.tile(x, (3,)) * A(6)).sum().backward(); out = x.grad")
c("grad_unflatten", "x = A(6, rg=True); (x.unflatten(0, (2, 3)) * A(2, 3)).sum().backward(); out = x.grad")
c(
    "grad_lerp",
    "x = A(3, rg=True); y = A(3, rg=True); w = L([0.1, 0.5, 0.9]).requires_grad_(); (M.lerp(x, y.flip(0), w) * A(3)).sum().backward(); out = (x.grad, y.grad, w.grad)",
)
c(
    "grad_addmm",
    "b = A(2, 3, rg=True); m1 = A(2, 4, rg=True); m2 = A(4, 3, rg=True); (M.addmm(b, m1, m2, beta=0.5, alpha=2) * A(2, 3)).sum().backward(); out = (b.grad, m1.grad, m2.grad)",
)
c(
    "grad_baddbmm",
    "b = A(2, 2, 3, rg=True); m1 = A(2, 2, 4, rg=True); m2 = A(2, 4, 3, rg=True); (M.baddbmm(b, m1, m2, beta=0.5, alpha=2) * A(2, 2, 3)).sum().backward(); out = (b.grad, m1.grad, m2.grad)",
)
c(
    "grad_atan2",
    "y = A(3, rg=True); x = (A(3) + 0.3).requires_grad_(); M.atan2(y, x).sum().backward(); out = (y.grad, x.grad)",
)
c(
    "grad_hypot",
    "y = A(3, rg=True); x = (A(3) + 0.3).requires_grad_(); M.hypot(y, x).sum().backward(); out = (y.grad, x.grad)",
)
c(
    "grad_xlogy",
    "x = L([0.0, 1.0, 2.0]).requires_grad_(); y = L([0.0, 2.0, 3.0]).requires_grad_(); M.xlogy(x, y).sum().backward(); out = (x.grad, y.grad)",
)
c("grad_logit", "x = L([0.2, 0.5, 0.0]).requires_grad_(); M.logit(x, eps=0.1).sum().backward(); out = x.grad")
c(
    "grad_trig",
    "x = L([0.2, -0.5]).requires_grad_(); (M.asin(x) + M.acos(x) * 2 + M.atan(x) + M.sinh(x) + M.cosh(x) + M.asinh(x) + M.atanh(x)).sum().backward(); out = x.grad",
)
c(
    "grad_lgamma_digamma",
    "x = L([0.5, 2.5]).requires_grad_(); (M.lgamma(x) + M.digamma(x)).sum().backward(); out = x.grad",
)
c("grad_diff", "x = A(5, rg=True); (M.diff(x, n=2) * A(3)).sum().backward(); out = x.grad")
c("grad_trapezoid", "x = A(5, rg=True); M.trapezoid(x).backward(); out = x.grad")
c("grad_renorm", "x = A(3, 4, rg=True); (M.renorm(x, 2, 0, 1.0) * A(3, 4)).sum().backward(); out = x.grad")
c("grad_rot90", "x = A(2, 3, rg=True); (M.rot90(x) * A(3, 2)).sum().backward(); out = x.grad")
c(
    "grad_block_diag",
    "x = A(2, 2, rg=True); y = A(1, 3, rg=True); (M.block_diag(x, y) * A(3, 5)).sum().backward(); out = (x.grad, y.grad)",
)
c(
    "grad_cartesian",
    "x = A(2, rg=True); y = A(3, rg=True); (M.cartesian_prod(x, y) * A(6, 2)).sum().backward(); out = (x.grad, y.grad)",
)
c(
    "grad_take",
    "x = A(2, 3, rg=True); (M.take(x, I([0, 5, 5])) * L([1.0, 2.0, 3.0])).sum().backward(); out = x.grad",
)
c(
    "grad_scatter",
    "x = A(2, 3, rg=True); s = A(1, 2, rg=True); (x.scatter(1, I([[0, 2]]), s) * A(2, 3)).sum().backward(); out = (x.grad, s.grad)",
)
c(
    "grad_index_fill",
    "x = A(2, 3, rg=True); (x.index_fill(1, I([0, 2]), -1.0) * A(2, 3)).sum().backward(); out = x.grad",
)
c("grad_unfold", "x = A(7, rg=True); (x.unfold(0, 3, 2) * A(3, 3)).sum().backward(); out = x.grad")
c(
    "grad_as_strided",
    "x = A(6, rg=True); (x.as_strided((2, 2), (3, 1), 1) * A(2, 2)).sum().backward(); out = x.grad",
)
c(
    "grad_as_strided_overlap",
    "x = A(4, rg=True); (x.as_strided((3, 2), (1, 1)) * A(3, 2)).sum().backward(); out = x.grad",
)
c(
    "grad_F_unfold",
    "x = A(1, 2, 4, 5, rg=True); (F.unfold(x, 2, padding=1, stride=2) * A(1, 8, 6)).sum().backward(); out = x.grad",
)
c(
    "grad_F_fold",
    "x = A(1, 8, 6, rg=True); (F.fold(x, (3, 4), 2) * A(1, 2, 3, 4)).sum().backward(); out = x.grad",
)
c(
    "grad_grid_sample",
    "x = A(1, 1, 3, 4, rg=True); g = (A(1, 2, 2, 2) * 0.5).requires_grad_(); (F.grid_sample(x, g, align_corners=False) * A(1, 1, 2, 2)).sum().backward(); out = (x.grad, g.grad)",
)
c(
    "grad_affine_grid",
    "t = A(1, 2, 3, rg=True); (F.affine_grid(t, (1, 1, 2, 3), align_corners=False) * A(1, 2, 3, 2)).sum().backward(); out = t.grad",
)
c(
    "grad_interp_bilinear_ac",
    "x = A(1, 1, 3, 4, rg=True); (F.interpolate(x, size=(5, 3), mode='bilinear', align_corners=True) * A(1, 1, 5, 3)).sum().backward(); out = x.grad",
)
c(
    "grad_pixel_shuffle",
    "x = A(1, 8, 2, 3, rg=True); (F.pixel_shuffle(x, 2) * A(1, 2, 4, 6)).sum().backward(); out = x.grad",
)
c(
    "grad_conv3d",
    "x = A(1, 2, 3, 4, 4, rg=True); w = A(2, 2, 2, 2, 2, rg=True); (F.conv3d(x, w, padding=1, stride=(1, 2, 2)) * 0.1).sum().backward(); out = (x.grad, w.grad)",
)
c(
    "grad_conv_transpose1d",
    "x = A(1, 2, 4, rg=True); w = A(2, 3, 3, rg=True); (F.conv_transpose1d(x, w, stride=2, padding=1, output_padding=1) * A(1, 3, 8)).sum().backward(); out = (x.grad, w.grad)",
)
c(
    "grad_max_pool3d",
    "x = R(1, 1, 4, 4, 4, rg=True); (F.max_pool3d(x, 2) * A(1, 1, 2, 2, 2)).sum().backward(); out = x.grad",
)
c(
    "grad_avg_pool3d",
    "x = A(1, 1, 4, 4, 4, rg=True); (F.avg_pool3d(x, 2, padding=1) * A(1, 1, 3, 3, 3)).sum().backward(); out = x.grad",
)
c(
    "grad_adaptive_max_pool2d",
    "x = R(1, 1, 5, 7, rg=True); (F.adaptive_max_pool2d(x, (3, 2)) * A(1, 1, 3, 2)).sum().backward(); out = x.grad",
)
c(
    "grad_lp_pool",
    "x = (A(1, 1, 6).abs() + 0.1).requires_grad_(); F.lp_pool1d(x, 3.0, 2).sum().backward(); out = x.grad",
)
c(
    "grad_max_unpool",
    "v = A(1, 1, 2, 2, rg=True); i = F.max_pool2d(R(1, 1, 4, 4), 2, return_indices=True)[1]; (F.max_unpool2d(v, i, 2) * A(1, 1, 4, 4)).sum().backward(); out = v.grad",
)
c(
    "grad_embedding_bag_max",
    "w = R(4, 3, rg=True); (F.embedding_bag(I([0, 2, 1, 3]), w, I([0, 2]), mode='max') * A(2, 3)).sum().backward(); out = w.grad",
)
c(
    "grad_embedding_bag_mean_psw",
    "w = A(4, 3, rg=True); p = L([1.0, 2.0, 3.0]).requires_grad_(); (F.embedding_bag(I([0, 2, 1]), w, I([0, 1]), mode='sum', per_sample_weights=p) * A(2, 3)).sum().backward(); out = (w.grad, p.grad)",
)
c(
    "grad_embedding_padding",
    "w = A(4, 3, rg=True); F.embedding(I([0, 2, 2]), w, padding_idx=2).sum().backward(); out = w.grad",
)
c(
    "grad_embedding_max_norm",
    "w = (A(4, 3) * 3).requires_grad_(); F.embedding(I([0, 1]), w, max_norm=1.0).sum().backward(); out = w.grad",
)
c(
    "grad_prelu",
    "x = A(2, 3, rg=True); w = L([0.25, 0.5, 0.1]).requires_grad_(); F.prelu(x, w).sum().backward(); out = (x.grad, w.grad)",
)
c("grad_glu", "x = A(2, 4, rg=True); (F.glu(x) * A(2, 2)).sum().backward(); out = x.grad")
c(
    "grad_rms_norm",
    "x = A(2, 3, rg=True); w = L([1.0, 2.0, 0.5]).requires_grad_(); (F.rms_norm(x, (3,), w) * A(2, 3)).sum().backward(); out = (x.grad, w.grad)",
)
c(
    "grad_group_norm",
    "x = R(2, 6, 2, rg=True); w = R(6, seed=1, rg=True); b = R(6, seed=2, rg=True); (F.group_norm(x, 3, w, b) * A(2, 6, 2)).sum().backward(); out = (x.grad, w.grad, b.grad)",
)
c(
    "grad_instance_norm",
    "x = R(2, 3, 4, rg=True); (F.instance_norm(x) * A(2, 3, 4)).sum().backward(); out = x.grad",
)
c(
    "grad_lrn",
    "x = R(1, 4, 2, 2, rg=True); (F.local_response_norm(x, 3) * A(1, 4, 2, 2)).sum().backward(); out = x.grad",
)
c(
    "grad_bilinear",
    "a = A(2, 3, rg=True); b = A(2, 4, rg=True); w = A(5, 3, 4, rg=True); (F.bilinear(a, b, w) * A(2, 5)).sum().backward(); out = (a.grad, b.grad, w.grad)",
)
c(
    "grad_sdpa",
    "q = R(1, 3, 4, rg=True); k = R(1, 5, 4, seed=1, rg=True); v = R(1, 5, 2, seed=2, rg=True); (F.scaled_dot_product_attention(q, k, v, is_causal=True) * A(1, 3, 2)).sum().backward(); out = (q.grad, k.grad, v.grad)",
)
c(
    "grad_sdpa_masked_row",
    "q = R(1, 2, 4, rg=True); k = R(1, 3, 4, seed=1, rg=True); v = R(1, 3, 2, seed=2, rg=True); m = M.tensor([[False, False, False], [True, True, False]], device=dev); o = F.scaled_dot_product_attention(q, k, v, attn_mask=m); (o.nan_to_num() * A(1, 2, 2)).sum().backward(); out = (o, q.grad, k.grad, v.grad)",
)
c(
    "grad_losses",
    "x = R(4, 3, rg=True); y = R(4, 3, seed=1); t = M.tensor([1.0, -1.0, 1.0, -1.0], device=dev); l = F.cosine_embedding_loss(x, y, t) + F.margin_ranking_loss(x[:, 0], y[:, 0], t) + F.hinge_embedding_loss(x[:, 1], t) + F.soft_margin_loss(x[:, 2], t) + F.multi_margin_loss(x, I([0, 1, 2, 0])) + F.multilabel_soft_margin_loss(x, (y > 0).float()) + F.poisson_nll_loss(x, y.abs()) + F.gaussian_nll_loss(x, y, x.detach().abs() + 0.5) + F.triplet_margin_loss(x, y, y.flip(0)) + F.multilabel_margin_loss(x, I([[2, -1, 0], [0, 1, 2], [1, -1, 2], [-1, 0, 0]])); l.backward(); out = (l, x.grad)",
)
c(
    "grad_linalg",
    "a = (A(3, 3) + 3 * M.eye(3, device=dev)).requires_grad_(); (M.linalg.inv(a).sum() + M.linalg.det(a) + M.linalg.slogdet(a)[1] + M.linalg.solve(a, A(3)).sum()).backward(); out = a.grad",
)
c(
    "grad_cholesky",
    "a = L([[4.0, 2.0], [2.0, 3.0]]).requires_grad_(); (M.linalg.cholesky(a) * A(2, 2)).sum().backward(); out = a.grad",
)
c(
    "grad_vector_norm_inf",
    "x = L([1.0, -3.0, 3.0]).requires_grad_(); M.linalg.vector_norm(x, float('inf')).backward(); out = x.grad",
)
c("grad_matrix_norm_nuc", "x = A(3, 2, rg=True); M.linalg.matrix_norm(x, 'nuc').backward(); out = x.grad")
c("grad_svdvals", "x = A(3, 2, rg=True); M.linalg.svdvals(x).sum().backward(); out = x.grad")
c(
    "grad_eigvalsh",
    "x = L([[2.0, 1.0], [1.0, 3.0]]).requires_grad_(); (M.linalg.eigvalsh(x) * L([1.0, 2.0])).sum().backward(); out = x.grad",
)
c("grad_pinv", "x = A(3, 2, rg=True); M.linalg.pinv(x).sum().backward(); out = x.grad")
c(
    "grad_matrix_power_neg",
    "x = (A(2, 2) + 3 * M.eye(2, device=dev)).requires_grad_(); M.linalg.matrix_power(x, -2).sum().backward(); out = x.grad",
)
c("grad_nansum", "x = L([1.0, float('nan'), 2.0]).requires_grad_(); M.nansum(x).backward(); out = x.grad")
c("grad_nanmean", "x = L([1.0, float('nan'), 2.0]).requires_grad_(); M.nanmean(x).backward(); out = x.grad")
c(
    "grad_std_mean",
    "x = A(3, 4, rg=True); s, m = M.std_mean(x, 1); (s * 2 + m).sum().backward(); out = x.grad",
)
c(
    "grad_var_mean_corr",
    "x = A(3, 4, rg=True); s, m = M.var_mean(x, 1, correction=0); (s * 2 + m).sum().backward(); out = x.grad",
)
c(
    "grad_log_softmax_dtype",
    "x = A(3, rg=True); F.log_softmax(x, 0, dtype=M.float64).sum().backward(); out = x.grad",
)
c(
    "grad_f64_f32_mix",
    "x = A(3, rg=True); y = A(3, dtype='float64', rg=True); (x * y).sum().backward(); out = (x.grad, y.grad)",
)
c("grad_int_f32_mix", "x = A(3, rg=True); (x * I([1, 2, 3])).sum().backward(); out = x.grad")
c("grad_to_f64", "x = A(3, rg=True); (x.to(M.float64) ** 2).sum().backward(); out = x.grad")
c("grad_cummax", "x = L([1.0, 3.0, 2.0]).requires_grad_(); x.cummax(0)[0].sum().backward(); out = x.grad")
c(
    "grad_sort",
    "x = L([3.0, 1.0, 2.0]).requires_grad_(); (x.sort()[0] * L([1.0, 2.0, 3.0])).sum().backward(); out = x.grad",
)
c(
    "grad_topk",
    "x = L([3.0, 1.0, 2.0]).requires_grad_(); (x.topk(2)[0] * L([1.0, 2.0])).sum().backward(); out = x.grad",
)
c(
    "grad_repeat_interleave",
    "x = A(3, rg=True); (x.repeat_interleave(2) * A(6)).sum().backward(); out = x.grad",
)
c("grad_roll", "x = A(4, rg=True); (x.roll(1) * A(4)).sum().backward(); out = x.grad")
c("grad_flip", "x = A(4, rg=True); (x.flip(0) * A(4)).sum().backward(); out = x.grad")
c("grad_masked_select", "x = A(4, rg=True); (x.masked_select(x > 0) * 2).sum().backward(); out = x.grad")
c("grad_nonzero_idx", "x = A(4, rg=True); x[x.nonzero(as_tuple=True)].sum().backward(); out = x.grad")
c(
    "grad_setitem_leaf_clone",
    "x = A(4, rg=True); y = x.clone(); y[0] = y[1] * 3; y.sum().backward(); out = x.grad",
)
c(
    "grad_setitem_self_overlap",
    "x = A(4, rg=True); y = x * 1; y[1:] = y[:-1]; (y * A(4)).sum().backward(); out = x.grad",
)
c(
    "grad_hook_none",
    "x = A(3, rg=True); x.register_hook(lambda g: None); (x * 2).sum().backward(); out = x.grad",
)
c(
    "grad_hook_bad_shape",
    "x = A(3, rg=True); x.register_hook(lambda g: g[:2]); (x * 2).sum().backward(); out = x.grad",
)
c(
    "grad_hook_scale",
    "x = A(3, rg=True); x.register_hook(lambda g: g * 10); (x * 2).sum().backward(); out = x.grad",
)
CASES = C
