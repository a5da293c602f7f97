//! The manifest: which base and incremental files make up the AOF, in order.

/// One file named in the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestFile {
    pub name: String,
    pub seq: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    pub base: Option<ManifestFile>,
    /// Files a rewrite replaced (`type h`), newest first, until they are
    /// deleted (at once, unless `aof-disable-auto-gc yes`).
    pub history: Vec<ManifestFile>,
    pub incrs: Vec<ManifestFile>,
}

impl Manifest {
    /// The sequence numbers the next base and incr files take: base and
    /// incr files are numbered apart, each after its own last one (Redis's
    /// curr_base_file_seq / curr_incr_file_seq).
    pub fn next_seqs(&self) -> (u64, u64) {
        (self.base.as_ref().map_or(0, |b| b.seq) + 1, self.incrs.iter().map(|f| f.seq).max().unwrap_or(0) + 1)
    }

    /// Files a rewrite replaced become history, each put first (Redis's
    /// listAddNodeHead), so the newest history comes first.
    pub fn retire(&mut self, old: impl IntoIterator<Item = ManifestFile>) {
        for f in old {
            self.history.insert(0, f);
        }
    }

    /// Parses Redis 7's manifest: `file <name> seq <n> type <b|i|h>` lines,
    /// refusing what aofLoadManifestFromFile refuses. The error is Redis's
    /// report: the banner, the line and its number, and the reason.
    pub fn parse(text: &str) -> Result<Manifest, String> {
        const MAX_LINE: usize = 1024;
        let mut m = Manifest::default();
        let fail = |n: usize, line: Option<&str>, why: &str| {
            let mut msg = "*** FATAL AOF MANIFEST FILE ERROR ***\n".to_string();
            if let Some(l) = line {
                msg.push_str(&format!("Reading the manifest file, at line {n}\n>>> '{l}'\n"));
            }
            msg.push_str(why);
            msg
        };
        if text.is_empty() {
            return Err(fail(0, None, "Found an empty AOF manifest"));
        }
        let mut max_seq = 0u64;
        for (i, raw) in text.split_inclusive('\n').enumerate() {
            let n = i + 1;
            if raw.starts_with('#') {
                continue;
            }
            if raw.len() > MAX_LINE || !raw.ends_with('\n') {
                return Err(fail(n, None, "The AOF manifest file contains too long line"));
            }
            let line = raw.trim_matches(|c| c == ' ' || c == '\t' || c == '\r' || c == '\n');
            if line.is_empty() {
                return Err(fail(n, Some(line), "Invalid AOF manifest file format"));
            }
            let parts = crate::config::split_args(line).filter(|p| p.len() >= 6 && p.len() % 2 == 0);
            let Some(parts) = parts else { return Err(fail(n, Some(line), "Invalid AOF manifest file format")) };
            let (mut name, mut seq, mut ty) = (None, 0u64, None);
            for kv in parts.chunks(2) {
                match kv[0].to_ascii_lowercase().as_str() {
                    "file" => {
                        if kv[1].contains('/') {
                            return Err(fail(n, Some(line), "File can't be a path, just a filename"));
                        }
                        name = Some(kv[1].clone());
                    }
                    // atoll: leading digits, else 0.
                    "seq" => seq = kv[1].chars().take_while(char::is_ascii_digit).collect::<String>().parse().unwrap_or(0),
                    "type" => ty = kv[1].chars().next(),
                    _ => {}
                }
            }
            let (Some(name), Some(ty)) = (name, ty) else { return Err(fail(n, Some(line), "Invalid AOF manifest file format")) };
            if seq == 0 {
                return Err(fail(n, Some(line), "Invalid AOF manifest file format"));
            }
            let f = ManifestFile { name, seq };
            match ty {
                'b' => {
                    if m.base.is_some() {
                        return Err(fail(n, Some(line), "Found duplicate base file information"));
                    }
                    m.base = Some(f)
                }
                'i' => {
                    if seq <= max_seq {
                        return Err(fail(n, Some(line), "Found a non-monotonic sequence number"));
                    }
                    max_seq = seq;
                    m.incrs.push(f)
                }
                'h' => m.history.push(f),
                _ => return Err(fail(n, Some(line), "Unknown AOF file type")),
            }
        }
        Ok(m)
    }

    pub fn render(&self) -> String {
        let mut s = String::new();
        if let Some(b) = &self.base {
            s.push_str(&format!("file {} seq {} type b\n", repr(&b.name), b.seq));
        }
        for f in &self.history {
            s.push_str(&format!("file {} seq {} type h\n", repr(&f.name), f.seq));
        }
        for f in &self.incrs {
            s.push_str(&format!("file {} seq {} type i\n", repr(&f.name), f.seq));
        }
        s
    }
}

/// A file name as the manifest holds it: quoted and escaped when it has
/// spaces, quotes or control characters (Redis's sdscatrepr), as is otherwise.
fn repr(name: &str) -> String {
    // Non-ASCII text stays as written (UTF-8), which the parser reads back as is.
    let plain = |c: char| (c.is_ascii_graphic() && c != '"' && c != '\\') || !c.is_ascii();
    if name.chars().all(plain) {
        return name.to_string();
    }
    let mut out = String::from("\"");
    for c in name.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            ' '..='~' => out.push(c),
            c if !c.is_ascii() => out.push(c),
            c => out.push_str(&format!("\\x{:02x}", c as u32)),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod redis_rules {
    use super::{Manifest, ManifestFile};

    #[test]
    fn names_with_spaces_and_newlines_are_quoted_and_read_back() {
        let name = " file seq \n\n.aof .2.base.rdb".to_string();
        let m = Manifest { base: Some(ManifestFile { name: name.clone(), seq: 2 }), ..Default::default() };
        let text = m.render();
        assert_eq!(text, "file \" file seq \\n\\n.aof .2.base.rdb\" seq 2 type b\n");
        assert_eq!(Manifest::parse(&text).expect("parse").base.map(|b| b.name), Some(name));
    }

    /// The manifests Redis 7.0 refuses, with its reasons (aofLoadManifestFromFile).
    #[test]
    fn bad_manifests_are_refused_with_redis_reasons() {
        let ok = "file a.1.base.rdb seq 1 type b\nfile a.1.incr.aof seq 1 type i\nfile a.2.incr.aof seq 2 type i\n";
        let m = Manifest::parse(ok).expect("valid");
        assert_eq!((m.base.map(|b| b.seq), m.incrs.len()), (Some(1), 2));
        let cases = [
            ("", "Found an empty AOF manifest"),
            ("file a seq 1 type b\n\n", "Invalid AOF manifest file format"),
            ("file a seq 1 type b\nfile b seq 1 type b\n", "Found duplicate base file information"),
            ("file a seq 2 type i\nfile b seq 1 type i\n", "Found a non-monotonic sequence number"),
            ("file a seq 1 type x\n", "Unknown AOF file type"),
            ("file a seq 1\n", "Invalid AOF manifest file format"),
            ("file a seq 1 type b extra\n", "Invalid AOF manifest file format"),
            ("file dir/a seq 1 type b\n", "File can't be a path, just a filename"),
            ("file a seq 1 type b", "The AOF manifest file contains too long line"),
        ];
        for (text, why) in cases {
            let e = Manifest::parse(text).expect_err(text);
            assert!(e.contains(why), "{text:?}: {e}");
        }
        let e = Manifest::parse("file a seq 1 type b\nfile b seq 1 type z\n").expect_err("unknown type");
        assert!(e.contains("Reading the manifest file, at line 2\n>>> 'file b seq 1 type z'"), "{e}");
    }
}
