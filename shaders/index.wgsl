// index.wgsl — index_select, index_add, gather, scatter_add.
//
// Indices are int64 tensors stored as i32. The host has already checked that every index is
// in range (and raised an IndexError otherwise); the kernels still clamp each index into
// [0, size) so that no invocation can ever touch memory outside its buffers.
// index_add / scatter_add accumulate with an atomic float add (compare-exchange loop on the
// bits, DT_F32) or an atomic integer add (DT_I64) into an output the host zero-filled.

// Mirrors `IndexParams` (src/backend/wgpu/index.rs): n invocations over `shape` (ndim dims:
// the output of index_select, the source of index_add, the index of gather / scatter_add);
// the indexed dim and its size; the index view (ioff, istr for 1-D indices, istrides);
// the input / source view (xoff, xstrides); the contiguous output's strides (ostrides).
struct IndexParams {
    n: u32,
    ndim: u32,
    dim: u32,
    size: u32,
    ioff: u32,
    xoff: u32,
    istr: u32,
    pad0: u32,
    shape: Dims,
    istrides: Dims,
    xstrides: Dims,
    ostrides: Dims,
}

@group(0) @binding(0) var<uniform> P: IndexParams;
@group(0) @binding(1) var<storage, read> X: array<u32>;
@group(0) @binding(2) var<storage, read> I: array<i32>;
@group(0) @binding(3) var<storage, read_write> O: array<u32>;
@group(0) @binding(4) var<storage, read_write> OA: array<atomic<u32>>;

override DT: u32 = DT_F32;

fn clamp_index(v: i32, size: u32) -> u32 {
    return u32(clamp(v, 0, i32(size) - 1));
}

fn atomic_add(at: u32, bits: u32) {
    if (DT == DT_I64) {
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

// out[.., j, ..] = x[.., idx[j], ..]
@compute @workgroup_size(WG)
fn index_select(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    let i = flat_id(wid, nwg, lid);
    if (i >= P.n) {
        return;
    }
    let nd = P.ndim;
    let axis = P.dim;
    var rem = i;
    var o = P.xoff;
    for (var k = 0u; k < nd; k++) {
        let d = nd - 1u - k;
        let s = dim(P.shape, d);
        var c = rem % s;
        rem = rem / s;
        if (d == axis) {
            c = clamp_index(I[P.ioff + c * P.istr], P.size);
        }
        o += c * dim(P.xstrides, d);
    }
    O[i] = X[o];
}

// out[.., idx[j], ..] += src[.., j, ..]; out is contiguous with strides ostrides
@compute @workgroup_size(WG)
fn index_add(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
    let i = flat_id(wid, nwg, lid);
    if (i >= P.n) {
        return;
    }
    let nd = P.ndim;
    let axis = P.dim;
    var rem = i;
    var src = P.xoff;
    var dst = 0u;
    for (var k = 0u; k < nd; k++) {
        let d = nd - 1u - k;
        let s = dim(P.shape, d);
        let c = rem % s;
        rem = rem / s;
        src += c * dim(P.xstrides, d);
        var t = c;
        if (d == axis) {
            t = clamp_index(I[P.ioff + c * P.istr], P.size);
        }
        dst += t * dim(P.ostrides, d);
    }
    atomic_add(dst, X[src]);
}

// out[p] = x[p with coordinate dim replaced by idx[p]]
@compute @workgroup_size(WG)
fn gather(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let i = flat_id(wid, nwg, lid);
    if (i >= P.n) {
        return;
    }
    let nd = P.ndim;
    let axis = P.dim;
    var rem = i;
    var io = P.ioff;
    var xo = P.xoff;
    for (var k = 0u; k < nd; k++) {
        let d = nd - 1u - k;
        let s = dim(P.shape, d);
        let c = rem % s;
        rem = rem / s;
        io += c * dim(P.istrides, d);
        if (d != axis) {
            xo += c * dim(P.xstrides, d);
        }
    }
    xo += clamp_index(I[io], P.size) * dim(P.xstrides, axis);
    O[i] = X[xo];
}

// out[p with coordinate dim replaced by idx[p]] += src[p]
@compute @workgroup_size(WG)
fn scatter_add(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
    let i = flat_id(wid, nwg, lid);
    if (i >= P.n) {
        return;
    }
    let nd = P.ndim;
    let axis = P.dim;
    var rem = i;
    var io = P.ioff;
    var so = P.xoff;
    var oo = 0u;
    for (var k = 0u; k < nd; k++) {
        let d = nd - 1u - k;
        let s = dim(P.shape, d);
        let c = rem % s;
        rem = rem / s;
        io += c * dim(P.istrides, d);
        so += c * dim(P.xstrides, d);
        if (d != axis) {
            oo += c * dim(P.ostrides, d);
        }
    }
    oo += clamp_index(I[io], P.size) * dim(P.ostrides, axis);
    atomic_add(oo, X[so]);
}
