// softmax.wgsl — softmax / log-softmax over the last dim of a strided f32 view.
//
// Row r holds elements r * len + j of the view (flat row-major order through the layout).
// `softmax_wg`: one workgroup per row, max and sum by shared-memory trees (long rows).
// `softmax_thread`: one invocation per row (short rows, many of them).
// The result is written contiguously. NaN propagates through the max, as on the CPU.

struct Params { v: array<vec4<u32>, 32> }

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> O: array<f32>;

override LOG: bool = false;
override CONTIG: bool = false;

const ROWS: u32 = 0u;
const LEN: u32 = 1u;
const NDIM: u32 = 2u;
const SHAPE: u32 = 3u;
const STRIDES: u32 = 11u;
const OFFSET: u32 = 19u;

fn p(i: u32) -> u32 {
    return P.v[i >> 2u][i & 3u];
}

fn src_offset(f: u32) -> u32 {
    if (CONTIG) {
        return p(OFFSET) + f;
    }
    var rem = f;
    var o = p(OFFSET);
    let nd = p(NDIM);
    for (var k = 0u; k < nd; k++) {
        let d = nd - 1u - k;
        let s = p(SHAPE + d);
        o += (rem % s) * p(STRIDES + d);
        rem = rem / s;
    }
    return o;
}

fn is_nan(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
}

// the CPU backend's max_: keeps `a` when it is NaN or not smaller
fn fmax(a: f32, b: f32) -> f32 {
    return select(b, a, is_nan(a) || a >= b);
}

fn neg_inf() -> f32 {
    return bitcast<f32>(0xff800000u);
}

fn x_at(r: u32, j: u32) -> f32 {
    return X[src_offset(r * p(LEN) + j)];
}

fn finish(r: u32, j: u32, m: f32, s: f32) {
    let x = x_at(r, j);
    let o = r * p(LEN) + j;
    if (LOG) {
        O[o] = x - m - log(s);
    } else {
        O[o] = exp(x - m) * (1.0 / s);
    }
}

var<workgroup> sh: array<f32, 256>;

@compute @workgroup_size(256)
fn softmax_wg(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let r = wid.y * nwg.x + wid.x;
    if (r >= p(ROWS)) {
        return;
    }
    let len = p(LEN);
    var m = neg_inf();
    for (var j = lid; j < len; j += 256u) {
        m = fmax(m, x_at(r, j));
    }
    sh[lid] = m;
    workgroupBarrier();
    for (var s = 128u; s > 0u; s = s >> 1u) {
        if (lid < s) {
            sh[lid] = fmax(sh[lid], sh[lid + s]);
        }
        workgroupBarrier();
    }
    m = sh[0];
    workgroupBarrier();
    var acc = 0.0;
    for (var j = lid; j < len; j += 256u) {
        acc += exp(x_at(r, j) - m);
    }
    sh[lid] = acc;
    workgroupBarrier();
    for (var s = 128u; s > 0u; s = s >> 1u) {
        if (lid < s) {
            sh[lid] = sh[lid] + sh[lid + s];
        }
        workgroupBarrier();
    }
    let total = sh[0];
    for (var j = lid; j < len; j += 256u) {
        finish(r, j, m, total);
    }
}

@compute @workgroup_size(256)
fn softmax_thread(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
    let r = (wid.y * nwg.x + wid.x) * 256u + lid;
    if (r >= p(ROWS)) {
        return;
    }
    let len = p(LEN);
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
