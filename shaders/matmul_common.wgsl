// matmul_common.wgsl — the declarations the matmul kernels share (matmul.wgsl, the 64x64 tile,
// and matmul_wide.wgsl, the 128x128 tile): parameters, bindings, overrides and the addressing of
// implicit convolution operands. Placed before each of those files when it is compiled.
//
// Bindings: A and B are bound twice (scalar and vec4), then C, then the bias BV (a placeholder
// without one). Overrides: A_VEC / B_VEC, row-major operands with 16-byte aligned rows read as
// vec4; A_T / B_T, column-major operands read as vec4 down their columns; BIAS, BV[col] added to
// every row of C; C_T, each batch's C stored transposed; A_CONV / B_IM2COL, operands read in
// place from a convolution's tensor (see matmul.wgsl).

// `P: MatmulParams`, generated from src/backend/wgpu/matmul.rs: sizes m, n, k; nb batch dims
// (bshape, a_bstr, b_bstr after merging); operand offsets and row/column strides; batch_base,
// the first batch of this dispatch; splits, the runs of k-slices (1: K whole).
@group(0) @binding(0) var<uniform> P: MatmulParams;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read_write> C: array<f32>;
@group(0) @binding(4) var<storage, read> A4: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> B4: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read> BV: array<f32>;

override A_VEC: bool = false;
override B_VEC: bool = false;
override A_T: bool = false;
override B_T: bool = false;
override BIAS: bool = false;
// C_T: each batch's C is stored transposed (column-major, C[col * m + row]): a convolution
// writes its (positions x channels) product straight into NCHW
override C_T: bool = false;
override A_CONV: u32 = 0u;
override B_IM2COL: bool = false;
// A_GROUP: A's columns run in groups of P.a_group.x (positions of one image) P.a_group.y apart,
// P.acs apart within a group: a convolution's output gradient (N, O, oh, ow) read as the
// (O, N·oh·ow) left operand of its weight gradient without a copy (scalar loads)
override A_GROUP: bool = false;

// Offset of column `col` of A from its row's start.
fn a_col_offset(col: u32) -> u32 {
    if (A_GROUP) {
        return (col / P.a_group.x) * P.a_group.y + (col % P.a_group.x) * P.acs;
    }
    return col * P.acs;
}

// The row part of an implicit A entry (A_CONV) and the column part of an implicit B entry.
fn a_row_part(row: u32) -> ConvPart {
    return conv_row_part(A_CONV, P.conv_shape, P.conv_taps, P.conv_steps, P.conv_pads,
                         P.conv_strides, row);
}

fn b_col_part(col: u32) -> ConvPart {
    return conv_col_part(1u, P.conv_taps, P.conv_steps, P.conv_strides, col);
}

// Offset of an implicit entry of kind `kind` from its tensor view's start, or NO_TAP.
fn conv_offset(kind: u32, r: ConvPart, c: ConvPart) -> u32 {
    return conv_entry(kind, P.conv_shape, P.conv_taps, P.conv_steps, P.conv_strides, r, c);
}
