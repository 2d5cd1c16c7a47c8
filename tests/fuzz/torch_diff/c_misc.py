C = []


def c(name, code):
    C.append((name, code))


D = "M.distributions"
c("normal_neg_scale", f"d = {D}.Normal(L(0.0), L(-1.0))")
c("normal_zero_scale", f"d = {D}.Normal(L(0.0), L(0.0))")
c("normal_nan_loc", f"d = {D}.Normal(L(float('nan')), L(1.0))")
c("normal_logprob", f"d = {D}.Normal(L([0.0, 1.0]), L([1.0, 2.0])); out = d.log_prob(L([0.5, float('inf')]))")
c("normal_bcast_bad", f"d = {D}.Normal(A(2), A(3).abs() + 1)")
c("normal_sample_shape", f"d = {D}.Normal(A(2), A(2).abs() + 1); out = d.sample((3, 0)).shape")
c("normal_sample_neg", f"d = {D}.Normal(A(2), A(2).abs() + 1); out = d.sample((-1,)).shape")
c("normal_entropy", f"d = {D}.Normal(A(2), A(2).abs() + 1); out = d.entropy()")
c(
    "normal_cdf_icdf",
    f"d = {D}.Normal(L(0.0), L(1.0)); out = (d.cdf(L([0.0, float('inf')])), d.icdf(L([0.5, 0.0, 1.0])))",
)
c("normal_icdf_oob", f"d = {D}.Normal(L(0.0), L(1.0)); out = d.icdf(L([1.5]))")
c("cat_neg_probs", f"d = {D}.Categorical(probs=L([-0.1, 1.1]))")
c("cat_zero_probs", f"d = {D}.Categorical(probs=L([0.0, 0.0]))")
c("cat_nan_logits", f"d = {D}.Categorical(logits=L([float('nan'), 0.0]))")
c("cat_both", f"d = {D}.Categorical(probs=L([0.5, 0.5]), logits=L([0.0, 0.0]))")
c("cat_none", f"d = {D}.Categorical()")
c("cat_0d", f"d = {D}.Categorical(probs=L(1.0))")
c("cat_empty", f"d = {D}.Categorical(probs=A(0))")
c("cat_logprob_oob", f"d = {D}.Categorical(probs=L([0.3, 0.7])); out = d.log_prob(I([2]))")
c("cat_logprob_neg", f"d = {D}.Categorical(probs=L([0.3, 0.7])); out = d.log_prob(I([-1]))")
c("cat_logprob_float", f"d = {D}.Categorical(probs=L([0.3, 0.7])); out = d.log_prob(L([1.0]))")
c("cat_entropy_zero", f"d = {D}.Categorical(probs=L([0.0, 1.0])); out = d.entropy()")
c("cat_unnorm", f"d = {D}.Categorical(probs=L([1.0, 3.0])); out = d.probs")
c("cat_logits_inf", f"d = {D}.Categorical(logits=L([-float('inf'), 0.0])); out = (d.probs, d.entropy())")
c("bern_p_big", f"d = {D}.Bernoulli(probs=L([1.5]))")
c("bern_logprob_bad", f"d = {D}.Bernoulli(probs=L([0.5])); out = d.log_prob(L([2.0]))")
c("bern_p01", f"d = {D}.Bernoulli(probs=L([0.0, 1.0])); out = (d.log_prob(L([0.0, 1.0])), d.entropy())")
c(
    "bern_logits_inf",
    f"d = {D}.Bernoulli(logits=L([float('inf'), -float('inf')])); out = (d.probs, d.log_prob(L([1.0, 0.0])))",
)
c("uniform_bad", f"d = {D}.Uniform(L(1.0), L(0.0))")
c("uniform_eq", f"d = {D}.Uniform(L(1.0), L(1.0))")
c("uniform_logprob_out", f"d = {D}.Uniform(L(0.0), L(1.0)); out = d.log_prob(L([0.5, 1.5]))")
c(
    "uniform_logprob_out_nv",
    f"d = {D}.Uniform(L(0.0), L(1.0), validate_args=False); out = d.log_prob(L([0.5, 1.5]))",
)
c("beta_neg", f"d = {D}.Beta(L(-1.0), L(1.0))")
c("gamma_zero", f"d = {D}.Gamma(L(0.0), L(1.0))")
c("gamma_logprob_neg", f"d = {D}.Gamma(L(2.0), L(1.0)); out = d.log_prob(L([-1.0]))")
c("exp_neg_rate", f"d = {D}.Exponential(L(-1.0))")
c("poisson_neg", f"d = {D}.Poisson(L(-1.0))")
c("poisson_logprob_frac", f"d = {D}.Poisson(L(2.0)); out = d.log_prob(L([1.5]))")
c("dirichlet_neg", f"d = {D}.Dirichlet(L([-1.0, 1.0]))")
c("dirichlet_0d", f"d = {D}.Dirichlet(L(1.0))")
c("mvn_notpd", f"d = {D}.MultivariateNormal(A(2), covariance_matrix=L([[1.0, 2.0], [2.0, 1.0]]))")
c("mvn_bad_shape", f"d = {D}.MultivariateNormal(A(2), covariance_matrix=M.eye(3, device=dev))")
c(
    "mvn_ok",
    f"d = {D}.MultivariateNormal(A(2), covariance_matrix=L([[2.0, 0.5], [0.5, 1.0]])); out = d.log_prob(A(2))",
)
c("kl_normal", f"out = {D}.kl_divergence({D}.Normal(L(0.0), L(1.0)), {D}.Normal(L(1.0), L(2.0)))")
c("kl_unknown", f"out = {D}.kl_divergence({D}.Normal(L(0.0), L(1.0)), {D}.Bernoulli(probs=L(0.5)))")
c("laplace_zero", f"d = {D}.Laplace(L(0.0), L(0.0))")
c("binomial_bad", f"d = {D}.Binomial(total_count=L(-1.0), probs=L(0.5))")
c("onehotcat", f"d = {D}.OneHotCategorical(probs=L([0.2, 0.8])); out = d.log_prob(L([0.0, 1.0]))")
c("onehotcat_bad", f"d = {D}.OneHotCategorical(probs=L([0.2, 0.8])); out = d.log_prob(L([1.0, 1.0]))")
# optimizers
c("sgd_neg_lr", "p = nn.Parameter(A(3)); M.optim.SGD([p], lr=-0.1)")
c("sgd_empty", "M.optim.SGD([], lr=0.1)")
c("adam_bad_beta", "p = nn.Parameter(A(3)); M.optim.Adam([p], betas=(1.5, 0.9))")
c("adam_neg_eps", "p = nn.Parameter(A(3)); M.optim.Adam([p], eps=-1.0)")
c("adam_neg_wd", "p = nn.Parameter(A(3)); M.optim.Adam([p], weight_decay=-1.0)")
c("sgd_nesterov_bad", "p = nn.Parameter(A(3)); M.optim.SGD([p], lr=0.1, nesterov=True)")
c("sgd_nonleaf", "p = A(3, rg=True) * 2; M.optim.SGD([p], lr=0.1)")
c("sgd_tensor_not_list", "p = nn.Parameter(A(3)); M.optim.SGD(p, lr=0.1)")
c("sgd_dup", "p = nn.Parameter(A(3)); M.optim.SGD([p, p], lr=0.1)")
c(
    "adam_nan_grad",
    "p = nn.Parameter(A(3)); o = M.optim.Adam([p], lr=0.1); p.grad = L([float('nan'), 1.0, 1.0]); o.step(); out = p",
)
c("sgd_step_nograd", "p = nn.Parameter(A(3)); o = M.optim.SGD([p], lr=0.1); o.step(); out = p")
c("sgd_grad_shape_bad", "p = nn.Parameter(A(3)); o = M.optim.SGD([p], lr=0.1); p.grad = A(2)")
c(
    "sgd_grad_dtype_bad",
    "p = nn.Parameter(A(3)); o = M.optim.SGD([p], lr=0.1); p.grad = A(3, dtype='float64'); o.step(); out = p",
)
c(
    "adam_load_bad_state",
    "p = nn.Parameter(A(3)); o = M.optim.Adam([p]); o.load_state_dict({'state': {}, 'param_groups': []})",
)
c(
    "steplr_bad",
    "p = nn.Parameter(A(3)); o = M.optim.SGD([p], lr=0.1); M.optim.lr_scheduler.StepLR(o, step_size=0)",
)
c(
    "lbfgs_ok",
    "p = nn.Parameter(L([1.0, 2.0])); o = M.optim.LBFGS([p], lr=1)\ndef cl():\n    o.zero_grad(); l = (p ** 2).sum(); l.backward(); return l\no.step(cl); out = p",
)
c("grad_set_wrong_shape", "x = A(3, rg=True); x.grad = A(2)")
c("grad_set_wrong_device", "x = A(3, rg=True); x.grad = A(3).cpu() if dev != 'cpu' else A(3); out = x.grad")
c("param_int", "p = nn.Parameter(I([1, 2]))")
c("param_of_param", "p = nn.Parameter(nn.Parameter(A(3))); out = p.requires_grad")
c("module_to_bad", "m = nn.Linear(2, 2); m.to('foo')")
c("module_call_kw_bad", "m = nn.Linear(2, 2); m(A(2), foo=1)")
c("module_setattr_param_tensor", "m = nn.Linear(2, 2); m.weight = A(2, 2)")
c(
    "module_state_dict_roundtrip_noncontig",
    "m = nn.Linear(3, 2); sd = {'weight': A(3, 2).t(), 'bias': A(2)}; m.load_state_dict(sd); out = m.weight",
)
c(
    "dataloader_bs0",
    "ds = M.utils.data.TensorDataset(A(4, 2)) if hasattr(M, 'utils') else M.data.TensorDataset(A(4, 2)); dl = (M.utils.data if hasattr(M, 'utils') else M.data).DataLoader(ds, batch_size=0)",
)
c(
    "tensordataset_mismatch",
    "DS = (M.utils.data if hasattr(M, 'utils') else M.data).TensorDataset; ds = DS(A(4, 2), A(3))",
)
c(
    "random_split_bad",
    "u = (M.utils.data if hasattr(M, 'utils') else M.data); ds = u.TensorDataset(A(4, 2)); u.random_split(ds, [3, 3])",
)
CASES = C
