//! The data folder as `partnerhub dev` makes it: the signing and service keys, and with SQLite
//! the databases (password hashes, e-mail addresses, the audit trail) and their WAL files, all
//! readable by the server's own user only, whatever the umask lets others read.

#![cfg(unix)]

use partnerhub_proto::types::PartnerType;
use partnerhub_tests::{DATABASE_ENV, TestSystem};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("a file's metadata")
        .permissions()
        .mode()
        & 0o777
}

/// The umask of this process, which the files would otherwise get their modes from.
fn umask() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Umask:"))
        .and_then(|m| u32::from_str_radix(m.trim(), 8).ok())
        .unwrap_or(0o022)
}

#[tokio::test]
async fn the_data_folder_and_every_file_in_it_are_for_the_servers_user_only() {
    let sys = TestSystem::start().await;
    // Writes, so that the SQLite databases have their WAL files.
    sys.partner_admin("fabrikam", "1234567", &[PartnerType::DirectProvider])
        .await;
    let folder = sys.data_dir();
    assert_eq!(
        mode(folder),
        0o700,
        "the data folder (umask {:03o})",
        umask()
    );
    let names: Vec<String> = std::fs::read_dir(folder)
        .expect("the data folder")
        .map(|e| {
            e.expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    for name in &names {
        assert_eq!(mode(&folder.join(name)), 0o600, "{name}");
    }
    let mut expected = vec![
        "signing-key.pem",
        "tenants-secret.key",
        "invitations-secret.key",
        "internal-secret.key",
    ];
    let sqlite = std::env::var(DATABASE_ENV).unwrap_or_default().is_empty();
    if sqlite {
        expected.extend([
            "tenants.db",
            "tenants.db-wal",
            "tenants.db-shm",
            "gateway.db",
        ]);
    }
    for file in expected {
        assert!(names.iter().any(|n| n == file), "{file} in {names:?}");
    }
    sys.stop().await;
}
