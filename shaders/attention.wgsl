// attention.wgsl — fused scaled-dot-product attention for f32: softmax(Q Kᵀ · scale + mask) V
// without ever holding the L×S scores, so memory grows with L + S.
//
// Layouts (dense): Q (B, L, E), K (B, S, E), V (B, S, Ev), the output gradient dO (B, L, Ev); an
// optional additive mask M (L, S) per batch entry at M[b · mstride ..] (mstride 0: one mask for
// all). CAUSAL masks key j > query i (top-left aligned). A query that sees no key gives zeros.
//
// Every kernel but `attn_backward_prep` runs 64 invocations on a block of ATTN_ROWS (32) rows —
// queries for the forward and dQ, keys for dK/dV — and walks the other side in tiles of BK (32)
// rows. Invocation t owns the four rows 4g .. 4g + 3 of the block (g = t / 8) and, of each tile,
// the columns u + 8c (u = t % 8, c < 4): a 4×4 register block, so each value read from workgroup
// memory feeds four multiply-adds. Per-row quantities are vec4s (one component per owned row).
// Of a head-dim wide result (output or gradient rows, up to ATTN_MAX_DIM = 4 · DC wide) it keeps
// the columns u + 8w of every DC-wide chunk in a `Slice` (one member per chunk, so every index
// is a constant after unrolling and nothing spills to indexed memory).
//
// Operands reach workgroup memory in chunks of DC (32) columns. TA holds the block's rows, or
// the tile's weights once the products are done; TB the tile's rows (d-major for a product over
// the head dim, so neighbouring invocations read neighbouring words), or per-row partials of the
// softmax. 8 KiB in all, within every adapter rustdl accepts.
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
// invocations sharing a row group (the column lanes u)
const LANES: u32 = 8u;

// A 4×4 register block: [c] holds column u + 8c, one component per owned row.
alias Block = array<vec4<f32>, 4>;

// The registers of one row slice up to ATTN_MAX_DIM wide: chunk k of DC columns in member k.
struct Slice {
    k0: Block,
    k1: Block,
    k2: Block,
    k3: Block,
}
const_assert ATTN_MAX_DIM == 4u * DC;
const_assert ATTN_ROWS == 4u * (NT / LANES);

const SRC_Q: u32 = 0u;
const SRC_K: u32 = 1u;
const SRC_V: u32 = 2u;

var<workgroup> TA: array<f32, 1024>;
var<workgroup> TB: array<f32, 1024>;

fn is_neg_inf(x: f32) -> bool {
    return bitcast<u32>(x) == 0xff800000u;
}

// NaN tests on the bits (as the prelude's is_nan): a driver may assume float comparisons never
// see a NaN (x != x folded to false), and max may drop one
fn is_nan4(x: vec4<f32>) -> vec4<bool> {
    return (bitcast<vec4<u32>>(x) & vec4<u32>(0x7fffffffu)) > vec4<u32>(0x7f800000u);
}

// max that keeps a NaN: a row with a NaN score gets a NaN maximum, and its output is NaN, as
// PyTorch's softmax gives
fn nan_max4(a: vec4<f32>, b: vec4<f32>) -> vec4<f32> {
    return select(max(a, b), vec4<f32>(nan()), is_nan4(a) | is_nan4(b));
}

fn nan_max(a: f32, b: f32) -> f32 {
    return select(max(a, b), nan(), is_nan(a) || is_nan(b));
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

// Where element x (row x / DC, column x % DC) of a staged chunk goes: row-major or d-major.
fn staged_at(x: u32, dmajor: bool) -> u32 {
    return select(x, (x % DC) * BK + x / DC, dmajor);
}

// TA ← rows row0.. (ATTN_ROWS of them), columns c0.. (DC) of Q, K or V, row-major.
fn stage_a(src: u32, b: u32, row0: u32, c0: u32, t: u32) {
    for (var x = t; x < ATTN_ROWS * DC; x += NT) {
        TA[x] = qkv_at(src, b, row0 + x / DC, c0 + x % DC);
    }
}

// TB ← rows row0.. (BK of them), columns c0.. (DC) of Q, K or V.
fn stage_b(src: u32, b: u32, row0: u32, c0: u32, t: u32, dmajor: bool) {
    for (var x = t; x < BK * DC; x += NT) {
        TB[staged_at(x, dmajor)] = qkv_at(src, b, row0 + x / DC, c0 + x % DC);
    }
}

fn stage_a_go(b: u32, row0: u32, c0: u32, t: u32) {
    for (var x = t; x < ATTN_ROWS * DC; x += NT) {
        TA[x] = go_at(b, row0 + x / DC, c0 + x % DC);
    }
}

fn stage_b_go(b: u32, row0: u32, c0: u32, t: u32, dmajor: bool) {
    for (var x = t; x < BK * DC; x += NT) {
        TB[staged_at(x, dmajor)] = go_at(b, row0 + x / DC, c0 + x % DC);
    }
}

// Column d of the invocation's four rows of TA (row stride `stride`).
fn ta_rows(t: u32, d: u32, stride: u32) -> vec4<f32> {
    let r = 4u * (t / LANES);
    return vec4<f32>(
        TA[r * stride + d],
        TA[(r + 1u) * stride + d],
        TA[(r + 2u) * stride + d],
        TA[(r + 3u) * stride + d],
    );
}

// acc[c] += TA rows · TB row u + 8c over one staged chunk (TB d-major).
fn dot_chunk(t: u32, acc: Block) -> Block {
    let u = t % LANES;
    var out = acc;
    for (var d = 0u; d < DC; d++) {
        let a = ta_rows(t, d, DC);
        for (var c = 0u; c < 4u; c++) {
            out[c] += a * TB[d * BK + u + LANES * c];
        }
    }
    return out;
}

// The products of the block's rows of `a` with the tile's rows of `bsrc` (both Q, K or V), over
// `width` columns staged chunk by chunk.
fn products(a: u32, row_a: u32, bsrc: u32, row_b: u32, width: u32, b: u32, t: u32) -> Block {
    var acc: Block;
    for (var c0 = 0u; c0 < width; c0 += DC) {
        stage_a(a, b, row_a, c0, t);
        stage_b(bsrc, b, row_b, c0, t, true);
        workgroupBarrier();
        acc = dot_chunk(t, acc);
        workgroupBarrier();
    }
    return acc;
}

// dO rows of the block (TA) times V rows of the tile (TB): dP, over Ev.
fn go_v(b: u32, i0: u32, j0: u32, t: u32) -> Block {
    var acc: Block;
    for (var c0 = 0u; c0 < P.ev; c0 += DC) {
        stage_a_go(b, i0, c0, t);
        stage_b(SRC_V, b, j0, c0, t, true);
        workgroupBarrier();
        acc = dot_chunk(t, acc);
        workgroupBarrier();
    }
    return acc;
}

// V rows of the block (TA) times dO rows of the tile (TB): dPᵀ, over Ev.
fn v_go(b: u32, j0: u32, i0: u32, t: u32) -> Block {
    var acc: Block;
    for (var c0 = 0u; c0 < P.ev; c0 += DC) {
        stage_a(SRC_V, b, j0, c0, t);
        stage_b_go(b, i0, c0, t, true);
        workgroupBarrier();
        acc = dot_chunk(t, acc);
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

// Writes the invocation's weights (row 4g + h, column u + 8c) into TA, ATTN_ROWS × BK.
fn put_weights(t: u32, w: Block) {
    let r = 4u * (t / LANES);
    let u = t % LANES;
    for (var c = 0u; c < 4u; c++) {
        for (var h = 0u; h < 4u; h++) {
            TA[(r + h) * BK + u + LANES * c] = w[c][h];
        }
    }
}

// acc[w] += Σ_k TA[row, k] · TB[k, u + 8w] for one staged chunk (TA the weights, TB row-major).
fn accumulate_chunk(t: u32, acc: Block) -> Block {
    let u = t % LANES;
    var out = acc;
    for (var k = 0u; k < BK; k++) {
        let p = ta_rows(t, k, BK);
        for (var w = 0u; w < 4u; w++) {
            out[w] += p * TB[k * DC + u + LANES * w];
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

// Multiplies row h of the slice by f[h].
fn scale_slice(acc: ptr<function, Slice>, f: vec4<f32>) {
    for (var w = 0u; w < 4u; w++) {
        (*acc).k0[w] *= f;
        (*acc).k1[w] *= f;
        (*acc).k2[w] *= f;
        (*acc).k3[w] *= f;
    }
}

// The registers of the chunk at column c0.
fn chunk_of(acc: ptr<function, Slice>, c0: u32) -> Block {
    var part: Block;
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
    return part;
}

// How many of the four rows from r0 exist among n.
fn rows_left(r0: u32, n: u32) -> u32 {
    return select(0u, n - r0, r0 < n);
}

// Writes the slice's rows into X: row h at at + h · width, `width` columns, `rows` rows.
fn store_slice(acc: ptr<function, Slice>, at: u32, width: u32, rows: u32, u: u32) {
    for (var c0 = 0u; c0 < width; c0 += DC) {
        var part = chunk_of(acc, c0);
        for (var w = 0u; w < 4u; w++) {
            let col = c0 + u + LANES * w;
            for (var h = 0u; h < min(rows, 4u); h++) {
                if (col < width) {
                    X[at + h * width + col] = part[w][h];
                }
            }
        }
    }
}

@compute @workgroup_size(64)
fn attn_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    let b = P.batch_base + wid.y;
    let i0 = wid.x * ATTN_ROWS;
    let g = t / LANES;
    let u = t % LANES;
    let r0 = i0 + 4u * g;
    var m = vec4<f32>(neg_inf());
    var l = vec4<f32>(0.0);
    var poisoned = vec4<bool>(false);  // rows that met a NaN score: NaN out
    var acc: Slice;
    let kend = key_end(i0 + ATTN_ROWS);
    for (var j0 = 0u; j0 < kend; j0 += BK) {
        var s = products(SRC_Q, i0, SRC_K, j0, P.e, b, t);
        var top = vec4<f32>(neg_inf());
        for (var c = 0u; c < 4u; c++) {
            let j = j0 + u + LANES * c;
            for (var h = 0u; h < 4u; h++) {
                // keys past kend are masked: with CAUSAL they lie beyond every query of the block
                s[c][h] = select(neg_inf(), score(b, r0 + h, j, s[c][h]), j < kend);
            }
            top = nan_max4(top, s[c]);
        }
        // the row maxima over the 8 lanes of each row group, through TB
        for (var h = 0u; h < 4u; h++) {
            TB[(4u * g + h) * LANES + u] = top[h];
        }
        workgroupBarrier();
        for (var q = 0u; q < LANES; q++) {
            for (var h = 0u; h < 4u; h++) {
                top[h] = nan_max(top[h], TB[(4u * g + h) * LANES + q]);
            }
        }
        workgroupBarrier();
        let mnew = nan_max4(m, top);
        poisoned = poisoned | is_nan4(mnew);
        // a row that has seen no key yet adds nothing (and must not compute −inf − −inf)
        let dead = vec4<bool>(
            is_neg_inf(mnew.x),
            is_neg_inf(mnew.y),
            is_neg_inf(mnew.z),
            is_neg_inf(mnew.w),
        );
        let corr = select(exp(m - mnew), vec4<f32>(1.0), dead);
        let shift = select(mnew, vec4<f32>(0.0), dead);
        var part = vec4<f32>(0.0);
        for (var c = 0u; c < 4u; c++) {
            s[c] = select(exp(s[c] - shift), vec4<f32>(0.0), dead);
            part += s[c];
        }
        m = mnew;
        put_weights(t, s);
        for (var h = 0u; h < 4u; h++) {
            TB[(4u * g + h) * LANES + u] = part[h];
        }
        workgroupBarrier();
        var tile_sum = vec4<f32>(0.0);
        for (var q = 0u; q < LANES; q++) {
            for (var h = 0u; h < 4u; h++) {
                tile_sum[h] += TB[(4u * g + h) * LANES + q];
            }
        }
        workgroupBarrier();
        l = l * corr + tile_sum;
        scale_slice(&acc, corr);
        for (var c0 = 0u; c0 < P.ev; c0 += DC) {
            stage_b(SRC_V, b, j0, c0, t, false);
            workgroupBarrier();
            accumulate(t, c0, &acc);
            workgroupBarrier();
        }
    }
    // a query that saw a key has l > 0; a NaN l (a NaN or +inf score) must spread, as PyTorch's
    // softmax does, so only l == 0 counts as unseen
    let seen = l != vec4<f32>(0.0);
    scale_slice(&acc, select(vec4<f32>(0.0), 1.0 / l, seen));
    let rows = rows_left(r0, P.l);
    for (var c0 = 0u; c0 < P.ev; c0 += DC) {
        var part = chunk_of(&acc, c0);
        for (var w = 0u; w < 4u; w++) {
            let col = c0 + u + LANES * w;
            for (var h = 0u; h < min(rows, 4u); h++) {
                if (col < P.ev) {
                    O[(b * P.l + r0 + h) * P.ev + col] = select(part[w][h], nan(), poisoned[h]);
                }
            }
        }
    }
    if (u == 0u) {
        let lse = select(select(vec4<f32>(neg_inf()), m + log(l), seen), vec4<f32>(nan()), poisoned);
        for (var h = 0u; h < min(rows, 4u); h++) {
            LSE[b * P.l + r0 + h] = lse[h];
        }
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

@compute @workgroup_size(64)
fn attn_backward_dq(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    let b = P.batch_base + wid.y;
    let i0 = wid.x * ATTN_ROWS;
    let u = t % LANES;
    let r0 = i0 + 4u * (t / LANES);
    var lse: vec4<f32>;
    var dsum: vec4<f32>;
    for (var h = 0u; h < 4u; h++) {
        let st = row_stats(b, r0 + h);
        lse[h] = st.x;
        dsum[h] = st.y;
    }
    var acc: Slice;
    let kend = key_end(i0 + ATTN_ROWS);
    for (var j0 = 0u; j0 < kend; j0 += BK) {
        var s = products(SRC_Q, i0, SRC_K, j0, P.e, b, t);
        var dp = go_v(b, i0, j0, t);
        for (var c = 0u; c < 4u; c++) {
            let j = j0 + u + LANES * c;
            for (var h = 0u; h < 4u; h++) {
                let p = weight(score(b, r0 + h, j, s[c][h]), lse[h]);
                s[c][h] = p * (dp[c][h] - dsum[h]) * P.scale;
            }
        }
        put_weights(t, s);
        workgroupBarrier();
        for (var c0 = 0u; c0 < P.e; c0 += DC) {
            stage_b(SRC_K, b, j0, c0, t, false);
            workgroupBarrier();
            accumulate(t, c0, &acc);
            workgroupBarrier();
        }
        workgroupBarrier();
    }
    store_slice(&acc, (b * P.l + r0) * P.e, P.e, rows_left(r0, P.l), u);
}

@compute @workgroup_size(64)
fn attn_backward_dkv(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    let b = P.batch_base + wid.y;
    let j0 = wid.x * ATTN_ROWS;
    let u = t % LANES;
    let r0 = j0 + 4u * (t / LANES);
    var dk: Slice;
    var dv: Slice;
    // with CAUSAL, queries before the block see none of its keys
    var istart = 0u;
    if (CAUSAL) {
        istart = j0;
    }
    for (var i0 = istart; i0 < P.l; i0 += BK) {
        var p = products(SRC_K, j0, SRC_Q, i0, P.e, b, t);
        var dp = v_go(b, j0, i0, t);
        var ds: Block;
        for (var c = 0u; c < 4u; c++) {
            let i = i0 + u + LANES * c;
            let st = row_stats(b, i);
            for (var h = 0u; h < 4u; h++) {
                p[c][h] = weight(score(b, i, r0 + h, p[c][h]), st.x);
                ds[c][h] = p[c][h] * (dp[c][h] - st.y) * P.scale;
            }
        }
        put_weights(t, p);
        workgroupBarrier();
        // dV += Pᵀ dO
        for (var c0 = 0u; c0 < P.ev; c0 += DC) {
            stage_b_go(b, i0, c0, t, false);
            workgroupBarrier();
            accumulate(t, c0, &dv);
            workgroupBarrier();
        }
        workgroupBarrier();
        put_weights(t, ds);
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
    let rows = rows_left(r0, P.s);
    store_slice(&dk, P.x_dk + (b * P.s + r0) * P.e, P.e, rows, u);
    store_slice(&dv, P.x_dv + (b * P.s + r0) * P.ev, P.ev, rows, u);
}
