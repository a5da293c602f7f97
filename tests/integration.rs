//! Integration tests: real slotd and node processes on real sockets
//! (ephemeral ports), plus the API router driven in-process.

mod api;
mod cli;
mod process;
mod redis_flow;
mod reshard;
mod util;
