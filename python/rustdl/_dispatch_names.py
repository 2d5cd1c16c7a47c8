"""Names for the ``__torch_function__`` protocol (:mod:`rustdl._dispatch`), from PyTorch's
overridable API. Data only: the protocol wraps those rustdl has. ``torch.nn.functional``,
``torch.linalg``, ``torch.fft``, ``torch.special`` and ``torch.nn.init`` take part whole, and so
do the public Tensor methods."""

# torch.* functions that subclasses and modes see
TORCH = frozenset(
    """
    _assert_async _conj_copy _functional_assert_async _fused_rms_norm _fw_primal_copy _indices_copy
    _make_dual_copy _native_batch_norm_legit _neg_view_copy _reshape_alias_copy _rowwise_prune
    _segment_reduce _sparse_broadcast_to_copy _sym_acos _sym_asin _sym_atan _sym_cos _sym_cosh
    _sym_sin _sym_sinh _sym_sqrt _sym_tan _sym_tanh _values_copy _wrapped_linear_prepack
    _wrapped_quantized_linear_prepacked abs absolute acos acosh adaptive_avg_pool1d
    adaptive_max_pool1d add addbmm addcdiv addcmul addmm addmv addr adjoint affine_grid_generator
    alias_copy all allclose alpha_dropout amax amin aminmax angle any arccos arccosh arcsin arcsinh
    arctan arctan2 arctanh argmax argmin argsort argwhere as_strided_copy as_strided_scatter asin
    asinh atan atan2 atanh atleast_1d atleast_2d atleast_3d autocast avg_pool1d baddbmm batch_norm
    batch_norm_backward_elemt batch_norm_backward_reduce batch_norm_elemt batch_norm_gather_stats
    batch_norm_gather_stats_with_counts batch_norm_stats batch_norm_update_stats bernoulli bilinear
    binary_cross_entropy_with_logits bincount binomial bitwise_and bitwise_left_shift bitwise_not
    bitwise_or bitwise_right_shift bitwise_xor block_diag bmm broadcast_tensors broadcast_to
    bucketize cartesian_prod cat ccol_indices_copy cdist ceil celu chain_matmul channel_shuffle
    cholesky_inverse cholesky_solve choose_qparams_optimized chunk clamp clamp_max clamp_min clip
    clone col_indices_copy column_stack combinations complex concat concatenate conj conj_physical
    constant_pad_nd conv1d conv2d conv3d conv_tbc conv_transpose1d conv_transpose2d conv_transpose3d
    convolution copysign corrcoef cos cosh cosine_embedding_loss cosine_similarity count_nonzero cov
    cross crow_indices_copy ctc_loss cummax cummin cumprod cumsum cumulative_trapezoid deg2rad
    dequantize det detach detach_copy diag diag_embed diagflat diagonal diagonal_copy
    diagonal_scatter diff digamma dist div divide dot dropout dsmm dsplit dstack einsum embedding
    embedding_bag empty_like eq equal erf erfc erfinv exp exp2 expand_copy expm1
    fake_quantize_per_channel_affine fake_quantize_per_tensor_affine fbgemm_linear_fp16_weight
    fbgemm_linear_fp16_weight_fp32_activation fbgemm_linear_int8_weight
    fbgemm_linear_int8_weight_fp32_activation fbgemm_linear_quantize_weight
    fbgemm_pack_gemm_matrix_fp16 fbgemm_pack_quantized_matrix feature_alpha_dropout feature_dropout
    fix flatten flip fliplr flipud float_power floor floor_divide fmax fmin fmod frac frexp
    frobenius_norm full_like fused_moving_avg_obs_fake_quant gather gcd ge geqrf ger get_device
    gradient greater greater_equal grid_sampler grid_sampler_2d grid_sampler_3d group_norm gru
    gru_cell gt hardshrink hash_tensor heaviside hinge_embedding_loss histc histogram histogramdd
    hsmm hsplit hspmm hstack hypot i0 igamma igammac imag index_add index_copy index_fill index_put
    index_reduce index_select indices_copy inner instance_norm int_repr inverse is_complex is_conj
    is_distributed is_floating_point is_inference is_neg is_nonzero is_same_size is_signed isclose
    isfinite isin isinf isnan isneginf isposinf isreal istft kl_div kron kthvalue layer_norm lcm
    ldexp le lerp less less_equal lgamma lobpcg log log10 log1p log2 log_softmax logaddexp
    logaddexp2 logcumsumexp logdet logical_and logical_not logical_or logical_xor logit logsumexp
    lstm lstm_cell lt lu lu_solve lu_unpack margin_ranking_loss masked_fill masked_scatter
    masked_select matmul matrix_exp matrix_power max max_pool1d max_pool1d_with_indices max_pool2d
    max_pool3d maximum mean median meshgrid min minimum miopen_batch_norm miopen_convolution
    miopen_convolution_add_relu miopen_convolution_relu miopen_convolution_transpose
    miopen_depthwise_convolution miopen_rnn mm mode moveaxis movedim msort mul multinomial multiply
    mv mvlgamma nan_to_num nanmean nanmedian nanquantile nansum narrow narrow_copy native_batch_norm
    native_channel_shuffle native_dropout native_group_norm native_layer_norm native_norm ne neg
    negative nextafter nonzero nonzero_static norm norm_except_dim not_equal nuclear_norm numel
    ones_like orgqr ormqr outer pairwise_distance pca_lowrank pdist permute permute_copy pinverse
    pixel_shuffle pixel_unshuffle poisson poisson_nll_loss polar polygamma positive pow prelu prod
    put q_per_channel_axis q_per_channel_scales q_per_channel_zero_points q_scale q_zero_point
    quantile quantize_per_channel quantize_per_tensor quantize_per_tensor_dynamic
    quantized_batch_norm quantized_gru_cell quantized_lstm_cell quantized_max_pool1d
    quantized_max_pool2d quantized_max_pool3d quantized_rnn_relu_cell quantized_rnn_tanh_cell
    rad2deg rand_like randint_like randn_like ravel real reciprocal relu remainder renorm
    repeat_interleave reshape resolve_conj resolve_neg rms_norm rnn_relu rnn_relu_cell rnn_tanh
    rnn_tanh_cell roll rot90 round row_indices_copy row_stack rrelu rsqrt rsub saddmm scatter
    scatter_add scatter_reduce searchsorted segment_reduce select select_copy select_scatter selu
    sgn sigmoid sign signbit sin sinc sinh slice_copy slice_inverse slice_scatter slogdet smm
    softmax sort split split_copy split_with_sizes split_with_sizes_copy spmm sqrt square squeeze
    squeeze_copy sspaddmm stack std std_mean stft sub subtract sum svd svd_lowrank swapaxes swapdims
    sym_float sym_int sym_ite sym_max sym_min sym_not sym_sqrt sym_sum t t_copy take take_along_dim
    tan tanh tensor_split tensordot threshold tile topk trace transpose transpose_copy trapezoid
    trapz triangular_solve tril triplet_margin_loss triu true_divide trunc unbind unbind_copy
    unflatten unfold_copy unique unique_consecutive unravel_index unsafe_chunk unsafe_split
    unsafe_split_with_sizes unsqueeze unsqueeze_copy values_copy var var_mean vdot view_as_complex
    view_as_complex_copy view_as_real view_as_real_copy view_copy vsplit vstack where xlogy
    zeros_like
    """.split()
)

# torch.* factories that only modes see (their arguments are data, not tensors that override)
FACTORIES = frozenset(
    """
    arange as_tensor asarray bartlett_window blackman_window empty empty_permuted empty_quantized
    empty_strided eye fft_fftfreq fft_rfftfreq full hamming_window hann_window kaiser_window
    linspace logspace nested_tensor ones rand randint randn randperm range scalar_tensor
    sparse_bsc_tensor sparse_bsr_tensor sparse_compressed_tensor sparse_coo_tensor sparse_csc_tensor
    sparse_csr_tensor tensor tril_indices triu_indices zeros
    """.split()
)

# Tensor operators and conversions that take part besides the public methods
TENSOR_DUNDERS = frozenset(
    """
    __abs__ __add__ __and__ __array__ __bool__ __complex__ __contains__ __div__ __eq__ __float__
    __floordiv__ __format__ __ge__ __gt__ __iadd__ __iand__ __idiv__ __ifloordiv__ __ilshift__
    __imatmul__ __imod__ __imul__ __index__ __int__ __invert__ __ior__ __ipow__ __irshift__ __isub__
    __itruediv__ __ixor__ __le__ __lshift__ __lt__ __matmul__ __mod__ __mul__ __ne__ __neg__ __or__
    __pos__ __pow__ __radd__ __rand__ __rdiv__ __repr__ __reversed__ __rfloordiv__ __rlshift__
    __rmatmul__ __rmod__ __rmul__ __ror__ __rpow__ __rrshift__ __rshift__ __rsub__ __rtruediv__
    __rxor__ __sub__ __truediv__ __xor__
    """.split()
)

# operators that PyTorch hands over as the method they stand for (`a + 1` as Tensor.add)
OPERATOR_METHODS = {
    "__add__": "add", "__radd__": "add", "__sub__": "sub", "__mul__": "mul", "__rmul__": "mul",
    "__truediv__": "div", "__mod__": "remainder",
    "__matmul__": "matmul", "__neg__": "neg", "__pos__": "positive", "__abs__": "abs",
    "__rand__": "bitwise_and", "__ror__": "bitwise_or", "__rxor__": "bitwise_xor", "__ne__": "ne",
    "__lt__": "lt", "__le__": "le", "__gt__": "gt", "__ge__": "ge", "__iadd__": "add_",
    "__isub__": "sub_", "__imul__": "mul_", "__itruediv__": "div_", "__ifloordiv__": "floor_divide_",
    "__imod__": "remainder_",
}  # fmt: skip

# public Tensor methods that do not take part, as in PyTorch
TENSOR_SKIP = frozenset({"as_subclass", "stride"})

# Tensor properties, whose getters take part
TENSOR_PROPERTIES = frozenset(
    """
    H T _backward_hooks _base _grad _grad_fn _has_grad_dtype_override _post_accumulate_grad_hooks
    _version data device dtype grad grad_dtype grad_fn imag is_cpu is_cuda is_ipu is_leaf is_maia
    is_meta is_mkldnn is_mps is_mtia is_nested is_quantized is_sparse is_sparse_csr is_vulkan is_xla
    is_xpu itemsize layout mH mT name nbytes ndim output_nr real requires_grad retains_grad shape
    volatile
    """.split()
)
