//! GEO commands: points stored in a sorted set under 52-bit geohash scores
//! (GEOADD is a ZADD), searched cell by cell as Redis does so results,
//! distances and order agree with redis-server.

use super::args::{is, parse_f64, parse_i64};
use super::flags::*;
use super::{CmdError, CmdResult, CommandSpec, Ctx};
use crate::keyspace::geohash::{self, Shape};
use crate::keyspace::{Value, ZSet};
use crate::util::events::{GENERIC, ZSET};

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("geoadd", -5, WRITE | DENYOOM, (1, 1, 1), geoadd).acl(&["@geo"]),
    CommandSpec::new("geodist", -4, READONLY, (1, 1, 1), geodist).acl(&["@geo"]),
    CommandSpec::new("geohash", -2, READONLY, (1, 1, 1), geohash_cmd).acl(&["@geo"]),
    CommandSpec::new("geopos", -2, READONLY, (1, 1, 1), geopos).acl(&["@geo"]),
    CommandSpec::new("georadius", -6, WRITE | DENYOOM, (1, 1, 1), georadius).acl(&["@geo"]).with_keys(keys_with_store),
    CommandSpec::new("georadius_ro", -6, READONLY, (1, 1, 1), georadius_ro).acl(&["@geo"]),
    CommandSpec::new("georadiusbymember", -5, WRITE | DENYOOM, (1, 1, 1), georadiusbymember).acl(&["@geo"]).with_keys(keys_with_store),
    CommandSpec::new("georadiusbymember_ro", -5, READONLY, (1, 1, 1), georadiusbymember_ro).acl(&["@geo"]),
    CommandSpec::new("geosearch", -7, READONLY, (1, 1, 1), geosearch).acl(&["@geo"]),
    CommandSpec::new("geosearchstore", -8, WRITE | DENYOOM, (1, 2, 1), geosearchstore).acl(&["@geo"]),
];

/// GEORADIUS[BYMEMBER] keys: the source and the STORE/STOREDIST target.
fn keys_with_store(argv: &[&[u8]]) -> Vec<usize> {
    let mut keys = vec![1];
    let last = argv.len().saturating_sub(1);
    keys.extend(
        argv.iter()
            .enumerate()
            .skip(2)
            .take(last.saturating_sub(2))
            .filter(|(_, a)| is(a, "store") || is(a, "storedist"))
            .map(|(i, _)| i + 1),
    );
    keys
}

/// A longitude, latitude pair in range.
fn lon_lat(lon: &[u8], lat: &[u8]) -> Result<(f64, f64), CmdError> {
    let x = parse_f64(lon)?;
    let y = parse_f64(lat)?;
    if !(geohash::LONG_MIN..=geohash::LONG_MAX).contains(&x) || !(geohash::LAT_MIN..=geohash::LAT_MAX).contains(&y) {
        return Err(CmdError::new(format!("ERR invalid longitude,latitude pair {x:.6},{y:.6}")));
    }
    Ok((x, y))
}

/// Metres per unit.
fn unit(arg: &[u8]) -> Result<f64, CmdError> {
    match arg.to_ascii_lowercase().as_slice() {
        b"m" => Ok(1.0),
        b"km" => Ok(1000.0),
        b"ft" => Ok(0.3048),
        b"mi" => Ok(1609.34),
        _ => Err(CmdError::new("ERR unsupported unit provided. please use M, KM, FT, MI")),
    }
}

fn number(arg: &[u8], what: &'static str) -> Result<f64, CmdError> {
    super::args::parse_float_opt(arg).filter(|v| !v.is_nan()).ok_or_else(|| CmdError::new(format!("ERR {what}")))
}

/// A distance with four decimals (Redis's fixedpoint_d2string).
fn distance_text(d: f64) -> String {
    if d == 0.0 {
        return "0.0000".into();
    }
    let v = (d * 10000.0).round_ties_even() as i64;
    let sign = if v < 0 { "-" } else { "" };
    let a = v.unsigned_abs();
    format!("{sign}{}.{:04}", a / 10000, a % 10000)
}

/// A coordinate as Redis's addReplyHumanLongDouble prints it.
fn coord_text(v: f64) -> String {
    let s = format!("{v:.17}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.to_string()
    }
}

fn reply_coord(ctx: &mut Ctx<'_>, v: f64) {
    ctx.reply().double_text(&coord_text(v));
}

fn read_zset<'a>(ctx: &'a mut Ctx<'_>, key: &[u8]) -> Result<Option<&'a ZSet>, CmdError> {
    let now = ctx.now();
    match ctx.db().get(key, now).map(|e| &e.value) {
        None => Ok(None),
        Some(Value::ZSet(z)) => Ok(Some(z)),
        Some(_) => Err(CmdError::wrong_type()),
    }
}

fn geoadd(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (mut xx, mut nx) = (false, false);
    let mut at = 2;
    while at < argv.len() {
        let a = argv[at];
        if is(a, "nx") {
            nx = true;
        } else if is(a, "xx") {
            xx = true;
        } else if !is(a, "ch") {
            break;
        }
        at += 1;
    }
    if (argv.len() - at) % 3 != 0 || (xx && nx) {
        return Err(CmdError::syntax());
    }
    let mut zadd: Vec<Vec<u8>> = Vec::with_capacity(at + (argv.len() - at) / 3 * 2);
    zadd.push(b"zadd".to_vec());
    zadd.extend(argv[1..at].iter().map(|a| a.to_vec()));
    for t in argv[at..].chunks_exact(3) {
        let (lon, lat) = lon_lat(t[0], t[1])?;
        let score = geohash::encode_score(lon, lat).unwrap_or(0);
        zadd.push(score.to_string().into_bytes());
        zadd.push(t[2].to_vec());
    }
    let args: Vec<&[u8]> = zadd.iter().map(Vec::as_slice).collect();
    super::zsets::zadd(ctx, &args)?;
    ctx.propagate_as(zadd);
    Ok(())
}

fn geodist(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let to_m = match argv.len() {
        4 => 1.0,
        5 => unit(argv[4])?,
        _ => return Err(CmdError::syntax()),
    };
    let Some(z) = read_zset(ctx, argv[1])? else {
        ctx.reply().null();
        return Ok(());
    };
    let pts = (z.score(argv[2]).and_then(geohash::decode_score), z.score(argv[3]).and_then(geohash::decode_score));
    match pts {
        (Some(a), Some(b)) => {
            let text = distance_text(geohash::distance(a.0, a.1, b.0, b.1) / to_m);
            ctx.reply().bulk(text.as_bytes());
        }
        _ => ctx.reply().null(),
    }
    Ok(())
}

fn geohash_cmd(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let hashes: Vec<Option<String>> = match read_zset(ctx, argv[1])? {
        Some(z) => argv[2..].iter().map(|m| z.score(m).and_then(geohash::standard_geohash)).collect(),
        None => vec![None; argv.len() - 2],
    };
    let r = ctx.reply();
    r.array(hashes.len());
    for h in hashes {
        match h {
            Some(s) => r.bulk(s.as_bytes()),
            None => r.null(),
        }
    }
    Ok(())
}

fn geopos(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let pts: Vec<Option<(f64, f64)>> = match read_zset(ctx, argv[1])? {
        Some(z) => argv[2..].iter().map(|m| z.score(m).and_then(geohash::decode_score)).collect(),
        None => vec![None; argv.len() - 2],
    };
    ctx.reply().array(pts.len());
    for p in pts {
        match p {
            Some((lon, lat)) => {
                ctx.reply().array(2);
                reply_coord(ctx, lon);
                reply_coord(ctx, lat);
            }
            None => ctx.reply().null_array(),
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- searches

/// Which search command runs: where the centre comes from and what may be stored.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Radius { ro: bool },
    ByMember { ro: bool },
    Search,
    SearchStore,
}

fn georadius(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    search(ctx, argv, Kind::Radius { ro: false })
}
fn georadius_ro(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    search(ctx, argv, Kind::Radius { ro: true })
}
fn georadiusbymember(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    search(ctx, argv, Kind::ByMember { ro: false })
}
fn georadiusbymember_ro(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    search(ctx, argv, Kind::ByMember { ro: true })
}
fn geosearch(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    search(ctx, argv, Kind::Search)
}
fn geosearchstore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    search(ctx, argv, Kind::SearchStore)
}

fn member_pos(z: Option<&ZSet>, member: &[u8]) -> Result<(f64, f64), CmdError> {
    z.and_then(|z| z.score(member))
        .and_then(geohash::decode_score)
        .ok_or_else(|| CmdError::new("ERR could not decode requested zset member"))
}

fn radius_arg(n: &[u8], u: &[u8]) -> Result<(f64, f64), CmdError> {
    let r = number(n, "need numeric radius")?;
    if r < 0.0 {
        return Err(CmdError::new("ERR radius cannot be negative"));
    }
    Ok((r, unit(u)?))
}

/// One match: member, distance in metres, score, position.
struct Point {
    member: Vec<u8>,
    dist: f64,
    score: f64,
    lon: f64,
    lat: f64,
}

#[derive(PartialEq, Clone, Copy)]
enum Order {
    None,
    Asc,
    Desc,
}

fn search(ctx: &mut Ctx<'_>, argv: &[&[u8]], kind: Kind) -> CmdResult {
    let src = if kind == Kind::SearchStore { argv[2] } else { argv[1] };
    let now = ctx.now();
    let z: Option<&ZSet> = match ctx.node.keyspace.dbs[ctx.client.db].get(src, now).map(|e| &e.value) {
        None => None,
        Some(Value::ZSet(z)) => Some(z),
        Some(_) => return Err(CmdError::wrong_type()),
    };
    let mut center = (0.0, 0.0);
    let mut shape: Option<(Shape, f64)> = None;
    let mut store: Option<(&[u8], bool)> = None;
    let base = match kind {
        Kind::Radius { .. } => {
            center = lon_lat(argv[2], argv[3])?;
            let (r, u) = radius_arg(argv[4], argv[5])?;
            shape = Some((Shape::Radius(r * u), u));
            6
        }
        Kind::ByMember { .. } => {
            if z.is_some() {
                center = member_pos(z, argv[2])?;
                let (r, u) = radius_arg(argv[3], argv[4])?;
                shape = Some((Shape::Radius(r * u), u));
            }
            5
        }
        Kind::Search => 2,
        Kind::SearchStore => {
            store = Some((argv[1], false));
            3
        }
    };
    let is_search = matches!(kind, Kind::Search | Kind::SearchStore);
    let may_store = matches!(kind, Kind::Radius { ro: false } | Kind::ByMember { ro: false });
    let (mut withdist, mut withhash, mut withcoord, mut any) = (false, false, false, false);
    let (mut frommember, mut fromloc, mut byradius, mut bybox) = (false, false, false, false);
    let mut order = Order::None;
    let mut count: i64 = 0;
    let rest = &argv[base.min(argv.len())..];
    let mut i = 0;
    while i < rest.len() {
        let a = rest[i];
        let left = rest.len() - i - 1;
        if is(a, "withdist") {
            withdist = true;
        } else if is(a, "withhash") {
            withhash = true;
        } else if is(a, "withcoord") {
            withcoord = true;
        } else if is(a, "any") {
            any = true;
        } else if is(a, "asc") {
            order = Order::Asc;
        } else if is(a, "desc") {
            order = Order::Desc;
        } else if is(a, "count") && left >= 1 {
            count = parse_i64(rest[i + 1])?;
            if count <= 0 {
                return Err(CmdError::new("ERR COUNT must be > 0"));
            }
            i += 1;
        } else if (is(a, "store") || is(a, "storedist")) && left >= 1 && may_store {
            store = Some((rest[i + 1], is(a, "storedist")));
            i += 1;
        } else if is(a, "storedist") && kind == Kind::SearchStore {
            store = Some((argv[1], true));
        } else if is(a, "frommember") && left >= 1 && is_search && !fromloc {
            if z.is_some() {
                center = member_pos(z, rest[i + 1])?;
            }
            frommember = true;
            i += 1;
        } else if is(a, "fromlonlat") && left >= 2 && is_search && !frommember {
            center = lon_lat(rest[i + 1], rest[i + 2])?;
            fromloc = true;
            i += 2;
        } else if is(a, "byradius") && left >= 2 && is_search && !bybox {
            let (r, u) = radius_arg(rest[i + 1], rest[i + 2])?;
            shape = Some((Shape::Radius(r * u), u));
            byradius = true;
            i += 2;
        } else if is(a, "bybox") && left >= 3 && is_search && !byradius {
            let w = number(rest[i + 1], "need numeric width")?;
            let h = number(rest[i + 2], "need numeric height")?;
            if w < 0.0 || h < 0.0 {
                return Err(CmdError::new("ERR height or width cannot be negative"));
            }
            let u = unit(rest[i + 3])?;
            shape = Some((Shape::Box { width: w * u, height: h * u }, u));
            bybox = true;
            i += 3;
        } else {
            return Err(CmdError::syntax());
        }
        i += 1;
    }
    let name = String::from_utf8_lossy(argv[0]).into_owned();
    if store.is_some() && (withdist || withhash || withcoord) {
        let what = if kind == Kind::SearchStore { "GEOSEARCHSTORE" } else { "STORE option in GEORADIUS" };
        return Err(CmdError::new(format!("ERR {what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options")));
    }
    if is_search && !(frommember || fromloc) {
        return Err(CmdError::new(format!("ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}")));
    }
    if is_search && !(byradius || bybox) {
        return Err(CmdError::new(format!("ERR exactly one of BYRADIUS and BYBOX can be specified for {name}")));
    }
    if any && count == 0 {
        return Err(CmdError::new("ERR the ANY argument requires COUNT argument"));
    }
    let (Some(z), Some((shape, to_m))) = (z, shape) else {
        return match store {
            Some((key, _)) => {
                if ctx.db().remove(key, now).is_some() {
                    ctx.dirty(1);
                    ctx.propagate_as(vec![b"DEL".to_vec(), key.to_vec()]);
                    ctx.notify(GENERIC, "del", key);
                }
                ctx.reply().int(0);
                Ok(())
            }
            None => {
                ctx.reply().array(0);
                Ok(())
            }
        };
    };
    if count != 0 && order == Order::None && !any {
        order = Order::Asc;
    }
    let limit = if any { count as usize } else { 0 };
    let mut found = collect(z, center, shape, limit);
    match order {
        Order::Asc => found.sort_by(|a, b| a.dist.total_cmp(&b.dist)),
        Order::Desc => found.sort_by(|a, b| b.dist.total_cmp(&a.dist)),
        Order::None => {}
    }
    let n = if count == 0 { found.len() } else { found.len().min(count as usize) };
    found.truncate(n);
    for p in &mut found {
        p.dist /= to_m;
    }
    if let Some((key, storedist)) = store {
        if n == 0 {
            if ctx.db().remove(key, now).is_some() {
                ctx.dirty(1);
                ctx.propagate_as(vec![b"DEL".to_vec(), key.to_vec()]);
                ctx.notify(GENERIC, "del", key);
            }
        } else {
            let limits = ctx.db().limits;
            let out = ZSet::from_pairs(found.iter().map(|p| (&p.member[..], if storedist { p.dist } else { p.score })), &limits);
            ctx.db().set(key, Value::ZSet(out));
            ctx.dirty(n as u64);
            ctx.notify(ZSET, if is_search { "geosearchstore" } else { "georadiusstore" }, key);
        }
        ctx.reply().int(n as i64);
        return Ok(());
    }
    let extra = withdist as usize + withhash as usize + withcoord as usize;
    ctx.reply().array(n);
    for p in &found {
        if extra > 0 {
            ctx.reply().array(extra + 1);
        }
        ctx.reply().bulk(&p.member);
        if withdist {
            let t = distance_text(p.dist);
            ctx.reply().bulk(t.as_bytes());
        }
        if withhash {
            ctx.reply().int(p.score as i64);
        }
        if withcoord {
            ctx.reply().array(2);
            reply_coord(ctx, p.lon);
            reply_coord(ctx, p.lat);
        }
    }
    Ok(())
}

/// Members inside the shape, cell by cell in Redis's order; stops early at
/// `limit` matches when ANY asked for it (0 = no limit).
fn collect(z: &ZSet, center: (f64, f64), shape: Shape, limit: usize) -> Vec<Point> {
    let cells = geohash::search_cells(center.0, center.1, shape);
    let mut out: Vec<Point> = Vec::new();
    let mut last: Option<usize> = None;
    for (i, cell) in cells.iter().enumerate() {
        if cell.bits == 0 && cell.step == 0 {
            continue;
        }
        // Huge radii make neighbours repeat: skip a cell equal to the last one scanned.
        if let Some(l) = last.filter(|&l| l != 0) {
            if cells[l] == *cell {
                continue;
            }
        }
        if limit != 0 && out.len() >= limit {
            break;
        }
        let (min, max) = geohash::cell_scores(*cell);
        for (m, s) in z.iter_skipping(move |_, s| s < min) {
            if s >= max {
                break;
            }
            if let Some((lon, lat)) = geohash::decode_score(s) {
                if let Some(dist) = geohash::within(center, shape, lon, lat) {
                    out.push(Point { member: m.to_vec(), dist, score: s, lon, lat });
                }
            }
            if limit != 0 && out.len() >= limit {
                break;
            }
        }
        last = Some(i);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_and_coordinates_print_like_redis() {
        assert_eq!(distance_text(166274.15156960033), "166274.1516");
        assert_eq!(distance_text(0.0), "0.0000");
        assert_eq!(distance_text(0.00005), "0.0000");
        assert_eq!(coord_text(13.361_389_338_970_184), "13.36138933897018433");
        assert_eq!(coord_text(15.0), "15");
    }
}
