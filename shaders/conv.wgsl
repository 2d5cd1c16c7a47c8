// conv.wgsl — im2col and col2im for 2-D convolution and pooling (f32).
//
// Columns are patch-major (N·oh·ow, C·kh·kw), as on the CPU: row n·oh·ow + oy·ow + ox (an
// output position), column r = (c·kh + ki)·kw + kj (a tap).
// im2col: one invocation per column-matrix entry, reading the strided (N, C, H, W) input, `pad`
// outside the image. col2im: one invocation per image pixel, summing every (ki, kj) that lands
// on it in the CPU backend's order — a gather, so no atomics and the result is deterministic.

// `P: ConvParams`, generated from src/backend/wgpu/conv.rs: total invocations; the geometry (batch n,
// channels c, image h x w, kernel kh x kw, stride, padding, dilation, output oh x ow); the
// input view's strides (4 for an image, 2 for columns) and offset; the padding value.
@group(0) @binding(0) var<uniform> P: ConvParams;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> O: array<f32>;
@group(0) @binding(3) var<storage, read_write> OI: array<i32>;

@compute @workgroup_size(WG)
fn im2col(g: Grid) {
    let i = flat_id(g);
    if (i >= P.total) {
        return;
    }
    let ow = P.ow;
    let oh = P.oh;
    let kw = P.kw;
    let kh = P.kh;
    let taps = P.c * kh * kw;
    let r = i % taps;
    let row = i / taps;
    let kj = r % kw;
    let ki = (r / kw) % kh;
    let c = r / (kw * kh);
    let ox = row % ow;
    let oy = (row / ow) % oh;
    let n = row / (ow * oh);
    let iy = i32(oy * P.sh + ki * P.dh) - i32(P.ph);
    let ix = i32(ox * P.sw + kj * P.dw) - i32(P.pw);
    var v = P.pad_value;
    if (iy >= 0 && iy < i32(P.h) && ix >= 0 && ix < i32(P.w)) {
        let o = P.offset + n * P.strides.x + c * P.strides.y + u32(iy) * P.strides.z + u32(ix) * P.strides.w;
        v = X[o];
    }
    O[i] = v;
}

// Coordinates (n, c, y, x) of flat index i of an (N, C, h, w) tensor (C = P.c).
fn nchw(i: u32, h: u32, w: u32) -> vec4<u32> {
    let x = i % w;
    var t = i / w;
    let y = t % h;
    t = t / h;
    return vec4<u32>(t / P.c, t % P.c, y, x);
}

@compute @workgroup_size(WG)
fn col2im(g: Grid) {
    let i = flat_id(g);
    if (i >= P.total) {
        return;
    }
    let q = nchw(i, P.h, P.w);
    let n = q.x;
    let c = q.y;
    let iy = i32(q.z);
    let ix = i32(q.w);
    let kh = P.kh;
    let kw = P.kw;
    let sh = i32(P.sh);
    let sw = i32(P.sw);
    let oh = i32(P.oh);
    let ow = i32(P.ow);
    var acc = 0.0;
    for (var ki = 0u; ki < kh; ki++) {
        let ty = iy + i32(P.ph) - i32(ki * P.dh);
        if (ty < 0 || ty % sh != 0 || ty / sh >= oh) {
            continue;
        }
        let oy = ty / sh;
        for (var kj = 0u; kj < kw; kj++) {
            let tx = ix + i32(P.pw) - i32(kj * P.dw);
            if (tx < 0 || tx % sw != 0 || tx / sw >= ow) {
                continue;
            }
            let ox = tx / sw;
            let r = (c * kh + ki) * kw + kj;
            let col = n * u32(oh * ow) + u32(oy * ow + ox);
            acc += X[P.offset + col * P.strides.x + r * P.strides.y];
        }
    }
    O[i] = acc;
}

// Max pooling: one invocation per output (n, c, oy, ox) over the taps inside the image, in
// (ki, kj) order as the CPU backend: a larger value or the first NaN wins, ties keep the first.
// Writes the value and the flat index iy·W + ix of the winner in its plane (0 and -inf when no
// tap lies inside the image).
@compute @workgroup_size(WG)
fn max_pool(g: Grid) {
    let i = flat_id(g);
    if (i >= P.total) {
        return;
    }
    let h = i32(P.h);
    let w = i32(P.w);
    let q = nchw(i, P.oh, P.ow);
    let n = q.x;
    let c = q.y;
    let oy = q.z;
    let ox = q.w;
    let base = P.offset + n * P.strides.x + c * P.strides.y;
    var best = neg_inf();
    var at = -1;
    for (var ki = 0u; ki < P.kh; ki++) {
        let iy = i32(oy * P.sh + ki * P.dh) - i32(P.ph);
        if (iy < 0 || iy >= h) {
            continue;
        }
        for (var kj = 0u; kj < P.kw; kj++) {
            let ix = i32(ox * P.sw + kj * P.dw) - i32(P.pw);
            if (ix < 0 || ix >= w) {
                continue;
            }
            let v = X[base + u32(iy) * P.strides.z + u32(ix) * P.strides.w];
            // a NaN always takes the window, so the last NaN wins (PyTorch's kernels)
            if (at < 0 || v > best || is_nan(v)) {
                best = v;
                at = iy * w + ix;
            }
        }
    }
    O[i] = best;
    OI[i] = max(at, 0);
}
