// reduce.wgsl — sum / max / min / argmax / argmin over rows.
//
// The host permutes the reduced dims last (as the CPU backend does), so the input is `outer`
// rows of `red` elements, element (r, j) at flat index r * red + j of a strided layout.
// `reduce_wg` gives each row a workgroup and a shared-memory tree; `reduce_thread` gives each
// row one invocation, for many short rows. A few very long rows take two passes:
// `reduce_partial` reduces chunks of CHUNK elements to (value, index) pairs with many
// workgroups, and `reduce_final` reduces each row's pairs. Values travel as bits: DT 0 = f32,
// 1 = i32, 2 = bool.
// Max/min keep the first NaN, and ties keep the smallest index, as the CPU backend.

struct Params { v: array<vec4<u32>, 32> }

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<u32>;
@group(0) @binding(2) var<storage, read_write> O: array<u32>;
@group(0) @binding(3) var<storage, read> PART_IN: array<vec2<u32>>;
@group(0) @binding(4) var<storage, read_write> PART_OUT: array<vec2<u32>>;

// 0 sum, 1 max, 2 min, 3 argmax, 4 argmin
override OP: u32 = 0u;
override DT: u32 = 0u;
override CONTIG: bool = false;

const OUTER: u32 = 0u;
const RED: u32 = 1u;
const NDIM: u32 = 2u;
const SHAPE: u32 = 3u;
const STRIDES: u32 = 11u;
const OFFSET: u32 = 19u;
// two-pass reductions: chunks per row, elements per chunk
const CHUNKS: u32 = 20u;
const CHUNK: u32 = 21u;

const EMPTY: u32 = 0xffffffffu;

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

// (value bits, index); index EMPTY marks "no element yet"
fn identity() -> vec2<u32> {
    return vec2<u32>(0u, EMPTY);
}

fn combine(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
    if (OP == 0u) {
        if (DT == 0u) {
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
    let is_max = OP == 1u || OP == 3u;
    var a_wins: bool;
    if (DT == 0u) {
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
    } else if (DT == 1u) {
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
    return vec2<u32>(X[src_offset(r * p(RED) + j)], j);
}

fn store(r: u32, v: vec2<u32>) {
    if (OP >= 3u) {
        O[r] = v.y;
    } else {
        O[r] = v.x;
    }
}

var<workgroup> sv: array<vec2<u32>, 256>;

// tree reduction of the 256 values in `sv`; the result is in sv[0]
fn tree(lid: u32) {
    workgroupBarrier();
    for (var s = 128u; s > 0u; s = s >> 1u) {
        if (lid < s) {
            sv[lid] = combine(sv[lid], sv[lid + s]);
        }
        workgroupBarrier();
    }
}

@compute @workgroup_size(256)
fn reduce_partial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
    let g = wid.y * nwg.x + wid.x;
    let chunks = p(CHUNKS);
    if (g >= p(OUTER) * chunks) {
        return;
    }
    let r = g / chunks;
    let start = (g % chunks) * p(CHUNK);
    let end = min(start + p(CHUNK), p(RED));
    var acc = identity();
    for (var j = start + lid; j < end; j += 256u) {
        acc = combine(acc, load(r, j));
    }
    sv[lid] = acc;
    tree(lid);
    if (lid == 0u) {
        PART_OUT[g] = sv[0];
    }
}

@compute @workgroup_size(256)
fn reduce_final(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    let r = wid.y * nwg.x + wid.x;
    if (r >= p(OUTER)) {
        return;
    }
    let chunks = p(CHUNKS);
    var acc = identity();
    for (var c = lid; c < chunks; c += 256u) {
        acc = combine(acc, PART_IN[r * chunks + c]);
    }
    sv[lid] = acc;
    tree(lid);
    if (lid == 0u) {
        store(r, sv[0]);
    }
}

@compute @workgroup_size(256)
fn reduce_wg(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
    let r = wid.y * nwg.x + wid.x;
    if (r >= p(OUTER)) {
        return;
    }
    let red = p(RED);
    var acc = identity();
    for (var j = lid; j < red; j += 256u) {
        acc = combine(acc, load(r, j));
    }
    sv[lid] = acc;
    tree(lid);
    if (lid == 0u) {
        store(r, sv[0]);
    }
}

@compute @workgroup_size(256)
fn reduce_thread(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
    let r = (wid.y * nwg.x + wid.x) * 256u + lid;
    if (r >= p(OUTER)) {
        return;
    }
    let red = p(RED);
    var acc = identity();
    for (var j = 0u; j < red; j++) {
        acc = combine(acc, load(r, j));
    }
    store(r, acc);
}
