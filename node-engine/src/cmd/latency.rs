//! LATENCY: the latency monitor's events (LATEST, HISTORY, GRAPH, DOCTOR,
//! RESET) and the per-command latency histograms (HISTOGRAM), with Redis
//! 7.0's replies.

use super::flags::*;
use super::{CmdError, CmdResult, CommandSpec, Ctx};
use crate::node::latency::Event;

pub const COMMANDS: &[CommandSpec] = &[CommandSpec::container("latency", -2, super::no_subcommand, LATENCY)];

const LATENCY: &[CommandSpec] = &[
    CommandSpec::new("latency|latest", 2, ADMIN | NOSCRIPT | LOADING | STALE, (0, 0, 0), latest),
    CommandSpec::new("latency|history", 3, ADMIN | NOSCRIPT | LOADING | STALE, (0, 0, 0), history),
    CommandSpec::new("latency|graph", 3, ADMIN | NOSCRIPT | LOADING | STALE, (0, 0, 0), graph),
    CommandSpec::new("latency|doctor", 2, ADMIN | NOSCRIPT | LOADING | STALE, (0, 0, 0), doctor),
    CommandSpec::new("latency|reset", -2, ADMIN | NOSCRIPT | LOADING | STALE, (0, 0, 0), reset),
    CommandSpec::new("latency|histogram", -2, ADMIN | NOSCRIPT | LOADING | STALE, (0, 0, 0), histogram),
    CommandSpec::new("latency|help", 2, LOADING | STALE, (0, 0, 0), help),
];

/// LATENCY LATEST: [event, time of the last sample, its latency, all-time max] per event.
fn latest(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let rows: Vec<(&str, u64, u64, u64)> =
        ctx.node.latency.events.iter().filter_map(|(k, e)| e.samples.back().map(|(t, l)| (*k, *t, *l, e.max))).collect();
    let r = ctx.reply();
    r.array(rows.len());
    for (name, t, l, max) in rows {
        r.array(4);
        r.bulk(name.as_bytes());
        r.int(t as i64);
        r.int(l as i64);
        r.int(max as i64);
    }
    Ok(())
}

/// LATENCY HISTORY event: its [time, latency] samples, oldest first.
fn history(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let samples: Vec<(u64, u64)> = ctx.node.latency.get(argv[2]).map(|(_, e)| e.samples.iter().copied().collect()).unwrap_or_default();
    let r = ctx.reply();
    r.array(samples.len());
    for (t, l) in samples {
        r.array(2);
        r.int(t as i64);
        r.int(l as i64);
    }
    Ok(())
}

/// LATENCY GRAPH event: an ASCII chart of its samples, tallest bar = highest.
fn graph(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now() / 1000;
    let Some((name, e)) = ctx.node.latency.get(argv[2]) else {
        return Err(CmdError::new(format!("ERR No samples available for event '{}'", String::from_utf8_lossy(argv[2]))));
    };
    let text = render_graph(name, e, now);
    ctx.reply().verbatim(&text);
    Ok(())
}

fn render_graph(name: &str, e: &Event, now: u64) -> String {
    let lo = e.samples.iter().map(|s| s.1).min().unwrap_or(0);
    let hi = e.samples.iter().map(|s| s.1).max().unwrap_or(0);
    let mut out = format!("{name} - high {hi} ms, low {lo} ms (all time high {} ms)\n{}\n", e.max, "-".repeat(80));
    let rows = 4;
    for row in (1..=rows).rev() {
        let line: String = e
            .samples
            .iter()
            .map(|(_, l)| {
                let h = if hi == 0 { 0 } else { (*l * rows as u64).div_ceil(hi) };
                if h >= row as u64 {
                    '#'
                } else if row == 1 {
                    '_'
                } else {
                    ' '
                }
            })
            .collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    // Each column's age, written vertically as Redis labels its sparkline.
    let ages: Vec<String> = e
        .samples
        .iter()
        .map(|(t, _)| {
            let a = now.saturating_sub(*t);
            match a {
                0..=59 => format!("{a}s"),
                60..=3599 => format!("{}m", a / 60),
                3600..=86_399 => format!("{}h", a / 3600),
                _ => format!("{}d", a / 86_400),
            }
        })
        .collect();
    let depth = ages.iter().map(String::len).max().unwrap_or(0);
    for i in 0..depth {
        let line: String = ages.iter().map(|a| a.as_bytes().get(i).map_or(' ', |b| *b as char)).collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// LATENCY DOCTOR: a readable report of the events seen.
fn doctor(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let m = &ctx.node.latency;
    let mut out = String::new();
    if m.events.is_empty() && ctx.node.latency_threshold_ms == 0 {
        out.push_str("I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n");
    } else if m.events.is_empty() {
        out.push_str("Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n");
    } else {
        out.push_str("Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n");
        for (i, (name, e)) in m.events.iter().enumerate() {
            let n = e.samples.len().max(1) as u64;
            let avg = e.samples.iter().map(|s| s.1).sum::<u64>() / n;
            let mad = e.samples.iter().map(|s| s.1.abs_diff(avg)).sum::<u64>() / n;
            let period = match (e.samples.front(), e.samples.back()) {
                (Some(a), Some(b)) => (b.0 - a.0) as f64 / n as f64,
                _ => 0.0,
            };
            out.push_str(&format!(
                "{}. {name}: {} latency spikes (average {avg}ms, mean deviation {mad}ms, period {period:.2} sec). Worst all time event {}ms.\n",
                i + 1,
                e.samples.len(),
                e.max
            ));
        }
        out.push_str("\nI have a few advices for you:\n\n- Check your slowlog (SLOWLOG GET) for the commands that took that long, and avoid O(N) commands on big values (or move them off the request path: UNLINK, FLUSHALL ASYNC).\n");
    }
    ctx.reply().verbatim(&out);
    Ok(())
}

/// LATENCY RESET [event ...]: how many events were forgotten.
fn reset(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let n = if argv.len() == 2 { ctx.node.latency.reset(None) } else { argv[2..].iter().map(|e| ctx.node.latency.reset(Some(e))).sum() };
    ctx.reply().int(n as i64);
    Ok(())
}

/// A cumulative distribution: (upper bound in µs, calls up to it).
type Cdf = Vec<(u64, u64)>;

/// LATENCY HISTOGRAM [command ...]: each command's calls and cumulative
/// latency distribution; a container names all its subcommands.
fn histogram(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let table = super::table();
    let mut wanted: Vec<&'static str> = Vec::new();
    if argv.len() == 2 {
        wanted.extend(table.iter().flat_map(|c| std::iter::once(c.name).chain(c.subcommands.iter().map(|s| s.name))));
    } else {
        for a in &argv[2..] {
            let Some(c) = table.by_full_name(&a.to_ascii_lowercase()) else { continue };
            wanted.push(c.name);
            wanted.extend(c.subcommands.iter().map(|s| s.name));
        }
    }
    let stats: Vec<(&'static str, u64, Cdf)> = wanted
        .iter()
        .filter_map(|name| ctx.node.stats.commands.values().find(|s| s.name == *name && s.hist.total > 0))
        .map(|s| (s.name, s.hist.total, s.hist.cumulative()))
        .collect();
    let r = ctx.reply();
    r.map(stats.len());
    for (name, calls, cdf) in stats {
        r.bulk(name.as_bytes());
        r.map(2);
        r.bulk(b"calls");
        r.int(calls as i64);
        r.bulk(b"histogram_usec");
        r.map(cdf.len());
        for (us, n) in cdf {
            r.int(us as i64);
            r.int(n as i64);
        }
    }
    Ok(())
}

fn help(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    super::reply_help(
        ctx,
        &[
            "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "DOCTOR",
            "    Return a human readable latency analysis report.",
            "GRAPH <event>",
            "    Return an ASCII latency graph for the <event> class.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HISTOGRAM [COMMAND ...]",
            "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
            "    If no commands are specified then all histograms are replied.",
            "HELP",
            "    Prints this help.",
        ],
    );
    Ok(())
}
