//! Logging setup: tracing to stderr (the journal under systemd), level from
//! SLOTD_LOG (e.g. `SLOTD_LOG=debug`), default info.

/// Installs the global subscriber once; later calls are ignored.
pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SLOTD_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let under_systemd = std::env::var_os("JOURNAL_STREAM").is_some();
    use std::io::IsTerminal;
    let color = std::io::stderr().is_terminal();
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).with_ansi(color);
    if under_systemd {
        // The journal adds its own timestamps.
        let _ = builder.without_time().with_ansi(false).try_init();
    } else {
        let _ = builder.try_init();
    }
}
