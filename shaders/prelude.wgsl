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

// Convolution operands read in place by the matmul kernels (implicit GEMM, no column matrix).
// Kind 1, a column matrix (im2col): entry (row, col) is the input image at output position
// row = image * positions + oy * ow + ox and tap col = channel * kh * kw + ky * kw + kx. Kind 2,
// an input gradient's left operand: entry (row, col) is the output gradient at the output
// position whose tap col = out channel * kh * kw + ky * kw + kx reads input position
// row = iy * w + ix (none where the stride skips it or it falls outside the output).
// Geometry: shape = (c, h, w, ow); taps = (kh, kw, kind 1: positions per image, kind 2: oh, _);
// steps = (sh, sw, dh, dw); pads = (ph, pw, _, _); strides = the (n, c, h, w) strides of the
// tensor read (the image, or the output gradient).
// An address splits into a row part and a column part, so an invocation whose rows (or columns)
// stay the same along K works out that part once.
const NO_TAP: u32 = 0xffffffffu;

// One part of an implicit entry's address: an offset and the part's share of its (y, x).
struct ConvPart {
    off: u32,
    y: i32,
    x: i32,
}

fn conv_row_part(kind: u32, shape: vec4<u32>, taps: vec4<u32>, steps: vec4<u32>,
                 pads: vec4<u32>, strides: vec4<u32>, row: u32) -> ConvPart {
    if (kind == 2u) {
        return ConvPart(0u, i32(row / shape.z + pads.x), i32(row % shape.z + pads.y));
    }
    let pos = row % taps.z;
    return ConvPart((row / taps.z) * strides.x, i32((pos / shape.w) * steps.x) - i32(pads.x),
                    i32((pos % shape.w) * steps.y) - i32(pads.y));
}

fn conv_col_part(kind: u32, taps: vec4<u32>, steps: vec4<u32>, strides: vec4<u32>,
                 col: u32) -> ConvPart {
    let per_channel = taps.x * taps.y;
    let r = col % per_channel;
    let dy = i32((r / taps.y) * steps.z);
    let dx = i32((r % taps.y) * steps.w);
    if (kind == 2u) {
        return ConvPart((col / per_channel) * strides.y, -dy, -dx);
    }
    return ConvPart((col / per_channel) * strides.y, dy, dx);
}

// The entry's offset from the tensor view's start, or NO_TAP (a zero).
fn conv_entry(kind: u32, shape: vec4<u32>, taps: vec4<u32>, steps: vec4<u32>,
              strides: vec4<u32>, r: ConvPart, c: ConvPart) -> u32 {
    let y = r.y + c.y;
    let x = r.x + c.x;
    if (y < 0 || x < 0) {
        return NO_TAP;
    }
    var uy = u32(y);
    var ux = u32(x);
    if (kind == 2u) {
        if (steps.x != 1u) {
            if (uy % steps.x != 0u) {
                return NO_TAP;
            }
            uy = uy / steps.x;
        }
        if (steps.y != 1u) {
            if (ux % steps.y != 0u) {
                return NO_TAP;
            }
            ux = ux / steps.y;
        }
        if (uy >= taps.z || ux >= shape.w) {
            return NO_TAP;
        }
    } else if (uy >= shape.y || ux >= shape.z) {
        return NO_TAP;
    }
    return r.off + c.off + uy * strides.z + ux * strides.w;
}
