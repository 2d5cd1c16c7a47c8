// matmul.wgsl — batched C[b] = A[b] @ B[b] for f32, register-blocked and tiled.
//
// A workgroup of 16x16 invocations computes a 64x64 tile of C; each invocation keeps a 4x4
// block of accumulators in registers. K is walked in slices of 16 staged through workgroup
// memory. Operands are read through their strides (transposed views need no copy); when an
// operand is row-major with 16-byte aligned rows the host sets A_VEC / B_VEC and the tile loads
// become vec4 loads of the same buffer bound a second time as array<vec4<f32>>.
// Edges are zero-filled, so every size is correct (67x129 @ 129x33, ...). C is contiguous.

struct Params { v: array<vec4<u32>, 32> }

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read_write> C: array<f32>;
@group(0) @binding(4) var<storage, read> A4: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> B4: array<vec4<f32>>;

override A_VEC: bool = false;
override B_VEC: bool = false;

const M: u32 = 0u;
const N: u32 = 1u;
const K: u32 = 2u;
const NB: u32 = 3u;
const A_OFF: u32 = 4u;
const B_OFF: u32 = 5u;
const ARS: u32 = 6u;
const ACS: u32 = 7u;
const BRS: u32 = 8u;
const BCS: u32 = 9u;
const BATCH_BASE: u32 = 10u;
const BSHAPE: u32 = 11u;
const ABSTR: u32 = 17u;
const BBSTR: u32 = 23u;

const TILE: u32 = 64u;
const TK: u32 = 16u;

fn p(i: u32) -> u32 {
    return P.v[i >> 2u][i & 3u];
}

// A tile, k-major: As[kk * 16 + row / 4][row % 4]
var<workgroup> As: array<vec4<f32>, 256>;
// B tile, k-major: Bs[kk * 16 + col / 4][col % 4]
var<workgroup> Bs: array<vec4<f32>, 256>;

@compute @workgroup_size(16, 16)
fn matmul(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let m = p(M);
    let n = p(N);
    let k = p(K);
    let ars = p(ARS);
    let acs = p(ACS);
    let brs = p(BRS);
    let bcs = p(BCS);

    // batch offsets from the (possibly broadcast) batch dims
    let batch = p(BATCH_BASE) + wid.z;
    var a_base = p(A_OFF);
    var b_base = p(B_OFF);
    var rem = batch;
    let nb = p(NB);
    for (var q = 0u; q < nb; q++) {
        let d = nb - 1u - q;
        let s = p(BSHAPE + d);
        let c = rem % s;
        rem = rem / s;
        a_base += c * p(ABSTR + d);
        b_base += c * p(BBSTR + d);
    }
    let c_base = batch * m * n;

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

    let tiles = (k + TK - 1u) / TK;
    for (var t = 0u; t < tiles; t++) {
        let k0 = t * TK;

        // stage A[row0 + a_row, k0 + a_k .. +4]
        var av = vec4<f32>(0.0);
        let ar = row0 + a_row;
        if (ar < m) {
            if (A_VEC) {
                if (k0 + a_k < k) {
                    av = A4[(a_base + ar * ars + k0 + a_k) / 4u];
                }
            } else {
                for (var q = 0u; q < 4u; q++) {
                    let kk = k0 + a_k + q;
                    if (kk < k) {
                        av[q] = A[a_base + ar * ars + kk * acs];
                    }
                }
            }
        }
        for (var q = 0u; q < 4u; q++) {
            As[(a_k + q) * 16u + a_row / 4u][a_row % 4u] = av[q];
        }

        // stage B[k0 + b_k, col0 + b_col .. +4]
        var bv = vec4<f32>(0.0);
        let bk = k0 + b_k;
        if (bk < k) {
            if (B_VEC) {
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
        Bs[b_k * 16u + b_col / 4u] = bv;
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
                C[c_base + r * n + c0 + j] = v[j];
            }
        }
    }
}
