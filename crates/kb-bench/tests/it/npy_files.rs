//! `--a`, `--b` and `--out`: inputs from `.npy` files, C written back, checked against plain loops.

use std::path::Path;

use kb_mem::DType;
use kb_sched::npy::{NpyArray, read_npy, write_npy};

use crate::{arg, assert_bad_input, gemm_json, kernbench, reference, scratch};

/// Values on a grid of 1/4 in [-1, 1]: exact in f16, bf16 and f32, as are all their products and
/// the sums of up to 64 of them, so C must equal the reference exactly.
fn exact_values(n: usize, salt: usize) -> Vec<f32> {
    (0..n).map(|i| ((i * 7 + salt * 3) % 9) as f32 / 4.0 - 1.0).collect()
}

fn write(path: &Path, shape: &[usize], dtype: DType, values: &[f32]) {
    write_npy(path, &NpyArray::from_f32(shape, dtype, values).unwrap()).unwrap();
}

/// Runs a GEMM of A and B from files and returns C as written by `--out`, with its dtype.
fn gemm_files(dir: &Path, shape: [usize; 3], dtype: &str, file_dtype: DType) -> (Vec<f32>, Vec<f64>, DType) {
    let [m, n, k] = shape;
    let (a, b) = (exact_values(m * k, 1), exact_values(k * n, 2));
    let (a_path, b_path, c_path) = (dir.join("a.npy"), dir.join("b.npy"), dir.join("c.npy"));
    write(&a_path, &[m, k], file_dtype, &a);
    write(&b_path, &[k, n], file_dtype, &b);
    let sizes = [m.to_string(), n.to_string(), k.to_string()];
    let json = gemm_json(&[
        "--m",
        &sizes[0],
        "--n",
        &sizes[1],
        "--k",
        &sizes[2],
        "--dtype",
        dtype,
        "--block-m",
        "16",
        "--block-n",
        "16",
        "--block-k",
        "16",
        "--a",
        arg(&a_path),
        "--b",
        arg(&b_path),
        "--out",
        arg(&c_path),
    ]);
    assert_eq!(json["check"], "pass", "{json}");
    assert_eq!(json["max_abs_err"], 0.0, "exact inputs give an exact C: {json}");
    let c = read_npy(&c_path).unwrap();
    assert_eq!(c.shape, [m, n]);
    (c.to_f32(), reference(m, n, k, &a, &b), c.dtype)
}

#[test]
fn f32_files_give_the_reference_product() {
    let dir = scratch("npy_f32");
    for dtype in ["f32", "f16", "bf16"] {
        let (c, expected, c_dtype) = gemm_files(&dir, [33, 21, 40], dtype, DType::F32);
        assert_eq!(c_dtype, if dtype == "f16" { DType::F16 } else { DType::F32 }, "{dtype}");
        let c: Vec<f64> = c.into_iter().map(f64::from).collect();
        assert_eq!(c, expected, "{dtype}");
    }
}

#[test]
fn f16_files_load_as_f16() {
    let dir = scratch("npy_f16");
    let (c, expected, c_dtype) = gemm_files(&dir, [17, 48, 64], "f16", DType::F16);
    assert_eq!(c_dtype, DType::F16);
    assert_eq!(c.into_iter().map(f64::from).collect::<Vec<_>>(), expected);
}

#[test]
fn f32_inputs_are_rounded_to_the_dtype_on_load() {
    let dir = scratch("npy_rounding");
    let (a_path, b_path, c_path) = (dir.join("a.npy"), dir.join("b.npy"), dir.join("c.npy"));
    // 1 + 2⁻¹² is an f32 but not an f16 (f16 steps by 2⁻¹⁰ above 1): it loads as 1.0 in f16.
    write(&a_path, &[1, 1], DType::F32, &[1.0 + 2f32.powi(-12)]);
    write(&b_path, &[1, 1], DType::F32, &[1.0]);
    let c_for = |dtype: &str| {
        let json = gemm_json(&[
            "--m",
            "1",
            "--n",
            "1",
            "--k",
            "1",
            "--dtype",
            dtype,
            "--a",
            arg(&a_path),
            "--b",
            arg(&b_path),
            "--out",
            arg(&c_path),
        ]);
        assert_eq!(json["check"], "pass", "{json}");
        read_npy(&c_path).unwrap().to_f32()
    };
    assert_eq!(c_for("f16"), [1.0]);
    assert_eq!(c_for("f32"), [1.0 + 2f32.powi(-12)]);
}

#[test]
fn a_result_that_overflows_f16_fails_the_check() {
    let dir = scratch("npy_overflow");
    let (a_path, b_path) = (dir.join("a.npy"), dir.join("b.npy"));
    // 300 · 300 = 90000 is beyond f16's largest finite value, 65504: C holds infinity.
    write(&a_path, &[1, 1], DType::F16, &[300.0]);
    write(&b_path, &[1, 1], DType::F16, &[300.0]);
    let run = kernbench(&[
        "gemm",
        "--m",
        "1",
        "--n",
        "1",
        "--k",
        "1",
        "--format",
        "json",
        "--a",
        arg(&a_path),
        "--b",
        arg(&b_path),
    ]);
    assert_eq!(run.code, 1, "{run:?}");
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["check"], "fail");
    assert_eq!(run.stderr.lines().count(), 1, "{run:?}");
    assert!(run.stderr.starts_with("kernbench: error: check failed: max_abs_err inf exceeds the tolerance"), "{run:?}");
}

#[test]
fn files_of_the_wrong_dtype_or_shape_are_refused() {
    let dir = scratch("npy_refused");
    let good = dir.join("good.npy");
    write(&good, &[4, 3], DType::F32, &[0.5; 12]);
    let run = |a: &Path, dtype: &str| {
        kernbench(&["gemm", "--m", "4", "--n", "2", "--k", "3", "--dtype", dtype, "--a", arg(a), "--b", arg(&good)])
    };
    for (dtype, name) in [(DType::I32, "i32.npy"), (DType::F64, "f64.npy")] {
        let path = dir.join(name);
        write(&path, &[4, 3], dtype, &[1.0; 12]);
        assert_bad_input(&run(&path, "f16"), &format!("--a holds {dtype} values"));
    }
    // An f16 file is f16 data: it does not feed an f32 GEMM.
    let f16 = dir.join("f16.npy");
    write(&f16, &[4, 3], DType::F16, &[1.0; 12]);
    assert_bad_input(&run(&f16, "f32"), "it must hold f32 (rounded on load) or f32");
    // B must be [K, N] = [3, 2]; `good` is [4, 3].
    assert_bad_input(&run(&good, "f32"), "--b has shape [4, 3] but must be [K, N] = [3, 2]");
    let transposed = dir.join("a_t.npy");
    write(&transposed, &[3, 4], DType::F32, &[1.0; 12]);
    assert_bad_input(&run(&transposed, "f32"), "--a has shape [3, 4] but must be [M, K] = [4, 3]");
    assert_bad_input(&run(&dir.join("missing.npy"), "f32"), "missing.npy: cannot open");
    let not_npy = dir.join("text.npy");
    std::fs::write(&not_npy, "m,n\n1,2\n").unwrap();
    assert_bad_input(&run(&not_npy, "f32"), "not a .npy file");
}

#[test]
fn out_cannot_be_written_where_there_is_no_directory() {
    let dir = scratch("npy_out_dir");
    let out = dir.join("no/such/dir/c.npy");
    let run = kernbench(&["gemm", "--m", "4", "--n", "4", "--k", "4", "--out", arg(&out)]);
    assert_bad_input(&run, "c.npy: cannot create");
}
