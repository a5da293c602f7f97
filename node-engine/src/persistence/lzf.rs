//! LZF, the compression Redis applies to long strings in RDB files and DUMP
//! payloads (`rdbcompression yes`). Our own implementation of the format:
//! a control byte below 32 starts a literal run of ctrl+1 bytes; otherwise
//! its top 3 bits are a match length (7 = read one more byte) and the rest,
//! with the next byte, a back-reference distance minus one (up to 8 KiB).

const HASH_BITS: u32 = 14;
const MAX_OFF: usize = 1 << 13;
const MAX_REF: usize = (1 << 8) + (1 << 3);
const MAX_LIT: usize = 1 << 5;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LzfError {
    #[error("LZF data is corrupt")]
    Corrupt,
    #[error("LZF data does not expand to the announced length")]
    WrongLength,
}

#[inline]
fn hash3(p: &[u8]) -> usize {
    let v = (p[0] as u32) << 16 | (p[1] as u32) << 8 | p[2] as u32;
    (v.wrapping_mul(2_654_435_761) >> (32 - HASH_BITS)) as usize
}

/// Compresses `input` into `out` (cleared first). Returns false when the result
/// would not be at least 4 bytes smaller than the input, as Redis requires.
pub fn compress(input: &[u8], out: &mut Vec<u8>, table: &mut Vec<u32>) -> bool {
    out.clear();
    let n = input.len();
    if n < 5 {
        return false;
    }
    let limit = n - 4;
    table.clear();
    table.resize(1 << HASH_BITS, u32::MAX);
    let mut lit_start = 0usize;
    let mut i = 0usize;
    while i + 2 < n {
        let h = hash3(&input[i..]);
        let cand = table[h];
        table[h] = i as u32;
        if cand != u32::MAX {
            let r = cand as usize;
            let off = i - r - 1;
            if off < MAX_OFF && input[r..r + 3] == input[i..i + 3] {
                let maxlen = (n - i).min(MAX_REF);
                let mut len = 3;
                while len < maxlen && input[r + len] == input[i + len] {
                    len += 1;
                }
                flush_literals(&input[lit_start..i], out);
                let l = len - 2;
                if l < 7 {
                    out.push(((l as u8) << 5) | (off >> 8) as u8);
                } else {
                    out.push((7 << 5) | (off >> 8) as u8);
                    out.push((l - 7) as u8);
                }
                out.push((off & 0xff) as u8);
                if out.len() >= limit {
                    return false;
                }
                // Index a couple of positions inside the match for better ratios.
                let end = i + len;
                let mut j = i + 1;
                while j < end && j + 2 < n && j < i + 3 {
                    table[hash3(&input[j..])] = j as u32;
                    j += 1;
                }
                i = end;
                lit_start = i;
                continue;
            }
        }
        i += 1;
    }
    flush_literals(&input[lit_start..], out);
    out.len() < limit
}

fn flush_literals(mut lit: &[u8], out: &mut Vec<u8>) {
    while !lit.is_empty() {
        let k = lit.len().min(MAX_LIT);
        out.push((k - 1) as u8);
        out.extend_from_slice(&lit[..k]);
        lit = &lit[k..];
    }
}

/// Decompresses `input`, which must expand to exactly `expected_len` bytes.
/// The most bytes `compressed_len` bytes of LZF can expand to: a 3-byte back
/// reference copies at most 264 bytes, the densest any input gets.
pub fn max_decompressed_len(compressed_len: usize) -> usize {
    compressed_len.div_ceil(3).saturating_mul(264)
}

/// Expands `input`, which must give exactly `expected_len` bytes. Callers
/// bound `expected_len` by [`max_decompressed_len`] before trusting it.
pub fn decompress(input: &[u8], expected_len: usize) -> Result<Vec<u8>, LzfError> {
    let mut out: Vec<u8> = Vec::with_capacity(expected_len);
    let mut i = 0;
    while i < input.len() {
        let ctrl = input[i] as usize;
        i += 1;
        if ctrl < 32 {
            let len = ctrl + 1;
            let lit = input.get(i..i + len).ok_or(LzfError::Corrupt)?;
            if out.len() + len > expected_len {
                return Err(LzfError::WrongLength);
            }
            out.extend_from_slice(lit);
            i += len;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                len += *input.get(i).ok_or(LzfError::Corrupt)? as usize;
                i += 1;
            }
            len += 2;
            let lo = *input.get(i).ok_or(LzfError::Corrupt)? as usize;
            i += 1;
            let back = ((ctrl & 0x1f) << 8) + lo + 1;
            if back > out.len() {
                return Err(LzfError::Corrupt);
            }
            if out.len() + len > expected_len {
                return Err(LzfError::WrongLength);
            }
            let start = out.len() - back;
            for k in 0..len {
                let b = out[start + k];
                out.push(b);
            }
        }
    }
    if out.len() != expected_len {
        return Err(LzfError::WrongLength);
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let mut out = Vec::new();
        let mut table = Vec::new();
        let samples: Vec<Vec<u8>> = vec![
            b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".to_vec(),
            b"hello world hello world hello world hello world!".to_vec(),
            (0..20000u32).map(|i| (i % 97) as u8).collect(),
            (0..5000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect(),
        ];
        for s in samples {
            if compress(&s, &mut out, &mut table) {
                assert!(out.len() + 4 <= s.len());
                assert_eq!(decompress(&out, s.len()).unwrap(), s);
            }
        }
        assert!(compress(&[b'x'; 100], &mut out, &mut table));
    }

    #[test]
    fn no_input_expands_past_the_bound() {
        let mut out = Vec::new();
        let mut table = Vec::new();
        // A long run is LZF's best case: nearly all 3-byte back references.
        for n in [100usize, 10_000, 1 << 20] {
            let s = vec![0u8; n];
            assert!(compress(&s, &mut out, &mut table));
            assert!(n <= max_decompressed_len(out.len()), "{n} bytes from {} compressed", out.len());
            assert_eq!(decompress(&out, n).unwrap(), s);
        }
    }

    #[test]
    fn rejects_garbage() {
        assert!(decompress(&[0xe0, 0x05], 10).is_err());
        assert!(decompress(&[5, b'a'], 6).is_err());
    }
}
