//! The result of `kernbench gemm`, rendered as aligned lines, JSON or CSV.
//!
//! JSON holds exactly `m`, `n`, `k`, `dtype`, `time_us`, `tflops`, `utilization` (a fraction of
//! the device's GEMM peak, 0 to 1), `check` (`"pass"`, `"fail"` or `"skipped"`) and `max_abs_err`
//! (`null` when skipped); CSV has the same columns, `max_abs_err` empty when skipped.

use crate::cli::gemm::check::Outcome;
use crate::cli::{Format, output};

/// Whether C was checked, and how it went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Check {
    /// Within the tolerance.
    Pass,
    /// Beyond it.
    Fail,
    /// Not checked (timing only).
    Skipped,
}

impl Check {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Check::Pass => "pass",
            Check::Fail => "fail",
            Check::Skipped => "skipped",
        }
    }
}

impl Outcome {
    /// [`Check::Pass`] or [`Check::Fail`].
    pub(crate) fn check(&self) -> Check {
        if self.passed() { Check::Pass } else { Check::Fail }
    }
}

/// One GEMM run's figures.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct GemmReport {
    /// Rows of A and C.
    pub(crate) m: usize,
    /// Columns of B and C.
    pub(crate) n: usize,
    /// The reduction length.
    pub(crate) k: usize,
    /// The dtype of A, B and C.
    pub(crate) dtype: &'static str,
    /// Simulated time of the launch, µs.
    pub(crate) time_us: f64,
    /// 2·M·N·K / time, TFLOP/s.
    pub(crate) tflops: f64,
    /// `tflops` over the device's GEMM peak.
    pub(crate) utilization: f64,
    /// How the check went.
    pub(crate) check: Check,
    /// The largest `|C − reference|`, when checked.
    pub(crate) max_abs_err: Option<f64>,
    /// The blocks, `BMxBNxBK` (table only).
    #[serde(skip)]
    pub(crate) blocks: String,
    /// The tolerance of the check (table only).
    #[serde(skip)]
    pub(crate) tolerance: Option<f64>,
}

/// CSV columns, the JSON keys in order.
const CSV_HEADER: &str = "m,n,k,dtype,time_us,tflops,utilization,check,max_abs_err";

impl GemmReport {
    /// The report as text in `format`, ending with a newline.
    pub(crate) fn render(&self, format: Format) -> String {
        match format {
            Format::Table => self.table(),
            Format::Json => crate::cli::output::json_text(self),
            Format::Csv => {
                let err = self.max_abs_err.map_or_else(String::new, |e| e.to_string());
                format!(
                    "{CSV_HEADER}\n{},{},{},{},{},{},{},{},{err}\n",
                    self.m,
                    self.n,
                    self.k,
                    self.dtype,
                    self.time_us,
                    self.tflops,
                    self.utilization,
                    self.check.name()
                )
            }
        }
    }

    fn table(&self) -> String {
        let err = output::error_cell(self.max_abs_err, self.tolerance);
        let rows = [
            ("m", self.m.to_string()),
            ("n", self.n.to_string()),
            ("k", self.k.to_string()),
            ("dtype", self.dtype.to_string()),
            ("blocks", self.blocks.clone()),
            ("time_us", format!("{:.3}", self.time_us)),
            ("tflops", format!("{:.3}", self.tflops)),
            ("utilization", format!("{:.1} %", self.utilization * 100.0)),
            ("check", self.check.name().to_string()),
            ("max_abs_err", err),
        ];
        output::key_value_table(&rows)
    }
}

#[cfg(test)]
mod tests {
    use super::{Check, GemmReport};
    use crate::cli::Format;

    fn report(checked: bool) -> GemmReport {
        GemmReport {
            m: 64,
            n: 48,
            k: 40,
            dtype: "f16",
            time_us: 1.5,
            tflops: 0.25,
            utilization: 0.125,
            check: if checked { Check::Pass } else { Check::Skipped },
            max_abs_err: checked.then_some(0.5),
            blocks: "128x128x64".into(),
            tolerance: checked.then_some(1.0),
        }
    }

    #[test]
    fn table_lines_are_aligned() {
        let text = report(true).render(Format::Table);
        assert_eq!(
            text,
            "m            64\nn            48\nk            40\ndtype        f16\nblocks       128x128x64\n\
             time_us      1.500\ntflops       0.250\nutilization  12.5 %\ncheck        pass\n\
             max_abs_err  5.000e-1 (tolerance 1.000e0)\n"
        );
        assert!(report(false).render(Format::Table).ends_with("check        skipped\nmax_abs_err  -\n"));
    }

    #[test]
    fn json_has_exactly_the_documented_fields() {
        let value: serde_json::Value = serde_json::from_str(&report(false).render(Format::Json)).unwrap();
        let keys: Vec<&str> = value.as_object().unwrap().keys().map(String::as_str).collect();
        let mut expected = ["m", "n", "k", "dtype", "time_us", "tflops", "utilization", "check", "max_abs_err"];
        expected.sort_unstable();
        let mut keys = keys;
        keys.sort_unstable();
        assert_eq!(keys, expected);
        assert_eq!(value["check"], "skipped");
        assert!(value["max_abs_err"].is_null());
    }

    #[test]
    fn csv_is_a_header_and_one_row() {
        assert_eq!(
            report(true).render(Format::Csv),
            "m,n,k,dtype,time_us,tflops,utilization,check,max_abs_err\n64,48,40,f16,1.5,0.25,0.125,pass,0.5\n"
        );
        assert!(report(false).render(Format::Csv).ends_with(",skipped,\n"));
    }
}
