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
    pub incrs: Vec<ManifestFile>,
}

impl Manifest {
    /// Parses Redis 7's manifest: `file <name> seq <n> type <b|i|h>` lines.
    pub fn parse(text: &str) -> Result<Manifest, String> {
        let mut m = Manifest::default();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let parts = crate::config::split_args(line).ok_or_else(|| format!("invalid manifest line {}", i + 1))?;
            let (mut name, mut seq, mut ty) = (None, None, None);
            for kv in parts.chunks(2) {
                if kv.len() != 2 {
                    return Err(format!("invalid manifest line {}", i + 1));
                }
                match kv[0].as_str() {
                    "file" => name = Some(kv[1].clone()),
                    "seq" => seq = kv[1].parse::<u64>().ok(),
                    "type" => ty = Some(kv[1].clone()),
                    _ => {}
                }
            }
            let (Some(name), Some(seq), Some(ty)) = (name, seq, ty) else {
                return Err(format!("invalid manifest line {}", i + 1));
            };
            if name.contains('/') {
                return Err(format!("invalid file name in manifest line {}", i + 1));
            }
            let f = ManifestFile { name, seq };
            match ty.as_str() {
                "b" => {
                    if m.base.is_some() {
                        return Err("manifest names two base files".into());
                    }
                    m.base = Some(f)
                }
                "i" => m.incrs.push(f),
                "h" => {}
                _ => return Err(format!("invalid file type in manifest line {}", i + 1)),
            }
        }
        Ok(m)
    }

    pub fn render(&self) -> String {
        let mut s = String::new();
        if let Some(b) = &self.base {
            s.push_str(&format!("file {} seq {} type b\n", b.name, b.seq));
        }
        for f in &self.incrs {
            s.push_str(&format!("file {} seq {} type i\n", f.name, f.seq));
        }
        s
    }
}
