// prelude.wgsl — code shared by every shader, placed after the declarations generated from
// Rust (WG, Dims, the UN_* / BIN_* / RED_* op codes and DT_* dtype codes, see
// src/backend/wgpu/codes.rs; the *Params structs, see the param_block! structs of
// src/backend/wgpu) and before the shader's own file.
//
// Dtype codes: every tensor element is one 32-bit word: DT_F32 = f32 bits, DT_I64 = int64
// held as i32, DT_BOOL = 0/1.

// Entry d of a per-dim array.
fn dim(a: Dims, d: u32) -> u32 {
    return a[d >> 2u][d & 3u];
}

// Coordinates of flat (row-major) element f of `shape` (ndim dims; the others are 0).
fn unravel(shape: Dims, ndim: u32, f: u32) -> Dims {
    var c: Dims;
    var rem = f;
    for (var k = 0u; k < ndim; k++) {
        let d = ndim - 1u - k;
        let s = dim(shape, d);
        c[d >> 2u][d & 3u] = rem % s;
        rem = rem / s;
    }
    return c;
}

// Sum of coordinates c times strides: the offset of c from a view's start.
fn dot_dims(c: Dims, strides: Dims) -> u32 {
    var o = 0u;
    for (var v = 0u; v < DIM_VEC4S; v++) {
        o += dot(c[v], strides[v]);
    }
    return o;
}

// Storage offset of flat (row-major) element f of the view (shape, strides, offset).
fn view_offset(shape: Dims, strides: Dims, ndim: u32, offset: u32, f: u32) -> u32 {
    return offset + dot_dims(unravel(shape, ndim, f), strides);
}

// The builtins of a 1-D kernel's invocation (every entry point but matmul takes one).
struct Grid {
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
}

// Linear index of the workgroup in a grid folded into y (see `grid` in launch.rs).
fn group_id(g: Grid) -> u32 {
    return g.wid.y * g.nwg.x + g.wid.x;
}

// Linear index of the invocation in a 1-D kernel of WG invocations per workgroup.
fn flat_id(g: Grid) -> u32 {
    return group_id(g) * WG + g.lid;
}

// NaN test on the bits: WGSL lets compilers assume no NaNs in float comparisons.
fn is_nan(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
}

fn nan() -> f32 {
    return bitcast<f32>(0x7fc00000u);
}

fn inf() -> f32 {
    return bitcast<f32>(0x7f800000u);
}

fn neg_inf() -> f32 {
    return bitcast<f32>(0xff800000u);
}

fn b2u(b: bool) -> u32 {
    return select(0u, 1u, b);
}

// The CPU backend's max_: keeps `a` when it is NaN or not smaller (never WGSL `max`, which
// may drop a NaN on some drivers).
fn fmax(a: f32, b: f32) -> f32 {
    return select(b, a, is_nan(a) || a >= b);
}

// The CPU backend's min_: keeps `a` when it is NaN or not greater.
fn fmin(a: f32, b: f32) -> f32 {
    return select(b, a, is_nan(a) || a <= b);
}

// A convolution's column matrix read in place (implicit im2col): where entry (row, col) lies
// in the image, as an offset from the image view's start, or NO_TAP where the tap falls in the
// zero padding. row = image * positions + output position (oy * ow + ox); col = channel * kh * kw
// + ky * kw + kx. shape = (c, h, w, ow); taps = (kh, kw, positions, _); steps = (sh, sw, dh, dw);
// pads = (ph, pw, _, _); strides = the image's (n, c, h, w) strides.
const NO_TAP: u32 = 0xffffffffu;

fn im2col_at(shape: vec4<u32>, taps: vec4<u32>, steps: vec4<u32>, pads: vec4<u32>,
             strides: vec4<u32>, row: u32, col: u32) -> u32 {
    let img = row / taps.z;
    let pos = row % taps.z;
    let oy = pos / shape.w;
    let ox = pos % shape.w;
    let per_channel = taps.x * taps.y;
    let ch = col / per_channel;
    let r = col % per_channel;
    let iy = i32(oy * steps.x + (r / taps.y) * steps.z) - i32(pads.x);
    let ix = i32(ox * steps.y + (r % taps.y) * steps.w) - i32(pads.y);
    if (iy < 0 || ix < 0 || iy >= i32(shape.y) || ix >= i32(shape.z)) {
        return NO_TAP;
    }
    return img * strides.x + ch * strides.y + u32(iy) * strides.z + u32(ix) * strides.w;
}

// A convolution's input gradient as a product (implicit GEMM, no column matrix): where entry
// (row, col) of its left operand lies in the output gradient, as an offset from the image's
// start, or NO_TAP. row = input position (iy * w + ix); col = out channel * kh * kw + ky * kw +
// kx; the entry is the output gradient at the output position whose tap (ky, kx) reads (iy, ix)
// (none where the stride skips it or it falls outside the output). shape = (_, h, w, ow);
// taps = (kh, kw, oh, _); steps = (sh, sw, dh, dw); pads = (ph, pw, _, _); strides = the output
// gradient's (n, o, oh, ow) strides.
fn dgrad_at(shape: vec4<u32>, taps: vec4<u32>, steps: vec4<u32>, pads: vec4<u32>,
            strides: vec4<u32>, row: u32, col: u32) -> u32 {
    let iy = row / shape.z;
    let ix = row % shape.z;
    let per_channel = taps.x * taps.y;
    let oc = col / per_channel;
    let r = col % per_channel;
    let ty = i32(iy + pads.x) - i32((r / taps.y) * steps.z);
    let tx = i32(ix + pads.y) - i32((r % taps.y) * steps.w);
    if (ty < 0 || tx < 0) {
        return NO_TAP;
    }
    let uy = u32(ty);
    let ux = u32(tx);
    if (uy % steps.x != 0u || ux % steps.y != 0u) {
        return NO_TAP;
    }
    let oy = uy / steps.x;
    let ox = ux / steps.y;
    if (oy >= taps.z || ox >= shape.w) {
        return NO_TAP;
    }
    return oc * strides.y + oy * strides.z + ox * strides.w;
}

// conv_kind 1: im2col_at; 2: dgrad_at (the matmul kernels' A_CONV).
fn conv_at(conv_kind: u32, shape: vec4<u32>, taps: vec4<u32>, steps: vec4<u32>, pads: vec4<u32>,
           strides: vec4<u32>, row: u32, col: u32) -> u32 {
    if (conv_kind == 2u) {
        return dgrad_at(shape, taps, steps, pads, strides, row, col);
    }
    return im2col_at(shape, taps, steps, pads, strides, row, col);
}
