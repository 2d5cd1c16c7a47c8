"""``torch._dynamo.config``: dynamo's common flags with PyTorch's defaults. Scripts set them
(``torch._dynamo.config.suppress_errors = True``) and any flag may be set; none has an effect,
since rustdl compiles nothing (``torch.compile`` returns the model unchanged)."""

suppress_errors = False
cache_size_limit = 8
recompile_limit = 8
accumulated_cache_size_limit = 256
accumulated_recompile_limit = 256
verbose = False
optimize_ddp = True
capture_scalar_outputs = False
capture_dynamic_output_shape_ops = False
automatic_dynamic_shapes = True
assume_static_by_default = True
dynamic_shapes = True
specialize_int = False
guard_nn_modules = False
inline_inbuilt_nn_modules = True
