"""A catalogue of bad inputs: each must raise a typed Python exception whose message names the op.

Each entry is (id, code, expected exception type(s), regex the message must match, devices). The code
runs in-process with `rd` (rustdl), `F` (nn.functional), `nn`, `optim`, `np` and `dev` bound. Types
follow PyTorch's, except where DESIGN.md maps an error class on purpose: shape errors are ValueError
(PyTorch: RuntimeError), dtype errors TypeError, index errors IndexError — for argument validation
that PyTorch reports as RuntimeError, ValueError is accepted too (the design's "shape/argument" class).

Entries known to crash the process today run in a child process (`test_bad_input_isolated`), so
a SIGSEGV/SIGABRT is a reported failure, not a dead test runner. A Rust panic reaching Python as
PanicException (a BaseException, not an Exception) never counts as the expected error.

Entries where rustdl differs from PyTorch today are marked xfail(strict=True) with the reason; fix the
core, then delete the mark.
"""

import json
import os
import pickle
import re
import subprocess
import sys
import textwrap

import pytest
import rustdl
from conftest import gpu_available

VR = (ValueError, RuntimeError)  # argument validation: PyTorch's RuntimeError or the design's ValueError
TR = (TypeError, RuntimeError)  # dtype misuse: the design's TypeError or PyTorch's RuntimeError
CPU, BOTH = ("cpu",), ("cpu", "gpu")

PRELUDE = """
import numpy as np
import rustdl as rd
import rustdl.nn as nn
import rustdl.nn.functional as F
import rustdl.optim as optim
"""

# fmt: off
CATALOGUE = [
    # ---------------------------------------------------------------- shapes
    ("matmul_2d_mismatch", "rd.randn(2, 3, device=dev) @ rd.randn(4, 5, device=dev)", ValueError, r"matmul.*2x3.*4x5|matmul.*\[2, 3\].*\[4, 5\]", BOTH),
    ("matmul_1d_mismatch", "rd.randn(3, device=dev) @ rd.randn(4, device=dev)", ValueError, r"matmul|dot", BOTH),
    ("matmul_batched_mismatch", "rd.randn(2, 2, 3, device=dev) @ rd.randn(3, 4, 5, device=dev)", ValueError, r"matmul", BOTH),
    ("matmul_batch_broadcast", "rd.randn(2, 2, 3, device=dev) @ rd.randn(3, 3, 5, device=dev)", ValueError, r"matmul", BOTH),
    ("matmul_0d", "rd.tensor(2.0, device=dev) @ rd.randn(3, device=dev)", ValueError, r"matmul", BOTH),
    ("mm_1d", "rd.randn(3, device=dev).mm(rd.randn(3, 2, device=dev))", ValueError, r"mm", BOTH),
    ("mm_mismatch", "rd.randn(2, 3, device=dev).mm(rd.randn(2, 3, device=dev))", ValueError, r"mm", BOTH),
    ("bmm_2d", "rd.randn(2, 3, device=dev).bmm(rd.randn(3, 2, device=dev))", ValueError, r"bmm", BOTH),
    ("bmm_batch_mismatch", "rd.randn(2, 2, 3, device=dev).bmm(rd.randn(3, 3, 2, device=dev))", ValueError, r"bmm", BOTH),
    ("linear_in_features", "F.linear(rd.randn(2, 5, device=dev), rd.randn(3, 4, device=dev))", ValueError, r"linear", BOTH),
    ("linear_bias_shape", "F.linear(rd.randn(2, 4, device=dev), rd.randn(3, 4, device=dev), rd.randn(5, device=dev))", ValueError, r"linear", BOTH),
    ("cat_mismatch", "rd.cat([rd.zeros(2, 3, device=dev), rd.zeros(3, 4, device=dev)])", ValueError, r"cat", BOTH),
    ("cat_ndim_mismatch", "rd.cat([rd.zeros(2, 3, device=dev), rd.zeros(3, device=dev)])", ValueError, r"cat", BOTH),
    ("cat_empty_list", "rd.cat([])", VR, r"cat", CPU),
    ("cat_bad_dim", "rd.cat([rd.zeros(2, 3), rd.zeros(2, 3)], 2)", IndexError, r"cat|dim", CPU),
    ("stack_mismatch", "rd.stack([rd.zeros(2, 3, device=dev), rd.zeros(2, 4, device=dev)])", ValueError, r"stack", BOTH),
    ("stack_empty", "rd.stack([])", VR, r"stack", CPU),
    ("broadcast_add", "rd.zeros(3, device=dev) + rd.zeros(4, device=dev)", ValueError, r"add.*\[3\].*\[4\]", BOTH),
    ("broadcast_mul_2d", "rd.zeros(2, 3, device=dev) * rd.zeros(3, 2, device=dev)", ValueError, r"mul", BOTH),
    ("broadcast_sub", "rd.zeros(2, 3, device=dev) - rd.zeros(2, 1, 2, device=dev)", ValueError, r"sub", BOTH),
    ("broadcast_div", "rd.zeros(5, device=dev) / rd.zeros(2, device=dev)", ValueError, r"div", BOTH),
    ("broadcast_maximum", "rd.zeros(5, device=dev).maximum(rd.zeros(2, device=dev))", ValueError, r"maximum", BOTH),
    ("broadcast_eq", "rd.zeros(5, device=dev) == rd.zeros(2, device=dev)", ValueError, r"eq", BOTH),
    ("broadcast_where", "rd.where(rd.zeros(3, dtype=rd.bool), rd.zeros(4), rd.zeros(5))", ValueError, r"where", CPU),
    ("inplace_broadcast_grows", "x = rd.zeros(3, device=dev); x += rd.zeros(2, 3, device=dev)", ValueError, r"add", BOTH),
    ("view_bad_numel", "rd.zeros(6, device=dev).view(4, 2)", ValueError, r"view", BOTH),
    ("view_noncontiguous", "rd.zeros(2, 3, device=dev).t().view(6)", RuntimeError, r"view", BOTH),
    ("view_two_minus_one", "rd.zeros(6).view(-1, -1)", VR, r"view", CPU),
    ("reshape_bad_numel", "rd.zeros(2, 3, device=dev).reshape(5)", ValueError, r"reshape", BOTH),
    ("reshape_negative", "rd.zeros(6).reshape(-2, 3)", VR, r"reshape", CPU),
    ("reshape_minus_one_zero", "rd.zeros(0, 3).reshape(-1, 0)", VR, r"reshape", CPU),
    ("expand_bad", "rd.zeros(3, device=dev).expand(4)", ValueError, r"expand", BOTH),
    ("expand_fewer_dims", "rd.zeros(2, 3).expand(3)", ValueError, r"expand", CPU),
    ("expand_minus_one_new_dim", "rd.zeros(3).expand(-1, 3)", ValueError, r"expand", CPU),
    ("permute_wrong_len", "rd.zeros(2, 3).permute(0)", ValueError, r"permute", CPU),
    ("permute_repeated", "rd.zeros(2, 3).permute(0, 0)", ValueError, r"permute", CPU),
    ("permute_out_of_range", "rd.zeros(2, 3).permute(0, 2)", IndexError, r"permute|dim", CPU),
    ("transpose_dim", "rd.zeros(2, 3).transpose(0, 2)", IndexError, r"transpose|dim", CPU),
    ("flatten_start_after_end", "rd.zeros(2, 3, 4).flatten(2, 1)", VR, r"flatten", CPU),
    ("squeeze_dim_range", "rd.zeros(2, 3).squeeze(3)", IndexError, r"squeeze|dim", CPU),
    ("unsqueeze_dim_range", "rd.zeros(2, 3).unsqueeze(4)", IndexError, r"unsqueeze|dim", CPU),
    ("narrow_too_long", "rd.zeros(5).narrow(0, 3, 4)", (ValueError, RuntimeError, IndexError), r"narrow", CPU),
    ("narrow_negative_length", "rd.zeros(5).narrow(0, 1, -1)", (ValueError, RuntimeError, IndexError), r"narrow", CPU),
    ("select_out_of_range", "rd.zeros(2, 3).select(1, 3)", IndexError, r"select.*3", CPU),
    ("split_size_zero", "rd.zeros(4).split(0)", VR, r"split", CPU),
    ("split_sizes_sum", "rd.zeros(5).split([2, 2])", VR, r"split", CPU),
    ("chunk_zero", "rd.zeros(4).chunk(0)", VR, r"chunk", CPU),
    ("flip_repeated", "rd.zeros(2, 3).flip((0, 0))", VR, r"flip", CPU),
    ("flip_dim_range", "rd.zeros(2, 3).flip((2,))", IndexError, r"flip|dim", CPU),
    ("repeat_fewer", "rd.zeros(2, 3).repeat(2)", VR, r"repeat", CPU),
    ("sum_dim_range", "rd.zeros(2, 3, device=dev).sum(dim=2)", IndexError, r"sum|dimension", BOTH),
    ("mean_dim_range", "rd.zeros(2, 3).mean(dim=-3)", IndexError, r"mean|dimension", CPU),
    ("softmax_dim_range", "rd.zeros(2, 3).softmax(2)", IndexError, r"softmax|dimension", CPU),
    ("max_dim_range", "rd.zeros(2, 3).max(dim=5)", IndexError, r"max|dimension", CPU),
    ("argmax_dim_range", "rd.zeros(2, 3).argmax(dim=5)", IndexError, r"argmax|dimension", CPU),
    ("logsumexp_dim_range", "rd.zeros(2, 3).logsumexp(3)", IndexError, r"logsumexp|dimension", CPU),
    ("zeros_negative", "rd.zeros(-1)", VR, r"zeros.*-1|negative", CPU),
    ("ones_negative", "rd.ones(2, -3)", VR, r"ones.*-3|negative", CPU),
    ("empty_negative", "rd.empty(-5)", VR, r"empty.*-5|negative", CPU),
    ("full_negative", "rd.full((-1, 2), 1.0)", VR, r"full.*-1|negative", CPU),
    ("randn_negative", "rd.randn(-2)", VR, r"randn.*-2|negative", CPU),
    ("rand_negative", "rd.rand(3, -2)", VR, r"rand.*-2|negative", CPU),
    ("eye_negative", "rd.eye(-1)", VR, r"eye.*-1|negative", CPU),
    ("arange_zero_step", "rd.arange(0, 5, 0)", VR, r"arange.*step", CPU),
    ("arange_wrong_sign", "rd.arange(0, 5, -1)", VR, r"arange", CPU),
    ("linspace_negative_steps", "rd.linspace(0, 1, -1)", VR, r"linspace", CPU),
    ("randint_empty_range", "rd.randint(5, 5, (3,))", VR, r"randint", CPU),
    ("new_zeros_negative", "rd.zeros(2).new_zeros(-1)", VR, r"negative|-1", CPU),
    ("too_many_indices", "rd.zeros(2, 3, device=dev)[0, 0, 0]", IndexError, r"too many indices", BOTH),
    ("too_many_indices_set", "x = rd.zeros(2, 3); x[0, 0, 0] = 1.0", IndexError, r"too many indices", CPU),
    ("two_ellipsis", "rd.zeros(2, 3)[..., ...]", IndexError, r"ellipsis", CPU),
    ("negative_step", "rd.zeros(5)[::-1]", ValueError, r"step", CPU),
    ("zero_step", "rd.zeros(5)[::0]", ValueError, r"step", CPU),
    ("index_float", "rd.zeros(5)[1.5]", (TypeError, IndexError), r"ind", CPU),
    ("mask_shape", "rd.zeros(2, 3)[rd.zeros(3, 2, dtype=rd.bool)]", IndexError, r"mask|shape", CPU),
    ("setitem_value_shape", "x = rd.zeros(2, 3, device=dev); x[0] = rd.ones(4, device=dev)", ValueError, r"\[4\]|shape|setitem|copy|expand", BOTH),
    ("masked_fill_shape", "rd.zeros(2, 3).masked_fill(rd.zeros(4, dtype=rd.bool), 1.0)", ValueError, r"masked_fill", CPU),
    ("gather_ndim", "rd.zeros(2, 3).gather(1, rd.zeros(3, dtype=rd.int64))", VR, r"gather", CPU),
    ("scatter_add_ndim", "rd.zeros(2, 3).scatter_add(1, rd.zeros(3, dtype=rd.int64), rd.zeros(2, 3))", VR, r"scatter_add", CPU),
    ("index_select_2d_index", "rd.zeros(2, 3).index_select(0, rd.zeros(2, 2, dtype=rd.int64))", VR, r"index_select", CPU),
    ("conv2d_channels", "F.conv2d(rd.ones(1, 3, 5, 5, device=dev), rd.ones(2, 4, 3, 3, device=dev))", ValueError, r"conv2d", BOTH),
    ("conv2d_input_ndim", "F.conv2d(rd.ones(5, 5, device=dev), rd.ones(2, 1, 3, 3, device=dev))", ValueError, r"conv2d", BOTH),
    ("conv2d_kernel_too_big", "F.conv2d(rd.ones(1, 1, 2, 2, device=dev), rd.ones(1, 1, 3, 3, device=dev))", ValueError, r"conv2d", BOTH),
    ("conv2d_bias_shape", "F.conv2d(rd.ones(1, 1, 4, 4), rd.ones(2, 1, 3, 3), rd.ones(3))", ValueError, r"conv2d", CPU),
    ("max_pool2d_input_ndim", "F.max_pool2d(rd.ones(4, device=dev), 2)", ValueError, r"max_pool2d", BOTH),
    ("max_pool2d_kernel_too_big", "F.max_pool2d(rd.ones(1, 1, 2, 2, device=dev), 3)", ValueError, r"max_pool2d", BOTH),
    ("avg_pool2d_kernel_too_big", "F.avg_pool2d(rd.ones(1, 1, 2, 2), 3)", ValueError, r"avg_pool2d", CPU),
    ("adaptive_avg_pool2d_ndim", "F.adaptive_avg_pool2d(rd.ones(3), 2)", ValueError, r"adaptive_avg_pool2d", CPU),
    ("batch_norm_channels", "F.batch_norm(rd.ones(2, 3), rd.zeros(4), rd.ones(4))", ValueError, r"batch_norm", CPU),
    ("layer_norm_shape", "F.layer_norm(rd.ones(2, 3), (4,))", ValueError, r"layer_norm", CPU),
    ("group_norm_divisible", "F.group_norm(rd.ones(2, 3, 4), 2)", ValueError, r"group_norm", CPU),
    ("mse_loss_shape", "F.mse_loss(rd.ones(2, 3, device=dev), rd.ones(3, 2, device=dev))", ValueError, r"mse_loss", BOTH),
    ("l1_loss_shape", "F.l1_loss(rd.ones(2, 3), rd.ones(3, 2))", ValueError, r"l1_loss", CPU),
    ("bce_shape", "F.binary_cross_entropy(rd.full((2, 3), 0.5), rd.ones(3, 2))", ValueError, r"binary_cross_entropy", CPU),
    ("bce_input_above_one", "F.binary_cross_entropy(rd.tensor([0.5, 1.5]), rd.ones(2))", RuntimeError, r"binary_cross_entropy.*input.*between 0 and 1", CPU),
    ("bce_input_nan", "F.binary_cross_entropy(rd.tensor([float('nan')]), rd.ones(1))", RuntimeError, r"binary_cross_entropy.*input", CPU),
    ("bce_target_negative", "F.binary_cross_entropy(rd.full((2,), 0.5), rd.tensor([-0.1, 1.0]))", RuntimeError, r"binary_cross_entropy.*target.*between 0 and 1", CPU),
    ("cross_entropy_batch", "F.cross_entropy(rd.ones(4, 3, device=dev), rd.tensor([0, 1], device=dev))", ValueError, r"cross_entropy", BOTH),
    ("nll_loss_batch", "F.nll_loss(rd.ones(4, 3), rd.tensor([0, 1]))", ValueError, r"nll_loss", CPU),
    ("interpolate_ndim", "F.interpolate(rd.ones(2, 3), size=4)", ValueError, r"interpolate", CPU),
    ("embedding_weight_1d", "F.embedding(rd.tensor([0]), rd.ones(3))", ValueError, r"embedding", CPU),
    ("tensor_ragged", "rd.tensor([[1, 2], [3]])", ValueError, r"ragged|tensor|sequence", CPU),
    ("module_linear_in", "nn.Linear(4, 2)(rd.ones(3, 5))", ValueError, r"linear", CPU),
    ("module_conv_in", "nn.Conv2d(3, 2, 3)(rd.ones(1, 4, 5, 5))", ValueError, r"conv2d", CPU),
    # ---------------------------------------------------------------- dtypes
    ("neg_bool", "-rd.tensor([True, False], device=dev)", TR, r"neg.*bool|bool.*neg", BOTH),
    ("sub_bool", "rd.tensor([True]) - rd.tensor([False])", TR, r"sub.*bool|bool.*sub", CPU),
    ("matmul_bool", "rd.ones(2, 2, dtype=rd.bool) @ rd.ones(2, 2, dtype=rd.bool)", TR, r"matmul.*bool|bool.*matmul", CPU),
    ("softmax_int", "rd.tensor([1, 2, 3]).softmax(0)", TR, r"softmax.*int64|int64.*softmax|softmax.*Long", CPU),
    ("mean_int", "rd.tensor([1, 2, 3]).mean()", TR, r"mean.*int64|mean.*dtype", CPU),
    ("var_int", "rd.tensor([1, 2, 3]).var()", TR, r"var.*int64|var.*dtype", CPU),
    ("conv2d_int", "F.conv2d(rd.ones(1, 1, 3, 3, dtype=rd.int64), rd.ones(1, 1, 2, 2, dtype=rd.int64))", TR, r"conv2d", CPU),
    ("conv2d_mixed_dtype", "F.conv2d(rd.ones(1, 1, 3, 3), rd.ones(1, 1, 2, 2, dtype=rd.float64))", TR, r"conv2d.*float", CPU),
    ("linear_mixed_dtype", "F.linear(rd.ones(2, 3), rd.ones(4, 3, dtype=rd.float64))", TR, r"linear.*float|mat1.*mat2", CPU),
    ("matmul_mixed_dtype", "rd.ones(2, 3) @ rd.ones(3, 2, dtype=rd.float64)", TR, r"matmul.*float", CPU),
    ("int_requires_grad_factory", "rd.tensor([1, 2], requires_grad=True)", RuntimeError, r"floating.point", CPU),
    ("int_requires_grad_", "rd.zeros(3, dtype=rd.int64).requires_grad_()", RuntimeError, r"floating.point", CPU),
    ("int_requires_grad_attr", "x = rd.zeros(3, dtype=rd.int64); x.requires_grad = True", RuntimeError, r"floating.point", CPU),
    ("bool_requires_grad", "rd.ones(2, dtype=rd.bool).requires_grad_()", RuntimeError, r"floating.point", CPU),
    ("index_select_float_index", "rd.ones(3).index_select(0, rd.tensor([0.0, 1.0]))", TypeError, r"index_select.*int64|int64", CPU),
    ("gather_float_index", "rd.ones(2, 3).gather(1, rd.tensor([[0.0]]))", TypeError, r"gather.*int64|int64", CPU),
    ("embedding_float_index", "F.embedding(rd.tensor([0.0]), rd.ones(3, 2))", TypeError, r"embedding", CPU),
    ("cross_entropy_bool_target", "F.cross_entropy(rd.ones(2, 3), rd.tensor([True, False]))", TypeError, r"cross_entropy", CPU),
    ("cross_entropy_float_target_shape", "F.cross_entropy(rd.ones(2, 3), rd.tensor([0.0, 1.0]))", (TypeError, ValueError, RuntimeError), r"cross_entropy", CPU),
    ("masked_fill_float_mask", "rd.ones(3).masked_fill(rd.ones(3), 0.0)", TR, r"masked_fill.*bool|bool", CPU),
    ("where_float_cond", "rd.where(rd.ones(3), rd.ones(3), rd.zeros(3))", TR, r"where.*bool|bool", CPU),
    ("one_hot_float", "F.one_hot(rd.tensor([0.0, 1.0]), 2)", TR, r"one_hot.*int64|one_hot.*Long|int64", CPU),
    ("tensor_bad_dtype", "rd.tensor([1, 2], dtype='complex128')", TypeError, r"dtype|complex128", CPU),
    ("tensor_string", "rd.tensor(['a', 'b'])", (TypeError, ValueError), r"tensor|str", CPU),
    ("to_bad_dtype", "rd.zeros(2).to('float16x')", (TypeError, ValueError, RuntimeError), r"float16x|device|dtype", CPU),
    ("optimizer_non_leaf_param", "optim.SGD([rd.zeros(2, requires_grad=True) * 2], lr=0.1)", (ValueError, RuntimeError, TypeError), r"non-leaf", CPU),
    # ---------------------------------------------------------------- indices out of range
    ("getitem_int_oob", "rd.arange(6, device=dev).reshape(2, 3)[2]", IndexError, r"index 2 is out of bounds for dimension 0 with size 2", BOTH),
    ("getitem_neg_oob", "rd.arange(6).reshape(2, 3)[-3]", IndexError, r"index -3 is out of bounds", CPU),
    ("getitem_second_dim_oob", "rd.arange(6).reshape(2, 3)[:, 5]", IndexError, r"index 5 is out of bounds for dimension 1", CPU),
    ("getitem_tensor_oob", "rd.arange(6, device=dev).reshape(2, 3)[rd.tensor([0, 7], device=dev)]", IndexError, r"index 7 is out of bounds", BOTH),
    ("getitem_tensor_neg_oob", "rd.arange(3)[rd.tensor([-4])]", IndexError, r"index -4 is out of bounds", CPU),
    ("setitem_int_oob", "x = rd.zeros(3, device=dev); x[3] = 1.0", IndexError, r"index 3 is out of bounds", BOTH),
    ("setitem_tensor_oob", "x = rd.zeros(3); x[rd.tensor([0, 5])] = 1.0", IndexError, r"index 5 is out of bounds", CPU),
    ("index_put_oob", "rd.zeros(3).index_put_((rd.tensor([4]),), rd.tensor([1.0]))", IndexError, r"index_put.*4|index 4", CPU),
    ("gather_oob", "rd.arange(6, device=dev).reshape(2, 3).gather(1, rd.tensor([[0, 3]], device=dev))", IndexError, r"gather.*3", BOTH),
    ("gather_negative", "rd.ones(2, 3).gather(1, rd.tensor([[0, -1]]))", IndexError, r"gather.*-1", CPU),
    ("scatter_add_oob", "rd.zeros(3, device=dev).scatter_add(0, rd.tensor([5], device=dev), rd.ones(1, device=dev))", IndexError, r"scatter_add.*5", BOTH),
    ("index_add_oob", "rd.zeros(3).index_add_(0, rd.tensor([3]), rd.ones(1))", IndexError, r"index_add.*3", CPU),
    ("index_select_oob", "rd.ones(3, device=dev).index_select(0, rd.tensor([0, 3], device=dev))", IndexError, r"index_select.*3", BOTH),
    ("index_select_negative", "rd.ones(3).index_select(0, rd.tensor([-1]))", IndexError, r"index_select.*-1", CPU),
    ("embedding_oob", "F.embedding(rd.tensor([5], device=dev), rd.ones(3, 2, device=dev))", IndexError, r"embedding.*5", BOTH),
    ("embedding_negative", "F.embedding(rd.tensor([-1]), rd.ones(3, 2))", IndexError, r"embedding.*-1", CPU),
    ("embedding_module_oob", "nn.Embedding(4, 2)(rd.tensor([[1, 4]]))", IndexError, r"embedding.*4", CPU),
    ("one_hot_oob", "F.one_hot(rd.tensor([0, 3]), 3)", (IndexError, RuntimeError), r"one_hot.*3|Class values must be smaller than num_classes", CPU),
    ("one_hot_negative", "F.one_hot(rd.tensor([0, -1]), 3)", (IndexError, RuntimeError), r"one_hot.*-1|Class values must be non-negative", CPU),
    ("cross_entropy_target_oob", "F.cross_entropy(rd.ones(2, 3, device=dev), rd.tensor([0, 3], device=dev))", IndexError, r"cross_entropy.*3|Target 3 is out of bounds", BOTH),
    ("cross_entropy_target_negative", "F.cross_entropy(rd.ones(2, 3), rd.tensor([0, -1]))", IndexError, r"cross_entropy.*-1|Target -1 is out of bounds", CPU),
    ("nll_loss_target_oob", "F.nll_loss(rd.ones(2, 3), rd.tensor([0, 7]))", IndexError, r"nll_loss.*7|Target 7 is out of bounds", CPU),
    ("cross_entropy_weight_len", "F.cross_entropy(rd.ones(2, 3), rd.tensor([0, 1]), weight=rd.ones(2))", (ValueError, RuntimeError), r"cross_entropy.*weight|weight", CPU),
    ("narrow_start_oob", "rd.zeros(5).narrow(0, 6, 0)", IndexError, r"narrow.*6|start", CPU),
    ("select_negative_oob", "rd.zeros(3).select(0, -4)", IndexError, r"select.*-4", CPU),
    # ---------------------------------------------------------------- devices
    ("device_add", "rd.zeros(3) + rd.zeros(3, device='gpu')", RuntimeError, r"add.*same device|same device.*add", ("gpu",)),
    ("device_matmul", "rd.zeros(2, 2) @ rd.zeros(2, 2, device='gpu')", RuntimeError, r"matmul.*device", ("gpu",)),
    ("device_cat", "rd.cat([rd.zeros(2), rd.zeros(2, device='gpu')])", RuntimeError, r"cat.*device", ("gpu",)),
    ("device_conv2d", "F.conv2d(rd.ones(1, 1, 3, 3), rd.ones(1, 1, 2, 2, device='gpu'))", RuntimeError, r"conv2d.*device", ("gpu",)),
    ("device_linear", "nn.Linear(3, 2)(rd.ones(1, 3, device='gpu'))", RuntimeError, r"linear.*device", ("gpu",)),
    ("device_index", "rd.zeros(3)[rd.tensor([0], device='gpu')]", RuntimeError, r"device", ("gpu",)),
    ("device_gather", "rd.zeros(2, 3, device='gpu').gather(1, rd.tensor([[0]]))", RuntimeError, r"gather.*device", ("gpu",)),
    ("device_cross_entropy", "F.cross_entropy(rd.ones(2, 3, device='gpu'), rd.tensor([0, 1]))", RuntimeError, r"cross_entropy.*device", ("gpu",)),
    ("device_invalid", "rd.zeros(2).to('tpu')", (ValueError, RuntimeError), r"device.*tpu|tpu", CPU),
    ("device_invalid_factory", "rd.zeros(2, device='cuda:x')", (ValueError, RuntimeError), r"device", CPU),
    # ---------------------------------------------------------------- argument validation
    ("conv2d_stride_zero", "F.conv2d(rd.ones(1, 1, 5, 5, device=dev), rd.ones(1, 1, 3, 3, device=dev), stride=0)", VR, r"conv2d.*stride|stride", BOTH),
    ("conv2d_stride_negative", "F.conv2d(rd.ones(1, 1, 5, 5), rd.ones(1, 1, 3, 3), stride=-1)", VR, r"conv2d.*stride|stride", CPU),
    ("conv2d_padding_negative", "F.conv2d(rd.ones(1, 1, 5, 5), rd.ones(1, 1, 3, 3), padding=-1)", VR, r"conv2d.*padding|padding", CPU),
    ("conv2d_dilation_zero", "F.conv2d(rd.ones(1, 1, 5, 5, device=dev), rd.ones(1, 1, 3, 3, device=dev), dilation=0)", VR, r"conv2d.*dilation|dilation", BOTH),
    ("conv2d_kernel_zero", "F.conv2d(rd.ones(1, 1, 5, 5), rd.ones(1, 1, 0, 3))", VR, r"conv2d", CPU),
    ("conv2d_groups_not_dividing", "F.conv2d(rd.ones(1, 3, 5, 5), rd.ones(2, 1, 3, 3), groups=3)", VR, r"conv2d.*groups|groups", CPU),
    ("conv2d_groups_zero", "F.conv2d(rd.ones(1, 2, 5, 5), rd.ones(2, 2, 3, 3), groups=0)", VR, r"conv2d.*groups|groups", CPU),
    ("conv2d_module_groups", "nn.Conv2d(4, 6, 3, groups=4)", ValueError, r"groups", CPU),
    ("conv2d_module_channels_negative", "nn.Conv2d(-1, 2, 3)", ValueError, r"in_channels|channels|Conv2d", CPU),
    # zero output channels build, as PyTorch's layer, and are refused when called
    ("conv2d_module_out_channels_zero", "nn.Conv2d(2, 0, 3)(rd.ones(1, 2, 5, 5))", RuntimeError, r"conv2d.*weight", CPU),
    ("conv2d_module_stride_zero", "nn.Conv2d(1, 1, 3, stride=0)(rd.ones(1, 1, 5, 5))", VR, r"stride", CPU),
    ("conv_transpose2d_stride_zero", "F.conv_transpose2d(rd.ones(1, 1, 3, 3), rd.ones(1, 1, 2, 2), stride=0)", VR, r"conv_transpose2d.*stride|stride", CPU),
    ("max_pool2d_padding_half", "F.max_pool2d(rd.ones(1, 1, 6, 6, device=dev), 2, padding=2)", VR, r"max_pool2d.*pad|pad should be at most half", BOTH),
    ("max_pool2d_kernel_zero", "F.max_pool2d(rd.ones(1, 1, 4, 4), 0)", VR, r"max_pool2d.*kernel", CPU),
    ("max_pool2d_stride_zero", "F.max_pool2d(rd.ones(1, 1, 4, 4), 2, stride=0)", VR, r"max_pool2d.*stride", CPU),
    ("max_pool2d_stride_negative", "F.max_pool2d(rd.ones(1, 1, 4, 4), 2, stride=-1)", VR, r"max_pool2d.*stride", CPU),
    ("max_pool2d_dilation_zero", "F.max_pool2d(rd.ones(1, 1, 4, 4), 2, dilation=0)", VR, r"max_pool2d.*dilation", CPU),
    ("max_pool2d_padding_negative", "F.max_pool2d(rd.ones(1, 1, 4, 4), 2, padding=-1)", VR, r"max_pool2d.*pad", CPU),
    ("avg_pool2d_padding_half", "F.avg_pool2d(rd.ones(1, 1, 6, 6, device=dev), 2, padding=2)", VR, r"avg_pool2d.*pad|pad should be at most half", BOTH),
    ("avg_pool2d_kernel_zero", "F.avg_pool2d(rd.ones(1, 1, 4, 4), 0)", VR, r"avg_pool2d.*kernel", CPU),
    ("avg_pool2d_stride_zero", "F.avg_pool2d(rd.ones(1, 1, 4, 4), 2, stride=0)", VR, r"avg_pool2d.*stride", CPU),
    ("maxpool_module_padding", "nn.MaxPool2d(2, padding=3)(rd.ones(1, 1, 8, 8))", VR, r"max_pool2d.*pad|pad should be at most half", CPU),
    ("adaptive_avg_pool2d_negative", "F.adaptive_avg_pool2d(rd.ones(1, 1, 4, 4), -1)", VR, r"adaptive_avg_pool2d", CPU),
    ("interpolate_scale_zero", "F.interpolate(rd.ones(1, 1, 4, 4), scale_factor=0)", ValueError, r"interpolate.*scale", CPU),
    ("interpolate_scale_negative", "F.interpolate(rd.ones(1, 1, 4, 4), scale_factor=-2.0)", ValueError, r"interpolate.*scale", CPU),
    ("interpolate_size_zero", "F.interpolate(rd.ones(1, 1, 4, 4), size=0)", VR, r"interpolate", CPU),
    ("interpolate_mode", "F.interpolate(rd.ones(1, 1, 4, 4), size=2, mode='cubic')", (ValueError, NotImplementedError), r"interpolate|cubic", CPU),
    ("interpolate_no_size", "F.interpolate(rd.ones(1, 1, 4, 4))", ValueError, r"interpolate", CPU),
    ("upsample_scale_zero", "nn.Upsample(scale_factor=0)(rd.ones(1, 1, 4, 4))", ValueError, r"interpolate|scale", CPU),
    ("dropout_p_above_one", "F.dropout(rd.ones(3), p=1.5)", ValueError, r"dropout.*1\.5", CPU),
    ("dropout_p_negative", "F.dropout(rd.ones(3), p=-0.1)", ValueError, r"dropout.*-0\.1", CPU),
    ("dropout_module_p", "nn.Dropout(p=2.0)", ValueError, r"dropout.*2\.0", CPU),
    ("dropout2d_p", "F.dropout2d(rd.ones(1, 2, 3, 3), p=1.1)", ValueError, r"dropout.*1\.1", CPU),
    ("dropout_p_nan", "F.dropout(rd.ones(3), p=float('nan'))", ValueError, r"(?i)dropout.*nan", CPU),
    ("sgd_lr_negative", "optim.SGD([rd.zeros(2, requires_grad=True)], lr=-0.1)", ValueError, r"Invalid (learning rate|lr value): -0\.1", CPU),
    ("sgd_lr_nan", "optim.SGD([rd.zeros(2, requires_grad=True)], lr=float('nan'))", ValueError, r"Invalid (learning rate|lr value): nan", CPU),
    ("sgd_momentum_negative", "optim.SGD([rd.zeros(2, requires_grad=True)], lr=0.1, momentum=-0.5)", ValueError, r"Invalid momentum value: -0\.5", CPU),
    ("sgd_weight_decay_negative", "optim.SGD([rd.zeros(2, requires_grad=True)], lr=0.1, weight_decay=-1.0)", ValueError, r"Invalid weight_decay value: -1\.0", CPU),
    ("sgd_nesterov_no_momentum", "optim.SGD([rd.zeros(2, requires_grad=True)], lr=0.1, nesterov=True)", ValueError, r"[Nn]esterov", CPU),
    ("sgd_empty_params", "optim.SGD([], lr=0.1)", ValueError, r"empty parameter list", CPU),
    ("adam_lr_negative", "optim.Adam([rd.zeros(2, requires_grad=True)], lr=-1e-3)", ValueError, r"Invalid (learning rate|lr value)", CPU),
    ("adam_lr_nan", "optim.Adam([rd.zeros(2, requires_grad=True)], lr=float('nan'))", ValueError, r"Invalid (learning rate|lr value): nan", CPU),
    ("adam_beta1_one", "optim.Adam([rd.zeros(2, requires_grad=True)], betas=(1.0, 0.999))", ValueError, r"Invalid beta parameter at index 0: 1\.0", CPU),
    ("adam_beta2_negative", "optim.Adam([rd.zeros(2, requires_grad=True)], betas=(0.9, -0.1))", ValueError, r"Invalid beta parameter at index 1: -0\.1", CPU),
    ("adam_beta2_above_one", "optim.Adam([rd.zeros(2, requires_grad=True)], betas=(0.9, 1.5))", ValueError, r"Invalid beta parameter at index 1: 1\.5", CPU),
    ("adam_eps_negative", "optim.Adam([rd.zeros(2, requires_grad=True)], eps=-1e-8)", ValueError, r"Invalid epsilon value", CPU),
    ("adam_weight_decay_negative", "optim.Adam([rd.zeros(2, requires_grad=True)], weight_decay=-0.1)", ValueError, r"Invalid weight_decay value: -0\.1", CPU),
    ("adamw_beta_nan", "optim.AdamW([rd.zeros(2, requires_grad=True)], betas=(float('nan'), 0.9))", ValueError, r"Invalid beta.*nan", CPU),
    ("rmsprop_alpha_negative", "optim.RMSprop([rd.zeros(2, requires_grad=True)], alpha=-0.5)", ValueError, r"Invalid alpha value: -0\.5", CPU),
    ("rmsprop_momentum_negative", "optim.RMSprop([rd.zeros(2, requires_grad=True)], momentum=-0.5)", ValueError, r"Invalid momentum value: -0\.5", CPU),
    ("adagrad_lr_negative", "optim.Adagrad([rd.zeros(2, requires_grad=True)], lr=-0.5)", ValueError, r"Invalid (learning rate|lr value): -0\.5", CPU),
    ("adadelta_rho", "optim.Adadelta([rd.zeros(2, requires_grad=True)], rho=1.5)", ValueError, r"Invalid rho value: 1\.5", CPU),
    ("optimizer_not_iterable", "optim.SGD(rd.zeros(2, requires_grad=True), lr=0.1)", TypeError, r"iterable", CPU),
    ("steplr_gamma_type", "optim.lr_scheduler.StepLR(optim.SGD([rd.zeros(2, requires_grad=True)], lr=0.1), step_size=0)", ValueError, r"step_size", CPU),
    ("dataloader_batch_zero", "rd.data.DataLoader(rd.data.TensorDataset(rd.zeros(4, 2)), batch_size=0)", ValueError, r"batch_size.*\b0\b", CPU),
    ("dataloader_batch_negative", "rd.data.DataLoader(rd.data.TensorDataset(rd.zeros(4, 2)), batch_size=-2)", ValueError, r"batch_size.*-2", CPU),
    ("dataloader_workers_negative", "rd.data.DataLoader(rd.data.TensorDataset(rd.zeros(4, 2)), num_workers=-1)", ValueError, r"num_workers", CPU),
    ("tensordataset_size_mismatch", "rd.data.TensorDataset(rd.zeros(4, 2), rd.zeros(3))", (ValueError, AssertionError), r"[Ss]ize mismatch", CPU),


    ("linear_negative_features", "nn.Linear(-1, 2)", (ValueError, RuntimeError), r"negative|-1|Linear", CPU),
    ("embedding_negative_num", "nn.Embedding(-1, 2)", (ValueError, RuntimeError), r"negative|-1|Embedding", CPU),
    ("reduction_invalid", "F.mse_loss(rd.ones(2), rd.ones(2), reduction='avg')", ValueError, r"reduction|avg", CPU),
    ("label_smoothing_range", "F.cross_entropy(rd.ones(2, 3), rd.tensor([0, 1]), label_smoothing=1.5)", (ValueError, RuntimeError), r"label_smoothing", CPU),
    ("clip_grad_norm_type", "nn.utils.clip_grad_norm_([rd.zeros(2, requires_grad=True)], max_norm=1.0, norm_type='x')", (ValueError, TypeError), r"norm_type|x", CPU),
    ("pad_odd", "F.pad(rd.ones(2, 3), (1,))", ValueError, r"pad", CPU),

    ("normal_std_negative", "rd.zeros(3).normal_(0.0, -1.0)", (ValueError, RuntimeError), r"normal.*std|std", CPU),
    ("uniform_from_gt_to", "rd.zeros(3).uniform_(2.0, 1.0)", (ValueError, RuntimeError), r"uniform", CPU),
    ("bernoulli_p", "rd.zeros(3).bernoulli_(1.5)", (ValueError, RuntimeError), r"bernoulli", CPU),
    ("multinomial_negative", "rd.tensor([-1.0, 2.0]).multinomial(1)", (ValueError, RuntimeError), r"multinomial|probability", CPU),
    # ---------------------------------------------------------------- autograd misuse
    ("backward_twice", "x = rd.ones(3, requires_grad=True); y = (x.exp()).sum(); y.backward(); y.backward()", RuntimeError, r"second time", CPU),
    ("backward_non_scalar", "x = rd.ones(3, requires_grad=True); (x * 2).backward()", RuntimeError, r"grad can be implicitly created only for scalar outputs", CPU),
    ("backward_no_grad", "rd.ones(3).sum().backward()", RuntimeError, r"does not require grad", CPU),
    ("backward_gradient_shape", "x = rd.ones(3, requires_grad=True); (x * 2).backward(rd.ones(4))", (RuntimeError, ValueError), r"backward|shape|\[4\]", CPU),
    ("inplace_leaf", "x = rd.ones(3, requires_grad=True); x.add_(1.0)", RuntimeError, r"add_.*leaf (Variable|tensor) that requires grad is being used in an in-place operation", CPU),
    ("inplace_leaf_setitem", "x = rd.ones(3, requires_grad=True); x[0] = 2.0", RuntimeError, r"leaf (Variable|tensor) that requires grad", CPU),
    ("inplace_leaf_mul", "x = rd.ones(3, requires_grad=True); x *= 2", RuntimeError, r"mul.*leaf (Variable|tensor) that requires grad", CPU),
    ("inplace_leaf_relu", "x = rd.ones(3, requires_grad=True); F.relu(x, inplace=True)", RuntimeError, r"relu.*leaf (Variable|tensor) that requires grad", CPU),
    ("inplace_leaf_gpu", "x = rd.ones(3, device=dev, requires_grad=True); x.zero_()", RuntimeError, r"zero_.*leaf (Variable|tensor)", BOTH),
    ("inplace_saved_modified", "x = rd.ones(3, requires_grad=True); y = x * 1; z = y.sin(); y.mul_(2); z.sum().backward()", RuntimeError, r"modified by an in.?place operation", CPU),
    ("numpy_requires_grad", "rd.ones(3, requires_grad=True).numpy()", RuntimeError, r"numpy\(\).*requires grad", CPU),
    ("numpy_requires_grad_nonleaf", "(rd.ones(3, requires_grad=True) * 2).numpy()", RuntimeError, r"numpy\(\).*requires grad", CPU),
    ("item_multi_element", "rd.ones(3).item()", (ValueError, RuntimeError), r"item|one element|3 elements", CPU),
    ("bool_multi_element", "bool(rd.ones(3))", (ValueError, RuntimeError), r"ambiguous|more than one", CPU),
    ("float_multi_element", "float(rd.ones(3))", (ValueError, RuntimeError, TypeError), r"only one element|one element|scalar", CPU),
    ("len_0d", "len(rd.tensor(1.0))", TypeError, r"len\(\) of a 0-d tensor", CPU),
    ("iter_0d", "iter(rd.tensor(1.0))", TypeError, r"0-d tensor", CPU),
    ("grad_wrong_shape", "x = rd.ones(3, requires_grad=True); x.grad = rd.ones(4)", (RuntimeError, ValueError), r"grad.*shape|size|\[4\]", CPU),
    ("grad_wrong_device", "x = rd.ones(3, requires_grad=True); x.grad = rd.ones(3, device='gpu')", (RuntimeError, ValueError), r"grad.*(device|gpu)", ("gpu",)),
    ("autograd_grad_no_graph", "x = rd.ones(3, requires_grad=True); rd.autograd.grad(rd.ones(1).sum(), x)", RuntimeError, r"does not require grad|not have a grad_fn", CPU),
    ("requires_grad_non_leaf", "x = rd.ones(3, requires_grad=True); (x * 2).requires_grad_(False)", RuntimeError, r"non-leaf|leaf", CPU),
    # ---------------------------------------------------------------- checkpoint / pickle
    ("load_missing_file", "rd.load('/nonexistent/dir/ckpt.pt')", FileNotFoundError, r"nonexistent|No such file", CPU),
    ("load_garbage", "import tempfile, os\nf = tempfile.NamedTemporaryFile(delete=False, suffix='.pt'); f.write(b'not a checkpoint at all'); f.close()\nrd.load(f.name)", (ValueError, RuntimeError, OSError), r"load|checkpoint|safetensors|pickle|header|not|invalid", CPU),
    ("load_truncated", "import tempfile, io\nbuf = io.BytesIO(); rd.save({'w': rd.ones(100)}, buf); data = buf.getvalue()[:40]\nrd.load(io.BytesIO(data))", (ValueError, RuntimeError, OSError, EOFError), r".", CPU),
    ("save_bad_target", "rd.save({'w': rd.ones(2)}, '/nonexistent/dir/x.pt')", OSError, r"nonexistent|No such file", CPU),
    ("load_state_dict_missing", "m = nn.Linear(2, 2); m.load_state_dict({'weight': rd.ones(2, 2)})", RuntimeError, r"Missing key\(s\) in state_dict.*bias", CPU),
    ("load_state_dict_unexpected", "m = nn.Linear(2, 2); sd = dict(m.state_dict()); sd['extra'] = rd.ones(1); m.load_state_dict(sd)", RuntimeError, r"Unexpected key\(s\) in state_dict.*extra", CPU),
    ("load_state_dict_shape", "m = nn.Linear(2, 2); m.load_state_dict({'weight': rd.ones(3, 2), 'bias': rd.ones(2)})", RuntimeError, r"size mismatch for weight", CPU),
    ("optimizer_load_state_dict_groups", "o = optim.SGD([rd.zeros(2, requires_grad=True)], lr=0.1); o.load_state_dict({'state': {}, 'param_groups': []})", ValueError, r"parameter group", CPU),
    ("unpickle_garbage", "import pickle\npickle.loads(pickle.dumps(rd.ones(2))[:-5])", (pickle.UnpicklingError, EOFError, ValueError), r".", CPU),
]
# fmt: on

# Known to crash the whole process today (SIGSEGV/abort) or to need a child for safety: each runs in
# its own subprocess. (code, expected: exception type name(s) or "ok", regex).
ISOLATED = [
    ("zero_size_flatten", "out = rd.zeros(2, 0).flatten(); assert tuple(out.shape) == (0,)", "ok", r""),
    ("zero_size_max", "rd.zeros(2, 0).max()", ("RuntimeError", "IndexError", "ValueError"), r"max"),
    (
        "zero_size_max_dim",
        "rd.zeros(2, 0).max(dim=1)",
        ("RuntimeError", "IndexError", "ValueError"),
        r"(^|[^A-Za-z])max",
    ),
    (
        "zero_size_ops",
        "x = rd.zeros(0, 3); y = (x.exp() + 1).sum(0); assert y.shape == (3,) and float(y.sum()) == 0.0; out = x.t().contiguous()",
        "ok",
        r"",
    ),
    ("zeros_1e12", "rd.zeros(10**12)", "MemoryError", r"zeros.*4000000000000 bytes|zeros.*bytes"),
    ("outer_200k", "a = rd.ones(200000); a.unsqueeze(1) * a.unsqueeze(0)", "MemoryError", r"mul.*bytes"),
    (
        "outer_200k_matmul",
        "a = rd.ones(200000); a.unsqueeze(1) @ a.unsqueeze(0)",
        "MemoryError",
        r"matmul.*bytes",
    ),
    ("huge_linear", "nn.Linear(10**6, 10**6)", "MemoryError", r"bytes"),
    ("huge_conv_weight", "nn.Conv2d(100000, 100000, 3)", "MemoryError", r"bytes"),
    (
        "huge_conv_output",
        "F.conv2d(rd.ones(1, 1, 8, 8), rd.ones(200000, 1, 1, 1), padding=4000)",
        "MemoryError",
        r"conv2d.*bytes",
    ),
    (
        "nested_list_20000",
        "x = 1.0\nfor _ in range(20000): x = [x]\nrd.tensor(x)",
        ("ValueError", "RecursionError", "RuntimeError"),
        r"tensor|depth|dimensions|nest|recursion",
    ),
    (
        "sum_dim0_of_0d",
        "out = rd.tensor(3.).sum(dim=0); assert out.shape == () and float(out) == 3.0",
        "ok",
        r"",
    ),
    ("zeros_2_31_squared", "rd.zeros(2**31, 2**31)", "ValueError", r"overflow"),
    ("zeros_2_32_squared", "rd.zeros(2**32, 2**32)", "ValueError", r"overflow"),
    ("zeros_2_63", "rd.zeros(2**63)", ("ValueError", "OverflowError"), r"overflow|zeros"),
    ("randn_1e12_gpu", "rd.zeros(10**12, device='gpu')", "MemoryError", r"zeros.*bytes"),
    (
        "expand_huge_then_contiguous",
        "rd.zeros(1).expand(10**12).contiguous()",
        "MemoryError",
        r"contiguous.*bytes|bytes",
    ),
    ("empty_1e12", "rd.empty(10**12)", "MemoryError", r"empty.*bytes"),
    ("reshape_overflow", "rd.zeros(0).reshape(2**40, 2**40, 0)", ("ValueError",), r"overflow|reshape"),
]

# ---------------------------------------------------------------------------- xfail marks
XFAIL: dict[str, str] = {}
XFAIL_ISOLATED: dict[str, str] = {}


def _params():
    out = []
    for entry in CATALOGUE:
        name, code, exc, rx, devs = entry
        for dev in devs:
            pid = f"{name}-{dev}"
            marks = [pytest.mark.xfail(strict=True, reason=XFAIL[pid])] if pid in XFAIL else []
            if name in XFAIL and pid not in XFAIL:
                marks = [pytest.mark.xfail(strict=True, reason=XFAIL[name])]
            out.append(pytest.param(code, exc, rx, dev, id=pid, marks=marks))
    return out


def _is_panic(e):
    return type(e).__name__ == "PanicException"


@pytest.mark.parametrize("code,exc,rx,dev", _params())
def test_bad_input(code, exc, rx, dev):
    if dev == "gpu" and not gpu_available():
        pytest.skip("no GPU adapter")
    ns = {"dev": dev}
    exec(PRELUDE, ns)
    try:
        exec(textwrap.dedent(code), ns)
    except BaseException as e:  # noqa: BLE001 - PanicException is a BaseException
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
        assert not _is_panic(e), f"a Rust panic reached Python: {e}"
        assert isinstance(e, exc), f"expected {exc}, got {type(e).__name__}: {e}"
        assert re.search(rx, str(e)), f"message {str(e)!r} does not match {rx!r}"
        # the library stays usable afterwards
        assert float((rustdl.ones(2, device=dev) * 2).sum().item()) == 4.0
        return
    pytest.fail(f"no exception raised (expected {exc})")


_CHILD = r"""
import json, sys, re
{prelude}
res = {{}}
try:
    exec(compile({code!r}, "<case>", "exec"))
    res = {{"kind": "ok"}}
except BaseException as e:
    res = {{"kind": "exc", "type": type(e).__name__, "mro": [c.__name__ for c in type(e).__mro__], "msg": str(e)[:1000]}}
sys.stdout.flush()
print("@@RESULT@@" + json.dumps(res))
"""


def _iso_params():
    out = []
    for name, code, exp, rx in ISOLATED:
        marks = (
            [pytest.mark.xfail(strict=True, reason=XFAIL_ISOLATED[name])] if name in XFAIL_ISOLATED else []
        )
        out.append(pytest.param(code, exp, rx, id=name, marks=marks))
    return out


@pytest.mark.parametrize("code,expected,rx", _iso_params())
def test_bad_input_isolated(code, expected, rx):
    if "device='gpu'" in code and not gpu_available():
        pytest.skip("no GPU adapter")
    src = _CHILD.format(prelude=PRELUDE, code=textwrap.dedent(code))
    env = dict(os.environ, RUST_BACKTRACE="0")
    try:
        p = subprocess.run([sys.executable, "-c", src], capture_output=True, text=True, timeout=120, env=env)
    except subprocess.TimeoutExpired:
        pytest.fail(f"hung for 120 s:\n{code}")
    if p.returncode < 0:
        import signal

        pytest.fail(
            f"the process died by {signal.Signals(-p.returncode).name}:\n{code}\nstderr: {p.stderr[-1500:]}"
        )
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("@@RESULT@@")]
    assert lines, (
        f"child exited with status {p.returncode} and no result:\n{code}\nstderr: {p.stderr[-1500:]}"
    )
    res = json.loads(lines[-1][len("@@RESULT@@") :])
    if expected == "ok":
        assert res["kind"] == "ok", f"expected success, got {res.get('type')}: {res.get('msg')}"
        return
    assert res["kind"] == "exc", f"no exception raised (expected {expected})"
    assert "PanicException" not in res["mro"], f"a Rust panic reached Python: {res['msg']}"
    names = (expected,) if isinstance(expected, str) else expected
    assert res["type"] in names or any(n in res["mro"] for n in names), (
        f"expected {names}, got {res['type']}: {res['msg']}"
    )
    assert re.search(rx, res["msg"]), f"message {res['msg']!r} does not match {rx!r}"


def test_catalogue_size():
    assert len(CATALOGUE) + len(ISOLATED) >= 150


def test_refusals_pytorch_makes_that_rustdl_answered_silently():
    import numpy as np
    import rustdl.nn.functional as F

    i = rustdl.tensor([2, 3])
    # an integer to a negative integer power was truncated to 0
    with pytest.raises(RuntimeError, match="negative integer powers"):
        i**-1
    with pytest.raises(RuntimeError, match="negative integer powers"):
        i.pow(-2)
    with pytest.raises(RuntimeError, match="negative integer powers"):
        rustdl.tensor([True]) ** -1
    np.testing.assert_array_equal((i**2).numpy(), [4, 9])  # still fine
    np.testing.assert_allclose((i**-1.5).numpy(), np.array([2.0, 3.0]) ** -1.5, rtol=1e-6)
    np.testing.assert_array_equal(
        (i ** rustdl.tensor([-1, 2])).numpy(), [0, 9]
    )  # a tensor exponent: as PyTorch
    # probabilities outside [0, 1] (or NaN) gave a NaN loss
    for bad in ([1.5], [-0.1], [float("nan")]):
        with pytest.raises(RuntimeError, match="between 0 and 1"):
            F.binary_cross_entropy(rustdl.tensor(bad), rustdl.tensor([1.0]))
    ok = F.binary_cross_entropy(rustdl.tensor([0.0, 1.0, 0.25]), rustdl.tensor([0.0, 1.0, 1.0]))
    np.testing.assert_allclose(ok.item(), -np.log(0.25) / 3, rtol=1e-6)
