//! Leaf helpers that every layer may use and that use nothing of the node:
//! the clock, atomic file replacement, number parsing, process RSS.

pub mod alloc;
pub mod crash;
pub mod events;
pub mod fs;
pub mod gate;
pub mod id;
pub mod net;
pub mod num;
pub mod oom;
pub mod proc;
pub mod time;
