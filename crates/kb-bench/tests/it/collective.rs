//! `kernbench all-reduce`, `all-gather`, `reduce-scatter`, `broadcast`, `reduce` and `all-to-all`:
//! nccl-tests' table, the JSON fields and their relations, the checks on every dtype, timing-only
//! runs, `--algo`, bad input.

use crate::{Run, assert_bad_input, kernbench};

/// Runs `kernbench <args> --format json`, asserts it succeeded, and returns the JSON.
fn sweep_json(args: &[&str]) -> serde_json::Value {
    let all = [args, &["--format", "json"]].concat();
    let run = kernbench(&all);
    assert_eq!(run.code, 0, "kernbench {all:?} failed: {run:?}");
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", run.stdout))
}

/// The rows of a sweep's JSON.
fn rows(json: &serde_json::Value) -> &[serde_json::Value] {
    json["rows"].as_array().expect("rows is an array")
}

fn f64_of(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// Asserts `a` and `b` agree to a relative 1e-12.
fn assert_close(a: f64, b: f64, what: &str) {
    assert!((a - b).abs() <= 1e-12 * b.abs().max(1e-300), "{what}: {a} vs {b}");
}

#[test]
fn the_all_reduce_table_has_nccl_tests_columns_and_footer() {
    let run = kernbench(&["all-reduce", "-g", "4", "-b", "1K", "-e", "4K", "-f", "2"]);
    assert_eq!(run.code, 0, "{run:?}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(lines[0].starts_with("# kernbench all-reduce: 4 ranks"), "{}", run.stdout);
    let heading: Vec<&str> = lines[2].trim_start_matches('#').split_whitespace().collect();
    assert_eq!(heading, ["size", "count", "type", "redop", "root", "time", "algbw", "busbw", "#wrong"]);
    let units: Vec<&str> = lines[3].trim_start_matches('#').split_whitespace().collect();
    assert_eq!(units, ["(B)", "(elements)", "(us)", "(GB/s)", "(GB/s)"]);
    let data: Vec<Vec<&str>> = lines[4..7].iter().map(|l| l.split_whitespace().collect()).collect();
    for (row, (size, count)) in data.iter().zip([("1024", "256"), ("2048", "512"), ("4096", "1024")]) {
        assert_eq!(row.len(), 9, "{row:?}");
        assert_eq!(&row[..5], [size, count, "float", "sum", "-1"]);
        assert_eq!(row[8], "0");
    }
    assert_eq!(lines[7], "# Out of bounds values : 0 OK");
    let avg: f64 = lines[8].strip_prefix("# Avg bus bandwidth    : ").expect(lines[8]).parse().unwrap();
    let busbw: Vec<f64> = data.iter().map(|row| row[7].parse().unwrap()).collect();
    // The footer is the mean of the unrounded busbw; the rows show two decimals.
    assert!((avg - busbw.iter().sum::<f64>() / 3.0).abs() < 0.01, "{avg} vs {busbw:?}");
    assert_eq!(lines.len(), 10);
}

#[test]
fn json_has_the_documented_fields() {
    let json = sweep_json(&["all-reduce", "-g", "2", "-b", "64", "-e", "256", "-f", "4"]);
    let mut keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["algo", "collective", "dtype", "op", "ranks", "root", "rows"]);
    assert_eq!(json["collective"], "all-reduce");
    assert_eq!(json["ranks"], 2);
    assert_eq!(json["algo"], "ring");
    assert_eq!(json["dtype"], "f32");
    assert_eq!(json["op"], "sum");
    assert!(json["root"].is_null());
    assert_eq!(rows(&json).len(), 2);
    for row in rows(&json) {
        let mut keys: Vec<&str> = row.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["algbw_gbps", "algo", "busbw_gbps", "count", "size", "time_us", "wrong"]);
        assert_eq!(row["wrong"], 0);
        assert_eq!(row["algo"], "ring");
    }
    assert_eq!((rows(&json)[0]["size"].as_u64(), rows(&json)[0]["count"].as_u64()), (Some(64), Some(16)));
    assert_eq!((rows(&json)[1]["size"].as_u64(), rows(&json)[1]["count"].as_u64()), (Some(256), Some(64)));
}

#[test]
fn bandwidths_follow_nccl_tests_definitions() {
    // (collective, P, bus factor, size per count element ÷ dtype size)
    let cases = [("all-reduce", 8, 2.0 * 7.0 / 8.0, 1), ("all-reduce", 3, 2.0 * 2.0 / 3.0, 1)];
    for (collective, p, factor, per) in
        cases.into_iter().chain([("all-gather", 4, 3.0 / 4.0, 4), ("reduce-scatter", 5, 4.0 / 5.0, 5)])
    {
        let g = p.to_string();
        let json = sweep_json(&[collective, "-g", &g, "-b", "1K", "-e", "64K", "-f", "8"]);
        assert_eq!(rows(&json).len(), 3, "{json}");
        for row in rows(&json) {
            let (size, count) = (row["size"].as_u64().unwrap(), row["count"].as_u64().unwrap());
            // size is the buffer (all-reduce) or the total over ranks (all-gather, reduce-scatter).
            assert_eq!(size, count * 4 * per, "{collective}: {row}");
            let (time_us, algbw, busbw) =
                (f64_of(&row["time_us"]), f64_of(&row["algbw_gbps"]), f64_of(&row["busbw_gbps"]));
            assert!(time_us > 0.0);
            assert_close(algbw, size as f64 / (time_us * 1e-6) / 1e9, "algbw = size / time");
            assert_close(busbw, algbw * factor, "busbw = algbw × factor");
        }
    }
    // all-gather and reduce-scatter round the per-rank count down: 1000 B of float on 3 ranks is
    // 83 elements per rank, 996 B in all.
    let json = sweep_json(&["all-gather", "-g", "3", "-b", "1000", "-e", "1000"]);
    assert_eq!((rows(&json)[0]["size"].as_u64(), rows(&json)[0]["count"].as_u64()), (Some(996), Some(83)));
}

#[test]
fn every_dtype_is_exact_for_sum_and_max() {
    for dtype in ["float", "half", "bfloat16", "int32"] {
        for op in ["sum", "max"] {
            for collective in ["all-reduce", "reduce-scatter"] {
                let json =
                    sweep_json(&[collective, "-g", "5", "-b", "40", "-e", "4000", "-f", "10", "-d", dtype, "-o", op]);
                assert_eq!(rows(&json).len(), 3);
                assert!(rows(&json).iter().all(|r| r["wrong"] == 0), "{collective} {dtype} {op}: {json}");
                assert_eq!(json["op"], op);
            }
        }
    }
    for op in ["prod", "min", "avg"] {
        let json = sweep_json(&["all-reduce", "-g", "7", "-b", "2K", "-e", "2K", "-d", "bf16", "-o", op]);
        assert_eq!(rows(&json)[0]["wrong"], 0, "{op}: {json}");
    }
    for op in ["band", "bor", "bxor", "prod"] {
        let json = sweep_json(&["all-reduce", "-g", "6", "-b", "2K", "-e", "2K", "-d", "i32", "-o", op]);
        assert_eq!(rows(&json)[0]["wrong"], 0, "{op}: {json}");
    }
    for dtype in ["float", "half", "bfloat16", "int32"] {
        let json = sweep_json(&["all-gather", "-g", "8", "-b", "64", "-e", "64K", "-f", "32", "-d", dtype]);
        assert!(rows(&json).iter().all(|r| r["wrong"] == 0), "all-gather {dtype}: {json}");
        assert!(json["op"].is_null());
    }
}

#[test]
fn broadcast_from_root_2() {
    let json = sweep_json(&["broadcast", "-g", "4", "-r", "2", "-b", "8", "-e", "8K", "-f", "4", "-d", "half"]);
    assert_eq!(json["root"], 2);
    assert!(json["op"].is_null());
    assert_eq!(rows(&json).len(), 6);
    for row in rows(&json) {
        assert_eq!(row["wrong"], 0, "{json}");
        assert_eq!(row["size"].as_u64().unwrap(), row["count"].as_u64().unwrap() * 2);
        // Broadcast's bus factor is 1.
        assert_eq!(row["busbw_gbps"], row["algbw_gbps"]);
    }
    let table = kernbench(&["broadcast", "-g", "4", "-r", "2", "-b", "8", "-e", "8"]);
    assert_eq!(table.code, 0, "{table:?}");
    let row: Vec<&str> = table.stdout.lines().nth(4).unwrap().split_whitespace().collect();
    assert_eq!(&row[..5], ["8", "2", "float", "none", "2"]);
}

#[test]
fn timing_only_checks_nothing_and_times_the_same() {
    let args = ["all-reduce", "-g", "4", "-b", "512", "-e", "32K", "-f", "8", "-d", "half"];
    let timed = sweep_json(&[&args[..], &["--timing-only"]].concat());
    let checked = sweep_json(&args);
    assert_eq!(rows(&timed).len(), 3);
    for (t, c) in rows(&timed).iter().zip(rows(&checked)) {
        assert!(t["wrong"].is_null(), "{timed}");
        assert_eq!(c["wrong"], 0);
        assert_eq!(t["time_us"], c["time_us"]);
        assert_eq!(t["busbw_gbps"], c["busbw_gbps"]);
    }
    let table = kernbench(&[&args[..], &["--timing-only"]].concat());
    assert!(table.stdout.lines().nth(4).unwrap().ends_with(" N/A"), "{table:?}");
    // -c 0 skips the check as well.
    let unchecked = sweep_json(&[&args[..], &["-c", "0"]].concat());
    assert!(rows(&unchecked).iter().all(|r| r["wrong"].is_null()));
}

#[test]
fn sizes_take_suffixes() {
    let json = sweep_json(&["all-reduce", "-g", "2", "-b", "1k", "-e", "64K", "-f", "64"]);
    let sizes: Vec<u64> = rows(&json).iter().map(|r| r["size"].as_u64().unwrap()).collect();
    assert_eq!(sizes, [1024, 65536]);
}

#[test]
fn csv_is_a_header_and_a_row_per_size() {
    let run = kernbench(&["reduce-scatter", "-g", "2", "-b", "256", "-e", "1K", "-o", "min", "--format", "csv"]);
    assert_eq!(run.code, 0, "{run:?}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines[0], "collective,ranks,algo,dtype,op,root,size,count,time_us,algbw_gbps,busbw_gbps,wrong,algo_ran");
    assert_eq!(lines.len(), 4);
    assert!(lines[1].starts_with("reduce-scatter,2,ring,f32,min,,256,32,"), "{}", lines[1]);
    assert!(lines[3].starts_with("reduce-scatter,2,ring,f32,min,,1024,128,"), "{}", lines[3]);
    assert!(lines[1].ends_with(",0,ring"));
}

#[test]
fn an_auto_sweep_reports_what_auto_ran_at_each_size() {
    let args = ["all-reduce", "-g", "8", "-b", "64", "-e", "64M", "-f", "1024", "--algo", "auto", "--timing-only"];
    let json = kernbench(&[&args[..], &["--format", "json"]].concat());
    assert_eq!(json.code, 0, "{json:?}");
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(value["algo"], "auto");
    let ran: Vec<&str> = value["rows"].as_array().unwrap().iter().map(|r| r["algo"].as_str().unwrap()).collect();
    assert_eq!(ran.len(), 3);
    assert!(ran.iter().all(|a| ["ring", "tree", "halving-doubling", "direct"].contains(a)), "{ran:?}");
    // Each size's time is that algorithm's own, run by name.
    for (row, algo) in value["rows"].as_array().unwrap().iter().zip(&ran) {
        let size = row["size"].to_string();
        let named = kernbench(&[
            "all-reduce",
            "-g",
            "8",
            "-b",
            &size,
            "-e",
            &size,
            "--algo",
            algo,
            "--timing-only",
            "--format",
            "json",
        ]);
        let named: serde_json::Value = serde_json::from_str(&named.stdout).unwrap();
        assert_eq!(named["rows"][0]["time_us"], row["time_us"], "{size} B by {algo}");
    }
    let table = kernbench(&args);
    let line = table.stdout.lines().find(|l| l.starts_with("# auto ran")).expect("the table names auto's picks");
    assert!(line.contains(ran[0]), "{line}");
}

#[test]
fn a_trace_shows_the_sweep() {
    let dir = crate::scratch("collective_trace");
    let path = dir.join("trace.json");
    let run = kernbench(&["all-gather", "-g", "3", "-b", "96", "-e", "96", "--trace", crate::arg(&path)]);
    assert_eq!(run.code, 0, "{run:?}");
    let trace: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert!(trace.to_string().contains("\"ts\""), "a Chrome trace: {trace}");
    // A traced sweep runs every size on one runtime, an untraced one on a fresh runtime per size:
    // the times are the same.
    let args = ["all-reduce", "-g", "4", "-b", "64", "-e", "16K", "-f", "16", "--format", "json"];
    let traced = kernbench(&[&args[..], &["--trace", crate::arg(&path)]].concat());
    assert_eq!(traced.code, 0, "{traced:?}");
    assert_eq!(traced.stdout, kernbench(&args).stdout);
}

fn bad(args: &[&str], needle: &str) -> Run {
    let run = kernbench(args);
    assert_bad_input(&run, needle);
    run
}

#[test]
fn bad_input_exits_2() {
    bad(&["all-reduce", "-g", "0", "-b", "8", "-e", "8"], "-g/--ranks must be positive, got 0");
    bad(&["all-reduce", "-g", "2", "-b", "1K", "-e", "8"], "-b/--minbytes 1024 is larger than -e/--maxbytes 8");
    bad(&["all-reduce", "-g", "2", "-b", "0", "-e", "8"], "-b/--minbytes must be positive, got 0");
    bad(&["all-gather", "-g", "2", "-b", "8", "-e", "64", "-f", "1"], "-f/--stepfactor must be at least 2, got 1");
    bad(&["broadcast", "-g", "4", "-r", "4", "-b", "8", "-e", "8"], "-r/--root 4 is not a rank: -g/--ranks is 4");
    bad(
        &["all-reduce", "-g", "2", "-b", "8", "-e", "8", "-d", "half", "-o", "band"],
        "-o/--op band: not defined for -d/--datatype half (bitwise ops are defined for integer types only)",
    );
    bad(&["reduce-scatter", "-g", "2", "-b", "8", "-e", "8", "-d", "int32", "-o", "avg"], "avg is defined for float");
    bad(
        &["all-reduce", "-g", "2", "-b", "8", "-e", "32G"],
        "needs 34359738368 bytes of tensors per rank but a device has 17179869184",
    );
    // Usage errors (clap's own messages) exit 2 too.
    for args in [
        &["all-reduce", "-d", "float64"][..],
        &["all-reduce", "-d", "complex"],
        &["all-reduce", "-o", "mean"],
        &["all-reduce", "-c", "2"],
        &["all-reduce", "-b", "4X"],
        &["all-reduce", "--algo", "bogus"],
    ] {
        let run = kernbench(args);
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
        assert_eq!(run.stdout, "");
        assert!(run.stderr.starts_with("error: "), "{args:?}: {run:?}");
    }
}

#[test]
fn ranks_must_fit_a_torus() {
    let dir = crate::scratch("collective_torus");
    let file = dir.join("torus.toml");
    std::fs::write(&file, "[cluster]\nranks = 4\ntopology = \"torus2d\"\ntorus_dims = [2, 2]\n").unwrap();
    let config = crate::arg(&file);
    bad(
        &["all-reduce", "-g", "6", "-b", "8", "-e", "8", "--config", config],
        "-g/--ranks 6: the machine's torus2d topology has cluster.torus_dims [2, 2] = 4 positions",
    );
    // Without -g, P is the config's cluster.ranks.
    let json = sweep_json(&["all-reduce", "-b", "1K", "-e", "1K", "--config", config]);
    assert_eq!(json["ranks"], 4);
    assert_eq!(rows(&json)[0]["wrong"], 0);
}

#[test]
fn reduce_into_root_1_leaves_the_others_as_they_were() {
    for (dtype, op) in [("float", "sum"), ("half", "max"), ("bfloat16", "prod"), ("int32", "min")] {
        let json =
            sweep_json(&["reduce", "-g", "5", "-r", "1", "-b", "16", "-e", "16K", "-f", "32", "-d", dtype, "-o", op]);
        assert_eq!((json["root"].as_u64(), json["op"].as_str()), (Some(1), Some(op)));
        assert_eq!(rows(&json).len(), 3);
        for row in rows(&json) {
            // Every rank's tensor is checked: the root's against the reduction, the others' unchanged.
            assert_eq!(row["wrong"], 0, "{dtype} {op}: {json}");
            assert_eq!(row["busbw_gbps"], row["algbw_gbps"]);
        }
    }
    bad(&["reduce", "-g", "2", "-r", "2", "-b", "8", "-e", "8"], "-r/--root 2 is not a rank: -g/--ranks is 2");
}

#[test]
fn the_all_to_all_table_has_nccl_tests_columns() {
    let run = kernbench(&["all-to-all", "-g", "4", "-b", "1K", "-e", "4K", "-f", "2"]);
    assert_eq!(run.code, 0, "{run:?}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(lines[0].starts_with("# kernbench all-to-all: 4 ranks (ring topology), algo ring"), "{}", run.stdout);
    let heading: Vec<&str> = lines[2].trim_start_matches('#').split_whitespace().collect();
    assert_eq!(heading, ["size", "count", "type", "redop", "root", "time", "algbw", "busbw", "#wrong"]);
    // size is each rank's buffer, count the elements for one peer.
    let data: Vec<Vec<&str>> = lines[4..7].iter().map(|l| l.split_whitespace().collect()).collect();
    for (row, (size, count)) in data.iter().zip([("1024", "64"), ("2048", "128"), ("4096", "256")]) {
        assert_eq!(row.len(), 9, "{row:?}");
        assert_eq!(&row[..5], [size, count, "float", "none", "-1"]);
        assert_eq!(row[8], "0");
    }
    assert_eq!(lines[7], "# Out of bounds values : 0 OK");
    assert_eq!(lines.len(), 10);
}

#[test]
fn all_to_all_json_follows_alltoall_perf_and_checks_every_dtype() {
    let json = sweep_json(&["all-to-all", "-g", "5", "-b", "1K", "-e", "64K", "-f", "8"]);
    assert_eq!(json["collective"], "all-to-all");
    assert_eq!((json["algo"].as_str(), json["ranks"].as_u64()), (Some("ring"), Some(5)));
    assert!(json["op"].is_null() && json["root"].is_null(), "{json}");
    assert_eq!(rows(&json).len(), 3);
    for row in rows(&json) {
        let (size, count) = (row["size"].as_u64().unwrap(), row["count"].as_u64().unwrap());
        // 1024 B of float on 5 ranks: 256 elements, 51 per peer, 255 in the buffer, 1020 B.
        assert_eq!(size, count * 4 * 5, "{row}");
        let (time_us, algbw, busbw) = (f64_of(&row["time_us"]), f64_of(&row["algbw_gbps"]), f64_of(&row["busbw_gbps"]));
        assert!(time_us > 0.0);
        assert_close(algbw, size as f64 / (time_us * 1e-6) / 1e9, "algbw = size / time");
        assert_close(busbw, algbw * 4.0 / 5.0, "busbw = algbw × (P − 1)/P");
        assert_eq!(row["wrong"], 0);
    }
    assert_eq!((rows(&json)[0]["size"].as_u64(), rows(&json)[0]["count"].as_u64()), (Some(1020), Some(51)));
    for dtype in ["float", "half", "bfloat16", "int32"] {
        for g in ["1", "3", "8"] {
            for algo in ["ring", "direct", "auto"] {
                let json = sweep_json(&[
                    "all-to-all",
                    "-g",
                    g,
                    "-b",
                    "64",
                    "-e",
                    "8K",
                    "-f",
                    "16",
                    "-d",
                    dtype,
                    "--algo",
                    algo,
                ]);
                assert!(rows(&json).iter().all(|r| r["wrong"] == 0), "{dtype}, -g {g}, {algo}: {json}");
            }
        }
    }
}

/// A machine config file for one test: the default machine with `toml` on top.
fn config_file(test: &str, toml: &str) -> std::path::PathBuf {
    let file = crate::scratch(test).join("machine.toml");
    std::fs::write(&file, toml).unwrap();
    file
}

#[test]
fn algo_direct_sends_every_part_at_once() {
    // On a switch every transfer crosses an up link and a down link: pairwise exchange spends
    // both hops on each of its P − 1 steps, direct keeps every up link busy back to back, so
    // direct takes about half as long for P = 8 (see kb-ccl's all_to_all timing test).
    let file = config_file("all_to_all_direct", "[cluster]\ntopology = \"switch\"\n");
    let args = ["all-to-all", "-g", "8", "-b", "1M", "-e", "1M", "--config", crate::arg(&file)];
    let direct = sweep_json(&[&args[..], &["--algo", "direct"]].concat());
    let ring = sweep_json(&[&args[..], &["--algo", "ring"]].concat());
    assert_eq!(direct["algo"], "direct");
    assert_eq!(ring["algo"], "ring");
    assert_eq!(rows(&direct)[0]["wrong"], 0);
    let (d, r) = (f64_of(&rows(&direct)[0]["time_us"]), f64_of(&rows(&ring)[0]["time_us"]));
    assert!(d < 0.6 * r && d > 0.5 * r, "direct {d} µs, ring {r} µs");
    let table = kernbench(&[&args[..], &["--algo", "direct"]].concat());
    assert!(table.stdout.starts_with("# kernbench all-to-all: 8 ranks (switch topology), algo direct"), "{table:?}");
}

#[test]
fn the_default_algo_is_the_machine_configs() {
    let file = config_file("all_to_all_config_algo", "[collectives]\nalgo = \"direct\"\n");
    let json = sweep_json(&["all-to-all", "-g", "3", "-b", "96", "-e", "96", "--config", crate::arg(&file)]);
    assert_eq!(json["algo"], "direct");
    assert_eq!(rows(&json)[0]["wrong"], 0);
    // --algo wins over the config.
    let json =
        sweep_json(&["all-to-all", "-g", "3", "-b", "96", "-e", "96", "--algo", "ring", "--config", crate::arg(&file)]);
    assert_eq!(json["algo"], "ring");
}

#[test]
fn an_algorithm_the_collective_does_not_implement_exits_2() {
    for (algo, name) in [("tree", "tree"), ("hd", "halving-doubling")] {
        bad(
            &["all-to-all", "-g", "4", "-b", "1K", "-e", "1K", "--algo", algo],
            &format!(
                "all_to_all_single: rank 0: algorithm {name} is not implemented for this collective (use auto, ring or direct)"
            ),
        );
    }
}
