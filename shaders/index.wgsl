// index.wgsl — index_select, index_add, gather, scatter_add.
//
// Indices are int64 tensors stored as i32. The host has already checked that every index is
// in range (and raised an IndexError otherwise); the kernels still clamp each index into
// [0, size) so that no invocation can ever touch memory outside its buffers.
// index_add / scatter_add accumulate with an atomic float add (compare-exchange loop on the
// bits, DT_F32) or an atomic integer add (DT_I64) into an output the host zero-filled.

// `P: IndexParams`, generated from src/backend/wgpu/index.rs: n invocations over `shape` (ndim dims:
// the output of index_select, the source of index_add, the index of gather / scatter_add);
// the indexed dim and its size; the index view (ioff, istr for 1-D indices, istrides);
// the input / source view (xoff, xstrides); the contiguous output's strides (ostrides).
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

// Element i of `shape` (row-major) without its coordinate along `dim`: its offset (.x) in the
// index view (istrides), (.y) in the input / source view (xstrides) and (.z) in the output
// (ostrides); and (.w) its coordinate along `dim`.
fn walk(i: u32) -> vec4<u32> {
    var c = unravel(P.shape, P.ndim, i);
    let w = dim(c, P.dim);
    c[P.dim >> 2u][P.dim & 3u] = 0u;
    return vec4<u32>(
        P.ioff + dot_dims(c, P.istrides),
        P.xoff + dot_dims(c, P.xstrides),
        dot_dims(c, P.ostrides),
        w,
    );
}

// Entry j of the 1-D index (index_select, index_add), clamped into [0, size).
fn index_1d(j: u32) -> u32 {
    return clamp_index(I[P.ioff + j * P.istr], P.size);
}

// out[.., j, ..] = x[.., idx[j], ..]
@compute @workgroup_size(WG)
fn index_select(g: Grid) {
    let i = flat_id(g);
    if (i >= P.n) {
        return;
    }
    let o = walk(i);
    O[i] = X[o.y + index_1d(o.w) * dim(P.xstrides, P.dim)];
}

// out[.., idx[j], ..] += src[.., j, ..]; out is contiguous with strides ostrides
@compute @workgroup_size(WG)
fn index_add(g: Grid) {
    let i = flat_id(g);
    if (i >= P.n) {
        return;
    }
    let o = walk(i);
    let src = o.y + o.w * dim(P.xstrides, P.dim);
    atomic_add(o.z + index_1d(o.w) * dim(P.ostrides, P.dim), X[src]);
}

// out[p] = x[p with coordinate dim replaced by idx[p]]
@compute @workgroup_size(WG)
fn gather(g: Grid) {
    let i = flat_id(g);
    if (i >= P.n) {
        return;
    }
    let o = walk(i);
    let at = clamp_index(I[o.x + o.w * dim(P.istrides, P.dim)], P.size);
    O[i] = X[o.y + at * dim(P.xstrides, P.dim)];
}

// out[p with coordinate dim replaced by idx[p]] += src[p]
@compute @workgroup_size(WG)
fn scatter_add(g: Grid) {
    let i = flat_id(g);
    if (i >= P.n) {
        return;
    }
    let o = walk(i);
    let at = clamp_index(I[o.x + o.w * dim(P.istrides, P.dim)], P.size);
    atomic_add(o.z + at * dim(P.ostrides, P.dim), X[o.y + o.w * dim(P.xstrides, P.dim)]);
}
