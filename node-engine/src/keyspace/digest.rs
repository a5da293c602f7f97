//! DEBUG DIGEST and DIGEST-VALUE: Redis's content digest (SHA1 based: xor
//! for unordered parts, "mix" for ordered ones), computed the same way so a
//! dataset digests equally here and on redis-server, and across a reload.

use super::stream::StreamId;
use super::{Db, Value};

type Digest = [u8; 20];

fn sha1(data: &[u8]) -> Digest {
    sha1_smol::Sha1::from(data).digest().bytes()
}

/// digest ^= SHA1(data): order does not matter.
fn xor(digest: &mut Digest, data: &[u8]) {
    for (d, h) in digest.iter_mut().zip(sha1(data)) {
        *d ^= h;
    }
}

/// digest = SHA1(digest ^ SHA1(data)): order matters.
fn mix(digest: &mut Digest, data: &[u8]) {
    xor(digest, data);
    *digest = sha1(digest);
}

/// The digest of one value (type, contents, whether it has a TTL).
pub fn value_digest(digest: &mut Digest, value: &Value, has_ttl: bool) {
    let type_code: u32 = match value {
        Value::Str(_) => 0,
        Value::List(_) => 1,
        Value::Set(_) => 2,
        Value::ZSet(_) => 3,
        Value::Hash(_) => 4,
        Value::Stream(_) => 6,
    };
    mix(digest, &type_code.to_be_bytes());
    match value {
        Value::Str(s) => mix(digest, s),
        Value::List(l) => l.iter().for_each(|e| mix(digest, &e)),
        Value::Set(s) => s.iter().for_each(|e| xor(digest, &e)),
        Value::ZSet(z) => {
            for (m, score) in z.iter() {
                let mut ele = [0u8; 20];
                mix(&mut ele, &m);
                mix(&mut ele, crate::resp::reply::format_g(score, 17).as_bytes());
                xor(digest, &ele);
            }
        }
        Value::Hash(h) => {
            for (f, v) in h.iter() {
                let mut ele = [0u8; 20];
                mix(&mut ele, &f);
                mix(&mut ele, &v);
                xor(digest, &ele);
            }
        }
        Value::Stream(_) => {}
    }
    if let Value::Stream(st) = value {
        st.visit(StreamId::MIN, StreamId::MAX, false, |node, e| {
            mix(digest, format!("{}.{}", e.id.ms, e.id.seq).as_bytes());
            for (f, v) in node.fields(e) {
                mix(digest, &f.to_cow());
                mix(digest, &v.to_cow());
            }
            true
        });
    }
    if has_ttl {
        xor(digest, b"!!expire!!");
    }
}

/// DEBUG DIGEST-VALUE of a key: 40 zeros for a missing key.
pub fn key_digest(db: &Db, key: &[u8]) -> String {
    let mut d = [0u8; 20];
    if let Some(e) = db.peek(key) {
        value_digest(&mut d, &e.value, e.expire_at != 0);
    }
    hex(&d)
}

/// DEBUG DIGEST: every database's keys and values.
pub fn dataset_digest(dbs: &[Db]) -> String {
    let mut fin = [0u8; 20];
    for (i, db) in dbs.iter().enumerate() {
        if db.is_empty() {
            continue;
        }
        mix(&mut fin, &(i as u32).to_be_bytes());
        for (k, e) in db.iter() {
            let mut d = [0u8; 20];
            mix(&mut d, k);
            value_digest(&mut d, &e.value, e.expire_at != 0);
            xor(&mut fin, &d);
        }
    }
    hex(&fin)
}

fn hex(d: &Digest) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}
