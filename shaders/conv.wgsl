// conv.wgsl — im2col and col2im for 2-D convolution and pooling (f32).
//
// Columns are patch-major (N·oh·ow, C·kh·kw), as on the CPU: row n·oh·ow + oy·ow + ox (an
// output position), column r = (c·kh + ki)·kw + kj (a tap).
// im2col: one invocation per column-matrix entry, reading the strided (N, C, H, W) input, `pad`
// outside the image. col2im: one invocation per image pixel, summing every (ki, kj) that lands
// on it in the CPU backend's order — a gather, so no atomics and the result is deterministic.

struct Params { v: array<vec4<u32>, 32> }

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> O: array<f32>;
@group(0) @binding(3) var<storage, read_write> OI: array<i32>;

const TOTAL: u32 = 0u;
const GN: u32 = 1u;
const GC: u32 = 2u;
const GH: u32 = 3u;
const GW: u32 = 4u;
const KH: u32 = 5u;
const KW: u32 = 6u;
const SH: u32 = 7u;
const SW: u32 = 8u;
const PH: u32 = 9u;
const PW: u32 = 10u;
const DH: u32 = 11u;
const DW: u32 = 12u;
const OH: u32 = 13u;
const OW: u32 = 14u;
const STR: u32 = 15u;
const OFF: u32 = 19u;
const PAD: u32 = 20u;

fn p(i: u32) -> u32 {
    return P.v[i >> 2u][i & 3u];
}

fn flat_id(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.y * nwg.x + wid.x) * 256u + lid;
}

@compute @workgroup_size(256)
fn im2col(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let i = flat_id(wid, nwg, lid);
    if (i >= p(TOTAL)) {
        return;
    }
    let ow = p(OW);
    let oh = p(OH);
    let kw = p(KW);
    let kh = p(KH);
    let taps = p(GC) * kh * kw;
    let r = i % taps;
    let row = i / taps;
    let kj = r % kw;
    let ki = (r / kw) % kh;
    let c = r / (kw * kh);
    let ox = row % ow;
    let oy = (row / ow) % oh;
    let n = row / (ow * oh);
    let iy = i32(oy * p(SH) + ki * p(DH)) - i32(p(PH));
    let ix = i32(ox * p(SW) + kj * p(DW)) - i32(p(PW));
    var v = bitcast<f32>(p(PAD));
    if (iy >= 0 && iy < i32(p(GH)) && ix >= 0 && ix < i32(p(GW))) {
        let o = p(OFF) + n * p(STR) + c * p(STR + 1u) + u32(iy) * p(STR + 2u) + u32(ix) * p(STR + 3u);
        v = X[o];
    }
    O[i] = v;
}

@compute @workgroup_size(256)
fn col2im(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let i = flat_id(wid, nwg, lid);
    if (i >= p(TOTAL)) {
        return;
    }
    let w = p(GW);
    let h = p(GH);
    let ch = p(GC);
    let ix = i32(i % w);
    var t = i / w;
    let iy = i32(t % h);
    t = t / h;
    let c = t % ch;
    let n = t / ch;
    let kh = p(KH);
    let kw = p(KW);
    let sh = i32(p(SH));
    let sw = i32(p(SW));
    let oh = i32(p(OH));
    let ow = i32(p(OW));
    var acc = 0.0;
    for (var ki = 0u; ki < kh; ki++) {
        let ty = iy + i32(p(PH)) - i32(ki * p(DH));
        if (ty < 0 || ty % sh != 0 || ty / sh >= oh) {
            continue;
        }
        let oy = ty / sh;
        for (var kj = 0u; kj < kw; kj++) {
            let tx = ix + i32(p(PW)) - i32(kj * p(DW));
            if (tx < 0 || tx % sw != 0 || tx / sw >= ow) {
                continue;
            }
            let ox = tx / sw;
            let r = (c * kh + ki) * kw + kj;
            let col = n * u32(oh * ow) + u32(oy * ow + ox);
            acc += X[p(OFF) + col * p(STR) + r * p(STR + 1u)];
        }
    }
    O[i] = acc;
}

// Max pooling: one invocation per output (n, c, oy, ox) over the taps inside the image, in
// (ki, kj) order as the CPU backend: a larger value or the first NaN wins, ties keep the first.
// Writes the value and the flat index iy·W + ix of the winner in its plane (0 and -inf when no
// tap lies inside the image).
@compute @workgroup_size(256)
fn max_pool(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let i = flat_id(wid, nwg, lid);
    if (i >= p(TOTAL)) {
        return;
    }
    let ow = p(OW);
    let oh = p(OH);
    let ch = p(GC);
    let h = i32(p(GH));
    let w = i32(p(GW));
    let ox = i % ow;
    var t = i / ow;
    let oy = t % oh;
    t = t / oh;
    let c = t % ch;
    let n = t / ch;
    let base = p(OFF) + n * p(STR) + c * p(STR + 1u);
    var best = bitcast<f32>(0xff800000u);
    var at = -1;
    for (var ki = 0u; ki < p(KH); ki++) {
        let iy = i32(oy * p(SH) + ki * p(DH)) - i32(p(PH));
        if (iy < 0 || iy >= h) {
            continue;
        }
        for (var kj = 0u; kj < p(KW); kj++) {
            let ix = i32(ox * p(SW) + kj * p(DW)) - i32(p(PW));
            if (ix < 0 || ix >= w) {
                continue;
            }
            let v = X[base + u32(iy) * p(STR + 2u) + u32(ix) * p(STR + 3u)];
            let v_nan = (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
            let b_nan = (bitcast<u32>(best) & 0x7fffffffu) > 0x7f800000u;
            if (at < 0 || (v > best && !b_nan) || (v_nan && !b_nan)) {
                best = v;
                at = iy * w + ix;
            }
        }
    }
    O[i] = best;
    OI[i] = max(at, 0);
}
