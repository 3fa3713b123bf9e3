//! The result of a collective sweep, rendered as nccl-tests' table, JSON or CSV.
//!
//! - Table: a header comment line, nccl-tests' column headings (size, count, type, redop, root,
//!   time, algbw, busbw, #wrong) and one row per size in its layout — `redop` is `none` and `root`
//!   `-1` where the collective has none, `#wrong` is `N/A` when nothing was checked — then the
//!   footer lines `# Out of bounds values` and `# Avg bus bandwidth` (the mean of the rows' busbw).
//!   With `--algo auto`, a comment line before the footer names the algorithm auto ran at each
//!   size, ranges of sizes with the same pick together.
//! - JSON: `collective`, `ranks`, `algo`, `dtype` (kernbench's name: `f32`, `f16`, `bf16`, `i32`),
//!   `op` (`null` without one), `root` (`null` without one) and `rows`, each with `size`, `count`,
//!   `time_us`, `algbw_gbps`, `busbw_gbps`, `wrong` (`null` when not checked) and `algo` (the
//!   algorithm that ran: `auto`'s pick for that size).
//! - CSV: a header line and one row per size, the sweep's fields repeated on each row, and the
//!   algorithm that ran last (`algo_ran`).

use crate::cli::Format;

/// One size of the sweep.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Row {
    /// Bytes, as nccl-tests defines the size for the collective.
    pub(crate) size: usize,
    /// Elements per rank (nccl-tests' count column).
    pub(crate) count: usize,
    /// Simulated time of the collective, µs.
    pub(crate) time_us: f64,
    /// `size / time`, GB/s.
    pub(crate) algbw_gbps: f64,
    /// `algbw` × the collective's bus factor, GB/s.
    pub(crate) busbw_gbps: f64,
    /// Elements that differ from the host reference, over all ranks; `None` when not checked.
    pub(crate) wrong: Option<u64>,
    /// The algorithm that ran (for `auto`, its pick for this size).
    pub(crate) algo: &'static str,
}

/// A whole sweep.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Report {
    /// The subcommand (`all-reduce` …).
    pub(crate) collective: &'static str,
    /// P.
    pub(crate) ranks: usize,
    /// The algorithm.
    pub(crate) algo: &'static str,
    /// kernbench's name of the dtype.
    pub(crate) dtype: &'static str,
    /// The reduce op (nccl-tests' name), for reducing collectives.
    pub(crate) op: Option<&'static str>,
    /// The root, for rooted collectives.
    pub(crate) root: Option<usize>,
    /// One per size.
    pub(crate) rows: Vec<Row>,
    /// nccl-tests' name of the dtype (table only).
    #[serde(skip)]
    pub(crate) type_name: &'static str,
    /// The cluster topology (table header only).
    #[serde(skip)]
    pub(crate) topology: &'static str,
    /// `-b`, as asked (table header only).
    #[serde(skip)]
    pub(crate) minbytes: usize,
    /// `-e`, as asked (table header only).
    #[serde(skip)]
    pub(crate) maxbytes: usize,
    /// `-f` (table header only).
    #[serde(skip)]
    pub(crate) stepfactor: usize,
    /// Whether results were checked (table header and footer only).
    #[serde(skip)]
    pub(crate) check: bool,
}

/// CSV columns.
const CSV_HEADER: &str = "collective,ranks,algo,dtype,op,root,size,count,time_us,algbw_gbps,busbw_gbps,wrong,algo_ran";

/// A time in µs as nccl-tests prints it: fewer decimals as it grows, 7 characters.
fn time_text(us: f64) -> String {
    if us >= 10_000.0 {
        format!("{us:7.0}")
    } else if us >= 100.0 {
        format!("{us:7.1}")
    } else {
        format!("{us:7.2}")
    }
}

/// `x` with 6 significant digits and no trailing zeros, like C's `%g` for ordinary magnitudes.
fn g6(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let decimals = (5 - x.abs().log10().floor() as i32).max(0) as usize;
    let text = format!("{x:.decimals$}");
    if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.').to_string() } else { text }
}

impl Report {
    /// The report as text in `format`, ending with a newline.
    pub(crate) fn render(&self, format: Format) -> String {
        match format {
            Format::Table => self.table(),
            Format::Json => crate::cli::output::json_text(self),
            Format::Csv => {
                let mut text = format!("{CSV_HEADER}\n");
                for r in &self.rows {
                    text.push_str(&format!(
                        "{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
                        self.collective,
                        self.ranks,
                        self.algo,
                        self.dtype,
                        self.op.unwrap_or(""),
                        self.root.map_or_else(String::new, |r| r.to_string()),
                        r.size,
                        r.count,
                        r.time_us,
                        r.algbw_gbps,
                        r.busbw_gbps,
                        r.wrong.map_or_else(String::new, |w| w.to_string()),
                        r.algo
                    ));
                }
                text
            }
        }
    }

    /// What `auto` ran, as ranges of sizes: "ring 1024–65536 B, tree 131072 B".
    fn auto_picks(&self) -> String {
        let mut runs: Vec<(&str, usize, usize)> = Vec::new();
        for r in &self.rows {
            match runs.last_mut() {
                Some((algo, _, last)) if *algo == r.algo => *last = r.size,
                _ => runs.push((r.algo, r.size, r.size)),
            }
        }
        let text: Vec<String> = runs
            .iter()
            .map(
                |&(algo, first, last)| {
                    if first == last { format!("{algo} {first} B") } else { format!("{algo} {first}–{last} B") }
                },
            )
            .collect();
        text.join(", ")
    }

    /// The mean of the rows' bus bandwidths (0 without rows).
    pub(crate) fn avg_busbw(&self) -> f64 {
        if self.rows.is_empty() {
            return 0.0;
        }
        self.rows.iter().map(|r| r.busbw_gbps).sum::<f64>() / self.rows.len() as f64
    }

    fn table(&self) -> String {
        let mut t = format!(
            "# kernbench {}: {} ranks ({} topology), algo {}, minBytes {} maxBytes {} step: {}(factor) check: {}\n#\n",
            self.collective,
            self.ranks,
            self.topology,
            self.algo,
            self.minbytes,
            self.maxbytes,
            self.stepfactor,
            u8::from(self.check)
        );
        t.push_str(&format!(
            "# {:>10}  {:>12}  {:>8}  {:>6}  {:>6}  {:>7}  {:>6}  {:>6}  {:>6}\n",
            "size", "count", "type", "redop", "root", "time", "algbw", "busbw", "#wrong"
        ));
        t.push_str(&format!(
            "# {:>10}  {:>12}  {:>8}  {:>6}  {:>6}  {:>7}  {:>6}  {:>6}  {:>6}\n",
            "(B)", "(elements)", "", "", "", "(us)", "(GB/s)", "(GB/s)", ""
        ));
        let root = self.root.map_or_else(|| "-1".to_string(), |r| r.to_string());
        for r in &self.rows {
            t.push_str(&format!(
                "{:>12}  {:>12}  {:>8}  {:>6}  {:>6}  {}  {:>6.2}  {:>6.2}  {:>6}\n",
                r.size,
                r.count,
                self.type_name,
                self.op.unwrap_or("none"),
                root,
                time_text(r.time_us),
                r.algbw_gbps,
                r.busbw_gbps,
                r.wrong.map_or_else(|| "N/A".to_string(), |w| w.to_string())
            ));
        }
        if self.algo == "auto" && !self.rows.is_empty() {
            t.push_str(&format!("# auto ran             : {}\n", self.auto_picks()));
        }
        let wrong: u64 = self.rows.iter().filter_map(|r| r.wrong).sum();
        let status = if !self.check {
            "N/A"
        } else if wrong == 0 {
            "OK"
        } else {
            "FAILED"
        };
        t.push_str(&format!("# Out of bounds values : {wrong} {status}\n"));
        t.push_str(&format!("# Avg bus bandwidth    : {}\n#\n", g6(self.avg_busbw())));
        t
    }
}

#[cfg(test)]
mod tests {
    use super::{Report, Row, g6, time_text};
    use crate::cli::Format;

    fn report(wrong: Option<u64>) -> Report {
        Report {
            collective: "all-reduce",
            ranks: 4,
            algo: "ring",
            dtype: "f32",
            op: Some("sum"),
            root: None,
            rows: vec![
                Row {
                    size: 1024,
                    count: 256,
                    time_us: 2.5,
                    algbw_gbps: 0.4096,
                    busbw_gbps: 0.6144,
                    wrong,
                    algo: "ring",
                },
                Row {
                    size: 2048,
                    count: 512,
                    time_us: 150.25,
                    algbw_gbps: 0.25,
                    busbw_gbps: 0.375,
                    wrong,
                    algo: "ring",
                },
            ],
            type_name: "float",
            topology: "ring",
            minbytes: 1024,
            maxbytes: 2048,
            stepfactor: 2,
            check: wrong.is_some(),
        }
    }

    #[test]
    fn numbers_print_as_nccl_tests_does() {
        assert_eq!(time_text(2.5), "   2.50");
        assert_eq!(time_text(150.25), "  150.2");
        assert_eq!(time_text(12345.6), "  12346");
        assert_eq!(g6(0.4947), "0.4947");
        assert_eq!(g6(123.456789), "123.457");
        assert_eq!(g6(0.0), "0");
    }

    #[test]
    fn the_table_has_nccl_tests_columns_and_footer() {
        let text = report(Some(0)).render(Format::Table);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[2].starts_with("#       size         count      type   redop    root"), "{text}");
        assert_eq!(lines[4], "        1024           256     float     sum      -1     2.50    0.41    0.61       0");
        assert_eq!(lines[5], "        2048           512     float     sum      -1    150.2    0.25    0.38       0");
        assert_eq!(lines[6], "# Out of bounds values : 0 OK");
        assert_eq!(lines[7], "# Avg bus bandwidth    : 0.4947");
        assert!(report(None).render(Format::Table).contains("     N/A\n"));
    }

    #[test]
    fn json_and_csv_carry_the_documented_fields() {
        let value: serde_json::Value = serde_json::from_str(&report(None).render(Format::Json)).unwrap();
        let mut keys: Vec<&str> = value.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["algo", "collective", "dtype", "op", "ranks", "root", "rows"]);
        assert!(value["rows"][0]["wrong"].is_null());
        let mut row_keys: Vec<&str> = value["rows"][0].as_object().unwrap().keys().map(String::as_str).collect();
        row_keys.sort_unstable();
        assert_eq!(row_keys, ["algbw_gbps", "algo", "busbw_gbps", "count", "size", "time_us", "wrong"]);
        let csv = report(Some(3)).render(Format::Csv);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], super::CSV_HEADER);
        assert_eq!(lines[1], "all-reduce,4,ring,f32,sum,,1024,256,2.5,0.4096,0.6144,3,ring");
        assert_eq!(lines.len(), 3);
    }

    #[test]
    fn an_auto_sweep_names_what_auto_ran_by_ranges_of_sizes() {
        let mut r = report(Some(0));
        assert!(!r.render(Format::Table).contains("# auto ran"), "only an auto sweep has the line");
        r.algo = "auto";
        let big = Row { size: 4096, algo: "tree", ..r.rows[0].clone() };
        r.rows.push(big);
        let text = r.render(Format::Table);
        let line = text.lines().find(|l| l.starts_with("# auto ran")).expect("the auto line");
        assert_eq!(line, "# auto ran             : ring 1024–2048 B, tree 4096 B");
        let value: serde_json::Value = serde_json::from_str(&r.render(Format::Json)).unwrap();
        assert_eq!(value["algo"], "auto");
        assert_eq!(value["rows"][2]["algo"], "tree");
    }
}
