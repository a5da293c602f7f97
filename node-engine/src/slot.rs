//! Hash slots: CRC16-XMODEM of the key (or of its `{hash tag}`) modulo 16384.

/// Number of hash slots in a Redis Cluster.
pub const SLOTS: usize = 16384;

/// The bytes that decide a key's slot: the first non-empty `{...}` section, else the key.
pub fn hash_tag(key: &[u8]) -> &[u8] {
    if let Some(open) = key.iter().position(|&b| b == b'{') {
        if let Some(len) = key[open + 1..].iter().position(|&b| b == b'}') {
            if len > 0 {
                return &key[open + 1..open + 1 + len];
            }
        }
    }
    key
}

/// The slot a key belongs to.
pub fn key_slot(key: &[u8]) -> u16 {
    (crc16::State::<crc16::XMODEM>::calculate(hash_tag(key)) as usize % SLOTS) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lab_slots() {
        // The numbers the lab prints with CLUSTER KEYSLOT.
        for (key, slot) in [("name", 5798), ("age", 741), ("addr", 12790), ("tel", 7485), ("1", 9842), ("10000", 15413)] {
            assert_eq!(key_slot(key.as_bytes()), slot, "{key}");
        }
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        assert_eq!(key_slot(b"foo{}{bar}"), key_slot(b"foo{}{bar}"));
        assert_eq!(hash_tag(b"foo{}{bar}"), b"foo{}{bar}");
        assert_eq!(hash_tag(b"foo{{bar}}zap"), b"{bar");
    }
}
