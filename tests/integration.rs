//! Integration tests: real slotd and node processes on real sockets
//! (ephemeral ports), plus the API router driven in-process.

mod api;
mod cli;
mod client_libraries;
mod cluster_flow;
mod dashboard;
mod labs;
mod multihost;
mod process;
mod reshard;
mod util;
