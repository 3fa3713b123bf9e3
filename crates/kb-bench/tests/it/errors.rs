//! Bad input exits 2 with one line `kernbench: error: …` naming what is wrong.

use crate::{arg, assert_bad_input, kernbench, scratch};

#[test]
fn sizes_must_be_positive() {
    assert_bad_input(&kernbench(&["gemm", "--m", "0", "--n", "8", "--k", "8"]), "--m must be positive, got 0");
    assert_bad_input(&kernbench(&["gemm", "--m", "8", "--n", "8", "--k", "0"]), "--k must be positive, got 0");
    assert_bad_input(
        &kernbench(&["gemm", "--m", "8", "--n", "8", "--k", "8", "--block-n", "0"]),
        "--block-n must be positive, got 0",
    );
}

#[test]
fn blocks_must_fit_in_tcm() {
    // f32: two stages of 512×512 A and B tiles alone are 4 MiB; a PE has 1 MiB.
    let run = kernbench(&[
        "gemm",
        "--m",
        "8",
        "--n",
        "8",
        "--k",
        "8",
        "--dtype",
        "f32",
        "--block-m",
        "512",
        "--block-n",
        "512",
        "--block-k",
        "512",
    ]);
    assert_bad_input(&run, "blocks 512x512x512 need 5242880 bytes of TCM per program but a PE has 1048576");
    // Blocks so large that their byte count overflows are refused the same way, without a panic.
    let run = kernbench(&["gemm", "--m", "8", "--n", "8", "--k", "8", "--block-m", "4G", "--block-n", "4G"]);
    assert_bad_input(&run, "need more than usize::MAX bytes of TCM");
}

#[test]
fn operands_must_fit_in_hbm() {
    let run = kernbench(&["gemm", "--m", "64K", "--n", "64K", "--k", "64K", "--timing-only"]);
    assert_bad_input(&run, "A, B and C of f16 need 25769803776 bytes of HBM but device 0 has 17179869184");
}

#[test]
fn out_needs_data() {
    let dir = scratch("errors_out");
    let run =
        kernbench(&["gemm", "--m", "8", "--n", "8", "--k", "8", "--timing-only", "--out", arg(&dir.join("c.npy"))]);
    assert_bad_input(&run, "--out needs the values of C, but --timing-only keeps no data");
    assert!(!dir.join("c.npy").exists());
}

#[test]
fn a_bad_machine_config_is_bad_input() {
    let dir = scratch("errors_config");
    assert_bad_input(&kernbench(&["config", "--config", arg(&dir.join("none.toml"))]), "cannot read machine config");
    let file = dir.join("machine.toml");
    std::fs::write(&file, "[device]\npe = 2\n").unwrap();
    assert_bad_input(&kernbench(&["gemm", "--m", "8", "--n", "8", "--k", "8", "--config", arg(&file)]), "unknown key");
    std::fs::write(&file, "[device\n").unwrap();
    assert_bad_input(&kernbench(&["config", "--config", arg(&file)]), "invalid TOML");
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["gemm", "--m", "8", "--n", "8"][..],
        &["gemm", "--m", "8", "--n", "8", "--k", "4X"],
        &["gemm", "--m", "8", "--n", "8", "--k", "8", "--dtype", "f64"],
        &["gemm", "--m", "8", "--n", "8", "--k", "8", "--format", "xml"],
        &["frobnicate"],
    ] {
        let run = kernbench(args);
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
        assert_eq!(run.stdout, "");
        assert!(run.stderr.starts_with("error: "), "{args:?}: {run:?}");
    }
    let run = kernbench(&["gemm", "--m", "8", "--n", "8", "--k", "8", "--dtype", "i32"]);
    assert!(run.stderr.contains("the GEMM kernel takes f16, bf16 or f32, not i32"), "{run:?}");
}
