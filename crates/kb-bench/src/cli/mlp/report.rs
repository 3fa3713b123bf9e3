//! The result of `kernbench mlp`, rendered as aligned lines, JSON or CSV.
//!
//! JSON holds exactly `tp`, `batch`, `hidden`, `ffn`, `dtype`, `time_us`, `compute_us`, `comm_us`,
//! `max_abs_err` (`null` when skipped) and `check` (`"pass"`, `"fail"` or `"skipped"`); CSV has
//! the same columns. The table adds TFLOP/s and the tolerance.

use crate::cli::gemm::report::Check;
use crate::cli::{Format, output};

/// One MLP run's figures.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct MlpReport {
    /// The tensor-parallel size T.
    pub(crate) tp: usize,
    /// Rows of X and Y.
    pub(crate) batch: usize,
    /// H.
    pub(crate) hidden: usize,
    /// F.
    pub(crate) ffn: usize,
    /// The dtype of every tensor.
    pub(crate) dtype: &'static str,
    /// Simulated time of the forward, µs.
    pub(crate) time_us: f64,
    /// The part of it that is not the all-reduce, µs.
    pub(crate) compute_us: f64,
    /// The all-reduce's own time, µs.
    pub(crate) comm_us: f64,
    /// The largest `|Y − reference|` of rank 0, when checked.
    pub(crate) max_abs_err: Option<f64>,
    /// How the check went.
    pub(crate) check: Check,
    /// 4·B·H·F / time, TFLOP/s (table only).
    #[serde(skip)]
    pub(crate) tflops: f64,
    /// The largest element bound of the check (table only).
    #[serde(skip)]
    pub(crate) tolerance: Option<f64>,
}

/// CSV columns, the JSON keys in order.
const CSV_HEADER: &str = "tp,batch,hidden,ffn,dtype,time_us,compute_us,comm_us,max_abs_err,check";

impl MlpReport {
    /// The report as text in `format`, ending with a newline.
    pub(crate) fn render(&self, format: Format) -> String {
        match format {
            Format::Table => self.table(),
            Format::Json => crate::cli::output::json_text(self),
            Format::Csv => {
                let err = self.max_abs_err.map_or_else(String::new, |e| e.to_string());
                format!(
                    "{CSV_HEADER}\n{},{},{},{},{},{},{},{},{err},{}\n",
                    self.tp,
                    self.batch,
                    self.hidden,
                    self.ffn,
                    self.dtype,
                    self.time_us,
                    self.compute_us,
                    self.comm_us,
                    self.check.name()
                )
            }
        }
    }

    fn table(&self) -> String {
        let err = output::error_cell(self.max_abs_err, self.tolerance);
        let rows = [
            ("tp", self.tp.to_string()),
            ("batch", self.batch.to_string()),
            ("hidden", self.hidden.to_string()),
            ("ffn", self.ffn.to_string()),
            ("dtype", self.dtype.to_string()),
            ("time_us", format!("{:.3}", self.time_us)),
            ("compute_us", format!("{:.3}", self.compute_us)),
            ("comm_us", format!("{:.3}", self.comm_us)),
            ("tflops", format!("{:.3}", self.tflops)),
            ("check", self.check.name().to_string()),
            ("max_abs_err", err),
        ];
        output::key_value_table(&rows)
    }
}

#[cfg(test)]
mod tests {
    use super::{Check, MlpReport};
    use crate::cli::Format;

    fn report(checked: bool) -> MlpReport {
        MlpReport {
            tp: 2,
            batch: 4,
            hidden: 64,
            ffn: 256,
            dtype: "f16",
            time_us: 3.0,
            compute_us: 2.0,
            comm_us: 1.0,
            max_abs_err: checked.then_some(0.5),
            check: if checked { Check::Pass } else { Check::Skipped },
            tflops: 0.25,
            tolerance: checked.then_some(1.0),
        }
    }

    #[test]
    fn json_has_exactly_the_documented_fields() {
        let value: serde_json::Value = serde_json::from_str(&report(false).render(Format::Json)).unwrap();
        let mut keys: Vec<&str> = value.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        let mut expected = CSV_KEYS.to_vec();
        expected.sort_unstable();
        assert_eq!(keys, expected);
        assert_eq!(value["check"], "skipped");
        assert!(value["max_abs_err"].is_null());
    }

    const CSV_KEYS: [&str; 10] =
        ["tp", "batch", "hidden", "ffn", "dtype", "time_us", "compute_us", "comm_us", "max_abs_err", "check"];

    #[test]
    fn csv_and_table_show_the_same_run() {
        assert_eq!(
            report(true).render(Format::Csv),
            "tp,batch,hidden,ffn,dtype,time_us,compute_us,comm_us,max_abs_err,check\n2,4,64,256,f16,3,2,1,0.5,pass\n"
        );
        assert_eq!(super::CSV_HEADER.split(',').collect::<Vec<_>>(), CSV_KEYS);
        let table = report(true).render(Format::Table);
        assert!(table.starts_with("tp           2\nbatch        4\n"), "{table}");
        assert!(table.contains("tflops       0.250\n"), "{table}");
        assert!(table.ends_with("max_abs_err  5.000e-1 (tolerance 1.000e0)\n"), "{table}");
    }
}
