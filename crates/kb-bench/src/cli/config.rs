//! `kernbench config`: the effective machine config — the embedded default, or `--config FILE`
//! merged over it — as the complete TOML document, or as JSON with the same keys.
//!
//! Both forms come from `MachineSpec`'s one `Serialize` implementation, so their keys are the same
//! by construction: sizes are strings in the largest binary unit that divides them (`"1MiB"`) in
//! both, and the TOML loads back to an equal spec.

use kb_oplog::MachineSpec;

use crate::cli::{Classify, Failure, Format, GlobalArgs, output};

/// Prints `machine` in the format asked for.
pub(crate) fn run(machine: &MachineSpec, global: &GlobalArgs) -> Result<(), Failure> {
    if global.trace.is_some() {
        return Err(Failure::bad_input("--trace: `kernbench config` simulates nothing, so there is no trace to write"));
    }
    let text = match global.format {
        Format::Table => machine.to_toml_string(),
        Format::Json => format!("{}\n", serde_json::to_string_pretty(machine).internal()?),
        Format::Csv => {
            return Err(Failure::bad_input(
                "--format csv: `kernbench config` prints a nested document; use --format table (TOML) or json",
            ));
        }
    };
    output::print(&text)
}
