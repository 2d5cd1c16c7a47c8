"""In-place shape ops (unsqueeze_/t_/resize_/set_/`.data =` ...), rustdl.func / forward_ad, and
prune / parametrize / swa_utils / AdaptiveLogSoftmaxWithLoss with hostile arguments."""

C = []


def c(name, code):
    C.append((name, code))


SUB = "import importlib\ndef sub(n): return importlib.import_module(M.__name__ + '.' + n)\n"

# ---- in-place shape ops
c("unsq_", "x = A(3); x.unsqueeze_(0); out = x")
c("unsq_oob", "x = A(3); x.unsqueeze_(5)")
c("unsq_float", "x = A(3); x.unsqueeze_(1.0)")
c("unsq_none", "x = A(3); x.unsqueeze_(None)")
c("unsq_oob_state", "x = A(2, 3)\ntry:\n    x.unsqueeze_(7)\nexcept IndexError:\n    pass\nout = x")
c("squeeze_all", "x = A(1, 3, 1); x.squeeze_(); out = x")
c("squeeze_zero", "x = A(0, 1, 3); x.squeeze_(); out = x")
c("squeeze_oob", "x = A(1, 3); x.squeeze_(5)")
c("squeeze_tuple", "x = A(1, 1, 3); x.squeeze_((0, 1)); out = x")
c("t_2d", "x = A(2, 3); x.t_(); out = x")
c("t_3d", "x = A(2, 3, 4); x.t_()")
c("t_0d", "x = A(); x.t_(); out = x")
c("transpose_", "x = A(2, 3, 4); x.transpose_(0, 2); out = x.contiguous()")
c("transpose_oob", "x = A(2, 3); x.transpose_(0, 5)")
c("swapdims_", "x = A(2, 3); x.swapdims_(0, 1); out = x")
c("swapaxes_", "x = A(2, 3); x.swapaxes_(0, 1); out = x")
c("view_unsq_write", "a = A(2, 3); b = a[0]; b.unsqueeze_(0); b.mul_(2); out = a")
c("t_then_write", "a = A(2, 3); b = a[:, 1:]; b.t_(); b.add_(1); out = a")
c("leaf_unsq_grad_on", "x = A(3, rg=True); x.unsqueeze_(0)")
c(
    "leaf_unsq_no_grad",
    "x = A(3, rg=True)\nwith M.no_grad():\n    x.unsqueeze_(0)\nout = [x, x.requires_grad, x.is_leaf]",
)
c("nonleaf_unsq_bw", "a = A(3, rg=True); b = a * 2; b.unsqueeze_(0); b.sum().backward(); out = a.grad")
c("nonleaf_t_bw", "a = A(2, 3, rg=True); b = a * 2; b.t_(); (b * A(3, 2)).sum().backward(); out = a.grad")
c("as_strided_ok", "x = M.arange(6.).to(dev); x.as_strided_((3, 3), (1, 1)); out = x")
c("as_strided_oob", "x = M.arange(6.).to(dev); x.as_strided_((3, 3), (3, 3))")
c("as_strided_huge", "x = M.arange(6.).to(dev); x.as_strided_((2**40,), (1,))")
c("as_strided_neg", "x = M.arange(6.).to(dev); x.as_strided_((3,), (-1,))")
c("resize_grow", "x = M.arange(6.).to(dev); x.resize_(2, 3); out = x")
c("resize_shrink", "x = M.arange(6.).to(dev); x.resize_(4); out = x")
c("resize_zero", "x = M.arange(6.).to(dev); x.resize_(2, 0, 3); out = x.shape")
c("resize_neg", "x = A(3); x.resize_(-1)")
c("resize_float", "x = A(3); x.resize_(2.0)")
c("resize_none", "x = A(3); x.resize_(None)")
c("resize_bool", "x = A(3); x.resize_(True)")
c("resize_tensor", "x = A(3); x.resize_(I(2)); out = x.shape")
c("resize_ftensor", "x = A(3); x.resize_(L(2.0))")
c("resize_noargs", "x = A(3); x.resize_()")
c("resize_huge", "x = A(3); x.resize_(2**36)")
c("resize_overflow", "x = A(3); x.resize_(2**32, 2**32)")
c("resize_toolarge_int", "x = A(3); x.resize_(2**70)")
c("resize_rg", "x = A(3, rg=True); x.resize_(4)")
c("resize_nonleaf_rg", "x = A(3, rg=True) * 2; x.resize_(4)")
c("resize_as", "x = A(3); x.resize_as_(A(2, 2)); out = x.shape")
c("resize_as_list", "x = A(3); x.resize_as_([2, 2])")
c("set_share", "x = A(3); s = M.arange(4.).to(dev); x.set_(s); s.mul_(2); out = x")
c("set_empty", "x = A(3); x.set_(); out = x.shape")
c("set_dtype", "x = A(3); x.set_(I([1, 2]))")
c("set_list", "x = A(3); x.set_([1.0])")
c("set_off_size", "x = A(3); x.set_(M.arange(6.).to(dev), 1, (2, 2)); out = x")
c("set_off_size_stride", "x = A(3); x.set_(M.arange(6.).to(dev), 1, (2, 2), (1, 1)); out = x")
c("set_off_no_size", "x = A(3); x.set_(M.arange(6.).to(dev), 1)")
c("set_size_no_off", "x = A(3); x.set_(M.arange(6.).to(dev), size=(2,))")
c("set_neg_off", "x = A(3); x.set_(M.arange(6.).to(dev), -1, (2,))")
c("set_leaf_rg", "x = A(3, rg=True); x.set_(A(4))")
c("set_leaf_rg_no_grad", "x = A(3, rg=True)\nwith M.no_grad():\n    x.set_(A(4))\nout = [x, x.requires_grad]")
c("data_shape", "x = A(3); x.data = A(2, 2); out = x")
c("data_dtype", "x = A(3); x.data = I([1, 2, 3]); out = x")
c("data_int_rg", "x = A(3, rg=True); x.data = I([1, 2, 3])")
c("data_not_tensor", "x = A(3); x.data = 5")
c("data_view", "a = A(2, 3); b = a.t(); b.data = A(3, 2) + 1; out = [a, b]")
c("data_shape_leaf_bw", "x = A(3, rg=True); x.data = A(3, 4); x.sum().backward(); out = x.grad")
c("param_data_fwd", "m = nn.Linear(3, 2).to(dev); m.weight.data = A(4, 3); out = m(A(5, 3))")
c(
    "param_data_both_fwd",
    "m = nn.Linear(3, 2).to(dev); m.weight.data = A(4, 3); m.bias.data = A(4); out = m(A(5, 3)).shape",
)
c(
    "param_unsq_fwd",
    "m = nn.Linear(3, 2).to(dev)\nwith M.no_grad():\n    m.weight.unsqueeze_(0)\nout = m(A(5, 3))",
)
c(
    "param_unsq_sd",
    "m = nn.Linear(3, 2).to(dev)\nwith M.no_grad():\n    m.weight.unsqueeze_(0)\nout = [m.state_dict()['weight'].shape, isinstance(m.weight, nn.Parameter)]",
)
c("param_resize", "m = nn.Linear(3, 2).to(dev)\nwith M.no_grad():\n    m.weight.resize_(3, 2)")
c(
    "opt_state_other_shape",
    "p = nn.Parameter(A(2, 3)); o = M.optim.Adam([p], lr=0.1); p.grad = A(2, 3); o.step(); p.data = A(4); p.grad = A(4); o.step(); out = p",
)
c(
    "opt_sgd_t_",
    "p = nn.Parameter(A(2, 2)); o = M.optim.SGD([p], lr=0.1, momentum=0.5); p.grad = A(2, 2); o.step()\nwith M.no_grad():\n    p.t_()\np.grad = A(2, 2); o.step(); out = p.contiguous()",
)
c("hash_stable", "p = nn.Parameter(A(2, 3)); d = {p: 1}\nwith M.no_grad():\n    p.t_()\nout = d[p]")
c("storage_offset_view", "out = M.arange(12.).to(dev)[2:].storage_offset()")
c("as_strided_view_default", "out = M.arange(12.).to(dev)[2:].as_strided((2, 2), (1, 1))")
c("as_strided_view_abs", "out = M.arange(12.).to(dev)[2:].as_strided((3,), (2,), 4)")
c("as_strided_view_before", "out = M.arange(12.).to(dev)[2:].as_strided((2,), (1,), 0)")
c(
    "as_strided_t_identity",
    "t = M.arange(12.).to(dev).view(3, 4).t(); out = t.as_strided(t.shape, t.stride())",
)
c("resize_t_storage_order", "x = M.arange(6.).to(dev).view(2, 3).t(); x.resize_(6); out = x")
c("resize_step_grow", "x = M.arange(6.).to(dev)[::2]; x.resize_(5); out = x")
c("resize_regrow", "x = M.arange(6.).to(dev); x.resize_(4); x.resize_(2, 3); out = x")
c("resize_shares", "b = M.arange(6.).to(dev); v = b[1:]; v.resize_(2, 2); v.mul_(10); out = b")
c(
    "set_window_shares",
    "src = M.arange(8.).to(dev); s = M.zeros(1).to(dev); s.set_(src[1:], 2, (2, 2)); s.mul_(10); out = [s, src]",
)
# ---- rustdl.func / forward_ad
c("grad_argnums_oob", "out = M.func.grad(lambda a, b: (a * b).sum(), argnums=2)(A(3), A(3))")
c("grad_argnums_neg", "out = M.func.grad(lambda a, b: (a * b).sum(), argnums=-1)(A(3), A(3) + 1)")
c("grad_argnums_float", "out = M.func.grad(lambda a, b: (a * b).sum(), argnums=1.0)(A(3), A(3))")
c("grad_argnums_dup", "out = M.func.grad(lambda a, b: (a * b).sum(), argnums=(0, 0))(A(3), A(3))")
c("grad_nonscalar", "out = M.func.grad(lambda a: a * 2)(A(3))")
c("grad_nontensor_out", "out = M.func.grad(lambda a: 3.0)(A(3))")
c("grad_int", "out = M.func.grad(lambda a: a.sum())(I([1, 2]))")
c("grad_nontensor_arg", "out = M.func.grad(lambda a: a)(3.0)")
c("grad_raises", "out = M.func.grad(lambda a: 1 / 0)(A(3))")
c("grad_has_aux_bad", "out = M.func.grad(lambda a: a.sum(), has_aux=True)(A(3))")
c("grad_grad", "out = M.func.grad(lambda a: M.func.grad(lambda b: (b ** 3).sum())(a).sum())(A(3))")
c("vjp_cot_shape", "out = M.func.vjp(lambda a: a * 2, A(3))[1](A(4))")
c("vjp_cot_type", "out = M.func.vjp(lambda a: a * 2, A(3))[1](3.0)")
c("jvp_tangent_shape", "out = M.func.jvp(lambda a: a * 2, (A(3),), (A(4),))")
c("jvp_ok", "out = M.func.jvp(lambda a: a.sin(), (A(3),), (M.ones(3, device=dev),))")
c("jacrev_ok", "out = M.func.jacrev(lambda a: a.sin())(A(3))")
c("jacfwd_ok", "out = M.func.jacfwd(lambda a: a.sin())(A(3))")
c("jacrev_huge", "out = M.func.jacrev(lambda a: a.sin())(M.zeros(2**20, device=dev))")
c("jacrev_zero", "out = M.func.jacrev(lambda a: a.sin())(M.zeros(0, device=dev))")
c("jacrev_argnums_oob", "out = M.func.jacrev(lambda a: a.sin(), argnums=3)(A(3))")
c("hessian_ok", "out = M.func.hessian(lambda a: (a ** 3).sum())(A(3))")
c("vmap_ok", "out = M.func.vmap(lambda a: a.sum())(A(4, 3))")
c("vmap_in_dims_oob", "out = M.func.vmap(lambda a: a.sum(), in_dims=2)(A(4, 3))")
c("vmap_in_dims_len", "out = M.func.vmap(lambda a: a.sum(), in_dims=(0, 1))(A(4, 3))")
c("vmap_size_mismatch", "out = M.func.vmap(lambda a, b: a + b)(A(4, 3), A(5, 3))")
c("vmap_zero_batch", "out = M.func.vmap(lambda a: a.sum())(A(0, 3))")
c("vmap_0d_in", "out = M.func.vmap(lambda a: a)(L(1.0))")
c("vmap_out_dims_oob", "out = M.func.vmap(lambda a: a, out_dims=3)(A(4, 3))")
c("vmap_nested", "out = M.func.vmap(M.func.vmap(lambda a: a.sum()))(A(2, 3, 4))")
c("vmap_grad", "out = M.func.vmap(M.func.grad(lambda a: (a ** 2).sum()))(A(2, 3))")
c("vmap_chunk0", "out = M.func.vmap(lambda a: a.sum(), chunk_size=0)(A(4, 3))")
c("vmap_dropout_error_mode", "out = M.func.vmap(lambda a: F.dropout(a, 0.5))(A(4, 3))")
c("vmap_dropout_same", "out = M.func.vmap(lambda a: F.dropout(a, 0.5), randomness='same')(A(4, 3)).shape")
c("vmap_randomness", "out = M.func.vmap(lambda a: a, randomness='foo')(A(4, 3))")
c(
    "fc_restored",
    "m = nn.Linear(3, 2).to(dev); w = m.weight.detach().clone()\ntry:\n    M.func.functional_call(m, {'weight': A(2, 3)}, (A(1, 4),))\nexcept Exception:\n    pass\nout = [M.equal(w, m.weight.detach()), isinstance(m.weight, nn.Parameter)]",
)
c(
    "fc_bad_shape",
    "m = nn.Linear(3, 2).to(dev); out = M.func.functional_call(m, {'weight': A(5, 5)}, (A(1, 3),))",
)
c("fc_nontensor", "m = nn.Linear(3, 2).to(dev); out = M.func.functional_call(m, {'weight': 3.0}, (A(1, 3),))")
c(
    "fc_strict",
    "m = nn.Linear(3, 2).to(dev); out = M.func.functional_call(m, {'weight': A(2, 3)}, (A(1, 3),), strict=True)",
)
c("sms_empty", "out = M.func.stack_module_state([])")
c("sms_mismatch", "out = M.func.stack_module_state([nn.Linear(3, 2).to(dev), nn.Linear(3, 4).to(dev)])")
c(
    "fwad_bad_tangent",
    SUB + "fw = sub('autograd.forward_ad')\nwith fw.dual_level():\n    d = fw.make_dual(A(3), A(4))",
)
c("fwad_no_level", SUB + "fw = sub('autograd.forward_ad')\nd = fw.make_dual(A(3), A(3))")
c(
    "fwad_int",
    SUB
    + "fw = sub('autograd.forward_ad')\nwith fw.dual_level():\n    d = fw.make_dual(I([1, 2]), I([1, 2]))",
)
c(
    "fwad_ok",
    SUB
    + "fw = sub('autograd.forward_ad')\nwith fw.dual_level():\n    d = fw.make_dual(A(3), M.ones(3, device=dev))\n    out = fw.unpack_dual((d * d).sum()).tangent",
)
# ---- prune / parametrize / swa / adaptive softmax
c(
    "prune_amount_neg",
    SUB + "sub('nn.utils.prune').l1_unstructured(nn.Linear(4, 3).to(dev), 'weight', amount=-1)",
)
c(
    "prune_amount_big",
    SUB + "sub('nn.utils.prune').l1_unstructured(nn.Linear(4, 3).to(dev), 'weight', amount=13)",
)
c(
    "prune_amount_float_big",
    SUB + "sub('nn.utils.prune').l1_unstructured(nn.Linear(4, 3).to(dev), 'weight', amount=1.5)",
)
c(
    "prune_amount_nan",
    SUB + "sub('nn.utils.prune').l1_unstructured(nn.Linear(4, 3).to(dev), 'weight', amount=float('nan'))",
)
c(
    "prune_amount_str",
    SUB + "sub('nn.utils.prune').l1_unstructured(nn.Linear(4, 3).to(dev), 'weight', amount='a')",
)
c(
    "prune_all",
    SUB
    + "m = sub('nn.utils.prune').l1_unstructured(nn.Linear(4, 3).to(dev), 'weight', amount=12); out = m.weight",
)
c("prune_bad_name", SUB + "sub('nn.utils.prune').l1_unstructured(nn.Linear(4, 3).to(dev), 'foo', amount=0.5)")
c(
    "prune_ln_dim_oob",
    SUB + "sub('nn.utils.prune').ln_structured(nn.Linear(4, 3).to(dev), 'weight', amount=0.5, n=2, dim=5)",
)
c(
    "prune_zero_w",
    SUB
    + "m = sub('nn.utils.prune').l1_unstructured(nn.Linear(0, 3).to(dev), 'weight', amount=0.5); out = m.weight",
)
c("prune_remove_unpruned", SUB + "sub('nn.utils.prune').remove(nn.Linear(4, 3).to(dev), 'weight')")
c(
    "param_bad_name",
    SUB
    + "class S(nn.Module):\n    def forward(self, X): return X\nsub('nn.utils.parametrize').register_parametrization(nn.Linear(3, 3).to(dev), 'foo', S())",
)
c(
    "param_shape_change",
    SUB
    + "class S(nn.Module):\n    def forward(self, X): return X[0]\nm = nn.Linear(3, 3).to(dev); sub('nn.utils.parametrize').register_parametrization(m, 'weight', S()); out = m.weight",
)
c(
    "param_remove_none",
    SUB + "sub('nn.utils.parametrize').remove_parametrizations(nn.Linear(3, 3).to(dev), 'weight')",
)
c(
    "orth_int",
    SUB
    + "m = nn.Linear(3, 3).to(dev); m.weight = nn.Parameter(I([[1, 0, 0], [0, 1, 0], [0, 0, 1]]), requires_grad=False); sub('nn.utils.parametrizations').orthogonal(m)",
)
c("orth_1d", SUB + "sub('nn.utils.parametrizations').orthogonal(nn.Linear(3, 3).to(dev), 'bias')")
c(
    "orth_bad_map",
    SUB + "sub('nn.utils.parametrizations').orthogonal(nn.Linear(3, 3).to(dev), orthogonal_map='foo')",
)
c(
    "orth_zero",
    SUB + "out = sub('nn.utils.parametrizations').orthogonal(nn.Linear(0, 3).to(dev)).weight.shape",
)
c("wn_dim_oob", SUB + "sub('nn.utils.parametrizations').weight_norm(nn.Linear(3, 3).to(dev), dim=5)")
c(
    "swa_update_mismatch",
    SUB
    + "a = sub('optim.swa_utils').AveragedModel(nn.Linear(4, 3).to(dev)); a.update_parameters(nn.Linear(5, 3).to(dev))",
)
c(
    "swalr_bad_strategy",
    SUB
    + "o = M.optim.SGD(nn.Linear(2, 2).to(dev).parameters(), lr=0.1); sub('optim.swa_utils').SWALR(o, swa_lr=0.05, anneal_strategy='foo')",
)
c(
    "swalr_neg_epochs",
    SUB
    + "o = M.optim.SGD(nn.Linear(2, 2).to(dev).parameters(), lr=0.1); sub('optim.swa_utils').SWALR(o, swa_lr=0.05, anneal_epochs=-1)",
)
c("asm_cutoff_order", "nn.AdaptiveLogSoftmaxWithLoss(8, 10, [5, 3]).to(dev)")
c("asm_cutoff_dup", "nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3, 3]).to(dev)")
c("asm_cutoff_gt_n", "nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3, 12]).to(dev)")
c("asm_cutoff_empty", "nn.AdaptiveLogSoftmaxWithLoss(8, 10, []).to(dev)")
c("asm_cutoff_float", "nn.AdaptiveLogSoftmaxWithLoss(8, 10, [2.5]).to(dev)")
c("asm_tgt_oob", "m = nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3, 6]).to(dev); m(A(2, 8), I([1, 10]))")
c("asm_tgt_neg", "m = nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3, 6]).to(dev); m(A(2, 8), I([1, -1]))")
c("asm_batch_mismatch", "m = nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3, 6]).to(dev); m(A(3, 8), I([1, 2]))")
c("asm_3d", "m = nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3, 6]).to(dev); m(A(2, 2, 8), I([[1, 2], [3, 4]]))")
c(
    "asm_empty",
    "m = nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3, 6]).to(dev); out = m(A(0, 8), I([])).output.shape",
)
CASES = C
