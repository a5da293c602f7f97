//! Geohashing as Redis does it: 52-bit interleaved scores over the
//! Web-Mercator latitude range, the 9-box search area of a radius or box,
//! and the haversine distance on Redis's Earth radius. The arithmetic follows
//! Redis's step for step so scores, distances and result order match.

pub const STEP_MAX: u8 = 26;
pub const LAT_MIN: f64 = -85.051_128_78;
pub const LAT_MAX: f64 = 85.051_128_78;
pub const LONG_MIN: f64 = -180.0;
pub const LONG_MAX: f64 = 180.0;
const EARTH_RADIUS_M: f64 = 6_372_797.560_856;
const MERCATOR_MAX: f64 = 20_037_726.37;
const D_R: f64 = std::f64::consts::PI / 180.0;

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Bits {
    pub bits: u64,
    pub step: u8,
}

impl Bits {
    fn is_zero(&self) -> bool {
        self.bits == 0 && self.step == 0
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Range {
    pub min: f64,
    pub max: f64,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Area {
    pub lon: Range,
    pub lat: Range,
}

pub const WGS84: (Range, Range) = (Range { min: LONG_MIN, max: LONG_MAX }, Range { min: LAT_MIN, max: LAT_MAX });

fn interleave64(xlo: u32, ylo: u32) -> u64 {
    const B: [u64; 5] = [0x5555555555555555, 0x3333333333333333, 0x0F0F0F0F0F0F0F0F, 0x00FF00FF00FF00FF, 0x0000FFFF0000FFFF];
    const S: [u32; 5] = [1, 2, 4, 8, 16];
    let (mut x, mut y) = (xlo as u64, ylo as u64);
    for i in (0..5).rev() {
        x = (x | (x << S[i])) & B[i];
        y = (y | (y << S[i])) & B[i];
    }
    x | (y << 1)
}

fn deinterleave64(v: u64) -> u64 {
    const B: [u64; 6] =
        [0x5555555555555555, 0x3333333333333333, 0x0F0F0F0F0F0F0F0F, 0x00FF00FF00FF00FF, 0x0000FFFF0000FFFF, 0x00000000FFFFFFFF];
    const S: [u32; 6] = [0, 1, 2, 4, 8, 16];
    let (mut x, mut y) = (v, v >> 1);
    for i in 0..6 {
        x = (x | (x >> S[i])) & B[i];
        y = (y | (y >> S[i])) & B[i];
    }
    x | (y << 32)
}

/// Encodes a point at `step` bits per axis within the given ranges.
pub fn encode(ranges: (Range, Range), lon: f64, lat: f64, step: u8) -> Option<Bits> {
    let (lon_r, lat_r) = ranges;
    if !(LONG_MIN..=LONG_MAX).contains(&lon) || !(LAT_MIN..=LAT_MAX).contains(&lat) {
        return None;
    }
    if lat < lat_r.min || lat > lat_r.max || lon < lon_r.min || lon > lon_r.max {
        return None;
    }
    let scale = (1u64 << step) as f64;
    let lat_off = (lat - lat_r.min) / (lat_r.max - lat_r.min) * scale;
    let lon_off = (lon - lon_r.min) / (lon_r.max - lon_r.min) * scale;
    Some(Bits { bits: interleave64(lat_off as u32, lon_off as u32), step })
}

pub fn decode(ranges: (Range, Range), hash: Bits) -> Option<Area> {
    if hash.is_zero() {
        return None;
    }
    let (lon_r, lat_r) = ranges;
    let sep = deinterleave64(hash.bits);
    let ilat = sep as u32 as f64;
    let ilon = (sep >> 32) as u32 as f64;
    let div = (1u64 << hash.step) as f64;
    let lat_scale = lat_r.max - lat_r.min;
    let lon_scale = lon_r.max - lon_r.min;
    Some(Area {
        lat: Range { min: lat_r.min + (ilat / div) * lat_scale, max: lat_r.min + ((ilat + 1.0) / div) * lat_scale },
        lon: Range { min: lon_r.min + (ilon / div) * lon_scale, max: lon_r.min + ((ilon + 1.0) / div) * lon_scale },
    })
}

/// The centre of a cell, clamped to the valid range: (lon, lat).
pub fn area_center(a: &Area) -> (f64, f64) {
    let lon = ((a.lon.min + a.lon.max) / 2.0).clamp(LONG_MIN, LONG_MAX);
    let lat = ((a.lat.min + a.lat.max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    (lon, lat)
}

/// A sorted-set score back to (lon, lat).
pub fn decode_score(score: f64) -> Option<(f64, f64)> {
    decode(WGS84, Bits { bits: score as u64, step: STEP_MAX }).map(|a| area_center(&a))
}

/// The 52-bit score of a point.
pub fn encode_score(lon: f64, lat: f64) -> Option<u64> {
    encode(WGS84, lon, lat, STEP_MAX).map(align52)
}

pub fn align52(h: Bits) -> u64 {
    h.bits << (52 - h.step as u32 * 2)
}

/// Bits of the longitude (odd) and latitude (even) axes in an interleaved hash.
const ODD: u64 = 0xaaaaaaaaaaaaaaaa;
const EVEN: u64 = 0x5555555555555555;

/// Steps one cell along the axis whose bits are `axis` (ODD or EVEN), by
/// the sign of `d`, wrapping at the edge as Redis's geohash_move_x/_y do.
fn move_axis(h: &mut Bits, d: i8, axis: u64) {
    if d == 0 {
        return;
    }
    let other = !axis;
    let shift = 64 - h.step as u32 * 2;
    let mut v = h.bits & axis;
    let zz = other >> shift;
    if d > 0 {
        v = v.wrapping_add(zz + 1);
    } else {
        v |= zz;
        v = v.wrapping_sub(zz + 1);
    }
    v &= axis >> shift;
    h.bits = v | (h.bits & other);
}

/// The eight cells around `h`, in Redis's order: north, south, east, west,
/// north-east, north-west, south-east, south-west.
fn neighbors(h: Bits) -> [Bits; 8] {
    let at = |dx: i8, dy: i8| {
        let mut n = h;
        move_axis(&mut n, dx, ODD);
        move_axis(&mut n, dy, EVEN);
        n
    };
    [at(0, 1), at(0, -1), at(1, 0), at(-1, 0), at(1, 1), at(-1, 1), at(1, -1), at(-1, -1)]
}

/// What a search covers, in metres (already multiplied by the unit).
#[derive(Debug, Clone, Copy)]
pub enum Shape {
    Radius(f64),
    Box { width: f64, height: f64 },
}

fn steps_for_radius(mut range: f64, lat: f64) -> u8 {
    if range == 0.0 {
        return 26;
    }
    let mut step: i32 = 1;
    while range < MERCATOR_MAX {
        range *= 2.0;
        step += 1;
    }
    step -= 2;
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u8
}

fn bounding_box(lon: f64, lat: f64, shape: Shape) -> [f64; 4] {
    let (w, h) = match shape {
        Shape::Radius(r) => (r, r),
        Shape::Box { width, height } => (width / 2.0, height / 2.0),
    };
    let lat_delta = (h / EARTH_RADIUS_M) / D_R;
    let top = (w / EARTH_RADIUS_M / ((lat + lat_delta) * D_R).cos()) / D_R;
    let bottom = (w / EARTH_RADIUS_M / ((lat - lat_delta) * D_R).cos()) / D_R;
    let d = if lat < 0.0 { bottom } else { top };
    [lon - d, lat - lat_delta, lon + d, lat + lat_delta]
}

/// The cells to scan, in Redis's order (the centre cell, then the eight
/// neighbours; cells found not to intersect the area are left out).
pub fn search_cells(lon: f64, lat: f64, shape: Shape) -> Vec<Bits> {
    let [min_lon, min_lat, max_lon, max_lat] = bounding_box(lon, lat, shape);
    let radius = match shape {
        Shape::Radius(r) => r,
        Shape::Box { width, height } => ((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0)).sqrt(),
    };
    let mut steps = steps_for_radius(radius, lat);
    let mut hash = encode(WGS84, lon, lat, steps).unwrap_or_default();
    let mut around = neighbors(hash);
    let mut area = decode(WGS84, hash).unwrap_or_default();
    let dec = |b: Bits| decode(WGS84, b).unwrap_or_default();
    let decrease = dec(around[0]).lat.max < max_lat
        || dec(around[1]).lat.min > min_lat
        || dec(around[2]).lon.max < max_lon
        || dec(around[3]).lon.min > min_lon;
    if steps > 1 && decrease {
        steps -= 1;
        hash = encode(WGS84, lon, lat, steps).unwrap_or_default();
        around = neighbors(hash);
        area = decode(WGS84, hash).unwrap_or_default();
    }
    if steps >= 2 {
        let zero = |around: &mut [Bits; 8], idx: &[usize]| idx.iter().for_each(|&i| around[i] = Bits::default());
        if area.lat.min < min_lat {
            zero(&mut around, &[1, 7, 6]);
        }
        if area.lat.max > max_lat {
            zero(&mut around, &[0, 4, 5]);
        }
        if area.lon.min < min_lon {
            zero(&mut around, &[3, 7, 5]);
        }
        if area.lon.max > max_lon {
            zero(&mut around, &[2, 6, 4]);
        }
    }
    std::iter::once(hash).chain(around).collect()
}

/// Score range [min, max) of the members inside a cell.
pub fn cell_scores(h: Bits) -> (f64, f64) {
    let min = align52(h);
    let max = align52(Bits { bits: h.bits + 1, step: h.step });
    (min as f64, max as f64)
}

fn lat_distance(lat1: f64, lat2: f64) -> f64 {
    EARTH_RADIUS_M * (lat2 * D_R - lat1 * D_R).abs()
}

/// Haversine distance in metres.
pub fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let (lon1r, lon2r) = (lon1 * D_R, lon2 * D_R);
    let v = ((lon2r - lon1r) / 2.0).sin();
    if v == 0.0 {
        return lat_distance(lat1, lat2);
    }
    let (lat1r, lat2r) = (lat1 * D_R, lat2 * D_R);
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS_M * a.sqrt().asin()
}

/// The distance from the centre if (lon2, lat2) lies in the shape.
pub fn within(center: (f64, f64), shape: Shape, lon2: f64, lat2: f64) -> Option<f64> {
    let (lon1, lat1) = center;
    match shape {
        Shape::Radius(r) => {
            let d = distance(lon1, lat1, lon2, lat2);
            (d <= r).then_some(d)
        }
        Shape::Box { width, height } => {
            if lat_distance(lat2, lat1) > height / 2.0 {
                return None;
            }
            if distance(lon2, lat2, lon1, lat2) > width / 2.0 {
                return None;
            }
            Some(distance(lon1, lat1, lon2, lat2))
        }
    }
}

/// The standard 11-character geohash (latitude range -90..90) of a score.
pub fn standard_geohash(score: f64) -> Option<String> {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let (lon, lat) = decode_score(score)?;
    let r = (Range { min: -180.0, max: 180.0 }, Range { min: -90.0, max: 90.0 });
    let h = encode_any(r, lon, lat, 26);
    Some(
        (0..11)
            .map(|i| {
                let idx = if i == 10 { 0 } else { (h >> (52 - (i + 1) * 5)) & 0x1f };
                ALPHABET[idx as usize] as char
            })
            .collect(),
    )
}

/// Encoding without the Mercator latitude limit (for GEOHASH's -90..90 form).
fn encode_any(ranges: (Range, Range), lon: f64, lat: f64, step: u8) -> u64 {
    let (lon_r, lat_r) = ranges;
    let scale = (1u64 << step) as f64;
    let lat_off = (lat - lat_r.min) / (lat_r.max - lat_r.min) * scale;
    let lon_off = (lon - lon_r.min) / (lon_r.max - lon_r.min) * scale;
    interleave64(lat_off as u32, lon_off as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleave_round_trips() {
        let v = interleave64(0x1234_5678, 0x0abc_def0);
        let back = deinterleave64(v);
        assert_eq!(back as u32, 0x1234_5678);
        assert_eq!((back >> 32) as u32, 0x0abc_def0);
    }

    #[test]
    fn palermo_scores_like_redis() {
        // GEOADD Sicily 13.361389 38.115556 "Palermo" stores 3479099956230698.
        assert_eq!(encode_score(13.361389, 38.115556), Some(3479099956230698));
        let (lon, lat) = decode_score(3479099956230698.0).expect("decodes");
        assert!((lon - 13.361389).abs() < 1e-5 && (lat - 38.115556).abs() < 1e-5);
        assert_eq!(standard_geohash(3479099956230698.0).as_deref(), Some("sqc8b49rny0"));
    }
}
