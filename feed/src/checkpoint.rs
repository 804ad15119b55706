//! The feed's checkpoint: the last stream sequence it published, in a
//! file of its own (written whole, then renamed over the old one).

use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Checkpoint {
    path: PathBuf,
}

impl Checkpoint {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The last sequence published; 0 when the feed never ran. A file
    /// that is not a number is an error, never a silent restart from 1.
    pub fn read(&self) -> anyhow::Result<u64> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => text.trim().parse().map_err(|_| {
                anyhow::anyhow!(
                    "{} does not hold a sequence number; delete it to publish the whole log again",
                    self.path.display()
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(anyhow::anyhow!("cannot read {}: {e}", self.path.display())),
        }
    }

    pub fn write(&self, seq: u64) -> anyhow::Result<()> {
        let tmp = self.path.with_extension("tmp");
        std::fs::write(&tmp, format!("{seq}\n"))?;
        std::fs::rename(&tmp, &self.path)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_round_trips_and_garbage_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let c = Checkpoint::new(dir.path().join("feed.checkpoint"));
        assert_eq!(c.read().unwrap(), 0);
        c.write(41).unwrap();
        assert_eq!(c.read().unwrap(), 41);
        std::fs::write(c.path(), "x").unwrap();
        assert!(c.read().is_err());
    }
}
