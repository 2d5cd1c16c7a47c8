// softmax.wgsl — softmax / log-softmax over the last dim of a strided f32 view.
//
// Row r holds elements r * len + j of the view (flat row-major order through the layout).
// `softmax_wg`: one workgroup per row, max and sum by shared-memory trees (long rows).
// `softmax_thread`: one invocation per row (short rows, many of them).
// Parameters: `RowParams`, generated from src/backend/wgpu/params.rs. The result is written contiguously. NaN propagates through the max, as on the CPU.

@group(0) @binding(0) var<uniform> P: RowParams;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> O: array<f32>;

override LOG: bool = false;
override CONTIG: bool = false;

fn src_offset(f: u32) -> u32 {
    if (CONTIG) {
        return P.offset + f;
    }
    return view_offset(P.shape, P.strides, P.ndim, P.offset, f);
}

fn x_at(r: u32, j: u32) -> f32 {
    return X[src_offset(r * P.len + j)];
}

fn finish(r: u32, j: u32, m: f32, s: f32) {
    let x = x_at(r, j);
    let o = r * P.len + j;
    if (LOG) {
        O[o] = x - m - log(s);
    } else {
        O[o] = exp(x - m) * (1.0 / s);
    }
}

var<workgroup> sh: array<f32, WG>;

@compute @workgroup_size(WG)
fn softmax_wg(g: Grid) {
    let lid = g.lid;
    let r = group_id(g);
    if (r >= P.rows) {
        return;
    }
    let len = P.len;
    var m = neg_inf();
    for (var j = lid; j < len; j += WG) {
        m = fmax(m, x_at(r, j));
    }
    sh[lid] = m;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s >> 1u) {
        if (lid < s) {
            sh[lid] = fmax(sh[lid], sh[lid + s]);
        }
        workgroupBarrier();
    }
    m = sh[0];
    workgroupBarrier();
    var acc = 0.0;
    for (var j = lid; j < len; j += WG) {
        acc += exp(x_at(r, j) - m);
    }
    sh[lid] = acc;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s >> 1u) {
        if (lid < s) {
            sh[lid] = sh[lid] + sh[lid + s];
        }
        workgroupBarrier();
    }
    let total = sh[0];
    for (var j = lid; j < len; j += WG) {
        finish(r, j, m, total);
    }
}

@compute @workgroup_size(WG)
fn softmax_thread(g: Grid) {
    let r = flat_id(g);
    if (r >= P.rows) {
        return;
    }
    let len = P.len;
    var m = neg_inf();
    for (var j = 0u; j < len; j++) {
        m = fmax(m, x_at(r, j));
    }
    var acc = 0.0;
    for (var j = 0u; j < len; j++) {
        acc += exp(x_at(r, j) - m);
    }
    for (var j = 0u; j < len; j++) {
        finish(r, j, m, acc);
    }
}
