// reduce.wgsl — sum / max / min / argmax / argmin over rows.
//
// The host permutes the reduced dims last (as the CPU backend does), so the input is `outer`
// rows of `len` elements, element (r, j) at flat index r * len + j of a strided layout.
// `reduce_wg` gives each row a workgroup and a shared-memory tree; `reduce_thread` gives each
// row one invocation, for many short rows. A few very long rows take two passes:
// `reduce_partial` reduces chunks of `chunk` elements to (value, index) pairs with many
// workgroups, and `reduce_final` reduces each row's pairs. Values travel as bits (DT_* codes).
// Parameters: `RowParams`, generated from src/backend/wgpu/params.rs (rows = outer rows, len = elements per row).
// Max/min keep the first NaN, and ties keep the smallest index, as the CPU backend.

@group(0) @binding(0) var<uniform> P: RowParams;
@group(0) @binding(1) var<storage, read> X: array<u32>;
@group(0) @binding(2) var<storage, read_write> O: array<u32>;
@group(0) @binding(3) var<storage, read> PART_IN: array<vec2<u32>>;
@group(0) @binding(4) var<storage, read_write> PART_OUT: array<vec2<u32>>;

// RED_SUM, RED_MAX, RED_MIN, RED_ARG_MAX or RED_ARG_MIN
override OP: u32 = RED_SUM;
override DT: u32 = DT_F32;
override CONTIG: bool = false;

const EMPTY: u32 = 0xffffffffu;

fn src_offset(f: u32) -> u32 {
    if (CONTIG) {
        return P.offset + f;
    }
    return view_offset(P.shape, P.strides, P.ndim, P.offset, f);
}

// (value bits, index); index EMPTY marks "no element yet"
fn identity() -> vec2<u32> {
    return vec2<u32>(0u, EMPTY);
}

fn combine(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
    if (OP == RED_SUM) {
        if (DT == DT_F32) {
            return vec2<u32>(bitcast<u32>(bitcast<f32>(a.x) + bitcast<f32>(b.x)), 0u);
        }
        return vec2<u32>(a.x + b.x, 0u);
    }
    if (b.y == EMPTY) {
        return a;
    }
    if (a.y == EMPTY) {
        return b;
    }
    let is_max = OP == RED_MAX || OP == RED_ARG_MAX;
    var a_wins: bool;
    if (DT == DT_F32) {
        let x = bitcast<f32>(a.x);
        let y = bitcast<f32>(b.x);
        let nx = is_nan(x);
        let ny = is_nan(y);
        if (nx && ny) {
            a_wins = a.y < b.y;
        } else if (nx || ny) {
            a_wins = nx;
        } else if (x == y) {
            a_wins = a.y < b.y;
        } else {
            a_wins = (x > y) == is_max;
        }
    } else if (DT == DT_I64) {
        let x = bitcast<i32>(a.x);
        let y = bitcast<i32>(b.x);
        if (x == y) {
            a_wins = a.y < b.y;
        } else {
            a_wins = (x > y) == is_max;
        }
    } else {
        if (a.x == b.x) {
            a_wins = a.y < b.y;
        } else {
            a_wins = (a.x > b.x) == is_max;
        }
    }
    return select(b, a, a_wins);
}

fn load(r: u32, j: u32) -> vec2<u32> {
    return vec2<u32>(X[src_offset(r * P.len + j)], j);
}

fn store(r: u32, v: vec2<u32>) {
    if (OP == RED_ARG_MAX || OP == RED_ARG_MIN) {
        O[r] = v.y;
    } else {
        O[r] = v.x;
    }
}

var<workgroup> sv: array<vec2<u32>, WG>;

// tree reduction of the WG values in `sv`; the result is in sv[0]
fn tree(lid: u32) {
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s >> 1u) {
        if (lid < s) {
            sv[lid] = combine(sv[lid], sv[lid + s]);
        }
        workgroupBarrier();
    }
}

@compute @workgroup_size(WG)
fn reduce_partial(g: Grid) {
    let lid = g.lid;
    let part = group_id(g);
    let chunks = P.chunks;
    if (part >= P.rows * chunks) {
        return;
    }
    let r = part / chunks;
    let start = (part % chunks) * P.chunk;
    let end = min(start + P.chunk, P.len);
    var acc = identity();
    for (var j = start + lid; j < end; j += WG) {
        acc = combine(acc, load(r, j));
    }
    sv[lid] = acc;
    tree(lid);
    if (lid == 0u) {
        PART_OUT[part] = sv[0];
    }
}

@compute @workgroup_size(WG)
fn reduce_final(g: Grid) {
    let lid = g.lid;
    let r = group_id(g);
    if (r >= P.rows) {
        return;
    }
    let chunks = P.chunks;
    var acc = identity();
    for (var c = lid; c < chunks; c += WG) {
        acc = combine(acc, PART_IN[r * chunks + c]);
    }
    sv[lid] = acc;
    tree(lid);
    if (lid == 0u) {
        store(r, sv[0]);
    }
}

@compute @workgroup_size(WG)
fn reduce_wg(g: Grid) {
    let lid = g.lid;
    let r = group_id(g);
    if (r >= P.rows) {
        return;
    }
    let red = P.len;
    var acc = identity();
    for (var j = lid; j < red; j += WG) {
        acc = combine(acc, load(r, j));
    }
    sv[lid] = acc;
    tree(lid);
    if (lid == 0u) {
        store(r, sv[0]);
    }
}

@compute @workgroup_size(WG)
fn reduce_thread(g: Grid) {
    let r = flat_id(g);
    if (r >= P.rows) {
        return;
    }
    let red = P.len;
    var acc = identity();
    for (var j = 0u; j < red; j++) {
        acc = combine(acc, load(r, j));
    }
    store(r, acc);
}
