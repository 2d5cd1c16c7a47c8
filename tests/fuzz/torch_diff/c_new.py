C = []


def c(name, code):
    C.append((name, code))


# conv / pool
c("conv2d_kernel_gt", "out = F.conv2d(A(1,1,3,3), A(1,1,5,5))")
c("conv2d_stride0", "out = F.conv2d(A(1,1,5,5), A(1,1,3,3), stride=0)")
c("conv2d_stride_neg", "out = F.conv2d(A(1,1,5,5), A(1,1,3,3), stride=-1)")
c("conv2d_dil0", "out = F.conv2d(A(1,1,5,5), A(1,1,3,3), dilation=0)")
c("conv2d_pad_neg", "out = F.conv2d(A(1,1,5,5), A(1,1,3,3), padding=-1)")
c("conv2d_groups_bad", "out = F.conv2d(A(1,3,5,5), A(2,1,3,3), groups=2)")
c("conv2d_groups0", "out = F.conv2d(A(1,2,5,5), A(2,1,3,3), groups=0)")
c("conv2d_groups_ok", "out = F.conv2d(A(1,4,5,5), A(2,2,3,3), groups=2)")
c("conv2d_chan_bad", "out = F.conv2d(A(1,2,5,5), A(1,3,3,3))")
c("conv2d_3d_in", "out = F.conv2d(A(2,5,5), A(1,2,3,3))")
c("conv2d_5d_in", "out = F.conv2d(A(1,1,2,5,5), A(1,1,3,3))")
c("conv2d_w3d", "out = F.conv2d(A(1,1,5,5), A(1,3,3))")
c("conv2d_bias_bad", "out = F.conv2d(A(1,1,5,5), A(2,1,3,3), bias=A(3))")
c("conv2d_empty_batch", "out = F.conv2d(A(0,1,5,5), A(2,1,3,3))")
c("conv2d_zero_out_ch", "out = F.conv2d(A(1,1,5,5), A(0,1,3,3))")
c("conv2d_pad_same", "out = F.conv2d(A(1,1,5,5), A(1,1,3,3), padding='same')")
c("conv2d_pad_same_stride", "out = F.conv2d(A(1,1,5,5), A(1,1,3,3), padding='same', stride=2)")
c("conv2d_pad_bad_str", "out = F.conv2d(A(1,1,5,5), A(1,1,3,3), padding='foo')")
c("conv2d_int", "out = F.conv2d(I([[[[1]]]]), I([[[[1]]]]))")
c("conv2d_tview", "out = F.conv2d(A(1,1,5,4).transpose(2,3), A(1,1,3,3))")
c("conv2d_pad_big", "out = F.conv2d(A(1,1,2,2), A(1,1,3,3), padding=5)")
c("conv2d_tuple3", "out = F.conv2d(A(1,1,5,5), A(1,1,3,3), stride=(1,1,1))")
c("conv1d_kernel_gt", "out = F.conv1d(A(1,1,3), A(1,1,5))")
c("conv1d_stride0", "out = F.conv1d(A(1,1,5), A(1,1,3), stride=0)")
c("conv1d_dil0", "out = F.conv1d(A(1,1,5), A(1,1,3), dilation=0)")
c("conv1d_groups", "out = F.conv1d(A(1,3,5), A(3,1,3), groups=2)")
c("conv1d_2d", "out = F.conv1d(A(1,5), A(1,1,3))")
c("conv1d_pad_neg", "out = F.conv1d(A(1,1,5), A(1,1,3), padding=-1)")
c("conv3d_kernel_gt", "out = F.conv3d(A(1,1,2,3,3), A(1,1,3,3,3))")
c("conv3d_stride0", "out = F.conv3d(A(1,1,3,3,3), A(1,1,2,2,2), stride=0)")
c("conv3d_groups", "out = F.conv3d(A(1,3,3,3,3), A(3,1,2,2,2), groups=2)")
c("conv3d_ok", "out = F.conv3d(A(1,2,3,4,4), A(2,2,2,2,2), padding=1, stride=(1,2,2))")
c("conv3d_dil0", "out = F.conv3d(A(1,1,3,3,3), A(1,1,2,2,2), dilation=0)")
c("conv3d_pad_neg", "out = F.conv3d(A(1,1,3,3,3), A(1,1,2,2,2), padding=-1)")
c("convT2d_stride0", "out = F.conv_transpose2d(A(1,1,3,3), A(1,1,2,2), stride=0)")
c("convT2d_outpad_big", "out = F.conv_transpose2d(A(1,1,3,3), A(1,1,2,2), stride=2, output_padding=2)")
c("convT2d_outpad_ok", "out = F.conv_transpose2d(A(1,1,3,3), A(1,1,2,2), stride=2, output_padding=1)")
c("convT2d_pad_big", "out = F.conv_transpose2d(A(1,1,2,2), A(1,1,2,2), padding=3)")
c("convT2d_groups", "out = F.conv_transpose2d(A(1,4,3,3), A(4,1,2,2), groups=2)")
c("convT2d_groups_bad", "out = F.conv_transpose2d(A(1,3,3,3), A(3,1,2,2), groups=2)")
c("convT2d_dil0", "out = F.conv_transpose2d(A(1,1,3,3), A(1,1,2,2), dilation=0)")
c("convT1d_ok", "out = F.conv_transpose1d(A(1,2,4), A(2,3,3), stride=2, padding=1, output_padding=1)")
c("convT1d_stride0", "out = F.conv_transpose1d(A(1,2,4), A(2,3,3), stride=0)")
c("convT1d_outpad_big", "out = F.conv_transpose1d(A(1,2,4), A(2,3,3), stride=2, output_padding=3)")
c("convT1d_pad_big", "out = F.conv_transpose1d(A(1,2,2), A(2,3,2), padding=5)")
c("convT1d_groups_bad", "out = F.conv_transpose1d(A(1,3,4), A(3,1,3), groups=2)")
c("Conv2d_mod_groups_bad", "m = nn.Conv2d(3, 4, 3, groups=2)")
c("Conv2d_mod_zero_ch", "m = nn.Conv2d(0, 4, 3)")
c("Conv2d_mod_neg", "m = nn.Conv2d(-1, 4, 3)")
c("Conv2d_mod_k0", "m = nn.Conv2d(1, 4, 0)")
c("Conv2d_mod_pad_mode", "m = nn.Conv2d(1, 1, 3, padding=1, padding_mode='foo')")
c(
    "Conv2d_reflect",
    "M.manual_seed(0); m = nn.Conv2d(1, 1, 3, padding=1, padding_mode='reflect', bias=False); m.weight.data = A(1,1,3,3); out = m(A(1,1,4,4))",
)
c(
    "Conv2d_circular",
    "m = nn.Conv2d(1, 1, 3, padding=1, padding_mode='circular', bias=False); m.weight.data = A(1,1,3,3); out = m(A(1,1,4,4))",
)
c(
    "Conv2d_reflect_too_small",
    "m = nn.Conv2d(1, 1, 3, padding=2, padding_mode='reflect', bias=False); out = m(A(1,1,2,2))",
)
c("Conv1d_mod_zero", "m = nn.Conv1d(1, 1, 3, stride=0)")
c("ConvT2d_mod_outpad", "m = nn.ConvTranspose2d(1, 1, 3, stride=1, output_padding=1)")
for pool in ["max_pool2d", "avg_pool2d"]:
    c(f"{pool}_k_gt", f"out = F.{pool}(A(1,1,3,3), 5)")
    c(f"{pool}_stride0", f"out = F.{pool}(A(1,1,5,5), 2, stride=0)")
    c(f"{pool}_pad_big", f"out = F.{pool}(A(1,1,5,5), 2, padding=2)")
    c(f"{pool}_pad_neg", f"out = F.{pool}(A(1,1,5,5), 2, padding=-1)")
    c(f"{pool}_k0", f"out = F.{pool}(A(1,1,5,5), 0)")
    c(f"{pool}_kneg", f"out = F.{pool}(A(1,1,5,5), -2)")
    c(f"{pool}_3d", f"out = F.{pool}(A(1,5,5), 2)")
    c(f"{pool}_2d", f"out = F.{pool}(A(5,5), 2)")
    c(f"{pool}_empty", f"out = F.{pool}(A(0,1,4,4), 2)")
    c(f"{pool}_empty_ch", f"out = F.{pool}(A(1,0,4,4), 2)")
    c(f"{pool}_ceil", f"out = F.{pool}(A(1,1,5,5), 2, ceil_mode=True)")
    c(f"{pool}_ceil_pad", f"out = F.{pool}(A(1,1,5,5), 3, stride=2, padding=1, ceil_mode=True)")
    c(f"{pool}_tview", f"out = F.{pool}(A(1,1,6,4).transpose(2,3), 2)")
    c(f"{pool}_nan", f"x = A(1,1,4,4); x[0,0,0,0] = float('nan'); out = F.{pool}(x, 2)")
    c(f"{pool}_int", f"out = F.{pool}(I([[[[1,2],[3,4]]]]), 2)")
c("max_pool2d_dil0", "out = F.max_pool2d(A(1,1,5,5), 2, dilation=0)")
c("max_pool2d_indices", "out = F.max_pool2d(A(1,1,4,4), 2, return_indices=True)")
c("avg_pool2d_divisor0", "out = F.avg_pool2d(A(1,1,4,4), 2, divisor_override=0)")
c("avg_pool2d_no_pad", "out = F.avg_pool2d(A(1,1,5,5), 3, stride=2, padding=1, count_include_pad=False)")
for pool in ["max_pool1d", "avg_pool1d"]:
    c(f"{pool}_k_gt", f"out = F.{pool}(A(1,1,3), 5)")
    c(f"{pool}_stride0", f"out = F.{pool}(A(1,1,5), 2, stride=0)")
    c(f"{pool}_pad_big", f"out = F.{pool}(A(1,1,5), 2, padding=2)")
    c(f"{pool}_2d", f"out = F.{pool}(A(1,5), 2)")
    c(f"{pool}_empty", f"out = F.{pool}(A(0,1,4), 2)")
    c(f"{pool}_ceil", f"out = F.{pool}(A(1,1,5), 2, ceil_mode=True)")
for pool in ["max_pool3d", "avg_pool3d"]:
    c(f"{pool}_k_gt", f"out = F.{pool}(A(1,1,3,3,3), 5)")
    c(f"{pool}_stride0", f"out = F.{pool}(A(1,1,4,4,4), 2, stride=0)")
    c(f"{pool}_pad_big", f"out = F.{pool}(A(1,1,4,4,4), 2, padding=2)")
    c(f"{pool}_ok", f"out = F.{pool}(A(1,2,4,5,6), 2, stride=(1,2,2), padding=1)")
    c(f"{pool}_4d", f"out = F.{pool}(A(2,4,4,4), 2)")
    c(f"{pool}_empty", f"out = F.{pool}(A(0,1,4,4,4), 2)")
    c(f"{pool}_ceil", f"out = F.{pool}(A(1,1,5,5,5), 2, ceil_mode=True)")
for ap in ["adaptive_avg_pool2d", "adaptive_max_pool2d"]:
    c(f"{ap}_0", f"out = F.{ap}(A(1,1,4,4), 0)")
    c(f"{ap}_neg", f"out = F.{ap}(A(1,1,4,4), -1)")
    c(f"{ap}_bigger", f"out = F.{ap}(A(1,1,4,4), 6)")
    c(f"{ap}_none", f"out = F.{ap}(A(1,1,4,5), (None, 2))")
    c(f"{ap}_empty_in", f"out = F.{ap}(A(1,1,0,4), 2)")
    c(f"{ap}_3d", f"out = F.{ap}(A(1,4,5), (2, 3))")
    c(f"{ap}_odd", f"out = F.{ap}(A(1,1,5,7), (3, 2))")
for ap in ["adaptive_avg_pool1d", "adaptive_max_pool1d"]:
    c(f"{ap}_0", f"out = F.{ap}(A(1,1,4), 0)")
    c(f"{ap}_bigger", f"out = F.{ap}(A(1,1,4), 6)")
    c(f"{ap}_odd", f"out = F.{ap}(A(1,1,7), 3)")
    c(f"{ap}_empty", f"out = F.{ap}(A(1,1,0), 3)")
c("lp_pool2d", "out = F.lp_pool2d(A(1,1,4,4).abs(), 2.0, 2)")
c("lp_pool2d_p0", "out = F.lp_pool2d(A(1,1,4,4).abs(), 0.0, 2)")
c("lp_pool1d_k_gt", "out = F.lp_pool1d(A(1,1,3), 2.0, 5)")
c("lp_pool1d_ok", "out = F.lp_pool1d(A(1,1,6).abs(), 3.0, 2)")
c("max_unpool2d", "v, i = F.max_pool2d(A(1,1,4,4), 2, return_indices=True); out = F.max_unpool2d(v, i, 2)")
c("max_unpool2d_bad_idx", "v = A(1,1,2,2); out = F.max_unpool2d(v, I([[[[0, 100],[2, 3]]]]), 2)")
c("max_unpool2d_neg_idx", "v = A(1,1,2,2); out = F.max_unpool2d(v, I([[[[0, -1],[2, 3]]]]), 2)")
c("max_unpool2d_shape_bad", "v = A(1,1,2,2); out = F.max_unpool2d(v, I([[[[0, 1]]]]), 2)")
c(
    "max_unpool2d_outsize_bad",
    "v, i = F.max_pool2d(A(1,1,4,4), 2, return_indices=True); out = F.max_unpool2d(v, i, 2, output_size=(9, 9))",
)
c("max_unpool1d", "v, i = F.max_pool1d(A(1,1,6), 2, return_indices=True); out = F.max_unpool1d(v, i, 2)")
c("max_unpool1d_bad_idx", "out = F.max_unpool1d(A(1,1,2), I([[[0, 9]]]), 2)")
# pad
c("pad_neg_crop", "out = F.pad(A(1,1,4,4), (-1, -1, 0, 0))")
c("pad_neg_too_much", "out = F.pad(A(1,1,4,4), (-3, -3))")
c("pad_odd_len", "out = F.pad(A(1,1,4,4), (1, 1, 1))")
c("pad_too_long", "out = F.pad(A(4), (1, 1, 1, 1))")
c("pad_reflect_big", "out = F.pad(A(1,1,3), (3, 3), mode='reflect')")
c("pad_reflect_eq", "out = F.pad(A(1,1,3), (2, 2), mode='reflect')")
c("pad_reflect_ok", "out = F.pad(A(1,1,4), (2, 1), mode='reflect')")
c("pad_reflect_neg", "out = F.pad(A(1,1,4), (-1, 1), mode='reflect')")
c("pad_replicate", "out = F.pad(A(1,1,3), (4, 2), mode='replicate')")
c("pad_replicate_empty", "out = F.pad(A(1,1,0), (1, 1), mode='replicate')")
c("pad_circular_big", "out = F.pad(A(1,1,3), (4, 0), mode='circular')")
c("pad_circular_ok", "out = F.pad(A(1,1,3), (2, 1), mode='circular')")
c("pad_circular_2d", "out = F.pad(A(1,1,3,3), (1, 1, 2, 0), mode='circular')")
c("pad_reflect_2d", "out = F.pad(A(1,1,3,3), (1, 1, 2, 0), mode='reflect')")
c("pad_mode_bad", "out = F.pad(A(1,1,3), (1, 1), mode='foo')")
c("pad_reflect_1d_input", "out = F.pad(A(3), (1, 1), mode='reflect')")
c("pad_empty", "out = F.pad(A(0, 3), (1, 1))")
c("pad_value_nan", "out = F.pad(A(2), (1, 1), value=float('nan'))")
c("pad_int", "out = F.pad(I([1, 2]), (1, 1), value=3)")
c("pad_float_amounts", "out = F.pad(A(2), (1.5, 1))")
c("ReflectionPad2d_big", "out = nn.ReflectionPad2d(3)(A(1,1,2,2))")
c("ReplicationPad1d", "out = nn.ReplicationPad1d((2, 0))(A(1,1,3))")
c("ZeroPad2d_neg", "out = nn.ZeroPad2d(-1)(A(1,1,3,3))")
c("ConstantPad1d", "out = nn.ConstantPad1d(2, 1.5)(A(1,1,3))")
c("CircularPad2d", "out = nn.CircularPad2d(1)(A(1,1,3,3))")
c("ReflectionPad3d", "out = nn.ReflectionPad3d(1)(A(1,1,2,3,3))")
# interpolate/upsample
c("interp_size0", "out = F.interpolate(A(1,1,4,4), size=0)")
c("interp_scale0", "out = F.interpolate(A(1,1,4,4), scale_factor=0)")
c("interp_scale_neg", "out = F.interpolate(A(1,1,4,4), scale_factor=-2)")
c("interp_both", "out = F.interpolate(A(1,1,4,4), size=2, scale_factor=2)")
c("interp_none", "out = F.interpolate(A(1,1,4,4))")
c("interp_mode_bad", "out = F.interpolate(A(1,1,4,4), size=2, mode='foo')")
c("interp_bilinear_3d", "out = F.interpolate(A(1,1,4), size=2, mode='bilinear')")
c("interp_linear", "out = F.interpolate(A(1,1,4), size=7, mode='linear')")
c("interp_linear_ac", "out = F.interpolate(A(1,1,4), size=7, mode='linear', align_corners=True)")
c("interp_bilinear_ac", "out = F.interpolate(A(1,1,3,4), size=(5, 3), mode='bilinear', align_corners=True)")
c("interp_bilinear", "out = F.interpolate(A(1,1,3,4), size=(5, 3), mode='bilinear')")
c("interp_bicubic", "out = F.interpolate(A(1,1,3,4), size=(5, 3), mode='bicubic')")
c("interp_nearest_frac", "out = F.interpolate(A(1,1,3,4), scale_factor=1.5)")
c("interp_nearest_exact", "out = F.interpolate(A(1,1,3,4), scale_factor=1.5, mode='nearest-exact')")
c("interp_nearest_size1", "out = F.interpolate(A(1,1,1,1), size=(3, 3))")
c("interp_empty", "out = F.interpolate(A(0,1,3,4), size=(5, 3))")
c("interp_ac_nearest", "out = F.interpolate(A(1,1,3,4), size=2, mode='nearest', align_corners=True)")
c("interp_trilinear", "out = F.interpolate(A(1,1,2,3,4), size=(3, 3, 3), mode='trilinear')")
c("interp_nearest_5d", "out = F.interpolate(A(1,1,2,3,4), scale_factor=2)")
c("interp_area", "out = F.interpolate(A(1,1,4,6), size=(2, 3), mode='area')")
c("interp_size_tuple_len", "out = F.interpolate(A(1,1,4,4), size=(2, 2, 2))")
c("Upsample_mod", "out = nn.Upsample(scale_factor=2, mode='bilinear')(A(1,1,2,3))")
c("pixel_shuffle_bad", "out = F.pixel_shuffle(A(1,3,2,2), 2)")
c("pixel_shuffle_0", "out = F.pixel_shuffle(A(1,4,2,2), 0)")
c("pixel_shuffle_neg", "out = F.pixel_shuffle(A(1,4,2,2), -2)")
c("pixel_shuffle_ok", "out = F.pixel_shuffle(A(1,8,2,3), 2)")
c("pixel_shuffle_3d", "out = F.pixel_shuffle(A(8,2,3), 2)")
c("pixel_shuffle_2d", "out = F.pixel_shuffle(A(8,2), 2)")
c("pixel_unshuffle_bad", "out = F.pixel_unshuffle(A(1,1,3,3), 2)")
c("pixel_unshuffle_0", "out = F.pixel_unshuffle(A(1,1,4,4), 0)")
c("pixel_unshuffle_ok", "out = F.pixel_unshuffle(A(1,2,4,6), 2)")
c("channel_shuffle_bad", "out = F.channel_shuffle(A(1,3,2,2), 2)")
c("channel_shuffle_0", "out = F.channel_shuffle(A(1,4,2,2), 0)")
c("channel_shuffle_ok", "out = F.channel_shuffle(A(1,6,2,2), 3)")
c("unfold_ok", "out = F.unfold(A(1,2,4,5), 2, padding=1, stride=2)")
c("unfold_k_gt", "out = F.unfold(A(1,2,2,2), 3)")
c("unfold_stride0", "out = F.unfold(A(1,2,4,4), 2, stride=0)")
c("unfold_dil0", "out = F.unfold(A(1,2,4,4), 2, dilation=0)")
c("unfold_pad_neg", "out = F.unfold(A(1,2,4,4), 2, padding=-1)")
c("unfold_3d", "out = F.unfold(A(2,4,4), 2)")
c("fold_ok", "out = F.fold(A(1,8,6), (3, 4), 2)")
c("fold_bad_L", "out = F.fold(A(1,8,5), (3, 4), 2)")
c("fold_bad_C", "out = F.fold(A(1,7,6), (3, 4), 2)")
c("fold_stride0", "out = F.fold(A(1,8,6), (3, 4), 2, stride=0)")
c("fold_k_gt", "out = F.fold(A(1,8,1), (1, 1), 2)")
c("Tensor_unfold", "out = A(7).unfold(0, 3, 2)")
c("Tensor_unfold_big", "out = A(2).unfold(0, 3, 1)")
c("Tensor_unfold_step0", "out = A(5).unfold(0, 2, 0)")
c("Tensor_unfold_size0", "out = A(5).unfold(0, 0, 1)")
c("Tensor_unfold_0d", "out = L(1.0).unfold(0, 1, 1)")
c("as_strided_oob", "out = A(4).as_strided((3,), (2,))")
c("as_strided_ok", "out = A(6).as_strided((2, 2), (3, 1), 1)")
c("as_strided_neg", "out = A(4).as_strided((2,), (-1,))")
c("as_strided_off_neg", "out = A(4).as_strided((2,), (1,), -1)")
c("affine_grid_ok", "out = F.affine_grid(A(1,2,3), (1,1,2,3), align_corners=False)")
c("affine_grid_bad", "out = F.affine_grid(A(1,3,3), (1,1,2,3), align_corners=False)")
c("affine_grid_size_bad", "out = F.affine_grid(A(2,2,3), (1,1,2,3), align_corners=False)")
c("grid_sample_ok", "out = F.grid_sample(A(1,1,3,4), A(1,2,2,2) * 0.5, align_corners=False)")
c("grid_sample_far", "out = F.grid_sample(A(1,1,3,4), A(1,2,2,2) * 10, align_corners=False)")
c(
    "grid_sample_nan",
    "g = A(1,2,2,2); g[0,0,0,0] = float('nan'); out = F.grid_sample(A(1,1,3,4), g, align_corners=False)",
)
c(
    "grid_sample_border",
    "out = F.grid_sample(A(1,1,3,4), A(1,2,2,2) * 3, padding_mode='border', align_corners=True)",
)
c(
    "grid_sample_reflect",
    "out = F.grid_sample(A(1,1,3,4), A(1,2,2,2) * 3, padding_mode='reflection', align_corners=False)",
)
c(
    "grid_sample_nearest",
    "out = F.grid_sample(A(1,1,3,4), A(1,2,2,2) * 0.7, mode='nearest', align_corners=False)",
)
c("grid_sample_bad", "out = F.grid_sample(A(1,1,3,4), A(1,2,2,3), align_corners=False)")
c("grid_sample_batch_bad", "out = F.grid_sample(A(2,1,3,4), A(1,2,2,2), align_corners=False)")
c(
    "grid_sample_inf",
    "g = A(1,2,2,2); g[0,0,0,0] = float('inf'); out = F.grid_sample(A(1,1,3,4), g, align_corners=False, padding_mode='border')",
)
c(
    "grid_sample_reflect_inf",
    "g = A(1,2,2,2); g[0,0,0,0] = float('inf'); out = F.grid_sample(A(1,1,3,4), g, align_corners=False, padding_mode='reflection')",
)
c(
    "grid_sample_reflect_huge",
    "g = A(1,2,2,2) * 1e30; out = F.grid_sample(A(1,1,3,4), g, align_corners=False, padding_mode='reflection')",
)
# normalization
c("bn_bad_ch", "m = nn.BatchNorm2d(3); out = m(A(2,4,2,2))")
c("bn_batch1_train", "m = nn.BatchNorm1d(3); out = m(A(1,3))")
c("bn_batch1_spatial", "m = nn.BatchNorm2d(3); out = m(A(1,3,1,2))")
c("bn_empty", "m = nn.BatchNorm1d(3); out = m(A(0,3))")
c("bn_2d_wrong_dim", "m = nn.BatchNorm2d(3); out = m(A(3,2,2))")
c("bn_eval", "m = nn.BatchNorm1d(3).eval(); out = m(A(4,3))")
c(
    "bn_momentum_none",
    "m = nn.BatchNorm1d(3, momentum=None); m(A(4,3)); m(A(4,3) * 2); out = (m.running_mean, m.running_var)",
)
c("bn_neg_features", "m = nn.BatchNorm1d(-1)")
c("F_batch_norm_bad", "out = F.batch_norm(A(4,3), L([0.0, 0.0]), L([1.0, 1.0]))")
c("F_batch_norm_none", "out = F.batch_norm(A(4,3), None, None, training=True)")
c("F_batch_norm_none_eval", "out = F.batch_norm(A(4,3), None, None, training=False)")
c("ln_bad", "out = F.layer_norm(A(2,3), (4,))")
c("ln_empty_shape", "out = F.layer_norm(A(2,3), ())")
c("ln_ok", "out = F.layer_norm(A(2,3,4), (3,4))")
c("ln_empty_batch", "out = F.layer_norm(A(0,3), (3,))")
c("ln_int_shape", "out = F.layer_norm(A(2,3), 3)")
c("ln_weight_bad", "out = F.layer_norm(A(2,3), (3,), weight=A(4))")
c("gn_bad", "out = F.group_norm(A(2,6,2), 4)")
c("gn_0", "out = F.group_norm(A(2,6,2), 0)")
c("gn_ok", "out = F.group_norm(A(2,6,2), 3)")
c("gn_mod_bad", "m = nn.GroupNorm(4, 6)")
c("gn_1d", "out = F.group_norm(A(6), 3)")
c("in_ok", "out = F.instance_norm(A(2,3,4))")
c("in_one_spatial", "out = F.instance_norm(A(2,3,1))")
c("in_mod_ok", "out = nn.InstanceNorm2d(3)(A(2,3,2,2))")
c("in_mod_unbatched", "out = nn.InstanceNorm1d(3)(A(3,4))")
c("in_mod_affine_bad", "out = nn.InstanceNorm1d(4, affine=True)(A(2,3,4))")
c("rms_norm_ok", "out = F.rms_norm(A(2,3), (3,))")
c("rms_norm_bad", "out = F.rms_norm(A(2,3), (2,))")
c("RMSNorm_mod", "out = nn.RMSNorm(3)(A(2,3))")
c("RMSNorm_eps_none_zero", "out = nn.RMSNorm(3)(M.zeros(2,3, device=dev))")
c("lrn_ok", "out = F.local_response_norm(A(1,4,2,2), 3)")
c("lrn_0", "out = F.local_response_norm(A(1,4,2,2), 0)")
c("lrn_2d", "out = F.local_response_norm(A(4,2), 3)")
c("lrn_3d", "out = F.local_response_norm(A(1,4,5), 2)")
c("normalize_zero", "out = F.normalize(M.zeros(2,3, device=dev))")
c("normalize_dim_oob", "out = F.normalize(A(2,3), dim=2)")
c("normalize_p0", "out = F.normalize(A(2,3), p=0)")
c("normalize_pinf", "out = F.normalize(A(2,3), p=float('inf'))")
c("cos_sim_bcast", "out = F.cosine_similarity(A(2,3), A(1,3))")
c("cos_sim_bad", "out = F.cosine_similarity(A(2,3), A(2,4))")
c("cos_sim_zero", "out = F.cosine_similarity(M.zeros(2,3, device=dev), A(2,3))")
c("pdist_ok", "out = F.pairwise_distance(A(2,3), A(2,3).flip(0))")
c("pdist_bad", "out = F.pairwise_distance(A(2,3), A(3,3))")
c("cdist_ok", "out = M.cdist(A(2,3), A(4,3) + 1)")
c("cdist_bad", "out = M.cdist(A(2,3), A(4,2))")
c("cdist_p0", "out = M.cdist(A(2,3), A(4,3), p=0)")
c("cdist_pinf", "out = M.cdist(A(2,3), A(4,3), p=float('inf'))")
c("cdist_pneg", "out = M.cdist(A(2,3), A(4,3), p=-1)")
c("cdist_empty", "out = M.cdist(A(0,3), A(4,3))")
c("cdist_1d", "out = M.cdist(A(3), A(3))")
c("pdist_fn", "out = F.pdist(A(4,3))")
c("pdist_fn_1row", "out = F.pdist(A(1,3))")
# activations
for _act in ["glu"]:
    c("glu_odd", "out = F.glu(A(2,3))")
    c("glu_dim_oob", "out = F.glu(A(2,4), dim=2)")
    c("glu_ok", "out = F.glu(A(2,4), dim=1)")
    c("glu_0d", "out = F.glu(L(1.0))")
c("prelu_bad", "out = F.prelu(A(2,3), A(2))")
c("prelu_ok", "out = F.prelu(A(2,3), L([0.25, 0.5, 0.1]))")
c("prelu_1ch", "out = F.prelu(A(2,3), L([0.25]))")
c("prelu_0d_in", "out = F.prelu(L(-1.0), L([0.25]))")
c("prelu_1d_in", "out = F.prelu(A(3), L([0.25]))")
c("prelu_2d_w", "out = F.prelu(A(2,3), A(3,1))")
c("hardtanh_bad", "out = F.hardtanh(A(3), 1.0, -1.0)")
c("threshold_nan", "out = F.threshold(L([float('nan'), 1.0]), 0.5, 9.0)")
c("softplus_beta0", "out = F.softplus(A(3), beta=0)")
c("softplus_thresh", "out = F.softplus(A(3) * 100, beta=2, threshold=5)")
c("elu_neg_alpha", "out = F.elu(A(3), alpha=-1.0)")
c("celu_alpha0", "out = F.celu(A(3), alpha=0.0)")
c("rrelu_eval", "out = F.rrelu(A(3), training=False)")
c("rrelu_bad", "out = F.rrelu(A(3), lower=0.5, upper=0.1, training=True).shape")
c("gumbel_softmax_shape", "out = F.gumbel_softmax(A(2,3), hard=True).sum(-1)")
c("gumbel_tau0", "out = F.gumbel_softmax(A(2,3), tau=0.0).shape")
c("softmin_ok", "out = F.softmin(A(2,3), dim=1)")
c("softmax_nodim_3d", "out = nn.Softmax(dim=None)(A(2,3,4))")
c("logsigmoid_big", "out = F.logsigmoid(L([-1000.0, 1000.0]))")
c("mish_inf", "out = F.mish(L([-float('inf'), float('inf'), float('nan')]))")
c("silu_inf", "out = F.silu(L([-float('inf'), float('inf')]))")
c("gelu_tanh", "out = F.gelu(A(4), approximate='tanh')")
c("gelu_bad", "out = F.gelu(A(4), approximate='foo')")
c("hardswish_inplace", "x = A(4); F.hardswish(x, inplace=True); out = x")
c("relu_inplace_leaf", "x = A(4, rg=True); F.relu(x, inplace=True)")
c("relu_inplace_leaf_view", "x = A(4, rg=True); F.relu(x[1:], inplace=True)")
c("selu_inplace_int", "x = I([1, -1]); F.selu(x, inplace=True); out = x")
c("Softmax2d", "out = nn.Softmax2d()(A(1,3,2,2))")
c("Softmax2d_bad", "out = nn.Softmax2d()(A(3,2))")
c("MultiheadAttn_badheads", "m = nn.MultiheadAttention(6, 4)")
c("Threshold_mod", "out = nn.Threshold(0.1, 20.0)(A(4))")
# losses
c("margin_ranking_bad", "out = F.margin_ranking_loss(A(3), A(3), A(2))")
c("margin_ranking_ok", "out = F.margin_ranking_loss(A(3), A(3).flip(0), L([1.0, -1.0, 1.0]))")
c("triplet_ok", "out = F.triplet_margin_loss(A(2,3), A(2,3) * 0.5, A(2,3).flip(0))")
c("triplet_bad", "out = F.triplet_margin_loss(A(2,3), A(2,4), A(2,3))")
c("triplet_swap", "out = F.triplet_margin_loss(A(2,3), A(2,3) * 0.5, A(2,3).flip(0), swap=True, p=1)")
c("triplet_margin0", "out = F.triplet_margin_loss(A(2,3), A(2,3), A(2,3), margin=-1.0)")
c("hinge_ok", "out = F.hinge_embedding_loss(A(4), L([1.0, -1.0, 1.0, -1.0]))")
c("cos_emb_ok", "out = F.cosine_embedding_loss(A(2,3), A(2,3).flip(0), L([1.0, -1.0]))")
c("cos_emb_bad", "out = F.cosine_embedding_loss(A(2,3), A(2,3), L([1.0, -1.0, 1.0]))")
c("cos_emb_1d", "out = F.cosine_embedding_loss(A(3), A(3).flip(0), L(1.0))")
c("multilabel_soft_ok", "out = F.multilabel_soft_margin_loss(A(2,3), L([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]]))")
c("multi_margin_ok", "out = F.multi_margin_loss(A(2,3), I([0, 2]))")
c("multi_margin_oob", "out = F.multi_margin_loss(A(2,3), I([0, 3]))")
c("multi_margin_neg", "out = F.multi_margin_loss(A(2,3), I([0, -1]))")
c("multi_margin_p3", "out = F.multi_margin_loss(A(2,3), I([0, 1]), p=3)")
c("multi_margin_weight", "out = F.multi_margin_loss(A(2,3), I([0, 2]), weight=L([1.0, 2.0, 3.0]))")
c("multilabel_margin_ok", "out = F.multilabel_margin_loss(A(2,4), I([[3, 0, -1, 1], [0, 1, 2, 3]]))")
c("multilabel_margin_oob", "out = F.multilabel_margin_loss(A(2,4), I([[5, 0, -1, 1], [0, 1, 2, 3]]))")
c("multilabel_margin_bad", "out = F.multilabel_margin_loss(A(2,4), I([[3, 0, -1]]))")
c("poisson_ok", "out = F.poisson_nll_loss(A(4), A(4).abs())")
c("poisson_full", "out = F.poisson_nll_loss(A(4).abs() + 0.1, A(4).abs() * 3, log_input=False, full=True)")
c("gaussian_ok", "out = F.gaussian_nll_loss(A(4), A(4).flip(0), A(4).abs() + 0.1)")
c("gaussian_neg_var", "out = F.gaussian_nll_loss(A(4), A(4), -A(4).abs() - 0.1)")
c("gaussian_var_bcast", "out = F.gaussian_nll_loss(A(2,4), A(2,4), L([[0.5], [1.0]]))")
c("gaussian_var_bad", "out = F.gaussian_nll_loss(A(2,4), A(2,4), A(3))")
c("soft_margin_ok", "out = F.soft_margin_loss(A(4), L([1.0, -1.0, 1.0, -1.0]))")
c("kl_div_log_target", "out = F.kl_div(A(2,3), A(2,3), log_target=True)")
c("nll_2d_weight_ignore", "out = F.nll_loss(A(2,3), I([0, 2]), weight=L([1.0, 2.0, 0.0]), ignore_index=0)")
c("nll_weight_zero_all", "out = F.nll_loss(A(2,3), I([2, 2]), weight=L([1.0, 2.0, 0.0]))")
c("bilinear_ok", "out = F.bilinear(A(2,3), A(2,4), A(5,3,4), A(5))")
c("bilinear_bad", "out = F.bilinear(A(2,3), A(2,4), A(5,3,3))")
c("bilinear_batch_bad", "out = F.bilinear(A(2,3), A(3,4), A(5,3,4))")
c("Bilinear_mod_0", "m = nn.Bilinear(0, 2, 3)")
c("TripletWithDist", "out = F.triplet_margin_with_distance_loss(A(2,3), A(2,3) * 0.5, A(2,3).flip(0))")
c("dropout1d_bad", "out = F.dropout1d(A(2,3,4,5))")
c("dropout2d_p", "out = F.dropout2d(A(1,2,3,3), p=1.0)")
c("dropout3d_eval", "out = F.dropout3d(A(1,2,2,2,2), training=False)")
c("alpha_dropout_p1", "out = F.alpha_dropout(A(4), p=1.0, training=True)")
c("alpha_dropout_bad", "out = F.alpha_dropout(A(4), p=2.0, training=True)")
c("feat_alpha_dropout", "out = F.feature_alpha_dropout(A(2,3,4), p=0.0, training=True)")
# embedding extras
c("emb_max_norm", "w = A(4,3) * 3; out = F.embedding(I([0, 1, 1]), w, max_norm=1.0); out = (out, w)")
c("emb_max_norm_neg", "w = A(4,3) * 3; out = F.embedding(I([0, -1]), w, max_norm=1.0)")
c(
    "emb_max_norm_oob",
    "w = A(4,3) * 3\ntry:\n    F.embedding(I([0, 9]), w, max_norm=1.0)\nexcept Exception:\n    pass\nout = w",
)
c("emb_padding_idx_fn", "out = F.embedding(I([0, 2]), A(4,3), padding_idx=2)")
c("emb_padding_idx_oob_fn", "out = F.embedding(I([0, 2]), A(4,3), padding_idx=7)")
c("embbag_ok_mean", "out = F.embedding_bag(I([0, 2, 1, 3]), A(4,3), I([0, 2]), mode='mean')")
c("embbag_ok_max", "out = F.embedding_bag(I([0, 2, 1, 3]), A(4,3), I([0, 2]), mode='max')")
c("embbag_2d", "out = F.embedding_bag(I([[0, 2], [1, 3]]), A(4,3))")
c("embbag_2d_offsets", "out = F.embedding_bag(I([[0, 2], [1, 3]]), A(4,3), I([0]))")
c(
    "embbag_psw",
    "out = F.embedding_bag(I([0, 2, 1]), A(4,3), I([0, 1]), mode='sum', per_sample_weights=L([1.0, 2.0, 3.0]))",
)
c(
    "embbag_psw_mean",
    "out = F.embedding_bag(I([0, 2, 1]), A(4,3), I([0, 1]), mode='mean', per_sample_weights=L([1.0, 2.0, 3.0]))",
)
c("embbag_last_offset", "out = F.embedding_bag(I([0, 2, 1]), A(4,3), I([0, 1, 3]), include_last_offset=True)")
c("embbag_empty_input", "out = F.embedding_bag(I([]), A(4,3), I([0, 0]))")
c("embbag_padding", "out = F.embedding_bag(I([0, 2, 1]), A(4,3), I([0, 2]), padding_idx=2, mode='mean')")
c("EmbeddingBag_mod", "m = nn.EmbeddingBag(4, 3, mode='max'); out = m(I([[0, 2], [1, 3]])).shape")
c("Embedding_from_pretrained", "out = nn.Embedding.from_pretrained(A(4,3))(I([1, 3]))")
c("Embedding_from_pretrained_1d", "out = nn.Embedding.from_pretrained(A(4))")
# rnn
c("LSTM_bad_input", "m = nn.LSTM(3, 4); out = m(A(5, 2, 2))")
c("LSTM_h0_bad", "m = nn.LSTM(3, 4); out = m(A(5, 2, 3), (A(1, 2, 5), A(1, 2, 4)))")
c("LSTM_unbatched", "m = nn.LSTM(3, 4); out = m(A(5, 3))[0].shape")
c("LSTM_empty_seq", "m = nn.LSTM(3, 4); out = m(A(0, 2, 3))[0].shape")
c("LSTM_zero_layers", "m = nn.LSTM(3, 4, num_layers=0)")
c("GRU_hidden0", "m = nn.GRU(3, 0)")
c("RNN_nonlin_bad", "m = nn.RNN(3, 4, nonlinearity='foo')")
c("RNN_4d", "m = nn.RNN(3, 4); out = m(A(1, 5, 2, 3))")
c("LSTM_proj_bad", "m = nn.LSTM(3, 4, proj_size=4)")
c("LSTMCell_bad", "m = nn.LSTMCell(3, 4); out = m(A(2, 4))")
c("GRUCell_h_bad", "m = nn.GRUCell(3, 4); out = m(A(2, 3), A(3, 4))")
c("RNNCell_1d", "m = nn.RNNCell(3, 4); out = m(A(3)).shape")
c("LSTM_dropout_bad", "m = nn.LSTM(3, 4, dropout=1.5)")
c(
    "pack_unsorted",
    "from torch.nn.utils.rnn import pack_padded_sequence as p\nout = p(A(4, 2, 3), I([2, 4]).cpu()).data.shape"
    if False
    else "p = nn.utils.rnn.pack_padded_sequence; out = p(A(4, 2, 3), M.tensor([2, 4])).data.shape",
)
c("pack_len0", "p = nn.utils.rnn.pack_padded_sequence; out = p(A(4, 2, 3), M.tensor([4, 0])).data.shape")
c("pack_len_big", "p = nn.utils.rnn.pack_padded_sequence; out = p(A(4, 2, 3), M.tensor([5, 1])).data.shape")
c("pack_len_count", "p = nn.utils.rnn.pack_padded_sequence; out = p(A(4, 2, 3), M.tensor([4])).data.shape")
c("pad_sequence_empty", "out = nn.utils.rnn.pad_sequence([])")
c("pad_sequence_mismatch", "out = nn.utils.rnn.pad_sequence([A(2, 3), A(3, 4)])")
c(
    "pad_sequence_ok",
    "out = nn.utils.rnn.pad_sequence([A(2, 3), A(4, 3), A(0, 3)], batch_first=True, padding_value=-1.0)",
)
# transformer / attention
c("sdpa_ok", "out = F.scaled_dot_product_attention(A(2,3,4), A(2,5,4), A(2,5,6))")
c("sdpa_bad_k", "out = F.scaled_dot_product_attention(A(2,3,4), A(2,5,3), A(2,5,6))")
c("sdpa_bad_v", "out = F.scaled_dot_product_attention(A(2,3,4), A(2,5,4), A(2,4,6))")
c("sdpa_causal", "out = F.scaled_dot_product_attention(A(1,3,4), A(1,5,4), A(1,5,2), is_causal=True)")
c(
    "sdpa_mask_bool_allfalse",
    "m = M.zeros(3, 5, dtype=M.bool, device=dev); out = F.scaled_dot_product_attention(A(1,3,4), A(1,5,4), A(1,5,2), attn_mask=m)",
)
c("sdpa_mask_bad", "out = F.scaled_dot_product_attention(A(1,3,4), A(1,5,4), A(1,5,2), attn_mask=A(4, 5))")
c(
    "sdpa_mask_and_causal",
    "out = F.scaled_dot_product_attention(A(1,3,4), A(1,5,4), A(1,5,2), attn_mask=A(3, 5), is_causal=True)",
)
c("sdpa_empty_L", "out = F.scaled_dot_product_attention(A(1,0,4), A(1,5,4), A(1,5,2))")
c("sdpa_empty_S", "out = F.scaled_dot_product_attention(A(1,3,4), A(1,0,4), A(1,0,2))")
c("sdpa_1d", "out = F.scaled_dot_product_attention(A(4), A(4), A(4))")
c("sdpa_scale", "out = F.scaled_dot_product_attention(A(1,3,4), A(1,5,4), A(1,5,2), scale=0.0)")
c("sdpa_gqa", "out = F.scaled_dot_product_attention(A(1,4,3,2), A(1,2,5,2), A(1,2,5,2), enable_gqa=True)")
c("sdpa_gqa_bad", "out = F.scaled_dot_product_attention(A(1,3,3,2), A(1,2,5,2), A(1,2,5,2), enable_gqa=True)")
c("sdpa_dropout", "out = F.scaled_dot_product_attention(A(1,3,4), A(1,5,4), A(1,5,2), dropout_p=1.5).shape")
c("mha_bad_embed", "m = nn.MultiheadAttention(4, 2); out = m(A(3,1,5), A(3,1,5), A(3,1,5))")
c(
    "mha_kpm_bad",
    "m = nn.MultiheadAttention(4, 2); out = m(A(3,1,4), A(3,1,4), A(3,1,4), key_padding_mask=M.zeros(1, 2, dtype=M.bool, device=dev))",
)
c("mha_mask_bad", "m = nn.MultiheadAttention(4, 2); out = m(A(3,1,4), A(5,1,4), A(5,1,4), attn_mask=A(3, 3))")
c("mha_kv_len_bad", "m = nn.MultiheadAttention(4, 2); out = m(A(3,1,4), A(5,1,4), A(4,1,4))")
c(
    "mha_all_masked",
    "m = nn.MultiheadAttention(4, 2).to(dev); kpm = M.ones(1, 3, dtype=M.bool, device=dev); out = m(A(3,1,4), A(3,1,4), A(3,1,4), key_padding_mask=kpm)[0].shape",
)
c("mha_unbatched", "m = nn.MultiheadAttention(4, 2).to(dev); out = m(A(3,4), A(3,4), A(3,4))[0].shape")
c("mha_zero_heads", "m = nn.MultiheadAttention(4, 0)")
c(
    "mha_kdim",
    "m = nn.MultiheadAttention(4, 2, kdim=3, vdim=5).to(dev); out = m(A(3,1,4), A(2,1,3), A(2,1,5))[0].shape",
)
c(
    "mha_kdim_bad",
    "m = nn.MultiheadAttention(4, 2, kdim=3, vdim=5).to(dev); out = m(A(3,1,4), A(2,1,4), A(2,1,5))",
)
c("tel_bad_d", "l = nn.TransformerEncoderLayer(6, 4)")
c(
    "tel_ok",
    "l = nn.TransformerEncoderLayer(4, 2, dim_feedforward=8, dropout=0.0).to(dev); out = l(A(3,2,4)).shape",
)
c(
    "tel_bad_in",
    "l = nn.TransformerEncoderLayer(4, 2, dim_feedforward=8, dropout=0.0).to(dev); out = l(A(3,2,5))",
)
c(
    "tel_src_mask_bad",
    "l = nn.TransformerEncoderLayer(4, 2, dim_feedforward=8, dropout=0.0).to(dev); out = l(A(3,2,4), src_mask=A(2,2))",
)
c("tel_act_bad", "l = nn.TransformerEncoderLayer(4, 2, activation='foo')")
c(
    "transformer_ok",
    "t = nn.Transformer(4, 2, 1, 1, 8, dropout=0.0).to(dev); out = t(A(3,2,4), A(2,2,4)).shape",
)
c(
    "transformer_batch_bad",
    "t = nn.Transformer(4, 2, 1, 1, 8, dropout=0.0).to(dev); out = t(A(3,2,4), A(2,3,4))",
)
c("causal_mask_0", "out = nn.Transformer.generate_square_subsequent_mask(0)")
c("causal_mask_neg", "out = nn.Transformer.generate_square_subsequent_mask(-1)")
# linear family
c("linear_bad", "out = F.linear(A(2,3), A(4,2))")
c("linear_bias_bad", "out = F.linear(A(2,3), A(4,3), A(3))")
c("linear_0d", "out = F.linear(L(1.0), A(4,1))")
c("linear_1d", "out = F.linear(A(3), A(4,3))")
c("linear_empty", "out = F.linear(A(0,3), A(4,3))")
c("linear_in0", "out = F.linear(A(2,0), A(4,0), A(4))")
c("Linear_neg", "m = nn.Linear(-1, 3)")
c("Linear_float", "m = nn.Linear(2.5, 3)")
c("Identity", "out = nn.Identity(3, foo=1)(A(2))")
c("Flatten_mod", "out = nn.Flatten(0, -1)(A(2,3))")
c("Unflatten_bad", "out = nn.Unflatten(1, (2, 2))(A(2,3))")
c("Unflatten_neg", "out = nn.Unflatten(1, (-1, 3))(A(2,6))")
c("unflatten_two_neg", "out = A(2,6).unflatten(1, (-1, -1))")
c("unflatten_oob", "out = A(2,6).unflatten(2, (2, 3))")
c("unflatten_empty", "out = A(2,0).unflatten(1, (0, 5))")
c("Sequential_empty", "out = nn.Sequential()(A(2))")
c("Sequential_idx_oob", "s = nn.Sequential(nn.ReLU()); out = s[3]")
c("ModuleList_idx_oob", "s = nn.ModuleList([nn.ReLU()]); out = s[-2]")
c("ModuleDict_missing", "d = nn.ModuleDict({'a': nn.ReLU()}); out = d['b']")
c("ParameterList_bad", "p = nn.ParameterList([A(2)]); out = len(p)")
c("load_state_dict_bad_shape", "m = nn.Linear(2, 3); m.load_state_dict({'weight': A(3, 3), 'bias': A(3)})")
c("load_state_dict_missing", "m = nn.Linear(2, 3); m.load_state_dict({'weight': A(3, 2)})")
c(
    "load_state_dict_nonstrict",
    "m = nn.Linear(2, 3); r = m.load_state_dict({'weight': A(3, 2), 'x': A(1)}, strict=False); out = (sorted(r.missing_keys), sorted(r.unexpected_keys))",
)
c("register_buffer_bad_name", "m = nn.Module(); m.register_buffer('a.b', A(2))")
c("register_param_bad", "m = nn.Module(); m.register_parameter('w', A(2))")
c(
    "clip_grad_norm_nan",
    "p = nn.Parameter(A(3)); p.grad = L([float('nan'), 1.0, 1.0]); out = nn.utils.clip_grad_norm_([p], 1.0)",
)
c(
    "clip_grad_norm_nan_err",
    "p = nn.Parameter(A(3)); p.grad = L([float('nan'), 1.0, 1.0]); out = nn.utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)",
)
c("clip_grad_norm_empty", "out = nn.utils.clip_grad_norm_([], 1.0)")
c("clip_grad_norm_nograd", "p = nn.Parameter(A(3)); out = nn.utils.clip_grad_norm_([p], 1.0)")
c(
    "clip_grad_norm_inf",
    "p = nn.Parameter(A(3)); p.grad = L([3.0, -4.0, 1.0]); out = (nn.utils.clip_grad_norm_([p], 1.0, norm_type=float('inf')), p.grad)",
)
c(
    "clip_grad_norm_zero_max",
    "p = nn.Parameter(A(3)); p.grad = L([3.0, -4.0, 1.0]); out = (nn.utils.clip_grad_norm_([p], 0.0), p.grad)",
)
c(
    "clip_grad_value_neg",
    "p = nn.Parameter(A(3)); p.grad = L([3.0, -4.0, 1.0]); nn.utils.clip_grad_value_([p], -1.0); out = p.grad",
)
c("p2v_empty", "out = nn.utils.parameters_to_vector([])")
c("v2p_bad", "p = nn.Parameter(A(3)); nn.utils.vector_to_parameters(A(4), [p]); out = p")
c("v2p_short", "p = nn.Parameter(A(3)); nn.utils.vector_to_parameters(A(2), [p]); out = p")
c("weight_norm_bad_name", "m = nn.utils.weight_norm(nn.Linear(2, 3), name='foo')")
CASES = C
