//! GPU against CPU: every primitive and the ops' forward and backward, plus batching, memory
//! and error behaviour of the wgpu backend.
//!
//! A custom harness (libtest-mimic, `harness = false`): without an adapter each test is reported
//! `ignored`, unless `RUSTDL_REQUIRE_GPU=1` (CI with lavapipe), where every test fails. Sizes
//! stay small: lavapipe runs on the CPU.

use std::sync::Mutex;

use libtest_mimic::{Arguments, Failed, Trial};

use rustdl::backend::{
    self, wgpu as gpu, BinaryOp, Conv2dGeom, OptimStep, RandKind, ReduceOp, UnaryOp,
};
use rustdl::ops::loss::Reduction;
use rustdl::ops::nn::Window2d;
use rustdl::shape::Layout;
use rustdl::storage::{CpuStorage, Storage};
use rustdl::{DType, Device, Error, Tensor};

/// GPU tests share process-wide counters and pools: run them one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// A test: its name and body, which gets the GPU device.
type GpuTest = (&'static str, fn(Device));

/// Every test.
const TESTS: &[GpuTest] = &[
    ("adapter_info_and_stats", adapter_info_and_stats),
    ("unary_ops_match_cpu", unary_ops_match_cpu),
    (
        "binary_ops_match_cpu_with_broadcasting",
        binary_ops_match_cpu_with_broadcasting,
    ),
    (
        "where_cast_copy_assign_fill_match_cpu",
        where_cast_copy_assign_fill_match_cpu,
    ),
    ("reductions_match_cpu", reductions_match_cpu),
    (
        "matmul_matches_cpu_for_odd_and_batched_sizes",
        matmul_matches_cpu_for_odd_and_batched_sizes,
    ),
    ("matmul_backward_matches_cpu", matmul_backward_matches_cpu),
    (
        "softmax_and_cross_entropy_match_cpu",
        softmax_and_cross_entropy_match_cpu,
    ),
    (
        "index_ops_match_cpu_forward_and_backward",
        index_ops_match_cpu_forward_and_backward,
    ),
    (
        "out_of_range_indices_raise_index_errors",
        out_of_range_indices_raise_index_errors,
    ),
    (
        "conv_and_pooling_match_cpu_forward_and_backward",
        conv_and_pooling_match_cpu_forward_and_backward,
    ),
    ("max_pool_kernel_matches_cpu", max_pool_kernel_matches_cpu),
    ("random_streams_match_cpu", random_streams_match_cpu),
    (
        "fused_optimizer_steps_match_cpu",
        fused_optimizer_steps_match_cpu,
    ),
    (
        "mlp_training_step_matches_cpu",
        mlp_training_step_matches_cpu,
    ),
    (
        "chained_ops_are_batched_into_few_submits",
        chained_ops_are_batched_into_few_submits,
    ),
    (
        "memory_stays_flat_over_repeated_steps",
        memory_stays_flat_over_repeated_steps,
    ),
    (
        "unsupported_dtypes_and_values_are_typed_errors",
        unsupported_dtypes_and_values_are_typed_errors,
    ),
    (
        "concurrent_threads_share_the_device",
        concurrent_threads_share_the_device,
    ),
    (
        "oversized_work_is_a_gpu_error_not_a_panic",
        oversized_work_is_a_gpu_error_not_a_panic,
    ),
    (
        "fused_attention_matches_cpu_forward_and_backward",
        fused_attention_matches_cpu_forward_and_backward,
    ),
];

/// Measurements rather than tests: always `ignored`, run with `--ignored --nocapture`.
const MEASUREMENTS: &[GpuTest] = &[(
    "measure_matmul_and_dispatch_overhead",
    measure_matmul_and_dispatch_overhead,
)];

/// Runs each test on `gpu:0`. Without an adapter every test is reported `ignored`, or, under
/// `RUSTDL_REQUIRE_GPU=1` (CI with lavapipe), fails.
fn main() {
    let args = Arguments::from_args();
    let available = gpu::is_available();
    let required = std::env::var("RUSTDL_REQUIRE_GPU").is_ok_and(|v| v == "1");
    if !available && !required {
        eprintln!("notice: no GPU adapter found; the GPU tests are ignored");
    }
    let trial = |&(name, body): &GpuTest| {
        Trial::test(name, move || {
            if !gpu::is_available() {
                return Err(Failed::from(
                    "no GPU adapter was found (RUSTDL_REQUIRE_GPU=1 makes that a failure; \
                     install mesa-vulkan-drivers for lavapipe)",
                ));
            }
            let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
            body(Device::Gpu(0));
            Ok(())
        })
    };
    let trials = TESTS
        .iter()
        .map(|t| trial(t).with_ignored_flag(!available && !required))
        .chain(
            MEASUREMENTS
                .iter()
                .map(|t| trial(t).with_ignored_flag(true)),
        )
        .collect();
    libtest_mimic::run(&args, trials).exit();
}

/// Deterministic pseudo-random values in [lo, hi).
fn values(n: usize, seed: u64, lo: f32, hi: f32) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            lo + (hi - lo) * ((s >> 40) as f32 / (1u64 << 24) as f32)
        })
        .collect()
}

fn t(shape: &[usize], seed: u64) -> Tensor {
    Tensor::from_f32(values(shape.iter().product(), seed, -2.0, 2.0), shape).unwrap()
}

fn to(x: &Tensor, d: Device) -> Tensor {
    x.to_device(d).unwrap()
}

/// A fresh leaf on `d` holding `x`'s values, requiring grad.
fn leaf(x: &Tensor, d: Device) -> Tensor {
    let y = x.detach().to_device(d).unwrap();
    y.set_requires_grad(true).unwrap();
    y
}

fn assert_close(what: &str, cpu: &[f32], gpu: &[f32], tol: f32) {
    assert_eq!(cpu.len(), gpu.len(), "{what}: lengths differ");
    for (i, (&a, &b)) in cpu.iter().zip(gpu).enumerate() {
        if a.is_nan() && b.is_nan() {
            continue;
        }
        if a.is_infinite() || b.is_infinite() {
            assert_eq!(a, b, "{what}[{i}]: cpu {a} gpu {b}");
            continue;
        }
        let err = (a - b).abs();
        assert!(
            err <= tol * (1.0 + a.abs()),
            "{what}[{i}]: cpu {a} gpu {b} (err {err})"
        );
    }
}

/// Compares a tensor computed on both devices.
fn same(what: &str, cpu: &Tensor, gpu_t: &Tensor, tol: f32) {
    assert_eq!(cpu.shape(), gpu_t.shape(), "{what}: shapes differ");
    assert_eq!(cpu.dtype(), gpu_t.dtype(), "{what}: dtypes differ");
    assert!(gpu_t.device().is_gpu(), "{what}: result left the GPU");
    match cpu.dtype() {
        DType::I64 | DType::Bool => assert_eq!(
            cpu.to_i64_vec().unwrap(),
            gpu_t.to_i64_vec().unwrap(),
            "{what}"
        ),
        _ => assert_close(
            what,
            &cpu.to_f32_vec().unwrap(),
            &gpu_t.to_f32_vec().unwrap(),
            tol,
        ),
    }
}

fn stat(name: &str) -> u64 {
    gpu::stat(name)
}

fn adapter_info_and_stats(_d: Device) {
    let info = gpu::adapter_info().unwrap();
    for key in ["name", "backend", "device_type", "driver"] {
        assert!(
            info.iter().any(|(k, _)| k == key),
            "adapter_info lacks {key}"
        );
    }
    eprintln!("adapter: {info:?}");
    let s = gpu::stats();
    for key in [
        "submits",
        "dispatches",
        "pipelines_compiled",
        "pool_hits",
        "bytes_allocated",
    ] {
        assert!(s.iter().any(|(k, _)| k == key), "stats lacks {key}");
    }
    gpu::synchronize().unwrap();
}

fn unary_ops_match_cpu(d: Device) {
    let x = t(&[7, 37], 1);
    let pos = Tensor::from_f32(values(7 * 37, 2, 0.05, 3.0), &[7, 37]).unwrap();
    let ops = [
        UnaryOp::Neg,
        UnaryOp::Abs,
        UnaryOp::Exp,
        UnaryOp::Sin,
        UnaryOp::Cos,
        UnaryOp::Tanh,
        UnaryOp::Sigmoid,
        UnaryOp::Relu,
        UnaryOp::Gelu,
        UnaryOp::GeluGrad,
        UnaryOp::Sign,
        UnaryOp::Recip,
        UnaryOp::Square,
        UnaryOp::Floor,
        UnaryOp::Step,
        UnaryOp::AddScalar(1.5),
        UnaryOp::MulScalar(-0.25),
        UnaryOp::RSubScalar(3.0),
        UnaryOp::RDivScalar(2.0),
        UnaryOp::PowScalar(3.0),
        UnaryOp::PowScalar(2.0),
        UnaryOp::RPowScalar(1.7),
        UnaryOp::Clamp(-0.5, 0.75),
        UnaryOp::ClampMask(-0.5, 0.75),
        UnaryOp::LeakyRelu(0.1),
        UnaryOp::LeakyReluGrad(0.1),
        UnaryOp::Elu(1.3),
        UnaryOp::EluGrad(1.3),
        UnaryOp::Silu,
        UnaryOp::SiluGrad,
        UnaryOp::Log1p,
        UnaryOp::Not,
    ];
    // on a transposed (strided) view too
    let xt = x.t().unwrap();
    for op in ops {
        let input = if op == UnaryOp::Log1p { &pos } else { &x };
        same(
            &format!("{op:?}"),
            &input.unary(op).unwrap(),
            &to(input, d).unary(op).unwrap(),
            2e-5,
        );
        same(
            &format!("{op:?} strided"),
            &xt.unary(op).unwrap(),
            &to(&x, d).t().unwrap().unary(op).unwrap(),
            2e-5,
        );
    }
    for op in [
        UnaryOp::Log,
        UnaryOp::Sqrt,
        UnaryOp::Rsqrt,
        UnaryOp::PowScalar(0.5),
        UnaryOp::PowScalar(-1.3),
    ] {
        same(
            &format!("{op:?}"),
            &pos.unary(op).unwrap(),
            &to(&pos, d).unary(op).unwrap(),
            2e-5,
        );
    }
    // negative bases with integral exponents stay real, as powf gives
    same(
        "pow -x^3",
        &x.unary(UnaryOp::PowScalar(3.0)).unwrap(),
        &to(&x, d).unary(UnaryOp::PowScalar(3.0)).unwrap(),
        2e-5,
    );
    // integer and bool variants
    let xi = Tensor::from_i64(vec![-5, -1, 0, 3, 7, 12], &[2, 3]).unwrap();
    for op in [
        UnaryOp::Neg,
        UnaryOp::Abs,
        UnaryOp::Sign,
        UnaryOp::Square,
        UnaryOp::Relu,
        UnaryOp::Clamp(-2.5, 4.5),
        UnaryOp::AddScalar(3.0),
        UnaryOp::MulScalar(-2.0),
        UnaryOp::RSubScalar(1.0),
    ] {
        same(
            &format!("int {op:?}"),
            &xi.unary(op).unwrap(),
            &to(&xi, d).unary(op).unwrap(),
            0.0,
        );
    }
    let b = x.ne_scalar(0.5).unwrap();
    same(
        "not",
        &b.unary(UnaryOp::Not).unwrap(),
        &to(&b, d).unary(UnaryOp::Not).unwrap(),
        0.0,
    );
    // extreme values: tanh saturates, sigmoid underflows, NaN stays NaN
    let ext = Tensor::from_f32(vec![-100.0, -20.0, 0.0, 20.0, 100.0, f32::NAN], &[6]).unwrap();
    for op in [
        UnaryOp::Tanh,
        UnaryOp::Sigmoid,
        UnaryOp::Relu,
        UnaryOp::Exp,
        UnaryOp::Clamp(-1.0, 1.0),
    ] {
        same(
            &format!("extreme {op:?}"),
            &ext.unary(op).unwrap(),
            &to(&ext, d).unary(op).unwrap(),
            2e-5,
        );
    }
}

fn binary_ops_match_cpu_with_broadcasting(d: Device) {
    let a = t(&[3, 1, 5], 3);
    let b = t(&[4, 5], 4);
    let bp = Tensor::from_f32(values(20, 5, 0.2, 2.0), &[4, 5]).unwrap();
    let ops = [
        BinaryOp::Add,
        BinaryOp::Sub,
        BinaryOp::Mul,
        BinaryOp::Div,
        BinaryOp::Maximum,
        BinaryOp::Minimum,
        BinaryOp::Eq,
        BinaryOp::Ne,
        BinaryOp::Lt,
        BinaryOp::Le,
        BinaryOp::Gt,
        BinaryOp::Ge,
        BinaryOp::And,
        BinaryOp::Or,
    ];
    for op in ops {
        same(
            op.name(),
            &a.binary(&b, op).unwrap(),
            &to(&a, d).binary(&to(&b, d), op).unwrap(),
            1e-6,
        );
        // transposed right operand
        let bt = b.t().unwrap().contiguous().unwrap();
        same(
            &format!("{} transposed", op.name()),
            &a.binary(&bt.t().unwrap(), op).unwrap(),
            &to(&a, d).binary(&to(&bt, d).t().unwrap(), op).unwrap(),
            1e-6,
        );
    }
    same(
        "pow",
        &bp.binary(&a, BinaryOp::Pow).unwrap(),
        &to(&bp, d).binary(&to(&a, d), BinaryOp::Pow).unwrap(),
        2e-5,
    );
    // equal values compare equal
    same(
        "eq self",
        &a.binary(&a, BinaryOp::Eq).unwrap(),
        &to(&a, d).binary(&to(&a, d), BinaryOp::Eq).unwrap(),
        0.0,
    );

    let ia = Tensor::from_i64(vec![-7, -3, 0, 2, 5, 9], &[2, 3]).unwrap();
    let ib = Tensor::from_i64(vec![2, -2, 3], &[3]).unwrap();
    for op in ops.iter().copied().chain([BinaryOp::Pow]) {
        same(
            &format!("int {}", op.name()),
            &ia.binary(&ib, op).unwrap(),
            &to(&ia, d).binary(&to(&ib, d), op).unwrap(),
            0.0,
        );
    }
    let ba = a.gt(&b);
    let bb = b.ne_scalar(0.0).unwrap();
    for op in [
        BinaryOp::And,
        BinaryOp::Or,
        BinaryOp::Eq,
        BinaryOp::Ne,
        BinaryOp::Lt,
        BinaryOp::Le,
        BinaryOp::Gt,
        BinaryOp::Ge,
        BinaryOp::Add,
        BinaryOp::Mul,
    ] {
        same(
            &format!("bool {}", op.name()),
            &ba.binary(&bb, op).unwrap(),
            &to(&ba, d).binary(&to(&bb, d), op).unwrap(),
            0.0,
        );
    }
    let e = to(&ba, d).binary(&to(&bb, d), BinaryOp::Sub).unwrap_err();
    assert!(matches!(e, Error::DType(_)), "{e:?}");
}

trait Gt {
    fn gt(&self, o: &Tensor) -> Tensor;
}
impl Gt for Tensor {
    fn gt(&self, o: &Tensor) -> Tensor {
        self.binary(o, BinaryOp::Gt).unwrap()
    }
}

fn where_cast_copy_assign_fill_match_cpu(d: Device) {
    let a = t(&[4, 6], 6);
    let b = t(&[6], 7);
    let c = a.gt(&b.mul_scalar(0.5).unwrap());
    same(
        "where",
        &Tensor::where_cond(&c, &a, &b).unwrap(),
        &Tensor::where_cond(&to(&c, d), &to(&a, d), &to(&b, d)).unwrap(),
        0.0,
    );
    // casts between every pair
    let ints = Tensor::from_i64(vec![-3, 0, 1, 7, 100000, -2], &[6]).unwrap();
    // (float to int64 saturates at 32 bits on the GPU, so stay inside that range here; NaN
    // is checked apart: the CPU gives x86's INT64_MIN as PyTorch's CPU kernels, the GPU 0 as
    // CUDA's conversion)
    let floats = Tensor::from_f32(vec![-3.7, 0.0, 0.2, 7.9, 1e9, -1e9], &[6]).unwrap();
    let with_nan = Tensor::from_f32(vec![1.0, f32::NAN], &[2]).unwrap();
    assert_eq!(
        with_nan.to_dtype(DType::I64).unwrap().to_i64_vec().unwrap(),
        [1, i64::MIN]
    );
    assert_eq!(
        to(&with_nan, d)
            .to_dtype(DType::I64)
            .unwrap()
            .to_i64_vec()
            .unwrap(),
        [1, 0]
    );
    let bools = Tensor::from_f32(vec![-3.7, 0.0, 0.2, 7.9, 1e9, f32::NAN], &[6])
        .unwrap()
        .ne_scalar(0.0)
        .unwrap();
    for src in [&ints, &floats, &bools] {
        for dt in [DType::F32, DType::I64, DType::Bool] {
            same(
                &format!("cast {} -> {}", src.dtype(), dt),
                &src.to_dtype(dt).unwrap(),
                &to(src, d).to_dtype(dt).unwrap(),
                0.0,
            );
        }
    }
    // strided copies: permute, slice with step, expand
    let x = t(&[3, 4, 5], 8);
    let v = x.permute(&[2, 0, 1]).unwrap().slice(1, 0, 4, 2).unwrap();
    let gv = to(&x, d)
        .permute(&[2, 0, 1])
        .unwrap()
        .slice(1, 0, 4, 2)
        .unwrap();
    same(
        "strided copy",
        &v.contiguous().unwrap(),
        &gv.contiguous().unwrap(),
        0.0,
    );
    same(
        "expand copy",
        &b.expand(&[3, 6]).unwrap().contiguous().unwrap(),
        &to(&b, d).expand(&[3, 6]).unwrap().contiguous().unwrap(),
        0.0,
    );
    // assign: broadcast source into a strided slice, with a cast
    let dst_c = Tensor::zeros(&[4, 6], DType::F32, Device::Cpu).unwrap();
    let dst_g = Tensor::zeros(&[4, 6], DType::F32, d).unwrap();
    let src = Tensor::from_i64(vec![1, 2, 3], &[3]).unwrap();
    dst_c.slice(1, 0, 6, 2).unwrap().copy_(&src).unwrap();
    dst_g
        .slice(1, 0, 6, 2)
        .unwrap()
        .copy_(&to(&src, d))
        .unwrap();
    same("assign", &dst_c, &dst_g, 0.0);
    dst_c.fill_(2.5).unwrap();
    dst_g.fill_(2.5).unwrap();
    same("fill_", &dst_c, &dst_g, 0.0);
    for (v, dt) in [
        (0.0, DType::F32),
        (-1.25, DType::F32),
        (7.0, DType::I64),
        (1.0, DType::Bool),
    ] {
        same(
            "full",
            &Tensor::full(&[5, 3], v, dt, Device::Cpu).unwrap(),
            &Tensor::full(&[5, 3], v, dt, d).unwrap(),
            0.0,
        );
    }
}

fn reductions_match_cpu(d: Device) {
    let x = t(&[6, 70, 5], 9);
    let gx = to(&x, d);
    for dims in [vec![0usize], vec![1], vec![2], vec![0, 2], vec![0, 1, 2]] {
        for op in [ReduceOp::Sum, ReduceOp::Max, ReduceOp::Min] {
            let c = backend::reduce(op, &x.storage(), x.layout(), &dims).unwrap();
            let g = backend::reduce(op, &gx.storage(), gx.layout(), &dims).unwrap();
            let (Storage::Cpu(c), Storage::Gpu(g)) = (c, g) else {
                panic!("devices")
            };
            let gv = gpu::download(&g).unwrap();
            let (CpuStorage::F32(cv), CpuStorage::F32(gv)) = (c, gv) else {
                panic!("dtype")
            };
            assert_close(&format!("{op:?} {dims:?}"), &cv, &gv, 1e-5);
        }
    }
    for dim in [0isize, 1, 2] {
        same(
            "argmax",
            &x.argmax_min(Some(dim), false, true).unwrap(),
            &gx.argmax_min(Some(dim), false, true).unwrap(),
            0.0,
        );
        same(
            "argmin",
            &x.argmax_min(Some(dim), true, false).unwrap(),
            &gx.argmax_min(Some(dim), true, false).unwrap(),
            0.0,
        );
        let (vc, ic) = x.max_min_dim(dim, false, true).unwrap();
        let (vg, ig) = gx.max_min_dim(dim, false, true).unwrap();
        same("max values", &vc, &vg, 0.0);
        same("max indices", &ic, &ig, 0.0);
    }
    // a long row (tree reduction), a transposed view, ties and NaN
    let long = t(&[3, 5000], 10);
    same(
        "long sum",
        &long.sum(&[1], false).unwrap(),
        &to(&long, d).sum(&[1], false).unwrap(),
        1e-4,
    );
    same(
        "sum all",
        &x.sum_all().unwrap(),
        &gx.sum_all().unwrap(),
        1e-4,
    );
    same(
        "transposed mean",
        &x.transpose(0, 2).unwrap().mean(&[1], false).unwrap(),
        &gx.transpose(0, 2).unwrap().mean(&[1], false).unwrap(),
        1e-5,
    );
    let ties = Tensor::from_f32(
        vec![
            1.0,
            3.0,
            3.0,
            2.0,
            f32::NAN,
            5.0,
            0.0,
            f32::NAN,
            -1.0,
            -1.0,
            -1.0,
            -1.0,
        ],
        &[3, 4],
    )
    .unwrap();
    same(
        "argmax ties/nan",
        &ties.argmax_min(Some(1), false, true).unwrap(),
        &to(&ties, d).argmax_min(Some(1), false, true).unwrap(),
        0.0,
    );
    same(
        "argmin ties/nan",
        &ties.argmax_min(Some(1), false, false).unwrap(),
        &to(&ties, d).argmax_min(Some(1), false, false).unwrap(),
        0.0,
    );
    same(
        "max nan",
        &ties.max_min_all(true).unwrap(),
        &to(&ties, d).max_min_all(true).unwrap(),
        0.0,
    );
    // integer and bool reductions
    let xi = Tensor::from_i64((0..60).map(|i| (i * 37 % 23) - 11).collect(), &[5, 12]).unwrap();
    same(
        "int sum",
        &xi.sum(&[1], false).unwrap(),
        &to(&xi, d).sum(&[1], false).unwrap(),
        0.0,
    );
    same(
        "int max",
        &xi.max_min_all(true).unwrap(),
        &to(&xi, d).max_min_all(true).unwrap(),
        0.0,
    );
    let b = x.gt(&x.mul_scalar(0.5).unwrap());
    same(
        "bool sum",
        &b.sum(&[0, 2], false).unwrap(),
        &to(&b, d).sum(&[0, 2], false).unwrap(),
        0.0,
    );
    same(
        "var",
        &x.var(&[1], 1.0, false).unwrap(),
        &gx.var(&[1], 1.0, false).unwrap(),
        1e-4,
    );
}

fn matmul_matches_cpu_for_odd_and_batched_sizes(d: Device) {
    let cases: [(&[usize], &[usize]); 6] = [
        (&[67, 129], &[129, 33]),
        (&[3, 17, 65], &[3, 65, 9]),
        (&[64, 128], &[128, 32]),
        (&[1, 40], &[40, 1]),
        (&[5, 3], &[3, 70]),
        (&[2, 3, 8, 12], &[2, 3, 12, 20]),
    ];
    for (i, (sa, sb)) in cases.iter().enumerate() {
        let a = t(sa, 20 + i as u64);
        let b = t(sb, 40 + i as u64);
        same(
            &format!("matmul {sa:?}@{sb:?}"),
            &a.matmul(&b).unwrap(),
            &to(&a, d).matmul(&to(&b, d)).unwrap(),
            1e-4,
        );
    }
    // transposed operands (read through strides) and a broadcast batch
    let a = t(&[33, 21], 60);
    let b = t(&[45, 33], 61);
    same(
        "a^T @ b^T",
        &a.t().unwrap().matmul(&b.t().unwrap()).unwrap(),
        &to(&a, d)
            .t()
            .unwrap()
            .matmul(&to(&b, d).t().unwrap())
            .unwrap(),
        1e-4,
    );
    let w = t(&[16, 24], 62);
    let xb = t(&[4, 24, 8], 63);
    same(
        "broadcast batch",
        &w.matmul(&xb).unwrap(),
        &to(&w, d).matmul(&to(&xb, d)).unwrap(),
        1e-4,
    );
    // few output tiles over a long K: split-K (runs of k-slices on separate workgroups, then a
    // sum of the partial products) — the shapes of LeNet's convolution weight gradients, a
    // K just past one run, a batch, and a transposed operand
    let long: [(&[usize], &[usize]); 5] = [
        (&[6, 50176], &[50176, 25]),
        (&[16, 6400], &[6400, 150]),
        (&[3, 1025], &[1025, 5]),
        (&[2, 5, 3000], &[2, 3000, 7]),
        (&[1, 4099], &[4099, 1]),
    ];
    for (i, (sa, sb)) in long.iter().enumerate() {
        let a = t(sa, 80 + i as u64);
        let b = t(sb, 90 + i as u64);
        same(
            &format!("split-K matmul {sa:?}@{sb:?}"),
            &a.matmul(&b).unwrap(),
            &to(&a, d).matmul(&to(&b, d)).unwrap(),
            1e-3,
        );
    }
    let a = t(&[4000, 9], 95);
    let b = t(&[4000, 10], 96);
    same(
        "split-K a^T @ b",
        &a.t().unwrap().matmul(&b).unwrap(),
        &to(&a, d).t().unwrap().matmul(&to(&b, d)).unwrap(),
        1e-3,
    );
    // column-major operands read as vec4 down their columns (no copy): x @ wᵀ, gᵀ @ x and
    // both, with sizes that leave partial tiles; then a column-major operand whose columns
    // are not 16-byte aligned (scalar loads)
    let colmajor: [(usize, usize, usize); 5] = [
        (96, 80, 64),
        (67, 132, 36),
        (5, 4, 3),
        (64, 784, 256),
        (130, 12, 68),
    ];
    for (i, &(m, k, n)) in colmajor.iter().enumerate() {
        let a = t(&[m, k], 64 + i as u64);
        let b = t(&[n, k], 74 + i as u64);
        same(
            &format!("x @ w^T ({m}x{k} @ {k}x{n})"),
            &a.matmul(&b.t().unwrap()).unwrap(),
            &to(&a, d).matmul(&to(&b, d).t().unwrap()).unwrap(),
            1e-4,
        );
        let at = t(&[k, m], 84 + i as u64);
        same(
            &format!("g^T @ x ({m}x{k} @ {k}x{n})"),
            &at.t().unwrap().matmul(&b.t().unwrap()).unwrap(),
            &to(&at, d)
                .t()
                .unwrap()
                .matmul(&to(&b, d).t().unwrap())
                .unwrap(),
            1e-4,
        );
    }
    let a = t(&[40, 30], 97);
    let b = t(&[30, 50], 98);
    let (ga, gb) = (to(&a, d), to(&b, d));
    same(
        "unaligned column-major operands",
        &a.narrow(1, 1, 29)
            .unwrap()
            .matmul(&b.narrow(0, 1, 29).unwrap())
            .unwrap(),
        &ga.narrow(1, 1, 29)
            .unwrap()
            .matmul(&gb.narrow(0, 1, 29).unwrap())
            .unwrap(),
        1e-4,
    );
    // a linear layer's bias in the product's epilogue, and after a split-K reduction
    for (i, &(m, k, n)) in [(67usize, 36usize, 129usize), (3, 8000, 5), (64, 0, 7)]
        .iter()
        .enumerate()
    {
        let x = t(&[m, k], 110 + i as u64);
        let w = t(&[n, k], 120 + i as u64);
        let bias = t(&[n], 130 + i as u64);
        same(
            &format!("linear {m}x{k} -> {n}"),
            &x.linear(&w, Some(&bias)).unwrap(),
            &to(&x, d).linear(&to(&w, d), Some(&to(&bias, d))).unwrap(),
            1e-3,
        );
    }
}

fn matmul_backward_matches_cpu(d: Device) {
    let (a, b) = (t(&[9, 13], 70), t(&[13, 6], 71));
    let run = |dev: Device| {
        let (a, b) = (leaf(&a, dev), leaf(&b, dev));
        a.matmul(&b)
            .unwrap()
            .tanh()
            .unwrap()
            .sum_all()
            .unwrap()
            .backward(None, false)
            .unwrap();
        (a.grad().unwrap(), b.grad().unwrap())
    };
    let (ca, cb) = run(Device::Cpu);
    let (ga, gb) = run(d);
    same("dA", &ca, &ga, 1e-4);
    same("dB", &cb, &gb, 1e-4);
}

fn fused_attention_matches_cpu_forward_and_backward(d: Device) {
    // ragged blocks and tiles, head widths across a 32-column chunk, a mask shared or per batch
    // entry with -inf holes and a query that sees no key, causal with L > S
    let (b, l, s, e, ev) = (3usize, 37usize, 45usize, 40usize, 9usize);
    let (q, k, v, g) = (
        t(&[b, l, e], 90),
        t(&[b, s, e], 91),
        t(&[b, s, ev], 92),
        t(&[b, l, ev], 93),
    );
    let holes = |n: usize, seed: u64| {
        let mut m = values(n, seed, -1.0, 1.0);
        for (i, x) in m.iter_mut().enumerate() {
            if i % 7 == 3 || (i / s) % l == 5 {
                *x = f32::NEG_INFINITY;
            }
        }
        m
    };
    let shared = Tensor::from_f32(holes(l * s, 94), &[l, s]).unwrap();
    let per_batch = Tensor::from_f32(holes(b * l * s, 95), &[b, l, s]).unwrap();
    for (what, mask, causal) in [
        ("plain", None, false),
        ("shared mask", Some(&shared), false),
        ("per-batch mask", Some(&per_batch), false),
        ("causal", None, true),
    ] {
        let run = |dev: Device| {
            let (q, k, v) = (leaf(&q, dev), leaf(&k, dev), leaf(&v, dev));
            let m = mask.map(|m| to(m, dev));
            let out = q
                .scaled_dot_product_attention_fused(&k, &v, m.as_ref(), causal, 0.3)
                .unwrap();
            out.mul(&to(&g, dev))
                .unwrap()
                .sum_all()
                .unwrap()
                .backward(None, false)
                .unwrap();
            (out, q.grad().unwrap(), k.grad().unwrap(), v.grad().unwrap())
        };
        let c = run(Device::Cpu);
        let gp = run(d);
        same(&format!("attention {what}"), &c.0, &gp.0, 1e-4);
        same(&format!("attention {what} dq"), &c.1, &gp.1, 1e-4);
        same(&format!("attention {what} dk"), &c.2, &gp.2, 1e-4);
        same(&format!("attention {what} dv"), &c.3, &gp.3, 1e-4);
    }
}

fn softmax_and_cross_entropy_match_cpu(d: Device) {
    for shape in [vec![5usize, 10], vec![3, 300], vec![2, 3, 4]] {
        let x = t(&shape, 80);
        for log in [false, true] {
            same(
                &format!("softmax {shape:?} log={log}"),
                &x.softmax_dim(-1, log).unwrap(),
                &to(&x, d).softmax_dim(-1, log).unwrap(),
                1e-5,
            );
            same(
                &format!("softmax dim0 {shape:?}"),
                &x.softmax_dim(0, log).unwrap(),
                &to(&x, d).softmax_dim(0, log).unwrap(),
                1e-5,
            );
        }
    }
    let logits = t(&[8, 5], 81);
    let target = Tensor::from_i64(vec![0, 4, 2, 2, 1, 3, 0, 4], &[8]).unwrap();
    let run = |dev: Device| {
        let x = leaf(&logits, dev);
        let loss = x
            .cross_entropy(&to(&target, dev), None, -100, Reduction::Mean, 0.1)
            .unwrap();
        loss.backward(None, false).unwrap();
        (loss, x.grad().unwrap())
    };
    let (cl, cg) = run(Device::Cpu);
    let (gl, gg) = run(d);
    same("cross_entropy", &cl, &gl, 1e-5);
    same("cross_entropy grad", &cg, &gg, 1e-5);
}

fn index_ops_match_cpu_forward_and_backward(d: Device) {
    let x = t(&[6, 4, 3], 90);
    let idx = Tensor::from_i64(vec![5, 0, 2, 2, 1], &[5]).unwrap();
    for dim in [0isize, 1, 2] {
        let n = x.shape()[dim as usize] as i64;
        let id = Tensor::from_i64(vec![n - 1, 0, n / 2, 0], &[4]).unwrap();
        same(
            &format!("index_select {dim}"),
            &x.index_select(dim, &id).unwrap(),
            &to(&x, d).index_select(dim, &to(&id, d)).unwrap(),
            0.0,
        );
    }
    // index_select backward is index_add (atomic float adds with repeated indices)
    let run = |dev: Device| {
        let xx = leaf(&x, dev);
        let y = xx.index_select(0, &to(&idx, dev)).unwrap();
        y.mul(&to(&t(&[5, 4, 3], 91), dev))
            .unwrap()
            .sum_all()
            .unwrap()
            .backward(None, false)
            .unwrap();
        xx.grad().unwrap()
    };
    same(
        "index_add (index_select grad)",
        &run(Device::Cpu),
        &run(d),
        1e-5,
    );
    // gather / scatter_add (gather's backward)
    let gi = Tensor::from_i64((0..18).map(|i| (i * 7 % 4) as i64).collect(), &[6, 3]).unwrap();
    let xs = t(&[6, 4], 92);
    let run = |dev: Device| {
        let xx = leaf(&xs, dev);
        let y = xx.gather(1, &to(&gi, dev)).unwrap();
        y.mul(&to(&t(&[6, 3], 93), dev))
            .unwrap()
            .sum_all()
            .unwrap()
            .backward(None, false)
            .unwrap();
        (y, xx.grad().unwrap())
    };
    let (cy, cgr) = run(Device::Cpu);
    let (gy, ggr) = run(d);
    same("gather", &cy, &gy, 0.0);
    same("scatter_add (gather grad)", &cgr, &ggr, 1e-5);
    let base = t(&[6, 4], 94);
    let src = t(&[6, 3], 95);
    same(
        "scatter_add",
        &base.scatter_add(1, &gi, &src).unwrap(),
        &to(&base, d)
            .scatter_add(1, &to(&gi, d), &to(&src, d))
            .unwrap(),
        1e-5,
    );
    // integer tensors move through index ops too
    let xi = Tensor::from_i64((0..24).collect(), &[6, 4]).unwrap();
    same(
        "int index_select",
        &xi.index_select(0, &idx).unwrap(),
        &to(&xi, d).index_select(0, &to(&idx, d)).unwrap(),
        0.0,
    );
    // embedding-style lookup on a transposed view
    same(
        "index_select strided",
        &xs.t().unwrap().index_select(1, &idx).unwrap(),
        &to(&xs, d)
            .t()
            .unwrap()
            .index_select(1, &to(&idx, d))
            .unwrap(),
        0.0,
    );
}

fn out_of_range_indices_raise_index_errors(d: Device) {
    let x = to(&t(&[4, 3], 100), d);
    // range known from the upload
    let bad = to(&Tensor::from_i64(vec![0, 4], &[2]).unwrap(), d);
    assert!(matches!(x.index_select(0, &bad), Err(Error::Index(_))));
    let neg = to(&Tensor::from_i64(vec![-1, 0], &[2]).unwrap(), d);
    assert!(matches!(x.index_select(0, &neg), Err(Error::Index(_))));
    // range unknown (computed on the GPU): validated by a GPU min/max readback
    let before = stat("index_checks");
    let computed = to(&Tensor::from_f32(vec![1.0, 3.0], &[2]).unwrap(), d)
        .to_dtype(DType::I64)
        .unwrap()
        .add_scalar(1.0)
        .unwrap();
    match x.index_select(0, &computed) {
        Err(Error::Index(m)) => assert!(m.contains("index 4"), "{m}"),
        other => panic!("expected an index error, got {other:?}"),
    }
    assert!(stat("index_checks") > before);
    let ok = to(&Tensor::from_f32(vec![1.0, 2.0], &[2]).unwrap(), d)
        .to_dtype(DType::I64)
        .unwrap();
    assert_eq!(x.index_select(0, &ok).unwrap().shape(), &[2, 3]);
    let gi = to(&Tensor::from_i64(vec![0, 1, 3, 0], &[2, 2]).unwrap(), d);
    assert!(matches!(x.gather(1, &gi), Err(Error::Index(_))));
    assert!(matches!(
        x.scatter_add(1, &gi, &to(&t(&[2, 2], 101), d)),
        Err(Error::Index(_))
    ));
    // the tensors are still usable afterwards
    assert_eq!(x.sum_all().unwrap().to_f32_vec().unwrap().len(), 1);
}

fn conv_and_pooling_match_cpu_forward_and_backward(d: Device) {
    let x = t(&[2, 3, 9, 8], 110);
    let w = t(&[4, 3, 3, 2], 111);
    let bias = t(&[4], 112);
    let win = Window2d {
        kernel: (3, 2),
        stride: (2, 1),
        padding: (1, 1),
        dilation: (1, 2),
    };
    let run = |dev: Device| {
        let (xx, ww, bb) = (leaf(&x, dev), leaf(&w, dev), leaf(&bias, dev));
        let y = xx.conv2d(&ww, Some(&bb), win, 1).unwrap();
        let pooled = xx
            .max_pool2d_values(
                Window2d {
                    kernel: (2, 2),
                    stride: (2, 2),
                    padding: (0, 0),
                    dilation: (1, 1),
                },
                false,
            )
            .unwrap();
        let avg = xx
            .avg_pool2d(
                Window2d {
                    kernel: (3, 3),
                    stride: (2, 2),
                    padding: (1, 1),
                    dilation: (1, 1),
                },
                true,
                false,
            )
            .unwrap();
        let loss = y
            .relu()
            .unwrap()
            .sum_all()
            .unwrap()
            .add(&pooled.mul(&pooled).unwrap().sum_all().unwrap())
            .unwrap()
            .add(&avg.sum_all().unwrap())
            .unwrap();
        loss.backward(None, false).unwrap();
        (
            y,
            pooled,
            avg,
            xx.grad().unwrap(),
            ww.grad().unwrap(),
            bb.grad().unwrap(),
        )
    };
    let c = run(Device::Cpu);
    let g = run(d);
    same("conv2d", &c.0, &g.0, 1e-4);
    same("max_pool2d", &c.1, &g.1, 0.0);
    same("avg_pool2d", &c.2, &g.2, 1e-5);
    same("d input", &c.3, &g.3, 1e-4);
    same("d weight", &c.4, &g.4, 1e-4);
    same("d bias", &c.5, &g.5, 1e-4);
    // the primitives directly, with a pad value and a strided input
    // h = 8, ph = 1, dilated kernel span 3, stride 1: oh = 8; w = 9, span 3, stride 2: ow = 4
    let geom = Conv2dGeom {
        n: 2,
        c: 3,
        h: 8,
        w: 9,
        kh: 2,
        kw: 3,
        sh: 1,
        sw: 2,
        ph: 1,
        pw: 0,
        dh: 2,
        dw: 1,
        oh: 8,
        ow: 4,
    };
    let xt = x.transpose(2, 3).unwrap();
    let gxt = to(&x, d).transpose(2, 3).unwrap();
    same(
        "im2col",
        &xt.im2col(geom, -3.0).unwrap(),
        &gxt.im2col(geom, -3.0).unwrap(),
        0.0,
    );
    let cols = t(&[2 * geom.oh * geom.ow, 3 * 2 * 3], 113);
    same(
        "col2im",
        &cols.col2im(geom).unwrap(),
        &to(&cols, d).col2im(geom).unwrap(),
        1e-5,
    );
}

fn max_pool_kernel_matches_cpu(d: Device) {
    let mut v = values(2 * 3 * 7 * 9, 120, -2.0, 2.0);
    v[5] = f32::NAN;
    v[40] = v[41];
    let x = Tensor::from_f32(v, &[2, 3, 7, 9]).unwrap();
    // transposed planes: the kernel reads through strides
    let xt = x.transpose(2, 3).unwrap();
    let gxt = to(&x, d).transpose(2, 3).unwrap();
    let geom = Conv2dGeom {
        n: 2,
        c: 3,
        h: 9,
        w: 7,
        kh: 3,
        kw: 2,
        sh: 2,
        sw: 2,
        ph: 1,
        pw: 1,
        dh: 1,
        dw: 2,
        oh: 5,
        ow: 4,
    };
    let (cv, ci) = backend::max_pool2d(&xt.storage(), xt.layout(), &geom).unwrap();
    let (gv, gi) = backend::max_pool2d(&gxt.storage(), gxt.layout(), &geom).unwrap();
    let shape = [2, 3, 5, 4];
    let (cv, ci) = (
        Tensor::from_contiguous(cv, &shape),
        Tensor::from_contiguous(ci, &shape),
    );
    let (gv, gi) = (
        Tensor::from_contiguous(gv, &shape),
        Tensor::from_contiguous(gi, &shape),
    );
    same("max_pool values", &cv, &gv, 0.0);
    same("max_pool indices", &ci, &gi, 0.0);
}

fn random_streams_match_cpu(d: Device) {
    for kind in [RandKind::Uniform(-1.0, 3.0), RandKind::Normal(0.5, 2.0)] {
        let c = backend::rand(kind, 1000, 1234, 77, DType::F32, Device::Cpu).unwrap();
        let g = backend::rand(kind, 1000, 1234, 77, DType::F32, d).unwrap();
        let (Storage::Cpu(CpuStorage::F32(cv)), Storage::Gpu(g)) = (c, g) else {
            panic!("devices")
        };
        let CpuStorage::F32(gv) = gpu::download(&g).unwrap() else {
            panic!("dtype")
        };
        assert_close(&format!("{kind:?}"), &cv, &gv, 1e-5);
    }
    // a seed beyond 32 bits and an offset near a 32-bit boundary (the 64-bit counter carries)
    let kind = RandKind::Uniform(0.0, 1.0);
    let c = backend::rand(
        kind,
        300,
        0xdead_beef_0123,
        (1 << 32) - 100,
        DType::F32,
        Device::Cpu,
    )
    .unwrap();
    let g = backend::rand(kind, 300, 0xdead_beef_0123, (1 << 32) - 100, DType::F32, d).unwrap();
    let (Storage::Cpu(CpuStorage::F32(cv)), Storage::Gpu(g)) = (c, g) else {
        panic!("devices")
    };
    let CpuStorage::F32(gv) = gpu::download(&g).unwrap() else {
        panic!("dtype")
    };
    assert_close("carry", &cv, &gv, 1e-6);
}

fn gpu_storage(v: &[f32], d: Device) -> Storage {
    backend::to_device(
        &Storage::Cpu(CpuStorage::F32(v.to_vec())),
        &Layout::contiguous(&[v.len()]),
        d,
    )
    .unwrap()
}

fn host(s: &Storage) -> Vec<f32> {
    match backend::to_device(s, &Layout::contiguous(&[s.len()]), Device::Cpu).unwrap() {
        Storage::Cpu(CpuStorage::F32(v)) => v,
        other => panic!("unexpected {other:?}"),
    }
}

fn fused_optimizer_steps_match_cpu(d: Device) {
    let n = 300;
    let steps = [
        OptimStep::Sgd {
            lr: 0.1,
            momentum: 0.0,
            dampening: 0.0,
            nesterov: false,
            weight_decay: 0.0,
            first: true,
            maximize: false,
        },
        OptimStep::Sgd {
            lr: 0.1,
            momentum: 0.9,
            dampening: 0.1,
            nesterov: true,
            weight_decay: 0.01,
            first: false,
            maximize: true,
        },
        OptimStep::Adam {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled: false,
            amsgrad: false,
            t: 3,
            maximize: false,
        },
        OptimStep::Adam {
            lr: 1e-3,
            beta1: 0.8,
            beta2: 0.99,
            eps: 1e-6,
            weight_decay: 0.05,
            decoupled: true,
            amsgrad: true,
            t: 7,
            maximize: false,
        },
        OptimStep::Adam {
            lr: 1e-2,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.1,
            decoupled: false,
            amsgrad: false,
            t: 1,
            maximize: true,
        },
        OptimStep::RmsProp {
            lr: 0.01,
            alpha: 0.99,
            eps: 1e-8,
            weight_decay: 0.0,
            momentum: 0.0,
            centered: false,
            maximize: false,
        },
        OptimStep::RmsProp {
            lr: 0.01,
            alpha: 0.9,
            eps: 1e-8,
            weight_decay: 0.1,
            momentum: 0.5,
            centered: true,
            maximize: false,
        },
        OptimStep::RmsProp {
            lr: 0.01,
            alpha: 0.9,
            eps: 1e-8,
            weight_decay: 0.0,
            momentum: 0.0,
            centered: true,
            maximize: false,
        },
        OptimStep::Adagrad {
            lr: 0.1,
            lr_decay: 0.01,
            weight_decay: 0.1,
            eps: 1e-10,
            t: 4,
            maximize: false,
        },
    ];
    for (si, step) in steps.iter().enumerate() {
        let p0 = values(n, 200 + si as u64, -1.0, 1.0);
        let g0 = values(n, 300 + si as u64, -1.0, 1.0);
        let states: Vec<Vec<f32>> = (0..3).map(|k| values(n, 400 + k, 0.0, 0.5)).collect();
        let mut pc = Storage::Cpu(CpuStorage::F32(p0.clone()));
        let gc = Storage::Cpu(CpuStorage::F32(g0.clone()));
        let mut sc: Vec<Storage> = states
            .iter()
            .map(|s| Storage::Cpu(CpuStorage::F32(s.clone())))
            .collect();
        let mut pg = gpu_storage(&p0, d);
        let gg = gpu_storage(&g0, d);
        let mut sg: Vec<Storage> = states.iter().map(|s| gpu_storage(s, d)).collect();
        let l = Layout::contiguous(&[n]);
        {
            let mut refs: Vec<&mut Storage> = sc.iter_mut().collect();
            backend::optim_step(step, &mut pc, &gc, &l, &mut refs).unwrap();
        }
        {
            let mut refs: Vec<&mut Storage> = sg.iter_mut().collect();
            backend::optim_step(step, &mut pg, &gg, &l, &mut refs).unwrap();
        }
        assert_close(&format!("{step:?} param"), &host(&pc), &host(&pg), 1e-5);
        for k in 0..3 {
            assert_close(
                &format!("{step:?} state {k}"),
                &host(&sc[k]),
                &host(&sg[k]),
                1e-5,
            );
        }
    }
}

fn mlp_training_step_matches_cpu(d: Device) {
    let x = t(&[16, 10], 500);
    let w1 = t(&[32, 10], 501).mul_scalar(0.3).unwrap();
    let b1 = t(&[32], 502);
    let w2 = t(&[4, 32], 503).mul_scalar(0.3).unwrap();
    let y = Tensor::from_i64((0..16).map(|i| i % 4).collect(), &[16]).unwrap();
    let run = |dev: Device| {
        let ps: Vec<Tensor> = [&w1, &b1, &w2].iter().map(|p| leaf(p, dev)).collect();
        let h = to(&x, dev)
            .linear(&ps[0], Some(&ps[1]))
            .unwrap()
            .gelu()
            .unwrap();
        let logits = h.linear(&ps[2], None).unwrap();
        let loss = logits
            .cross_entropy(&to(&y, dev), None, -100, Reduction::Mean, 0.0)
            .unwrap();
        loss.backward(None, false).unwrap();
        let grads: Vec<Tensor> = ps.iter().map(|p| p.grad().unwrap()).collect();
        (loss, grads)
    };
    let (cl, cg) = run(Device::Cpu);
    let (gl, gg) = run(d);
    same("mlp loss", &cl, &gl, 1e-5);
    for (i, (c, g)) in cg.iter().zip(&gg).enumerate() {
        same(&format!("mlp grad {i}"), c, g, 1e-4);
    }
}

fn chained_ops_are_batched_into_few_submits(d: Device) {
    let x = to(&t(&[64, 64], 600), d);
    gpu::synchronize().unwrap();
    // warm the pipelines so compilation does not count
    let mut y = x.clone();
    for _ in 0..2 {
        y = y.mul_scalar(1.01).unwrap().add_scalar(0.001).unwrap();
    }
    let _ = y.to_f32_vec().unwrap();
    let (s0, d0) = (stat("submits"), stat("dispatches"));
    let mut y = x.clone();
    for i in 0..20 {
        y = if i % 2 == 0 {
            y.mul_scalar(1.01).unwrap()
        } else {
            y.add_scalar(0.001).unwrap()
        };
    }
    let out = y.to_f32_vec().unwrap();
    let (s1, d1) = (stat("submits"), stat("dispatches"));
    eprintln!(
        "20 chained ops: {} dispatches, {} submits",
        d1 - d0,
        s1 - s0
    );
    assert!(d1 - d0 >= 20, "expected >= 20 dispatches, got {}", d1 - d0);
    assert!(s1 - s0 <= 4, "expected <= 4 submits, got {}", s1 - s0);
    assert_eq!(out.len(), 64 * 64);
}

fn memory_stays_flat_over_repeated_steps(d: Device) {
    let x = to(&t(&[32, 48], 700), d);
    let w = leaf(&t(&[48, 24], 701), d);
    let step = || {
        let loss = x
            .matmul(&w)
            .unwrap()
            .relu()
            .unwrap()
            .softmax_dim(1, true)
            .unwrap()
            .sum_all()
            .unwrap();
        loss.backward(None, false).unwrap();
        let _ = loss.item().unwrap();
        w.set_grad(None).unwrap();
    };
    for _ in 0..5 {
        step();
    }
    let before = stat("bytes_allocated");
    let hits = stat("pool_hits");
    for _ in 0..40 {
        step();
    }
    let after = stat("bytes_allocated");
    eprintln!(
        "bytes_allocated {before} -> {after}, pool hits +{}",
        stat("pool_hits") - hits
    );
    assert_eq!(before, after, "GPU memory grew over repeated steps");
    assert!(stat("pool_hits") > hits);
    gpu::empty_cache();
    assert!(stat("bytes_allocated") < after || after == stat("bytes_live"));
}

fn unsupported_dtypes_and_values_are_typed_errors(d: Device) {
    let f64t = Tensor::from_f64(vec![1.0, 2.0], &[2]).unwrap();
    assert!(matches!(f64t.to_device(d), Err(Error::DType(_))));
    let big = Tensor::from_i64(vec![1, 1 << 40], &[2]).unwrap();
    assert!(matches!(big.to_device(d), Err(Error::Value(_))));
    let x = to(&t(&[3], 800), d);
    assert!(matches!(x.to_dtype(DType::F64), Err(Error::DType(_))));
    assert!(matches!(
        Tensor::full(&[2], 1e12, DType::I64, d),
        Err(Error::Value(_))
    ));
    // int64 on the GPU round-trips within 32 bits
    let ints = Tensor::from_i64(vec![i32::MIN as i64, -1, 0, i32::MAX as i64], &[4]).unwrap();
    assert_eq!(
        to(&ints, d).to_i64_vec().unwrap(),
        ints.to_i64_vec().unwrap()
    );
    // empty tensors work everywhere
    let e = to(&Tensor::zeros(&[0, 3], DType::F32, Device::Cpu).unwrap(), d);
    assert_eq!(
        e.sum(&[0], false).unwrap().to_f32_vec().unwrap(),
        vec![0.0; 3]
    );
    assert_eq!(e.relu().unwrap().to_f32_vec().unwrap().len(), 0);
}

fn concurrent_threads_share_the_device(d: Device) {
    let handles: Vec<_> = (0..4)
        .map(|i| {
            std::thread::spawn(move || {
                let a = t(&[20, 30], 1000 + i);
                let b = t(&[30, 10], 2000 + i);
                let want = a
                    .matmul(&b)
                    .unwrap()
                    .relu()
                    .unwrap()
                    .sum(&[1], false)
                    .unwrap();
                for _ in 0..10 {
                    let got = to(&a, d)
                        .matmul(&to(&b, d))
                        .unwrap()
                        .relu()
                        .unwrap()
                        .sum(&[1], false)
                        .unwrap();
                    same("threaded", &want, &got, 1e-4);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("a GPU thread panicked");
    }
}

fn oversized_work_is_a_gpu_error_not_a_panic(d: Device) {
    // beyond any adapter's buffer limits: an allocation error (Python MemoryError)
    assert!(matches!(
        Tensor::zeros(&[1 << 33], DType::F32, d),
        Err(Error::Memory(_))
    ));
    // a broadcast view with more elements than 32-bit kernel indices reach
    let one = to(&Tensor::ones(&[1, 1], DType::F32, Device::Cpu).unwrap(), d);
    let huge = one.expand(&[1 << 17, 1 << 16]).unwrap();
    assert!(matches!(huge.sum_all(), Err(Error::Gpu(_))));
    // the device still works
    assert_eq!(
        one.add_scalar(1.0).unwrap().to_f32_vec().unwrap(),
        vec![2.0]
    );
}

/// Prints matmul throughput and per-dispatch overhead; run with `--ignored --nocapture`.
fn measure_matmul_and_dispatch_overhead(d: Device) {
    for n in [256usize, 512, 1024] {
        let a = to(&t(&[n, n], 900), d);
        let b = to(&t(&[n, n], 901), d);
        let _ = a.matmul(&b).unwrap().to_f32_vec().unwrap();
        let reps = if n >= 1024 { 2 } else { 4 };
        let start = std::time::Instant::now();
        let mut keep = Vec::new();
        for _ in 0..reps {
            keep.push(a.matmul(&b).unwrap());
        }
        gpu::synchronize().unwrap();
        let s = start.elapsed().as_secs_f64() / reps as f64;
        println!(
            "matmul {n}x{n}: {:.3} ms, {:.2} GFLOP/s",
            s * 1e3,
            2.0 * (n * n * n) as f64 / s / 1e9
        );
    }
    let x = to(&t(&[16], 902), d);
    let _ = x.add_scalar(1.0).unwrap().to_f32_vec().unwrap();
    let reps = 640;
    let start = std::time::Instant::now();
    let mut y = x.clone();
    for _ in 0..reps {
        y = y.add_scalar(1.0).unwrap();
    }
    gpu::synchronize().unwrap();
    let per = start.elapsed().as_secs_f64() / reps as f64;
    println!(
        "tiny elementwise op: {:.1} us per dispatch (recorded, batched, executed)",
        per * 1e6
    );
}
