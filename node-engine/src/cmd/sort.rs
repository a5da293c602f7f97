//! SORT and SORT_RO over lists, sets and sorted sets: numeric or ALPHA
//! order, BY and GET patterns (`*` substituted, `->field` for hashes),
//! LIMIT and STORE, with Redis 7.0's cluster-mode and error rules.

use super::args::is;
use super::flags::*;
use super::{CmdError, CmdResult, CommandSpec, Ctx};
use crate::keyspace::{List, Value};
use crate::util::events::{GENERIC, LIST};
use std::borrow::Cow;
use std::cmp::Ordering;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("sort", -2, WRITE | DENYOOM, (1, 1, 1), sort).acl(&["@set", "@sortedset", "@list", "@dangerous"]).with_keys(sort_keys),
    // BY and GET name keys only at run time: "movablekeys", as in Redis.
    CommandSpec::new("sort_ro", -2, READONLY, (1, 1, 1), sort_ro)
        .acl(&["@set", "@sortedset", "@list", "@dangerous"])
        .with_keys(|_| vec![1]),
];

/// SORT's keys: the source and the STORE target (Redis's sortGetKeys skips
/// the arguments of LIMIT, GET and BY while looking for STORE).
fn sort_keys(argv: &[&[u8]]) -> Vec<usize> {
    let mut keys = vec![1];
    let mut i = 2;
    while i < argv.len() {
        let a = argv[i];
        if is(a, "limit") {
            i += 2;
        } else if is(a, "get") || is(a, "by") {
            i += 1;
        } else if is(a, "store") && i + 1 < argv.len() {
            // The last STORE wins; its key is not skipped (as in Redis).
            keys.truncate(1);
            keys.push(i + 1);
        }
        i += 1;
    }
    keys
}

fn sort(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    sort_generic(ctx, argv, false)
}

fn sort_ro(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    sort_generic(ctx, argv, true)
}

/// Value of a BY/GET pattern for one element: `#` is the element itself, a
/// pattern without `*` names nothing, `key*->field` reads a hash field.
fn lookup_pattern(ctx: &mut Ctx<'_>, pattern: &[u8], elem: &[u8]) -> Option<Vec<u8>> {
    if pattern == b"#" {
        return Some(elem.to_vec());
    }
    let star = pattern.iter().position(|&b| b == b'*')?;
    let after = &pattern[star + 1..];
    let arrow = after.windows(2).position(|w| w == b"->").filter(|&p| p + 2 < after.len());
    let (postfix, field) = match arrow {
        Some(p) => (&after[..p], Some(&after[p + 2..])),
        None => (after, None),
    };
    let mut key = Vec::with_capacity(star + elem.len() + postfix.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(elem);
    key.extend_from_slice(postfix);
    let now = ctx.now();
    match (ctx.db().get(&key, now).map(|e| &e.value), field) {
        (Some(Value::Hash(h)), Some(f)) => h.get(f).map(Cow::into_owned),
        (Some(Value::Str(s)), None) => Some(s.to_vec()),
        _ => None,
    }
}

/// C's strtod as SORT uses it: leading spaces skipped, an empty string is
/// 0, trailing garbage, overflow or NaN are errors.
fn sort_score(b: &[u8]) -> Option<f64> {
    let t = std::str::from_utf8(b).ok()?.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    if t.is_empty() {
        return Some(0.0);
    }
    let v: f64 = t.parse().ok()?;
    let lower = t.to_ascii_lowercase();
    if v.is_nan() || (v.is_infinite() && !lower.contains("inf")) {
        return None;
    }
    Some(v)
}

struct Item {
    elem: Vec<u8>,
    score: f64,
    /// The BY value compared in ALPHA mode (None sorts first).
    cmp: Option<Vec<u8>>,
}

fn sort_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], readonly: bool) -> CmdResult {
    let cluster = ctx.node.cluster.is_some();
    let (mut desc, mut alpha, mut dontsort) = (false, false, false);
    let (mut limit_start, mut limit_count): (i64, i64) = (0, -1);
    let mut sortby: Option<&[u8]> = None;
    let mut store: Option<&[u8]> = None;
    let mut gets: Vec<&[u8]> = Vec::new();
    let mut j = 2;
    while j < argv.len() {
        let a = argv[j];
        let left = argv.len() - j - 1;
        if is(a, "asc") {
            desc = false;
        } else if is(a, "desc") {
            desc = true;
        } else if is(a, "alpha") {
            alpha = true;
        } else if is(a, "limit") && left >= 2 {
            limit_start = super::args::parse_i64(argv[j + 1])?;
            limit_count = super::args::parse_i64(argv[j + 2])?;
            j += 2;
        } else if !readonly && is(a, "store") && left >= 1 {
            store = Some(argv[j + 1]);
            j += 1;
        } else if is(a, "by") && left >= 1 {
            sortby = Some(argv[j + 1]);
            if !argv[j + 1].contains(&b'*') {
                dontsort = true;
            } else if cluster {
                return Err(CmdError::new("ERR BY option of SORT denied in Cluster mode."));
            } else if !super::acl::reads_any_key(ctx.node, &ctx.client.user, argv) {
                return Err(CmdError::new("ERR BY option of SORT denied due to insufficient ACL permissions."));
            }
            j += 1;
        } else if is(a, "get") && left >= 1 {
            if cluster {
                return Err(CmdError::new("ERR GET option of SORT denied in Cluster mode."));
            }
            if !super::acl::reads_any_key(ctx.node, &ctx.client.user, argv) {
                return Err(CmdError::new("ERR GET option of SORT denied due to insufficient ACL permissions."));
            }
            gets.push(argv[j + 1]);
            j += 1;
        } else {
            return Err(CmdError::syntax());
        }
        j += 1;
    }

    let now = ctx.now();
    // Redis converts a sorted set it sorts to its skiplist encoding, for good.
    if let Some(Value::ZSet(z)) = ctx.db().get_mut(argv[1], now).map(|e| &mut e.value) {
        z.convert();
    }
    // The elements in the source's own order.
    let (elems, kind): (Vec<Vec<u8>>, u8) = match ctx.db().get(argv[1], now).map(|e| &e.value) {
        None => (Vec::new(), b'l'),
        Some(Value::List(l)) => (l.iter().map(Cow::into_owned).collect(), b'l'),
        Some(Value::Set(s)) => (s.iter().map(Cow::into_owned).collect(), b's'),
        Some(Value::ZSet(z)) => (z.iter().map(|(m, _)| m.into_owned()).collect(), b'z'),
        Some(_) => return Err(CmdError::wrong_type()),
    };
    // A set has no order of its own: sort it when the result is stored or
    // replicated (scripts), so every copy agrees.
    if dontsort && kind == b's' && (store.is_some() || ctx.client.in_script) {
        dontsort = false;
        alpha = true;
        sortby = None;
    }
    let len = elems.len() as i64;
    let mut start = limit_start.max(0).min(len);
    let count = limit_count.max(-1).min(len);
    let mut end = if count < 0 { len - 1 } else { start + count - 1 };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    if end >= len {
        end = len - 1;
    }

    let mut items: Vec<Item> = if dontsort && kind != b's' {
        // Lists and sorted sets keep their order, reversed for DESC.
        let mut v: Vec<Vec<u8>> = elems;
        if desc {
            v.reverse();
        }
        v.into_iter().map(|elem| Item { elem, score: 0.0, cmp: None }).collect()
    } else {
        elems.into_iter().map(|elem| Item { elem, score: 0.0, cmp: None }).collect()
    };

    let mut conversion_error = false;
    if !dontsort {
        for it in &mut items {
            let byval: Option<Vec<u8>> = match sortby {
                Some(p) => lookup_pattern(ctx, p, &it.elem),
                None => Some(it.elem.clone()),
            };
            let Some(v) = byval else { continue };
            if alpha {
                if sortby.is_some() {
                    it.cmp = Some(v);
                }
            } else {
                match sort_score(&v) {
                    Some(s) => it.score = s,
                    None => conversion_error = true,
                }
            }
        }
        let by_pattern = sortby.is_some();
        items.sort_by(|a, b| {
            let o = if !alpha {
                a.score.partial_cmp(&b.score).unwrap_or(Ordering::Equal).then_with(|| a.elem.cmp(&b.elem))
            } else if by_pattern {
                a.cmp.cmp(&b.cmp)
            } else {
                a.elem.cmp(&b.elem)
            };
            if desc {
                o.reverse()
            } else {
                o
            }
        });
    }
    if conversion_error {
        return Err(CmdError::new("ERR One or more scores can't be converted into double"));
    }
    let range: &[Item] = if end >= start && start >= 0 { &items[start as usize..=end as usize] } else { &[] };

    // Each output row: the element, or one value per GET pattern.
    let mut out: Vec<Option<Vec<u8>>> = Vec::with_capacity(range.len() * gets.len().max(1));
    for it in range {
        if gets.is_empty() {
            out.push(Some(it.elem.clone()));
        }
        for g in &gets {
            out.push(lookup_pattern(ctx, g, &it.elem));
        }
    }
    match store {
        None => {
            let r = ctx.reply();
            r.array(out.len());
            for v in &out {
                match v {
                    Some(b) => r.bulk(b),
                    None => r.null(),
                }
            }
        }
        Some(key) => {
            let n = out.len();
            if n > 0 {
                let limits = ctx.db().limits;
                let list = List::from_items(out.iter().map(|v| v.as_deref().unwrap_or_default()), &limits);
                ctx.db().set(key, Value::List(Box::new(list)));
                ctx.dirty(n as u64);
                ctx.notify(LIST, "sortstore", key);
            } else if ctx.db().remove(key, now).is_some() {
                ctx.dirty(1);
                ctx.propagate_as(vec![b"DEL".to_vec(), key.to_vec()]);
                ctx.notify(GENERIC, "del", key);
            }
            ctx.reply().int(n as i64);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_parse_like_strtod() {
        assert_eq!(sort_score(b""), Some(0.0));
        assert_eq!(sort_score(b"  1.5"), Some(1.5));
        assert_eq!(sort_score(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(sort_score(b"1e400"), None);
        assert_eq!(sort_score(b"1x"), None);
        assert_eq!(sort_score(b"nan"), None);
    }

    #[test]
    fn store_key_is_found_past_other_options() {
        let argv: Vec<&[u8]> = vec![b"sort", b"k", b"by", b"store", b"limit", b"0", b"1", b"store", b"dst"];
        assert_eq!(sort_keys(&argv), vec![1, 8]);
        let argv: Vec<&[u8]> = vec![b"sort", b"k", b"store", b"a", b"store", b"b"];
        assert_eq!(sort_keys(&argv), vec![1, 5]);
    }
}
