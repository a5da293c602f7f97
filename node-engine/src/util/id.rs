//! Random identifiers.

use rand::Rng;

/// A random 40-hex-character id (node ids, run ids, replication ids).
pub fn random_hex_id() -> String {
    let mut rng = rand::thread_rng();
    (0..40).map(|_| char::from(b"0123456789abcdef"[rng.gen_range(0..16)])).collect()
}
