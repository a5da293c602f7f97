//! Cluster commands (filled in with the bus).

use super::CommandSpec;

pub const COMMANDS: &[CommandSpec] = &[];
