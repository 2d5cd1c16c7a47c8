// matmul.wgsl — batched C[b] = A[b] @ B[b] for f32, register-blocked and tiled.
// (Parameters, bindings and overrides: matmul_common.wgsl, placed before this file.)
//
// A workgroup of 16x16 invocations computes a 64x64 tile of C; each invocation keeps a 4x4
// block of accumulators in registers. K is walked in slices of 16 staged through workgroup
// memory. Operands are read through their strides (transposed views need no copy); when an
// operand is row-major with 16-byte aligned rows the host sets A_VEC / B_VEC and the tile loads
// become vec4 loads of the same buffer bound a second time as array<vec4<f32>>.
// A column-major operand (unit row stride, as the transposed weight of a linear layer) with
// 16-byte aligned columns takes A_T / B_T instead: vec4 loads along its columns, no copy.
// BIAS adds BV[col] to every row of C (a linear layer's bias; never with split-K).
// Edges are zero-filled, so every size is correct (67x129 @ 129x33, ...). C is contiguous.
// A_CONV = 1 / B_IM2COL: that operand is a convolution's column matrix read in place from its
// image (kind 1 of the prelude's conv_entry, P.conv_* the geometry), never materialised;
// A_CONV = 2: A is the left operand of a convolution's input gradient read in place from the
// output gradient (kind 2). An invocation's A rows and B columns stay the same along K, so
// their part of each address is worked out once, before the k-slices.
// Split-K (P.splits > 1): the z workgroup index also picks one of `splits` runs of k-slices,
// and C holds each batch's `splits` partial products one after another (the host sums them).

const TILE: u32 = 64u;
const TK: u32 = 16u;

// A tile, k-major: As[kk * 16 + row / 4][row % 4]
var<workgroup> As: array<vec4<f32>, 256>;
// B tile, k-major: Bs[kk * 16 + col / 4][col % 4]
var<workgroup> Bs: array<vec4<f32>, 256>;

@compute @workgroup_size(16, 16)
fn matmul(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let m = P.m;
    let n = P.n;
    let k = P.k;
    let ars = P.ars;
    let acs = P.acs;
    let brs = P.brs;
    let bcs = P.bcs;

    // batch offsets from the (possibly broadcast) batch dims, and this workgroup's run of
    // k-slices
    let splits = max(P.splits, 1u);
    let batch = P.batch_base + wid.z / splits;
    let run = wid.z % splits;
    let bc = unravel(P.bshape, P.nb, batch);
    let a_base = P.a_off + dot_dims(bc, P.a_bstr);
    let b_base = P.b_off + dot_dims(bc, P.b_bstr);
    let c_base = (batch * splits + run) * m * n;

    let row0 = wid.y * TILE;
    let col0 = wid.x * TILE;
    let tx = lid % 16u;
    let ty = lid / 16u;

    // which elements this invocation stages
    let a_row = lid / 4u;
    let a_k = (lid % 4u) * 4u;
    let b_k = lid / 16u;
    let b_col = (lid % 16u) * 4u;

    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);

    // the parts of implicit addresses fixed for this invocation: its four A rows (A_CONV, staged
    // as in the A_T layout) and its four B columns (B_IM2COL)
    var a_rows: array<ConvPart, 4>;
    var b_cols: array<ConvPart, 4>;
    if (A_CONV != 0u) {
        for (var q = 0u; q < 4u; q++) {
            a_rows[q] = a_row_part(row0 + (lid % 16u) * 4u + q);
        }
    }
    if (B_IM2COL) {
        for (var q = 0u; q < 4u; q++) {
            b_cols[q] = b_col_part(col0 + b_col + q);
        }
    }

    let tiles = (k + TK - 1u) / TK;
    let per_run = (tiles + splits - 1u) / splits;
    let t_end = min(tiles, (run + 1u) * per_run);
    for (var t = run * per_run; t < t_end; t++) {
        let k0 = t * TK;

        // stage A[row0 + a_row, k0 + a_k .. +4]
        var av = vec4<f32>(0.0);
        let ar = row0 + a_row;
        if (A_T || A_CONV != 0u) {
            // A[row0 + rt .. +4, k0 + kt]: one vec4 of a column-major A (m is a multiple of
            // 4), or four taps of neighbouring output positions of an image
            let kt = lid / 16u;
            let rt = (lid % 16u) * 4u;
            var v = vec4<f32>(0.0);
            if (A_CONV != 0u) {
                if (k0 + kt < k) {
                    let cp = conv_col_part(A_CONV, P.conv_taps, P.conv_steps, P.conv_strides,
                                           k0 + kt);
                    for (var q = 0u; q < 4u; q++) {
                        if (row0 + rt + q < m) {
                            let o = conv_offset(A_CONV, a_rows[q], cp);
                            if (o != NO_TAP) {
                                v[q] = A[a_base + o];
                            }
                        }
                    }
                }
            } else if (row0 + rt < m && k0 + kt < k) {
                v = A4[(a_base + (k0 + kt) * acs + row0 + rt) / 4u];
            }
            As[kt * 16u + rt / 4u] = v;
        } else if (ar < m) {
            if (A_VEC) {
                if (k0 + a_k < k) {
                    av = A4[(a_base + ar * ars + k0 + a_k) / 4u];
                }
            } else {
                for (var q = 0u; q < 4u; q++) {
                    let kk = k0 + a_k + q;
                    if (kk < k) {
                        av[q] = A[a_base + ar * ars + a_col_offset(kk)];
                    }
                }
            }
        }
        if (!A_T && A_CONV == 0u) {
            for (var q = 0u; q < 4u; q++) {
                As[(a_k + q) * 16u + a_row / 4u][a_row % 4u] = av[q];
            }
        }

        // stage B[k0 + b_k, col0 + b_col .. +4]
        var bv = vec4<f32>(0.0);
        let bk = k0 + b_k;
        if (B_T) {
            // B[k0 + 4j .. +4, col0 + ct] as one vec4 (k is a multiple of 4)
            let ct = lid / 4u;
            let kq = (lid % 4u) * 4u;
            var v = vec4<f32>(0.0);
            if (col0 + ct < n && k0 + kq < k) {
                v = B4[(b_base + (col0 + ct) * bcs + k0 + kq) / 4u];
            }
            for (var q = 0u; q < 4u; q++) {
                Bs[(kq + q) * 16u + ct / 4u][ct % 4u] = v[q];
            }
        } else if (bk < k) {
            if (B_IM2COL) {
                let rp = conv_row_part(1u, P.conv_shape, P.conv_taps, P.conv_steps, P.conv_pads,
                                       P.conv_strides, bk);
                for (var q = 0u; q < 4u; q++) {
                    if (col0 + b_col + q < n) {
                        let o = conv_offset(1u, rp, b_cols[q]);
                        if (o != NO_TAP) {
                            bv[q] = B[b_base + o];
                        }
                    }
                }
            } else if (B_VEC) {
                if (col0 + b_col < n) {
                    bv = B4[(b_base + bk * brs + col0 + b_col) / 4u];
                }
            } else {
                for (var q = 0u; q < 4u; q++) {
                    let cc = col0 + b_col + q;
                    if (cc < n) {
                        bv[q] = B[b_base + bk * brs + cc * bcs];
                    }
                }
            }
        }
        if (!B_T) {
            Bs[b_k * 16u + b_col / 4u] = bv;
        }
        workgroupBarrier();

        for (var kk = 0u; kk < TK; kk++) {
            let a = As[kk * 16u + ty];
            let b = Bs[kk * 16u + tx];
            acc0 += a.x * b;
            acc1 += a.y * b;
            acc2 += a.z * b;
            acc3 += a.w * b;
        }
        workgroupBarrier();
    }

    let r0 = row0 + ty * 4u;
    let c0 = col0 + tx * 4u;
    for (var i = 0u; i < 4u; i++) {
        let r = r0 + i;
        if (r >= m) {
            break;
        }
        var v: vec4<f32>;
        switch i {
            case 0u: { v = acc0; }
            case 1u: { v = acc1; }
            case 2u: { v = acc2; }
            default: { v = acc3; }
        }
        for (var j = 0u; j < 4u; j++) {
            if (c0 + j < n) {
                var out = v[j];
                if (BIAS) {
                    out += BV[c0 + j];
                }
                if (C_T) {
                    C[c_base + (c0 + j) * m + r] = out;
                } else {
                    C[c_base + r * n + c0 + j] = out;
                }
            }
        }
    }
}
