//! Value types. Collections are boxed so a `Value` stays 24 bytes, which keeps
//! the common case (small strings) compact in the key table.

use super::{Hash, Key, List, Set, Stream, ZSet};
use indexmap::IndexSet;

pub type FastState = ahash::RandomState;
pub type SetValue = IndexSet<Key, FastState>;

#[derive(Debug, Clone)]
// The boxes are the point (see the module docs): an unboxed VecDeque would
// make every value, strings included, 32 bytes instead of 24.
#[allow(clippy::box_collection)]
pub enum Value {
    Str(Key),
    List(Box<List>),
    Hash(Hash),
    Set(Set),
    ZSet(ZSet),
    Stream(Box<Stream>),
}

impl Value {
    /// The name TYPE prints.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
            Value::Stream(_) => "stream",
        }
    }

    /// The encoding OBJECT ENCODING reports, following Redis 7.0's thresholds.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(s) => {
                if s.len() <= 20
                    && std::str::from_utf8(s).ok().and_then(|t| t.parse::<i64>().ok()).is_some_and(|n| n.to_string().as_bytes() == &s[..])
                {
                    "int"
                } else if s.len() <= 44 {
                    "embstr"
                } else {
                    "raw"
                }
            }
            // Redis 7.0 keeps every list as a quicklist (7.2 added a plain listpack form).
            Value::List(_) => "quicklist",
            Value::Hash(h) => h.encoding(),
            Value::Set(s) => s.encoding(),
            Value::ZSet(z) => z.encoding(),
            Value::Stream(_) => "stream",
        }
    }

    /// Rough bytes used, for MEMORY USAGE and INFO memory.
    pub fn approx_size(&self) -> usize {
        match self {
            Value::Str(s) => s.len() + 16,
            Value::List(l) => 48 + l.allocated(),
            Value::Hash(h) => 16 + h.allocated(),
            Value::Set(s) => 16 + s.allocated(),
            Value::ZSet(z) => 16 + z.allocated(),
            Value::Stream(s) => 96 + s.allocated(),
        }
    }

    /// Allocations freeing this value takes (Redis's lazyfreeGetFreeEffort):
    /// compact encodings are one allocation.
    pub fn free_effort(&self) -> usize {
        match self {
            Value::Str(_) => 1,
            Value::List(l) => l.nodes().count(),
            Value::Hash(h) if h.encoding() == "hashtable" => h.len(),
            Value::Set(s) if s.encoding() == "hashtable" => s.len(),
            Value::ZSet(z) if z.encoding() == "skiplist" => z.len(),
            // Redis counts the radix tree's nodes and each group's entries.
            Value::Stream(s) => s.nodes.len() + s.groups().map(|(_, g)| 1 + g.pel.len()).sum::<usize>(),
            _ => 1,
        }
    }

    /// Whether a collection became empty (Redis deletes empty collections).
    pub fn is_empty_collection(&self) -> bool {
        match self {
            Value::Str(_) => false,
            Value::List(l) => l.is_empty(),
            Value::Hash(h) => h.is_empty(),
            Value::Set(s) => s.is_empty(),
            Value::ZSet(z) => z.is_empty(),
            // An empty stream stays: it keeps its last ID and groups.
            Value::Stream(_) => false,
        }
    }
}
