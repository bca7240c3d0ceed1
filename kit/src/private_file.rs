//! The files a server writes that hold secrets or personal data (keys, the SQLite databases
//! with password hashes, e-mail addresses and the audit trail): readable by the server's own
//! user only, whatever the umask. A folder made here is 0700, a file 0600; SQLite makes a
//! database's `-wal` and `-shm` files with the mode of the database file, so they follow.
//! Folders and files already there keep the mode they have.

use std::io::Write;
use std::path::Path;

/// Makes `dir` and any missing parent, each 0700; a folder already there is left as it is.
pub fn create_folder(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Writes a new file (0600) with `contents`, making its folder as [`create_folder`] does;
/// fails if the file exists.
pub fn create_new(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut file = open_new(path)?;
    file.write_all(contents)
}

/// Makes an empty file (0600) at `path` unless one is there, making its folder as
/// [`create_folder`] does: an empty file is an empty SQLite database.
pub fn ensure(path: &Path) -> std::io::Result<()> {
    match open_new(path) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        other => other.map(drop),
    }
}

fn open_new(path: &Path) -> std::io::Result<std::fs::File> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_folder(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn folders_are_the_owners_and_files_too() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("a/b/key");
        create_new(&key, b"secret").unwrap();
        assert_eq!(std::fs::read(&key).unwrap(), b"secret");
        assert_eq!(mode(&key), 0o600);
        assert_eq!(mode(&dir.path().join("a")), 0o700);
        assert_eq!(mode(&dir.path().join("a/b")), 0o700);
        assert!(create_new(&key, b"other").is_err(), "never overwritten");

        let db = dir.path().join("c/tenants.db");
        ensure(&db).unwrap();
        assert_eq!(mode(&db), 0o600);
        std::fs::write(&db, b"data").unwrap();
        ensure(&db).unwrap();
        assert_eq!(std::fs::read(&db).unwrap(), b"data", "left as it was");
    }
}
