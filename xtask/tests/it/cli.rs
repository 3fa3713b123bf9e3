//! The command line: subcommands, options and exit codes.

use super::{fixture, xtask};

#[test]
fn check_runs_every_check_and_is_the_default() {
    let manifest = fixture("pass");
    let expected =
        ["check-layers: 2 crates, 3 dependencies checked, ok", "check-barriers: no kb-sched crate yet, skipped, ok"];
    let with_check = xtask(["check".as_ref(), "--manifest-path".as_ref(), manifest.as_os_str()]);
    assert_eq!((with_check.code, with_check.stdout), (0, expected.map(str::to_owned).to_vec()));
    let mut flag = std::ffi::OsString::from("--manifest-path=");
    flag.push(&manifest);
    let without = xtask([flag]);
    assert_eq!((without.code, without.stdout), (0, expected.map(str::to_owned).to_vec()));
}

#[test]
fn a_failing_check_exits_1_and_counts_its_findings_on_stderr() {
    let run = xtask(["check".as_ref(), "--manifest-path".as_ref(), fixture("upward").as_os_str()]);
    assert_eq!(run.code, 1);
    assert_eq!(run.stdout.len(), 2, "the finding, then the other check's summary: {:?}", run.stdout);
    assert_eq!(run.stdout[1], "check-barriers: no kb-sched crate yet, skipped, ok");
    assert_eq!(run.stderr, "check-layers: failed, 1 finding\n");
}

#[test]
fn a_bad_command_line_exits_2_with_the_usage() {
    let run = xtask(["check-everything"]);
    assert_eq!(run.code, 2);
    assert!(run.stdout.is_empty(), "{:?}", run.stdout);
    assert!(
        run.stderr.starts_with("error: unknown command `check-everything`\n\nusage: cargo xtask [COMMAND]"),
        "{}",
        run.stderr
    );
    let run = xtask(["check-layers", "--manifest-path"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.starts_with("error: `--manifest-path` needs a path\n"), "{}", run.stderr);
    let run = xtask(["check-layers", "--verbose"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.starts_with("error: unknown option `--verbose`\n"), "{}", run.stderr);
}

#[test]
fn help_lists_every_check() {
    let run = xtask(["--help"]);
    assert_eq!(run.code, 0);
    for check in ["check-layers", "check-barriers"] {
        assert!(run.stdout.iter().any(|line| line.starts_with(&format!("  {check} "))), "{:?}", run.stdout);
    }
}

#[test]
fn a_workspace_that_cannot_be_read_is_an_error() {
    let run = xtask(["check-layers".as_ref(), "--manifest-path".as_ref(), fixture("absent").as_os_str()]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.is_empty(), "{:?}", run.stdout);
    assert!(run.stderr.starts_with("check-layers: error: cannot read the workspace of "), "{}", run.stderr);
}
