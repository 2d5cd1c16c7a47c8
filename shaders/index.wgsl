// index.wgsl — index_select, index_add, gather, scatter_add.
//
// Indices are int64 tensors stored as i32. The host has already checked that every index is
// in range (and raised an IndexError otherwise); the kernels still clamp each index into
// [0, size) so that no invocation can ever touch memory outside its buffers.
// index_add / scatter_add accumulate with an atomic float add (compare-exchange loop on the
// bits, DT = 0) or an atomic integer add (DT = 1) into an output the host zero-filled.

struct Params { v: array<vec4<u32>, 32> }

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<u32>;
@group(0) @binding(2) var<storage, read> I: array<i32>;
@group(0) @binding(3) var<storage, read_write> O: array<u32>;
@group(0) @binding(4) var<storage, read_write> OA: array<atomic<u32>>;

override DT: u32 = 0u;

fn p(i: u32) -> u32 {
    return P.v[i >> 2u][i & 3u];
}

fn flat_id(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.y * nwg.x + wid.x) * 256u + lid;
}

fn clamp_index(v: i32, size: u32) -> u32 {
    return u32(clamp(v, 0, i32(size) - 1));
}

fn atomic_add(at: u32, bits: u32) {
    if (DT == 1u) {
        atomicAdd(&OA[at], bits);
        return;
    }
    let v = bitcast<f32>(bits);
    var old = atomicLoad(&OA[at]);
    loop {
        let next = bitcast<u32>(bitcast<f32>(old) + v);
        let r = atomicCompareExchangeWeak(&OA[at], old, next);
        if (r.exchanged) {
            break;
        }
        old = r.old_value;
    }
}

// index_select / index_add words: n, ndim, shape[8] (output / source), strides[8] (input /
// source), offset, dim, size of dim, index offset, index stride, out strides[8] (index_add)
const SEL_N: u32 = 0u;
const SEL_NDIM: u32 = 1u;
const SEL_SHAPE: u32 = 2u;
const SEL_STR: u32 = 10u;
const SEL_OFF: u32 = 18u;
const SEL_DIM: u32 = 19u;
const SEL_SIZE: u32 = 20u;
const SEL_IOFF: u32 = 21u;
const SEL_ISTR: u32 = 22u;
const SEL_OSTR: u32 = 23u;

// out[.., j, ..] = x[.., idx[j], ..]
@compute @workgroup_size(256)
fn index_select(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    let i = flat_id(wid, nwg, lid);
    if (i >= p(SEL_N)) {
        return;
    }
    let nd = p(SEL_NDIM);
    let dim = p(SEL_DIM);
    var rem = i;
    var o = p(SEL_OFF);
    for (var k = 0u; k < nd; k++) {
        let d = nd - 1u - k;
        let s = p(SEL_SHAPE + d);
        var c = rem % s;
        rem = rem / s;
        if (d == dim) {
            c = clamp_index(I[p(SEL_IOFF) + c * p(SEL_ISTR)], p(SEL_SIZE));
        }
        o += c * p(SEL_STR + d);
    }
    O[i] = X[o];
}

// out[.., idx[j], ..] += src[.., j, ..]; out is contiguous with strides at SEL_OSTR
@compute @workgroup_size(256)
fn index_add(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
    let i = flat_id(wid, nwg, lid);
    if (i >= p(SEL_N)) {
        return;
    }
    let nd = p(SEL_NDIM);
    let dim = p(SEL_DIM);
    var rem = i;
    var src = p(SEL_OFF);
    var dst = 0u;
    for (var k = 0u; k < nd; k++) {
        let d = nd - 1u - k;
        let s = p(SEL_SHAPE + d);
        let c = rem % s;
        rem = rem / s;
        src += c * p(SEL_STR + d);
        var t = c;
        if (d == dim) {
            t = clamp_index(I[p(SEL_IOFF) + c * p(SEL_ISTR)], p(SEL_SIZE));
        }
        dst += t * p(SEL_OSTR + d);
    }
    atomic_add(dst, X[src]);
}

// gather / scatter_add words: n, ndim, index shape[8], index strides[8], x / src strides[8],
// out strides[8] (scatter_add), index offset, x / src offset, dim, size of dim
const G_N: u32 = 0u;
const G_NDIM: u32 = 1u;
const G_SHAPE: u32 = 2u;
const G_ISTR: u32 = 10u;
const G_XSTR: u32 = 18u;
const G_OSTR: u32 = 26u;
const G_IOFF: u32 = 34u;
const G_XOFF: u32 = 35u;
const G_DIM: u32 = 36u;
const G_SIZE: u32 = 37u;

// out[p] = x[p with coordinate dim replaced by idx[p]]
@compute @workgroup_size(256)
fn gather(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let i = flat_id(wid, nwg, lid);
    if (i >= p(G_N)) {
        return;
    }
    let nd = p(G_NDIM);
    let dim = p(G_DIM);
    var rem = i;
    var io = p(G_IOFF);
    var xo = p(G_XOFF);
    for (var k = 0u; k < nd; k++) {
        let d = nd - 1u - k;
        let s = p(G_SHAPE + d);
        let c = rem % s;
        rem = rem / s;
        io += c * p(G_ISTR + d);
        if (d != dim) {
            xo += c * p(G_XSTR + d);
        }
    }
    xo += clamp_index(I[io], p(G_SIZE)) * p(G_XSTR + dim);
    O[i] = X[xo];
}

// out[p with coordinate dim replaced by idx[p]] += src[p]
@compute @workgroup_size(256)
fn scatter_add(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
    let i = flat_id(wid, nwg, lid);
    if (i >= p(G_N)) {
        return;
    }
    let nd = p(G_NDIM);
    let dim = p(G_DIM);
    var rem = i;
    var io = p(G_IOFF);
    var so = p(G_XOFF);
    var oo = 0u;
    for (var k = 0u; k < nd; k++) {
        let d = nd - 1u - k;
        let s = p(G_SHAPE + d);
        let c = rem % s;
        rem = rem / s;
        io += c * p(G_ISTR + d);
        so += c * p(G_XSTR + d);
        if (d != dim) {
            oo += c * p(G_OSTR + d);
        }
    }
    oo += clamp_index(I[io], p(G_SIZE)) * p(G_OSTR + dim);
    atomic_add(oo, X[so]);
}
