// matmul_wide.wgsl — the wide tile of the matmul family: C[b] = A[b] @ B[b] for f32.
//
// A workgroup of 16x16 invocations computes a 128x128 tile of C; each invocation keeps 8x8
// accumulators in registers, as four 4x4 blocks 64 rows and 64 columns apart, so the
// workgroup-memory reads of neighbouring invocations are neighbouring vec4s. K is walked in
// slices of 8 through double-buffered workgroup memory: the next slice's global loads are
// issued before the current slice's products and stored into the other buffer after them,
// with one barrier per slice.
//
// It takes the parameters, bindings and overrides of `matmul` (matmul.wgsl) and gives the same
// result (each output sums its K terms in the same order); only K whole (splits = 1): the host
// sends split-K products to `matmul`. This module is compiled without the runtime bounds checks
// of the other shaders: every global access below is guarded by the product's sizes, which the
// host has checked against the bound buffers (the operands' spans, the output's allocation),
// and every workgroup index is below 512 by construction.

// Parameters, bindings and overrides: matmul_common.wgsl.

const WT: u32 = 128u;
const WK: u32 = 8u;
// vec4s of one buffer of a tile: WK slices of WT / 4
const HALF: u32 = 256u;

// k-major tiles, two buffers each: Aw[buf * HALF + kk * 32 + row / 4][row % 4]
var<workgroup> Aw: array<vec4<f32>, 512>;
// Bw[buf * HALF + kk * 32 + col / 4][col % 4]
var<workgroup> Bw: array<vec4<f32>, 512>;

// This invocation's four values of slice `k0` of the A tile at `row0`.
// `rows`: the row parts of this invocation's four rows' implicit addresses (A_CONV).
fn load_a(a_base: u32, row0: u32, k0: u32, lid: u32, rows: array<ConvPart, 4>) -> vec4<f32> {
    var v = vec4<f32>(0.0);
    if (A_T || A_CONV != 0u) {
        // rows row0 + rt .. +4 of column k0 + kt: one vec4 of a column-major A (m % 4 == 0),
        // or four entries of an implicit convolution operand (A_CONV, see matmul.wgsl) at
        // neighbouring positions
        let kt = k0 + lid / 32u;
        let rt = row0 + (lid % 32u) * 4u;
        if (A_CONV != 0u) {
            if (kt < P.k) {
                let cp = conv_col_part(A_CONV, P.conv_taps, P.conv_steps, P.conv_strides, kt);
                for (var q = 0u; q < 4u; q++) {
                    if (rt + q < P.m) {
                        let o = conv_entry(A_CONV, P.conv_shape, P.conv_taps, P.conv_steps,
                                           P.conv_strides, rows[q], cp);
                        if (o != NO_TAP) {
                            v[q] = A[a_base + o];
                        }
                    }
                }
            }
        } else if (rt < P.m && kt < P.k) {
            v = A4[(a_base + kt * P.acs + rt) / 4u];
        }
        return v;
    }
    // row-major (or strided) A: row row0 + lid / 2, columns kq .. +4
    let r = row0 + lid / 2u;
    let kq = k0 + (lid % 2u) * 4u;
    if (r < P.m) {
        if (A_VEC) {
            if (kq < P.k) {
                v = A4[(a_base + r * P.ars + kq) / 4u];
            }
        } else {
            for (var q = 0u; q < 4u; q++) {
                if (kq + q < P.k) {
                    v[q] = A[a_base + r * P.ars + a_col_offset(kq + q)];
                }
            }
        }
    }
    return v;
}

// Stores what `load_a` returned into buffer `buf` of the A tile.
fn store_a(buf: u32, lid: u32, v: vec4<f32>) {
    if (A_T || A_CONV != 0u) {
        Aw[buf * HALF + lid] = v;
        return;
    }
    let r = lid / 2u;
    let kq = (lid % 2u) * 4u;
    for (var q = 0u; q < 4u; q++) {
        Aw[buf * HALF + (kq + q) * 32u + r / 4u][r % 4u] = v[q];
    }
}

// This invocation's four values of slice `k0` of the B tile at `col0`.
// `cols`: the column parts of this invocation's four columns' implicit addresses (B_IM2COL).
fn load_b(b_base: u32, col0: u32, k0: u32, lid: u32, cols: array<ConvPart, 4>) -> vec4<f32> {
    var v = vec4<f32>(0.0);
    if (B_T) {
        // column-major B: rows kq .. +4 of column col0 + lid / 2 as one vec4 (k % 4 == 0)
        let c = col0 + lid / 2u;
        let kq = k0 + (lid % 2u) * 4u;
        if (c < P.n && kq < P.k) {
            v = B4[(b_base + c * P.bcs + kq) / 4u];
        }
        return v;
    }
    // row-major (or strided) B: row k0 + lid / 32, columns c .. +4
    let bk = k0 + lid / 32u;
    let c = col0 + (lid % 32u) * 4u;
    if (bk < P.k) {
        if (B_IM2COL) {
            let rp = conv_row_part(1u, P.conv_shape, P.conv_taps, P.conv_steps, P.conv_pads,
                                   P.conv_strides, bk);
            for (var q = 0u; q < 4u; q++) {
                if (c + q < P.n) {
                    let o = conv_entry(1u, P.conv_shape, P.conv_taps, P.conv_steps,
                                       P.conv_strides, rp, cols[q]);
                    if (o != NO_TAP) {
                        v[q] = B[b_base + o];
                    }
                }
            }
        } else if (B_VEC) {
            if (c < P.n) {
                v = B4[(b_base + bk * P.brs + c) / 4u];
            }
        } else {
            for (var q = 0u; q < 4u; q++) {
                if (c + q < P.n) {
                    v[q] = B[b_base + bk * P.brs + (c + q) * P.bcs];
                }
            }
        }
    }
    return v;
}

// Stores what `load_b` returned into buffer `buf` of the B tile.
fn store_b(buf: u32, lid: u32, v: vec4<f32>) {
    if (!B_T) {
        Bw[buf * HALF + lid] = v;
        return;
    }
    let c = lid / 2u;
    let kq = (lid % 2u) * 4u;
    for (var q = 0u; q < 4u; q++) {
        Bw[buf * HALF + (kq + q) * 32u + c / 4u][c % 4u] = v[q];
    }
}

// Writes row `r`, columns c0 .. +4 of this batch's C (with the bias, transposed for C_T).
fn put(c_base: u32, r: u32, c0: u32, v: vec4<f32>) {
    if (r >= P.m) {
        return;
    }
    for (var j = 0u; j < 4u; j++) {
        let c = c0 + j;
        if (c < P.n) {
            var o = v[j];
            if (BIAS) {
                o += BV[c];
            }
            if (C_T) {
                C[c_base + c * P.m + r] = o;
            } else {
                C[c_base + r * P.n + c] = o;
            }
        }
    }
}

@compute @workgroup_size(16, 16)
fn matmul_wide(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let batch = P.batch_base + wid.z;
    let bc = unravel(P.bshape, P.nb, batch);
    let a_base = P.a_off + dot_dims(bc, P.a_bstr);
    let b_base = P.b_off + dot_dims(bc, P.b_bstr);
    let c_base = batch * P.m * P.n;

    let row0 = wid.y * WT;
    let col0 = wid.x * WT;
    let tx = lid % 16u;
    let ty = lid / 16u;

    // rows 4ty .. +4 (a0) and 64 + 4ty .. +4 (a1) of the tile, by columns 4tx .. +4 (b0) and
    // 64 + 4tx .. +4 (b1): p = a0 x b0, q = a0 x b1, r = a1 x b0, s = a1 x b1, one vec4 a row
    var p0 = vec4<f32>(0.0);
    var p1 = vec4<f32>(0.0);
    var p2 = vec4<f32>(0.0);
    var p3 = vec4<f32>(0.0);
    var q0 = vec4<f32>(0.0);
    var q1 = vec4<f32>(0.0);
    var q2 = vec4<f32>(0.0);
    var q3 = vec4<f32>(0.0);
    var r0 = vec4<f32>(0.0);
    var r1 = vec4<f32>(0.0);
    var r2 = vec4<f32>(0.0);
    var r3 = vec4<f32>(0.0);
    var s0 = vec4<f32>(0.0);
    var s1 = vec4<f32>(0.0);
    var s2 = vec4<f32>(0.0);
    var s3 = vec4<f32>(0.0);

    // the parts of implicit addresses fixed for this invocation: the four A rows it stages
    // (A_CONV) and the four B columns (B_IM2COL)
    var a_rows: array<ConvPart, 4>;
    var b_cols: array<ConvPart, 4>;
    if (A_CONV != 0u) {
        for (var q = 0u; q < 4u; q++) {
            a_rows[q] = conv_row_part(A_CONV, P.conv_shape, P.conv_taps, P.conv_steps, P.conv_pads,
                                      P.conv_strides, row0 + (lid % 32u) * 4u + q);
        }
    }
    if (B_IM2COL) {
        for (var q = 0u; q < 4u; q++) {
            b_cols[q] = conv_col_part(1u, P.conv_taps, P.conv_steps, P.conv_strides,
                                      col0 + (lid % 32u) * 4u + q);
        }
    }

    let tiles = (P.k + WK - 1u) / WK;
    var la = load_a(a_base, row0, 0u, lid, a_rows);
    var lb = load_b(b_base, col0, 0u, lid, b_cols);
    store_a(0u, lid, la);
    store_b(0u, lid, lb);
    workgroupBarrier();
    var cur = 0u;
    for (var t = 0u; t < tiles; t++) {
        let more = t + 1u < tiles;
        if (more) {
            la = load_a(a_base, row0, (t + 1u) * WK, lid, a_rows);
            lb = load_b(b_base, col0, (t + 1u) * WK, lid, b_cols);
        }
        let base = cur * HALF;
        for (var kk = 0u; kk < WK; kk++) {
            let at = base + kk * 32u;
            let a0 = Aw[at + ty];
            let a1 = Aw[at + 16u + ty];
            let b0 = Bw[at + tx];
            let b1 = Bw[at + 16u + tx];
            p0 += a0.x * b0;
            p1 += a0.y * b0;
            p2 += a0.z * b0;
            p3 += a0.w * b0;
            q0 += a0.x * b1;
            q1 += a0.y * b1;
            q2 += a0.z * b1;
            q3 += a0.w * b1;
            r0 += a1.x * b0;
            r1 += a1.y * b0;
            r2 += a1.z * b0;
            r3 += a1.w * b0;
            s0 += a1.x * b1;
            s1 += a1.y * b1;
            s2 += a1.z * b1;
            s3 += a1.w * b1;
        }
        if (more) {
            store_a(1u - cur, lid, la);
            store_b(1u - cur, lid, lb);
        }
        workgroupBarrier();
        cur = 1u - cur;
    }

    let ra = row0 + ty * 4u;
    let rb = ra + 64u;
    let ca = col0 + tx * 4u;
    let cb = ca + 64u;
    put(c_base, ra, ca, p0);
    put(c_base, ra + 1u, ca, p1);
    put(c_base, ra + 2u, ca, p2);
    put(c_base, ra + 3u, ca, p3);
    put(c_base, ra, cb, q0);
    put(c_base, ra + 1u, cb, q1);
    put(c_base, ra + 2u, cb, q2);
    put(c_base, ra + 3u, cb, q3);
    put(c_base, rb, ca, r0);
    put(c_base, rb + 1u, ca, r1);
    put(c_base, rb + 2u, ca, r2);
    put(c_base, rb + 3u, ca, r3);
    put(c_base, rb, cb, s0);
    put(c_base, rb + 1u, cb, s1);
    put(c_base, rb + 2u, cb, s2);
    put(c_base, rb + 3u, cb, s3);
}
