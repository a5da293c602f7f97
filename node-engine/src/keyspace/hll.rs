//! HyperLogLog in Redis's exact string representation ("HYLL" header, sparse
//! opcodes or 6-bit dense registers), so values move between redis-server
//! and us unchanged and counts agree for the same inputs. Every function
//! takes untrusted bytes: a corrupted value gives `Corrupt`, never a panic.

/// Registers are addressed by the low 14 bits of the hash.
pub const P: u32 = 14;
pub const REGISTERS: usize = 1 << P;
const Q: u32 = 64 - P;
const BITS: usize = 6;
const REGISTER_MAX: u8 = (1 << BITS) - 1;
pub const HDR_SIZE: usize = 16;
pub const DENSE_SIZE: usize = HDR_SIZE + (REGISTERS * BITS).div_ceil(8);
const DENSE: u8 = 0;
const SPARSE: u8 = 1;
const VAL_MAX_VALUE: u8 = 32;
const VAL_MAX_LEN: usize = 4;
const ZERO_MAX_LEN: usize = 64;
const XZERO_MAX_LEN: usize = 16384;
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

/// The value is not a well-formed HLL (Redis's INVALIDOBJ).
#[derive(Debug, PartialEq, Eq)]
pub struct Corrupt;

/// Whether `s` passes Redis's isHLLObject check (magic, encoding, dense size).
pub fn is_hll(s: &[u8]) -> bool {
    s.len() >= HDR_SIZE && &s[..4] == b"HYLL" && s[4] <= SPARSE && (s[4] != DENSE || s.len() == DENSE_SIZE)
}

pub fn is_sparse(s: &[u8]) -> bool {
    s[4] == SPARSE
}

/// An empty HLL, sparse: XZERO runs covering every register.
pub fn new_sparse() -> Vec<u8> {
    let mut v = Vec::with_capacity(HDR_SIZE + 2 * REGISTERS / XZERO_MAX_LEN);
    v.extend_from_slice(b"HYLL");
    v.push(SPARSE);
    v.extend_from_slice(&[0; 11]);
    let mut left = REGISTERS;
    while left > 0 {
        let n = left.min(XZERO_MAX_LEN);
        push_xzero(&mut v, n);
        left -= n;
    }
    v
}

fn push_xzero(v: &mut Vec<u8>, len: usize) {
    let l = len - 1;
    v.push((l >> 8) as u8 | 0x40);
    v.push((l & 0xff) as u8);
}

/// Sets the "cached cardinality is stale" bit.
pub fn invalidate_cache(s: &mut [u8]) {
    s[15] |= 0x80;
}

/// The cached cardinality, if still valid.
pub fn cached(s: &[u8]) -> Option<u64> {
    (s[15] & 0x80 == 0).then(|| u64::from_le_bytes([s[8], s[9], s[10], s[11], s[12], s[13], s[14], s[15]]))
}

pub fn set_cache(s: &mut [u8], card: u64) {
    s[8..16].copy_from_slice(&card.to_le_bytes());
}

/// MurmurHash64A, as Redis hashes HLL elements (seed 0xadc83b19).
pub fn murmur64a(key: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (key.len() as u64).wrapping_mul(M);
    let chunks = key.chunks_exact(8);
    let tail = chunks.remainder();
    for c in chunks {
        let mut k = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= (b as u64) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register an element lands in and its run length of zeros plus one.
pub fn pattern(ele: &[u8]) -> (usize, u8) {
    let hash = murmur64a(ele, 0xadc8_3b19);
    let index = (hash & (REGISTERS as u64 - 1)) as usize;
    let rest = (hash >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

fn dense_get(regs: &[u8], i: usize) -> u8 {
    let bit = i * BITS;
    let (byte, fb) = (bit / 8, bit & 7);
    let b0 = regs[byte] as u32;
    let b1 = regs.get(byte + 1).copied().unwrap_or(0) as u32;
    (((b0 >> fb) | (b1 << (8 - fb))) & REGISTER_MAX as u32) as u8
}

fn dense_set(regs: &mut [u8], i: usize, val: u8) {
    let bit = i * BITS;
    let (byte, fb) = (bit / 8, bit & 7);
    let v = val as u32;
    regs[byte] &= !((REGISTER_MAX as u32) << fb) as u8;
    regs[byte] |= (v << fb) as u8;
    if let Some(b) = regs.get_mut(byte + 1) {
        *b &= !((REGISTER_MAX as u32) >> (8 - fb)) as u8;
        *b |= (v >> (8 - fb)) as u8;
    }
}

/// Raises register `i` of a dense HLL to `count`; true if it changed.
fn dense_raise(s: &mut [u8], i: usize, count: u8) -> bool {
    let regs = &mut s[HDR_SIZE..];
    if count > dense_get(regs, i) {
        dense_set(regs, i, count);
        true
    } else {
        false
    }
}

/// One sparse opcode: a run of `len` registers at `value` (0 for ZERO/XZERO).
#[derive(Clone, Copy)]
struct Op {
    value: u8,
    len: usize,
    /// Bytes the opcode takes (2 for XZERO).
    size: usize,
}

fn op_at(s: &[u8], p: usize) -> Option<Op> {
    let b = *s.get(p)?;
    Some(if b & 0xc0 == 0 {
        Op { value: 0, len: (b & 0x3f) as usize + 1, size: 1 }
    } else if b & 0x80 == 0 {
        let lo = *s.get(p + 1)? as usize;
        Op { value: 0, len: ((((b & 0x3f) as usize) << 8) | lo) + 1, size: 2 }
    } else {
        Op { value: ((b >> 2) & 0x1f) + 1, len: (b & 3) as usize + 1, size: 1 }
    })
}

fn val_byte(value: u8, len: usize) -> u8 {
    ((value - 1) << 2 | (len as u8 - 1)) | 0x80
}

fn push_zero_run(seq: &mut Vec<u8>, len: usize) {
    if len > ZERO_MAX_LEN {
        push_xzero(seq, len);
    } else {
        seq.push((len - 1) as u8);
    }
}

/// Visits the runs of a sparse HLL as (first register, len, value). Errs if
/// the runs do not cover exactly the 16384 registers.
fn sparse_runs(s: &[u8], mut f: impl FnMut(usize, usize, u8)) -> Result<(), Corrupt> {
    let mut p = HDR_SIZE;
    let mut idx = 0usize;
    while p < s.len() {
        let op = op_at(s, p).ok_or(Corrupt)?;
        if op.value != 0 && idx + op.len > REGISTERS {
            return Err(Corrupt);
        }
        if idx < REGISTERS {
            f(idx, op.len.min(REGISTERS - idx), op.value);
        }
        idx += op.len;
        p += op.size;
    }
    if idx == REGISTERS {
        Ok(())
    } else {
        Err(Corrupt)
    }
}

/// Converts a sparse HLL to dense in place (the header is kept, the cache too).
pub fn to_dense(s: &mut Vec<u8>) -> Result<(), Corrupt> {
    if s[4] == DENSE {
        return Ok(());
    }
    let mut dense = vec![0u8; DENSE_SIZE];
    dense[..HDR_SIZE].copy_from_slice(&s[..HDR_SIZE]);
    dense[4] = DENSE;
    {
        let regs = &mut dense[HDR_SIZE..];
        sparse_runs(s, |first, len, value| {
            if value != 0 {
                for i in first..first + len {
                    dense_set(regs, i, value);
                }
            }
        })?;
    }
    *s = dense;
    Ok(())
}

/// Raises register `index` of a sparse HLL to `count`, rewriting the run
/// that holds it; promotes to dense past `max_bytes` or for counts above 32.
/// Ok(true) when a register changed.
fn sparse_raise(s: &mut Vec<u8>, index: usize, count: u8, max_bytes: usize) -> Result<bool, Corrupt> {
    if count > VAL_MAX_VALUE {
        return promote(s, index, count);
    }
    // Find the opcode whose run covers `index`.
    let (mut p, mut first) = (HDR_SIZE, 0usize);
    let mut prev: Option<usize> = None;
    let mut found = None;
    while p < s.len() {
        let op = op_at(s, p).ok_or(Corrupt)?;
        if index < first + op.len {
            found = Some(op);
            break;
        }
        prev = Some(p);
        p += op.size;
        first += op.len;
    }
    let Some(op) = found else { return Err(Corrupt) };
    let is_val = op.value != 0;
    if is_val && op.value >= count {
        return Ok(false);
    }
    if op.len == 1 && op.size == 1 {
        // A one-byte, one-register run just takes the new value.
        s[p] = val_byte(count, 1);
    } else {
        let last = first + op.len - 1;
        let mut seq: Vec<u8> = Vec::with_capacity(5);
        if is_val {
            if index != first {
                seq.push(val_byte(op.value, index - first));
            }
            seq.push(val_byte(count, 1));
            if index != last {
                seq.push(val_byte(op.value, last - index));
            }
        } else {
            if index != first {
                push_zero_run(&mut seq, index - first);
            }
            seq.push(val_byte(count, 1));
            if index != last {
                push_zero_run(&mut seq, last - index);
            }
        }
        if seq.len() > op.size && s.len() + seq.len() - op.size > max_bytes {
            return promote(s, index, count);
        }
        s.splice(p..p + op.size, seq);
    }
    // Merge adjacent VAL runs of equal value, scanning up to 5 opcodes from prev.
    let mut q = prev.unwrap_or(HDR_SIZE);
    let mut scan = 5;
    while q < s.len() && scan > 0 {
        scan -= 1;
        let Some(a) = op_at(s, q) else { break };
        if a.value == 0 {
            q += a.size;
            continue;
        }
        if let Some(b) = op_at(s, q + 1) {
            if b.value == a.value && a.len + b.len <= VAL_MAX_LEN {
                s[q + 1] = val_byte(a.value, a.len + b.len);
                s.remove(q);
                continue;
            }
        }
        q += 1;
    }
    invalidate_cache(s);
    Ok(true)
}

fn promote(s: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, Corrupt> {
    to_dense(s)?;
    Ok(dense_raise(s, index, count))
}

/// PFADD of one element; Ok(true) when a register changed.
pub fn add(s: &mut Vec<u8>, ele: &[u8], sparse_max_bytes: usize) -> Result<bool, Corrupt> {
    let (index, count) = pattern(ele);
    raise(s, index, count, sparse_max_bytes)
}

/// Raises one register in either encoding.
pub fn raise(s: &mut Vec<u8>, index: usize, count: u8, sparse_max_bytes: usize) -> Result<bool, Corrupt> {
    match s[4] {
        DENSE => Ok(dense_raise(s, index, count)),
        SPARSE => sparse_raise(s, index, count, sparse_max_bytes),
        _ => Err(Corrupt),
    }
}

/// Folds an HLL's registers into `max` (one byte per register).
pub fn merge_into(max: &mut [u8; REGISTERS], s: &[u8]) -> Result<(), Corrupt> {
    if s[4] == DENSE {
        let regs = &s[HDR_SIZE..];
        for (i, m) in max.iter_mut().enumerate() {
            *m = (*m).max(dense_get(regs, i));
        }
        Ok(())
    } else {
        sparse_runs(s, |first, len, value| {
            for m in &mut max[first..first + len] {
                *m = (*m).max(value);
            }
        })
    }
}

/// Redis's estimator (Ertl's improved raw estimate, as in hllCount).
pub fn count_registers(regs: &[u8; REGISTERS]) -> u64 {
    let mut histo = [0u32; 64];
    for &r in regs.iter() {
        histo[(r & 63) as usize] += 1;
    }
    estimate(&histo)
}

/// The cardinality of an HLL value.
pub fn count(s: &[u8]) -> Result<u64, Corrupt> {
    let mut histo = [0u32; 64];
    if s[4] == DENSE {
        let regs = &s[HDR_SIZE..];
        for i in 0..REGISTERS {
            histo[dense_get(regs, i) as usize] += 1;
        }
    } else {
        sparse_runs(s, |_, len, value| histo[value as usize] += len as u32)?;
    }
    Ok(estimate(&histo))
}

fn estimate(histo: &[u32; 64]) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - histo[Q as usize + 1] as f64) / m);
    for j in (1..=Q as usize).rev() {
        z += histo[j] as f64;
        z *= 0.5;
    }
    z += m * sigma(histo[0] as f64 / m);
    (ALPHA_INF * m * m / z).round() as u64
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let prev = z;
        z += x * y;
        y += y;
        if prev == z {
            return z;
        }
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let prev = z;
        y *= 0.5;
        z -= (1.0 - x) * (1.0 - x) * y;
        if prev == z {
            return z / 3.0;
        }
    }
}

/// A dense HLL holding `regs` (PFMERGE's target when a source is dense).
pub fn set_registers(s: &mut Vec<u8>, regs: &[u8; REGISTERS], sparse_max_bytes: usize) -> Result<(), Corrupt> {
    for (i, &r) in regs.iter().enumerate() {
        if r != 0 {
            raise(s, i, r, sparse_max_bytes)?;
        }
    }
    Ok(())
}

/// PFDEBUG DECODE's text: `z:N`, `Z:N` and `v:value,len` opcodes.
pub fn decode_sparse(s: &[u8]) -> String {
    let mut out = Vec::new();
    let mut p = HDR_SIZE;
    while let Some(op) = op_at(s, p) {
        out.push(match (op.value, op.size) {
            (0, 1) => format!("z:{}", op.len),
            (0, _) => format!("Z:{}", op.len),
            (v, _) => format!("v:{v},{}", op.len),
        });
        p += op.size;
    }
    out.join(" ")
}

/// Register values of a dense or sparse HLL, for PFDEBUG GETREG.
pub fn dense_registers(s: &[u8]) -> Vec<u8> {
    let regs = &s[HDR_SIZE..];
    (0..REGISTERS).map(|i| dense_get(regs, i)).collect()
}

/// PFSELFTEST: register packing round-trips, and sparse and dense agree
/// with a bounded error on growing cardinalities.
pub fn self_test(seed: u64, sparse_max_bytes: usize) -> Result<(), String> {
    let mut rng = seed | 1;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut dense = vec![0u8; DENSE_SIZE];
    dense[..4].copy_from_slice(b"HYLL");
    for _ in 0..1000 {
        let vals: Vec<u8> = (0..REGISTERS).map(|_| (next() & REGISTER_MAX as u64) as u8).collect();
        for (i, &v) in vals.iter().enumerate() {
            dense_set(&mut dense[HDR_SIZE..], i, v);
        }
        for (i, &v) in vals.iter().enumerate() {
            let got = dense_get(&dense[HDR_SIZE..], i);
            if got != v {
                return Err(format!("TESTFAILED Register {i} should be {v} but is {got}"));
            }
        }
    }
    dense[HDR_SIZE..].fill(0);
    let mut sparse = new_sparse();
    let relerr = 1.04 / (REGISTERS as f64).sqrt();
    let mut checkpoint = 1u64;
    let seed = next();
    for j in 1..=10_000_000u64 {
        let ele = (j ^ seed).to_ne_bytes();
        let (index, c) = pattern(&ele);
        dense_raise(&mut dense, index, c);
        raise(&mut sparse, index, c, sparse_max_bytes).map_err(|_| "TESTFAILED sparse HLL corrupted".to_string())?;
        if j != checkpoint {
            continue;
        }
        if (j as usize) < sparse_max_bytes / 2 && !is_sparse(&sparse) {
            return Err("TESTFAILED sparse encoding not used".into());
        }
        let d = count(&dense).map_err(|_| "TESTFAILED dense HLL corrupted".to_string())?;
        if Ok(d) != count(&sparse) {
            return Err("TESTFAILED dense/sparse disagree".into());
        }
        let abserr = (checkpoint as i64 - d as i64).unsigned_abs();
        let maxerr = if j == 10 { 1 } else { (relerr * 6.0 * checkpoint as f64).ceil() as u64 };
        if abserr > maxerr {
            return Err(format!("TESTFAILED Too big error. card:{checkpoint} abserr:{abserr}"));
        }
        checkpoint *= 10;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn element_patterns_match_redis() {
        // redis-server 7.0.15: PFADD x a; PFDEBUG DECODE x -> "Z:12711 v:2,1 Z:3672".
        assert_eq!(pattern(b"a"), (12711, 2));
        let mut s = new_sparse();
        add(&mut s, b"a", 3000).expect("valid");
        assert_eq!(decode_sparse(&s), "Z:12711 v:2,1 Z:3672");
    }

    #[test]
    fn sparse_and_dense_agree() {
        let mut sparse = new_sparse();
        assert_eq!(count(&sparse), Ok(0));
        for n in 0..2000u32 {
            add(&mut sparse, &n.to_le_bytes(), 1 << 20).expect("valid");
        }
        assert!(is_sparse(&sparse));
        let mut dense = sparse.clone();
        to_dense(&mut dense).expect("converts");
        assert_eq!(dense.len(), DENSE_SIZE);
        assert_eq!(count(&sparse), count(&dense));
        let (mut a, mut b) = (Box::new([0u8; REGISTERS]), Box::new([0u8; REGISTERS]));
        merge_into(&mut a, &sparse).expect("valid");
        merge_into(&mut b, &dense).expect("valid");
        assert_eq!(a, b);
        let c = count(&dense).expect("valid");
        assert!((1900..2100).contains(&c), "estimate {c} for 2000");
    }

    #[test]
    fn garbage_is_reported_not_panicking() {
        let mut s = new_sparse();
        s.push(0x80);
        assert_eq!(count(&s), Err(Corrupt));
        let mut t = new_sparse();
        t.truncate(HDR_SIZE + 1);
        assert_eq!(add(&mut t, b"x", 3000).err(), Some(Corrupt));
        assert!(!is_hll(b"HYLL\x00short"));
    }
}
