//! The stream of executed writes, encoded once as RESP (with SELECTs) and
//! handed to replication and the AOF at the end of each batch.

/// Executed writes waiting to be handed to their consumers.
#[derive(Debug, Default)]
pub struct Propagation {
    /// Executed writes as RESP, since the last hand-over.
    pub buf: Vec<u8>,
    /// The db the stream last SELECTed (None forces a SELECT, e.g. for a new AOF file).
    pub db: Option<usize>,
    /// How many consumers (replicas, AOF) want propagated commands.
    pub consumers: usize,
    /// Commands pushed so far (a script wraps its effects in MULTI/EXEC when it made several).
    pub count: u64,
    /// Set while a script runs: its effects stay in `buf` until it ends.
    pub held: u32,
}

impl Propagation {
    /// SELECTs `db` in the stream unless it is the current one (a
    /// transaction's MULTI goes after the SELECT, as Redis writes it).
    pub fn select(&mut self, db: usize) {
        if self.db != Some(db) {
            let mut num = itoa::Buffer::new();
            crate::resp::encode_command(&mut self.buf, &[b"SELECT".as_slice(), num.format(db).as_bytes()]);
            self.db = Some(db);
        }
    }

    /// Appends one executed write, SELECTing its db first when needed.
    pub fn push<A: AsRef<[u8]>>(&mut self, db: usize, argv: &[A]) {
        self.select(db);
        crate::resp::encode_command(&mut self.buf, argv);
        self.count += 1;
    }
}
