//! lists commands (being written; the table is filled in as commands land).

use super::CommandSpec;

pub const COMMANDS: &[CommandSpec] = &[];
