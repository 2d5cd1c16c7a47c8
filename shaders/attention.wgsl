// attention.wgsl — fused scaled-dot-product attention for f32: softmax(Q Kᵀ · scale + mask) V
// without ever holding the L×S scores, so memory grows with L + S.
//
// Layouts (dense): Q (B, L, E), K (B, S, E), V (B, S, Ev), the output gradient dO (B, L, Ev); an
// optional additive mask M (L, S) per batch entry at M[b · mstride ..] (mstride 0: one mask for
// all). CAUSAL masks key j > query i (top-left aligned). A query that sees no key gives zeros.
//
// Every kernel but `attn_backward_prep` runs 64 invocations on a block of ATTN_ROWS (16) rows —
// queries for the forward and dQ, keys for dK/dV — and walks the other side in tiles of BK (32)
// rows. Invocation t owns row t / 4 of the block and, of each tile, the columns t % 4 + 4c
// (c < 8); of a head-dim wide result (output or gradient rows, up to ATTN_MAX_DIM = 4 · DC wide)
// it keeps the columns t % 4 + 4w of every DC-wide chunk in registers (a `Slice`, one member per
// chunk, so every index is a constant after unrolling and nothing spills to indexed memory).
// Operands reach workgroup memory in chunks of DC (32) columns: 8 KiB in all, within every
// adapter rustdl accepts. The tile operand of a product over the head dim is staged d-major, so
// neighbouring invocations read neighbouring words.
//
// * `attn_forward`: per key tile, the scores of the block, a running maximum m and sum l per
//   query (an online softmax: earlier partial outputs rescaled by exp(m_old − m_new)); writes the
//   output and each query's log-sum-exp m + ln l (−inf for a query that sees no key).
// * `attn_backward_prep`: per query, its log-sum-exp and D = Σ dO ∘ O into the workspace X.
// * `attn_backward_dq`: per query block, over key tiles: P = exp(S − lse) recomputed,
//   dS = P ∘ (dO Vᵀ − D) · scale, dQ += dS K.
// * `attn_backward_dkv`: per key block, over query tiles: dV += Pᵀ dO, dK += dSᵀ Q.
// The backward kernels write into one workspace X = [dQ | dK | dV | (lse, D) per query] (offsets
// x_dk, x_dv, x_st; dQ at 0), so no kernel binds more than 6 storage buffers and none adds floats
// atomically. Parameters: `AttnParams`, generated from src/backend/wgpu/attention.rs.

@group(0) @binding(0) var<uniform> P: AttnParams;
@group(0) @binding(1) var<storage, read> Q: array<f32>;
@group(0) @binding(2) var<storage, read> K: array<f32>;
@group(0) @binding(3) var<storage, read> V: array<f32>;
@group(0) @binding(4) var<storage, read> M: array<f32>;
@group(0) @binding(5) var<storage, read_write> O: array<f32>;
@group(0) @binding(6) var<storage, read_write> LSE: array<f32>;
@group(0) @binding(7) var<storage, read> GO: array<f32>;
@group(0) @binding(8) var<storage, read_write> X: array<f32>;
@group(0) @binding(9) var<storage, read> OS: array<f32>;
@group(0) @binding(10) var<storage, read> LS: array<f32>;

override MASK: bool = false;
override CAUSAL: bool = false;

// invocations per workgroup, rows of the other side per tile, columns per staged chunk
const NT: u32 = 64u;
const BK: u32 = 32u;
const DC: u32 = 32u;
// tile columns per invocation, and the registers of one head-dim wide row slice
const CPT: u32 = 8u;

// The registers of one row slice up to ATTN_MAX_DIM wide: chunk k of DC columns in member k.
struct Slice {
    k0: array<f32, CPT>,
    k1: array<f32, CPT>,
    k2: array<f32, CPT>,
    k3: array<f32, CPT>,
}
const_assert ATTN_MAX_DIM == 4u * DC;

const SRC_Q: u32 = 0u;
const SRC_K: u32 = 1u;
const SRC_V: u32 = 2u;

// the block's rows (ATTN_ROWS × DC), the tile's rows (BK × DC), the tile's weights (ATTN_ROWS × BK)
var<workgroup> TA: array<f32, 512>;
var<workgroup> TB: array<f32, 1024>;
var<workgroup> TP: array<f32, 512>;

fn is_neg_inf(x: f32) -> bool {
    return bitcast<u32>(x) == 0xff800000u;
}

// Element (row, col) of batch entry b of Q, K or V; 0 outside.
fn qkv_at(src: u32, b: u32, row: u32, col: u32) -> f32 {
    if (src == SRC_Q) {
        if (row < P.l && col < P.e) {
            return Q[(b * P.l + row) * P.e + col];
        }
    } else if (src == SRC_K) {
        if (row < P.s && col < P.e) {
            return K[(b * P.s + row) * P.e + col];
        }
    } else if (row < P.s && col < P.ev) {
        return V[(b * P.s + row) * P.ev + col];
    }
    return 0.0;
}

// Element (row, col) of batch entry b of dO; 0 outside.
fn go_at(b: u32, row: u32, col: u32) -> f32 {
    if (row < P.l && col < P.ev) {
        return GO[(b * P.l + row) * P.ev + col];
    }
    return 0.0;
}

// TA ← rows row0.. (ATTN_ROWS of them), columns c0.. (DC) of Q, K or V.
fn stage_a(src: u32, b: u32, row0: u32, c0: u32, t: u32) {
    for (var x = t; x < ATTN_ROWS * DC; x += NT) {
        TA[x] = qkv_at(src, b, row0 + x / DC, c0 + x % DC);
    }
}

// TB ← rows row0.. (BK of them), columns c0.. (DC) of Q, K or V: row-major, or d-major
// (TB[col · BK + row]) for a product over the columns.
fn stage_b(src: u32, b: u32, row0: u32, c0: u32, t: u32, dmajor: bool) {
    for (var x = t; x < BK * DC; x += NT) {
        let at = select(x, (x % DC) * BK + x / DC, dmajor);
        TB[at] = qkv_at(src, b, row0 + x / DC, c0 + x % DC);
    }
}

fn stage_a_go(b: u32, row0: u32, c0: u32, t: u32) {
    for (var x = t; x < ATTN_ROWS * DC; x += NT) {
        TA[x] = go_at(b, row0 + x / DC, c0 + x % DC);
    }
}

fn stage_b_go(b: u32, row0: u32, c0: u32, t: u32, dmajor: bool) {
    for (var x = t; x < BK * DC; x += NT) {
        let at = select(x, (x % DC) * BK + x / DC, dmajor);
        TB[at] = go_at(b, row0 + x / DC, c0 + x % DC);
    }
}

// acc[c] += Σ_d TA[row t/4, d] · TB[row t%4 + 4c, d] over one staged chunk (TB d-major).
fn dot_chunk(t: u32, acc: ptr<function, array<f32, CPT>>) {
    let r = t / 4u;
    let u = t % 4u;
    for (var d = 0u; d < DC; d++) {
        let a = TA[r * DC + d];
        for (var c = 0u; c < CPT; c++) {
            (*acc)[c] += a * TB[d * BK + u + 4u * c];
        }
    }
}

// The products of the block's rows of `a` with the tile's rows of `b` (both Q, K or V), over
// `width` columns staged chunk by chunk.
fn products(a: u32, row_a: u32, bsrc: u32, row_b: u32, width: u32, b: u32, t: u32) -> array<f32, CPT> {
    var acc: array<f32, CPT>;
    for (var c0 = 0u; c0 < width; c0 += DC) {
        stage_a(a, b, row_a, c0, t);
        stage_b(bsrc, b, row_b, c0, t, true);
        workgroupBarrier();
        dot_chunk(t, &acc);
        workgroupBarrier();
    }
    return acc;
}

// The score of query i and key j from its raw product: scaled and masked; −inf for a key the
// query does not see and outside the sizes.
fn score(b: u32, i: u32, j: u32, raw: f32) -> f32 {
    if (i >= P.l || j >= P.s || (CAUSAL && j > i)) {
        return neg_inf();
    }
    var s = raw * P.scale;
    if (MASK) {
        s += M[b * P.mstride + i * P.s + j];
    }
    return s;
}

// Keys a block of queries ending before i1 can see: 0 .. key_end(i1).
fn key_end(i1: u32) -> u32 {
    if (CAUSAL) {
        return min(P.s, i1);
    }
    return P.s;
}

// acc + Σ_k TP[row t/4, k] · TB[k, t%4 + 4w] (w < 8) for one staged chunk (TB row-major).
fn accumulate_chunk(t: u32, acc: array<f32, CPT>) -> array<f32, CPT> {
    let r = t / 4u;
    let u = t % 4u;
    var out = acc;
    for (var k = 0u; k < BK; k++) {
        let p = TP[r * BK + k];
        for (var w = 0u; w < CPT; w++) {
            out[w] += p * TB[k * DC + u + 4u * w];
        }
    }
    return out;
}

// accumulate_chunk into the registers of the chunk at column c0.
fn accumulate(t: u32, c0: u32, acc: ptr<function, Slice>) {
    switch c0 / DC {
        case 0u: {
            (*acc).k0 = accumulate_chunk(t, (*acc).k0);
        }
        case 1u: {
            (*acc).k1 = accumulate_chunk(t, (*acc).k1);
        }
        case 2u: {
            (*acc).k2 = accumulate_chunk(t, (*acc).k2);
        }
        default: {
            (*acc).k3 = accumulate_chunk(t, (*acc).k3);
        }
    }
}

fn scale_slice(acc: ptr<function, Slice>, f: f32) {
    for (var w = 0u; w < CPT; w++) {
        (*acc).k0[w] *= f;
        (*acc).k1[w] *= f;
        (*acc).k2[w] *= f;
        (*acc).k3[w] *= f;
    }
}

// Writes the slice's columns of one row of X, `width` wide from `row`.
fn store_slice(acc: ptr<function, Slice>, row: u32, width: u32, u: u32) {
    for (var c0 = 0u; c0 < width; c0 += DC) {
        var part: array<f32, CPT>;
        switch c0 / DC {
            case 0u: {
                part = (*acc).k0;
            }
            case 1u: {
                part = (*acc).k1;
            }
            case 2u: {
                part = (*acc).k2;
            }
            default: {
                part = (*acc).k3;
            }
        }
        for (var w = 0u; w < CPT; w++) {
            let col = c0 + u + 4u * w;
            if (col < width) {
                X[row + col] = part[w];
            }
        }
    }
}

@compute @workgroup_size(64)
fn attn_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    let b = P.batch_base + wid.y;
    let i0 = wid.x * ATTN_ROWS;
    let r = t / 4u;
    let u = t % 4u;
    let i = i0 + r;
    var m = neg_inf();
    var l = 0.0;
    var acc: Slice;
    let kend = key_end(i0 + ATTN_ROWS);
    for (var j0 = 0u; j0 < kend; j0 += BK) {
        var s = products(SRC_Q, i0, SRC_K, j0, P.e, b, t);
        for (var c = 0u; c < CPT; c++) {
            let j = j0 + u + 4u * c;
            // keys past kend are masked: with CAUSAL they lie beyond every query of the block
            s[c] = select(neg_inf(), score(b, i, j, s[c]), j < kend);
            TP[r * BK + u + 4u * c] = s[c];
        }
        workgroupBarrier();
        var top = neg_inf();
        for (var k = 0u; k < BK; k++) {
            top = max(top, TP[r * BK + k]);
        }
        workgroupBarrier();
        let mnew = max(m, top);
        var corr = 1.0;
        if (is_neg_inf(mnew)) {
            // no key seen yet by this query: nothing to add
            for (var c = 0u; c < CPT; c++) {
                s[c] = 0.0;
            }
        } else {
            corr = exp(m - mnew);
            for (var c = 0u; c < CPT; c++) {
                s[c] = exp(s[c] - mnew);
            }
            m = mnew;
        }
        for (var c = 0u; c < CPT; c++) {
            TP[r * BK + u + 4u * c] = s[c];
        }
        workgroupBarrier();
        var tile_sum = 0.0;
        for (var k = 0u; k < BK; k++) {
            tile_sum += TP[r * BK + k];
        }
        l = l * corr + tile_sum;
        scale_slice(&acc, corr);
        for (var c0 = 0u; c0 < P.ev; c0 += DC) {
            stage_b(SRC_V, b, j0, c0, t, false);
            workgroupBarrier();
            accumulate(t, c0, &acc);
            workgroupBarrier();
        }
    }
    if (i >= P.l) {
        return;
    }
    let seen = l > 0.0;
    let inv = select(0.0, 1.0 / l, seen);
    scale_slice(&acc, inv);
    let row = (b * P.l + i) * P.ev;
    for (var w = 0u; w < CPT; w++) {
        let col = u + 4u * w;
        if (col < P.ev) {
            O[row + col] = acc.k0[w];
        }
        if (col + DC < P.ev) {
            O[row + col + DC] = acc.k1[w];
        }
        if (col + 2u * DC < P.ev) {
            O[row + col + 2u * DC] = acc.k2[w];
        }
        if (col + 3u * DC < P.ev) {
            O[row + col + 3u * DC] = acc.k3[w];
        }
    }
    if (u == 0u) {
        LSE[b * P.l + i] = select(neg_inf(), m + log(l), seen);
    }
}

@compute @workgroup_size(WG)
fn attn_backward_prep(g: Grid) {
    let q = flat_id(g);
    if (q >= P.rows) {
        return;
    }
    var d = 0.0;
    for (var c = 0u; c < P.ev; c++) {
        d += GO[q * P.ev + c] * OS[q * P.ev + c];
    }
    X[P.x_st + 2u * q] = LS[q];
    X[P.x_st + 2u * q + 1u] = d;
}

// The log-sum-exp and D of query i of batch entry b (−inf and 0 outside).
fn row_stats(b: u32, i: u32) -> vec2<f32> {
    if (i >= P.l) {
        return vec2<f32>(neg_inf(), 0.0);
    }
    let at = P.x_st + 2u * (b * P.l + i);
    return vec2<f32>(X[at], X[at + 1u]);
}

// The weight exp(s − lse) of a score, 0 for a masked key or a query that sees none.
fn weight(s: f32, lse: f32) -> f32 {
    if (is_neg_inf(s) || is_neg_inf(lse)) {
        return 0.0;
    }
    return exp(s - lse);
}

// dO rows of the block (TA) times V rows of the tile (TB): dP, over Ev.
fn go_v(b: u32, i0: u32, j0: u32, t: u32) -> array<f32, CPT> {
    var acc: array<f32, CPT>;
    for (var c0 = 0u; c0 < P.ev; c0 += DC) {
        stage_a_go(b, i0, c0, t);
        stage_b(SRC_V, b, j0, c0, t, true);
        workgroupBarrier();
        dot_chunk(t, &acc);
        workgroupBarrier();
    }
    return acc;
}

// V rows of the block (TA) times dO rows of the tile (TB): dPᵀ, over Ev.
fn v_go(b: u32, j0: u32, i0: u32, t: u32) -> array<f32, CPT> {
    var acc: array<f32, CPT>;
    for (var c0 = 0u; c0 < P.ev; c0 += DC) {
        stage_a(SRC_V, b, j0, c0, t);
        stage_b_go(b, i0, c0, t, true);
        workgroupBarrier();
        dot_chunk(t, &acc);
        workgroupBarrier();
    }
    return acc;
}

@compute @workgroup_size(64)
fn attn_backward_dq(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    let b = P.batch_base + wid.y;
    let i0 = wid.x * ATTN_ROWS;
    let r = t / 4u;
    let u = t % 4u;
    let i = i0 + r;
    let st = row_stats(b, i);
    var acc: Slice;
    let kend = key_end(i0 + ATTN_ROWS);
    for (var j0 = 0u; j0 < kend; j0 += BK) {
        var s = products(SRC_Q, i0, SRC_K, j0, P.e, b, t);
        var dp = go_v(b, i0, j0, t);
        for (var c = 0u; c < CPT; c++) {
            let j = j0 + u + 4u * c;
            let p = weight(score(b, i, j, s[c]), st.x);
            TP[r * BK + u + 4u * c] = p * (dp[c] - st.y) * P.scale;
        }
        workgroupBarrier();
        for (var c0 = 0u; c0 < P.e; c0 += DC) {
            stage_b(SRC_K, b, j0, c0, t, false);
            workgroupBarrier();
            accumulate(t, c0, &acc);
            workgroupBarrier();
        }
        workgroupBarrier();
    }
    if (i >= P.l) {
        return;
    }
    store_slice(&acc, (b * P.l + i) * P.e, P.e, u);
}

@compute @workgroup_size(64)
fn attn_backward_dkv(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    let b = P.batch_base + wid.y;
    let j0 = wid.x * ATTN_ROWS;
    let r = t / 4u;
    let u = t % 4u;
    let j = j0 + r;
    var dk: Slice;
    var dv: Slice;
    // with CAUSAL, queries before the block see none of its keys
    var istart = 0u;
    if (CAUSAL) {
        istart = j0;
    }
    for (var i0 = istart; i0 < P.l; i0 += BK) {
        var s = products(SRC_K, j0, SRC_Q, i0, P.e, b, t);
        var dp = v_go(b, j0, i0, t);
        var ds: array<f32, CPT>;
        for (var c = 0u; c < CPT; c++) {
            let i = i0 + u + 4u * c;
            let st = row_stats(b, i);
            let p = weight(score(b, i, j, s[c]), st.x);
            ds[c] = p * (dp[c] - st.y) * P.scale;
            TP[r * BK + u + 4u * c] = p;
        }
        workgroupBarrier();
        // dV += Pᵀ dO
        for (var c0 = 0u; c0 < P.ev; c0 += DC) {
            stage_b_go(b, i0, c0, t, false);
            workgroupBarrier();
            accumulate(t, c0, &dv);
            workgroupBarrier();
        }
        workgroupBarrier();
        for (var c = 0u; c < CPT; c++) {
            TP[r * BK + u + 4u * c] = ds[c];
        }
        workgroupBarrier();
        // dK += dSᵀ Q
        for (var c0 = 0u; c0 < P.e; c0 += DC) {
            stage_b(SRC_Q, b, i0, c0, t, false);
            workgroupBarrier();
            accumulate(t, c0, &dk);
            workgroupBarrier();
        }
        workgroupBarrier();
    }
    if (j >= P.s) {
        return;
    }
    store_slice(&dk, P.x_dk + (b * P.s + j) * P.e, P.e, u);
    store_slice(&dv, P.x_dv + (b * P.s + j) * P.ev, P.ev, u);
}
