//! `check-layers` on fixture workspaces, one file per behaviour.

mod external;
mod missing_row;
mod pass;
mod stale_row;
mod upward;
