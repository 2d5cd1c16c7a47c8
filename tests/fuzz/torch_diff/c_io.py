C = []


def c(name, code):
    C.append((name, code))


P = "'/tmp/rustdl_torch_diff_io.bin'"
pre = "import os\n"
c("load_missing", "out = M.load('/tmp/rustdl_torch_diff_missing.pt')")
c("load_empty", pre + f"open({P}, 'wb').close(); out = M.load({P})")
c("load_garbage", pre + f"open({P}, 'wb').write(os.urandom(1000)); out = M.load({P})")
c("load_zip_garbage", pre + f"open({P}, 'wb').write(b'PK\\x03\\x04' + os.urandom(500)); out = M.load({P})")
c(
    "load_safetensors_bad_header",
    pre + f"open({P}, 'wb').write((10**12).to_bytes(8, 'little') + b'{{}}'); out = M.load({P})",
)
c(
    "load_safetensors_bad_json",
    pre + f"open({P}, 'wb').write((5).to_bytes(8, 'little') + b'{{abc'); out = M.load({P})",
)
c(
    "load_safetensors_bad_offsets",
    pre
    + "import json\nh = json.dumps({'a': {'dtype': 'F32', 'shape': [1000, 1000], 'data_offsets': [0, 4000000]}}).encode()\n"
    + f"open({P}, 'wb').write(len(h).to_bytes(8, 'little') + h + b'\\x00' * 8); out = M.load({P})",
)
c(
    "load_safetensors_neg_shape",
    pre
    + "import json\nh = json.dumps({'a': {'dtype': 'F32', 'shape': [-1], 'data_offsets': [0, 4]}}).encode()\n"
    + f"open({P}, 'wb').write(len(h).to_bytes(8, 'little') + h + b'\\x00' * 4); out = M.load({P})",
)
c(
    "load_safetensors_huge_shape",
    pre
    + "import json\nh = json.dumps({'a': {'dtype': 'F32', 'shape': [2**40, 2**40], 'data_offsets': [0, 4]}}).encode()\n"
    + f"open({P}, 'wb').write(len(h).to_bytes(8, 'little') + h + b'\\x00' * 4); out = M.load({P})",
)
c(
    "load_safetensors_bad_dtype",
    pre
    + "import json\nh = json.dumps({'a': {'dtype': 'Q9', 'shape': [1], 'data_offsets': [0, 4]}}).encode()\n"
    + f"open({P}, 'wb').write(len(h).to_bytes(8, 'little') + h + b'\\x00' * 4); out = M.load({P})",
)
c("save_non_tensor", f"M.save({{'a': object()}}, {P}); out = 1")
c("save_lambda", f"M.save(lambda: 1, {P}); out = 1")
c("save_to_dir", "M.save({'a': M.ones(2)}, '/tmp'); out = 1")
c(
    "save_nested_roundtrip",
    f"M.save({{'a': [M.ones(2), {{'b': M.zeros(1, 0)}}], 'n': 3}}, {P}); out = M.load({P})",
)
c(
    "save_expanded_roundtrip",
    f"M.save({{'a': M.ones(1).expand(3), 'b': A(3, 4).t()}}, {P}); out = M.load({P})",
)
c("save_shared_roundtrip", f"x = A(4); M.save({{'a': x, 'b': x[1:]}}, {P}); out = M.load({P})")
c("pickle_tensor", "import pickle; out = pickle.loads(pickle.dumps(A(2, 3).t()))")
c(
    "pickle_rg_tensor",
    "import pickle; y = pickle.loads(pickle.dumps(A(2, rg=True))); out = (y, y.requires_grad)",
)
c("deepcopy_nonleaf", "import copy; x = A(2, rg=True) * 2; y = copy.deepcopy(x)")
c("deepcopy_leaf", "import copy; x = A(2, rg=True); y = copy.deepcopy(x); out = (y, y.requires_grad)")
c("copy_module", "import copy; m = nn.Linear(2, 2); m2 = copy.deepcopy(m); out = len(list(m2.parameters()))")
c("dlpack_roundtrip", "out = M.from_dlpack(A(2, 3).t()) if hasattr(M, 'from_dlpack') else None")
c("numpy_noncontig_shares", "x = A(2, 3).t(); n = x.numpy(); out = n.tolist()")
c("array_protocol", "out = np.asarray(A(2, 3)).tolist()")
c("array_protocol_rg", "out = np.asarray(A(2, rg=True)).tolist()")
c("tensor_from_tensor_list_mixed", "out = M.tensor([A(()), 2.0])")
c("from_numpy_readonly", "a = np.arange(3.0); a.setflags(write=False); out = M.from_numpy(a)")
c("from_numpy_f16", "out = M.from_numpy(np.arange(3, dtype=np.float16))")
c("from_numpy_0stride", "a = np.broadcast_to(np.arange(3.0), (2, 3)); out = M.as_tensor(a)")
c(
    "from_numpy_huge_view",
    "a = np.lib.stride_tricks.as_strided(np.zeros(1), shape=(10**7, 10**7), strides=(0, 0)); out = M.as_tensor(a).shape",
)
c("tensor_from_memoryview", "out = M.tensor(memoryview(b'abc'))")
c("tensor_from_bytes", "out = M.tensor(b'abc')")
c("tensor_from_range", "out = M.tensor(range(4))")
c("tensor_from_np_bool_list", "out = M.tensor([np.bool_(True), np.bool_(False)])")
c("tensor_from_np_int_list", "out = M.tensor([np.int64(1), np.int32(2)])")
c("tensor_from_np_float_list", "out = M.tensor([np.float32(1.5), 2])")
c("tensor_requires_grad_int", "out = M.tensor([1, 2], requires_grad=True)")
c("tensor_dtype_str", "out = M.tensor([1, 2], dtype='float32')")
c("tensor_device_bad", "out = M.tensor([1, 2], device='tpu')")
c(
    "tensor_device_gpu9",
    "out = M.tensor([1, 2], device='gpu:9') if not TORCH else M.tensor([1, 2], device='cuda:9')",
)
c("ones_device_bad", "out = M.ones(2, device=5)")
c("to_device_bad", "out = A(2).to('gpu:7') if not TORCH else A(2).to('cuda:7')")
CASES = C
