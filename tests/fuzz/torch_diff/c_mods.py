C = []


def c(name, code):
    C.append((name, code))


acts = [
    "CELU",
    "ELU",
    "GELU",
    "GLU",
    "Hardshrink",
    "Hardsigmoid",
    "Hardswish",
    "Hardtanh",
    "LeakyReLU",
    "LogSigmoid",
    "LogSoftmax",
    "Mish",
    "PReLU",
    "RReLU",
    "ReLU",
    "ReLU6",
    "SELU",
    "SiLU",
    "Sigmoid",
    "Softmax",
    "Softmin",
    "Softplus",
    "Softshrink",
    "Softsign",
    "Tanh",
    "Tanhshrink",
    "Tanhshrink",
]
inputs = {
    "empty": "M.zeros(0, 4, device=dev)",
    "0d": "L(-0.7)",
    "naninf": "L([float('nan'), float('inf'), -float('inf'), 0.0, -1.5, 2.5])",
    "int": "I([[-2, 0, 3, 1]])",
    "tview": "A(4, 6).t()",
    "expanded": "A(1, 4).expand(3, 4)",
    "f64": "A(2, 4, dtype='float64')",
    "big": "L([1e30, -1e30, 88.0, -88.0, 1e-30])",
}
for a in acts:
    ctor = (
        f"nn.{a}(dim=-1)"
        if a in ("Softmax", "Softmin", "LogSoftmax")
        else (f"nn.{a}(0.1, 2.0)" if a == "Threshold" else f"nn.{a}()")
    )
    for k, v in inputs.items():
        mv = ".to(dev)" if a == "PReLU" else ""
        c(f"act_{a}_{k}", f"m = {ctor}{mv}; x = {v}; out = m(x)")
        if k in ("naninf", "tview", "f64", "big"):
            c(
                f"actgrad_{a}_{k}",
                f"m = {ctor}{mv}; x = ({v}).clone().requires_grad_(); m(x).sum().backward(); out = x.grad",
            )
c("Threshold_nan", "out = nn.Threshold(0.1, 20.0)(L([float('nan'), 0.0, 1.0]))")
# pooling/conv modules with odd inputs
c("MaxPool1d_k_gt", "out = nn.MaxPool1d(5)(A(1, 2, 3))")
c("MaxPool2d_unbatched", "out = nn.MaxPool2d(2)(A(2, 4, 4))")
c("AvgPool2d_unbatched", "out = nn.AvgPool2d(2)(A(2, 4, 4))")
c("AvgPool2d_divisor", "out = nn.AvgPool2d(2, divisor_override=2)(A(1, 2, 4, 4))")
c("AdaptiveAvgPool2d_unbatched", "out = nn.AdaptiveAvgPool2d((2, 3))(A(2, 5, 7))")
c("AdaptiveMaxPool2d_idx", "out = nn.AdaptiveMaxPool2d(2, return_indices=True)(R(1, 2, 5, 5))")
c("AdaptiveMaxPool1d_unbatched", "out = nn.AdaptiveMaxPool1d(3)(R(2, 7))")
c(
    "Conv2d_unbatched",
    "M.manual_seed(0); m = nn.Conv2d(2, 3, 3, padding=1).to(dev); m.weight.data = A(3, 2, 3, 3); m.bias.data = A(3); out = m(A(2, 4, 5))",
)
c(
    "Conv1d_unbatched",
    "m = nn.Conv1d(2, 3, 3, padding='same').to(dev); m.weight.data = A(3, 2, 3); m.bias.data = A(3); out = m(A(2, 6))",
)
c(
    "Conv2d_same_even",
    "m = nn.Conv2d(1, 1, 4, padding='same', bias=False).to(dev); m.weight.data = A(1, 1, 4, 4); out = m(A(1, 1, 5, 6))",
)
c(
    "Conv2d_same_dil",
    "m = nn.Conv2d(1, 1, 3, padding='same', dilation=2, bias=False).to(dev); m.weight.data = A(1, 1, 3, 3); out = m(A(1, 1, 5, 6))",
)
c("Conv2d_wrong_ch", "m = nn.Conv2d(2, 3, 3).to(dev); out = m(A(1, 3, 5, 5))")
c("Conv2d_empty_batch", "m = nn.Conv2d(2, 3, 3).to(dev); out = m(A(0, 2, 5, 5)).shape")
c(
    "ConvT2d_unbatched",
    "m = nn.ConvTranspose2d(2, 3, 2, stride=2).to(dev); m.weight.data = A(2, 3, 2, 2); m.bias.data = A(3); out = m(A(2, 3, 3))",
)
c(
    "ConvT2d_output_size",
    "m = nn.ConvTranspose2d(1, 1, 3, stride=2, bias=False).to(dev); m.weight.data = A(1, 1, 3, 3); out = m(A(1, 1, 3, 3), output_size=(8, 8))",
)
c(
    "ConvT2d_output_size_bad",
    "m = nn.ConvTranspose2d(1, 1, 3, stride=2, bias=False).to(dev); out = m(A(1, 1, 3, 3), output_size=(20, 20))",
)
c(
    "ConvT1d",
    "m = nn.ConvTranspose1d(2, 3, 3, stride=2, padding=1, output_padding=1).to(dev); m.weight.data = A(2, 3, 3); m.bias.data = A(3); out = m(A(1, 2, 4))",
)
c(
    "Conv3d_mod",
    "m = nn.Conv3d(1, 2, 2).to(dev); m.weight.data = A(2, 1, 2, 2, 2); m.bias.data = A(2); out = m(A(1, 1, 3, 3, 3))",
)
c(
    "Conv3d_unbatched",
    "m = nn.Conv3d(1, 2, 2).to(dev); m.weight.data = A(2, 1, 2, 2, 2); m.bias.data = A(2); out = m(A(1, 3, 3, 3))",
)
c("BatchNorm1d_3d", "m = nn.BatchNorm1d(2).to(dev); out = m(A(3, 2, 4))")
c("BatchNorm1d_batch1", "m = nn.BatchNorm1d(2).to(dev); out = m(A(1, 2))")
c("BatchNorm1d_batch1_spatial", "m = nn.BatchNorm1d(2).to(dev); out = m(A(1, 2, 3))")
c(
    "BatchNorm2d_nan",
    "m = nn.BatchNorm2d(1).to(dev); x = A(2, 1, 2, 2); x[0, 0, 0, 0] = float('nan'); out = (m(x), m.running_mean)",
)
c(
    "BatchNorm_no_track_eval",
    "m = nn.BatchNorm1d(2, track_running_stats=False).to(dev).eval(); out = m(A(4, 2))",
)
c("LayerNorm_noaffine", "m = nn.LayerNorm(4, elementwise_affine=False); out = m(A(2, 4))")
c("LayerNorm_bad", "m = nn.LayerNorm(4).to(dev); out = m(A(2, 3))")
c("LayerNorm_const", "m = nn.LayerNorm(4).to(dev); out = m(M.ones(2, 4, device=dev))")
c("GroupNorm_mod", "m = nn.GroupNorm(2, 4).to(dev); out = m(A(2, 4, 3))")
c(
    "GroupNorm_const_grad",
    "m = nn.GroupNorm(2, 4).to(dev); x = M.ones(2, 4, 3, device=dev).requires_grad_(); m(x).sum().backward(); out = x.grad",
)
c(
    "InstanceNorm_track",
    "m = nn.InstanceNorm1d(2, track_running_stats=True).to(dev); m(A(3, 2, 4)); out = (m.running_mean, m.running_var)",
)
c("LocalResponseNorm", "out = nn.LocalResponseNorm(2)(A(1, 3, 2, 2))")
c("CrossMapLRN2d", "out = nn.CrossMapLRN2d(3)(A(1, 4, 2, 2)) if hasattr(nn, 'CrossMapLRN2d') else None")
c(
    "Embedding_max_norm_mod",
    "m = nn.Embedding(4, 3, max_norm=1.0).to(dev); m.weight.data = A(4, 3) * 3; out = (m(I([0, 0, 2])), m.weight)",
)
c("Embedding_padding_neg_mod", "m = nn.Embedding(4, 3, padding_idx=-1).to(dev); out = m.padding_idx")
c(
    "EmbeddingBag_per_sample",
    "m = nn.EmbeddingBag(4, 3, mode='sum').to(dev); m.weight.data = A(4, 3); out = m(I([0, 2, 1]), I([0, 1]), per_sample_weights=L([1.0, 2.0, 3.0]))",
)
c("Fold_mod", "out = nn.Fold((3, 4), 2)(A(1, 8, 6))")
c("Unfold_mod", "out = nn.Unfold(2, stride=2)(A(1, 2, 4, 4))")
c("Unfold_unbatched", "out = nn.Unfold(2)(A(2, 3, 3))")
c("Fold_unbatched", "out = nn.Fold((3, 4), 2)(A(8, 6))")
c("PixelShuffle_mod", "out = nn.PixelShuffle(2)(A(1, 4, 2, 2))")
c("PixelUnshuffle_mod", "out = nn.PixelUnshuffle(2)(A(1, 1, 4, 4))")
c("ChannelShuffle_mod", "out = nn.ChannelShuffle(2)(A(1, 4, 2, 2))")
c("Upsample_nearest_3d", "out = nn.Upsample(scale_factor=2)(A(1, 2, 3))")
c("Upsample_linear_3d", "out = nn.Upsample(scale_factor=2, mode='linear')(A(1, 2, 3))")
c("UpsamplingBilinear2d", "out = nn.UpsamplingBilinear2d(scale_factor=2)(A(1, 1, 2, 3))")
c("UpsamplingNearest2d", "out = nn.UpsamplingNearest2d(size=(3, 5))(A(1, 1, 2, 3))")
c("Flatten_empty", "out = nn.Flatten()(A(0, 2, 3)).shape")
c("Unflatten_mod", "out = nn.Unflatten(1, (2, 3))(A(4, 6)).shape")
c("Dropout_p1", "out = nn.Dropout(1.0)(A(4))")
c("Dropout_bad", "m = nn.Dropout(1.5)")
c("Dropout2d_3d", "out = nn.Dropout2d(0.0)(A(2, 3, 4))")
c("AlphaDropout_eval", "m = nn.AlphaDropout(0.5).eval(); out = m(A(4))")
c("Identity_mod", "out = nn.Identity()(A(3))")
c("CosineSimilarity_mod", "out = nn.CosineSimilarity(dim=0)(A(3), A(3).flip(0))")
c("PairwiseDistance_mod", "out = nn.PairwiseDistance(p=1)(A(2, 3), A(2, 3).flip(0))")
c("ZeroPad1d", "out = nn.ZeroPad1d((1, 2))(A(1, 3))")
c("ConstantPad3d", "out = nn.ConstantPad3d(1, 2.0)(A(1, 1, 1, 2))")
c("ReplicationPad3d", "out = nn.ReplicationPad3d(1)(A(1, 1, 2, 2, 2))")
c("ReflectionPad1d_unbatched", "out = nn.ReflectionPad1d(2)(A(2, 4))")
c("CircularPad1d", "out = nn.CircularPad1d(2)(A(1, 1, 4))")
c("CircularPad3d", "out = nn.CircularPad3d(1)(A(1, 1, 2, 2, 2))")
# losses modules
c("CrossEntropyLoss_ignore", "out = nn.CrossEntropyLoss(ignore_index=1)(A(3, 4), I([1, 2, 1]))")
c(
    "CrossEntropyLoss_3d_ignore_all",
    "out = nn.CrossEntropyLoss(reduction='sum')(A(2, 3, 2), I([[-100, -100], [-100, -100]]))",
)
c(
    "NLLLoss_weight_ignore",
    "out = nn.NLLLoss(weight=L([1.0, 2.0, 3.0, 4.0]), ignore_index=0)(A(3, 4), I([0, 2, 3]))",
)
c(
    "BCELoss_weight_bcast",
    "out = nn.BCELoss(weight=L([1.0, 2.0]))(F.sigmoid(A(3, 2)), F.sigmoid(A(3, 2).flip(0)))",
)
c(
    "BCEWithLogits_posweight",
    "out = nn.BCEWithLogitsLoss(pos_weight=L([1.0, 2.0]))(A(3, 2), (A(3, 2) > 0).float())",
)
c(
    "BCEWithLogits_extreme",
    "out = F.binary_cross_entropy_with_logits(L([1000.0, -1000.0, 0.0]), L([0.0, 1.0, 0.5]))",
)
c("BCE_extreme", "out = F.binary_cross_entropy(L([0.0, 1.0, 0.5]), L([1.0, 0.0, 0.5]))")
c(
    "BCE_extreme_grad",
    "x = L([0.0, 1.0, 0.5]).requires_grad_(); F.binary_cross_entropy(x, L([1.0, 0.0, 0.5])).backward(); out = x.grad",
)
c(
    "KLDiv_batchmean",
    "out = nn.KLDivLoss(reduction='batchmean')(F.log_softmax(A(3, 4), 1), F.softmax(A(3, 4).flip(0), 1))",
)
c("KLDiv_zero_target", "out = F.kl_div(L([-1.0, -2.0]), L([0.0, 1.0]), reduction='sum')")
c("HuberLoss_mod", "out = nn.HuberLoss(delta=0.5)(A(4), A(4).flip(0))")
c("SmoothL1Loss_mod", "out = nn.SmoothL1Loss(beta=0.5)(A(4), A(4).flip(0))")
c("SmoothL1Loss_beta0", "out = nn.SmoothL1Loss(beta=0.0)(A(4), A(4).flip(0))")
c("L1Loss_bcast", "out = nn.L1Loss()(A(2, 3), A(3))")
c("MSELoss_bcast", "out = nn.MSELoss()(A(2, 3), A(1, 3))")
c("MSELoss_empty", "out = nn.MSELoss()(A(0), A(0))")
c(
    "CTCLoss",
    "out = nn.CTCLoss()(F.log_softmax(A(5, 2, 4), 2), I([[1, 2], [1, 1]]), I([5, 5]), I([2, 2])) if hasattr(nn, 'CTCLoss') else None",
)
c("GaussianNLL_mod", "out = nn.GaussianNLLLoss()(A(4), A(4).flip(0), A(4).abs() + 0.1)")
c("PoissonNLL_mod", "out = nn.PoissonNLLLoss(log_input=False)(A(4).abs() + 0.1, A(4).abs())")
c("MultiMarginLoss_mod", "out = nn.MultiMarginLoss(margin=0.5)(A(3, 4), I([0, 3, 1]))")
c(
    "TripletMarginLoss_mod",
    "out = nn.TripletMarginLoss(margin=0.5, p=1.0)(A(2, 3), A(2, 3) * 0.5, A(2, 3).flip(0))",
)
# rnn
c("RNN_batch_first_empty_batch", "m = nn.GRU(3, 4, batch_first=True).to(dev); out = m(A(0, 5, 3))[0].shape")
c(
    "LSTM_bidir_shapes",
    "m = nn.LSTM(3, 4, num_layers=2, bidirectional=True).to(dev); o, (h, c) = m(A(5, 2, 3)); out = (o.shape, h.shape, c.shape)",
)
c("LSTM_h0_only", "m = nn.LSTM(3, 4).to(dev); out = m(A(5, 2, 3), A(1, 2, 4))")
c("GRU_h0_unbatched_mismatch", "m = nn.GRU(3, 4).to(dev); out = m(A(5, 3), A(1, 2, 4))")
c("RNN_int_input", "m = nn.RNN(3, 4).to(dev); out = m(I([[[1, 2, 3]]]))")
c("LSTMCell_hc_tuple_bad", "m = nn.LSTMCell(3, 4).to(dev); out = m(A(2, 3), (A(2, 4),))")
c("pack_seq_empty_list", "out = nn.utils.rnn.pack_sequence([])")
c(
    "pad_packed_roundtrip",
    "u = nn.utils.rnn; p = u.pack_padded_sequence(A(4, 2, 3), M.tensor([4, 2]), enforce_sorted=False); o, l = u.pad_packed_sequence(p); out = (o, l)",
)
c(
    "pad_packed_total_len_small",
    "u = nn.utils.rnn; p = u.pack_padded_sequence(A(4, 2, 3), M.tensor([4, 2])); out = u.pad_packed_sequence(p, total_length=2)",
)
c(
    "Transformer_zero_len_tgt",
    "t = nn.Transformer(4, 2, 1, 1, 8, dropout=0.0).to(dev); out = t(A(3, 2, 4), A(0, 2, 4)).shape",
)
c(
    "TEL_batch_first_kpm",
    "l = nn.TransformerEncoderLayer(4, 2, 8, dropout=0.0, batch_first=True).to(dev); out = l(A(2, 3, 4), src_key_padding_mask=M.tensor([[False, False, True], [True, True, True]], device=dev)).shape",
)
c(
    "TEL_is_causal_no_mask",
    "l = nn.TransformerEncoderLayer(4, 2, 8, dropout=0.0).to(dev); out = l(A(3, 2, 4), is_causal=True).shape",
)
c(
    "TDL_memory_mismatch",
    "l = nn.TransformerDecoderLayer(4, 2, 8, dropout=0.0).to(dev); out = l(A(3, 2, 4), A(5, 3, 4))",
)
c(
    "TransformerEncoder_num0",
    "e = nn.TransformerEncoder(nn.TransformerEncoderLayer(4, 2, 8), num_layers=0); out = e(A(3, 2, 4)).shape",
)
c(
    "MHA_need_weights_avg",
    "m = nn.MultiheadAttention(4, 2).to(dev); o, w = m(A(3, 1, 4), A(5, 1, 4), A(5, 1, 4)); out = (o.shape, w.shape)",
)
c(
    "MHA_bool_and_float_masks",
    "m = nn.MultiheadAttention(4, 2).to(dev); out = m(A(3, 1, 4), A(3, 1, 4), A(3, 1, 4), key_padding_mask=M.zeros(1, 3, dtype=M.bool, device=dev), attn_mask=A(3, 3))[0].shape",
)
c(
    "MHA_3d_mask_bad",
    "m = nn.MultiheadAttention(4, 2).to(dev); out = m(A(3, 1, 4), A(3, 1, 4), A(3, 1, 4), attn_mask=A(5, 3, 3))",
)
c(
    "MHA_3d_mask_ok",
    "m = nn.MultiheadAttention(4, 2).to(dev); out = m(A(3, 1, 4), A(3, 1, 4), A(3, 1, 4), attn_mask=A(2, 3, 3))[0].shape",
)
c(
    "MHA_int_mask",
    "m = nn.MultiheadAttention(4, 2).to(dev); out = m(A(3, 1, 4), A(3, 1, 4), A(3, 1, 4), attn_mask=I([[0, 1, 0]] * 3))",
)
# containers/utils
c("Sequential_slice", "s = nn.Sequential(nn.ReLU(), nn.Tanh(), nn.Sigmoid()); out = len(s[1:])")
c("Sequential_del_oob", "s = nn.Sequential(nn.ReLU()); del s[5]")
c("ModuleList_insert_bad", "s = nn.ModuleList([nn.ReLU()]); s.insert(0, 5)")
c("ModuleList_append_nonmodule", "s = nn.ModuleList(); s.append(3)")
c("ParameterDict_bad", "p = nn.ParameterDict({'a': nn.Parameter(A(2))}); out = p['b']")
c("Module_apply_bad", "m = nn.Linear(2, 2); m.apply(5)")
c(
    "Module_named_params_dup",
    "m = nn.Sequential(); l = nn.Linear(2, 2); m.add_module('a', l); m.add_module('b', l); out = len(list(m.parameters()))",
)
c("Module_zero_grad_none", "m = nn.Linear(2, 2); m.zero_grad(); out = m.weight.grad")
c("Module_requires_grad_bad", "m = nn.Linear(2, 2); m.requires_grad_('no')")
c("weight_norm_dim_none", "m = nn.utils.weight_norm(nn.Linear(3, 2), dim=None); out = m(A(1, 3)).shape")
c("spectral_norm", "m = nn.utils.spectral_norm(nn.Linear(3, 2)); out = m(A(1, 3)).shape")
c(
    "clip_grad_norm_mixed_none",
    "p = nn.Parameter(A(3)); q = nn.Parameter(A(2)); p.grad = L([3.0, 4.0, 0.0]); out = (nn.utils.clip_grad_norm_([p, q], 1.0), p.grad)",
)
c(
    "clip_grad_norm_p0",
    "p = nn.Parameter(A(3)); p.grad = L([3.0, 4.0, 0.0]); out = nn.utils.clip_grad_norm_([p], 1.0, norm_type=0)",
)
c(
    "clip_grad_norm_pneg",
    "p = nn.Parameter(A(3)); p.grad = L([3.0, 4.0, 1.0]); out = nn.utils.clip_grad_norm_([p], 1.0, norm_type=-1)",
)
c(
    "clip_grad_value_tensor",
    "p = nn.Parameter(A(3)); p.grad = L([3.0, -4.0, 0.0]); nn.utils.clip_grad_value_(p, 1.0); out = p.grad",
)
CASES = C
