//! The `partnerhub` command as an operator meets it: its help, the config file, environment
//! variables and flags agreeing, and startup errors that are one clear line.

use std::collections::HashSet;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const SUBCOMMANDS: [&str; 4] = ["dev", "serve", "token", "migrate"];

/// The binary, run in `dir`, with none of the caller's settings in its environment.
fn partnerhub(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_partnerhub"));
    command.current_dir(dir).env("RUST_BACKTRACE", "1");
    for (name, _) in std::env::vars_os() {
        let name_text = name.to_string_lossy();
        if name_text.starts_with("PARTNERHUB_") || name_text.starts_with("OTEL_") {
            command.env_remove(&name);
        }
    }
    command
}

/// Runs `command` to its end, failing the test if that takes longer than `limit`.
fn run(mut command: Command, limit: Duration) -> Output {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = command.spawn().expect("start partnerhub");
    let pid = child.id();
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(child.wait_with_output());
    });
    match receiver.recv_timeout(limit) {
        Ok(output) => output.expect("wait for partnerhub"),
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            panic!("partnerhub took longer than {limit:?}: {command:?}");
        }
    }
}

fn succeeds(command: Command) -> String {
    let output = run(command, Duration::from_secs(20));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "failed: {stderr}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Runs `command`, which must stop with exit code 1 and one line on stderr; gives the line.
fn fails(command: Command) -> String {
    let output = run(command, Duration::from_secs(20));
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(1), "stderr: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "not one line: {stderr}");
    assert!(stderr.starts_with("partnerhub: "), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.to_lowercase().contains("backtrace"), "{stderr}");
    stderr.trim_end().to_string()
}

fn temp() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

#[test]
fn help_names_every_subcommand_the_config_file_and_the_log_settings() {
    let dir = temp();
    let mut command = partnerhub(dir.path());
    command.arg("--help");
    let help = succeeds(command);
    for needed in SUBCOMMANDS
        .iter()
        .copied()
        .chain(["--config", "PARTNERHUB_CONFIG", "TOML", "data-dir = "])
        .chain([
            "--log",
            "PARTNERHUB_LOG",
            "--log-format",
            "PARTNERHUB_LOG_FORMAT",
        ])
        .chain([
            "partnerhub dev",
            "partnerhub token --operator",
            "127.0.0.1:50051",
        ])
    {
        assert!(help.contains(needed), "--help lacks {needed:?}:\n{help}");
    }
    assert!(help.contains("which wins over the config file"), "{help}");

    for sub in SUBCOMMANDS {
        let mut command = partnerhub(dir.path());
        command.args(["help", sub]);
        let by_help = succeeds(command);
        let mut command = partnerhub(dir.path());
        command.args([sub, "--help"]);
        let by_flag = succeeds(command);
        assert_eq!(by_help, by_flag);
        assert!(by_flag.contains("Examples:"), "{sub} --help:\n{by_flag}");
        assert!(
            by_flag.contains("[env: PARTNERHUB_"),
            "{sub} --help:\n{by_flag}"
        );
    }

    let mut command = partnerhub(dir.path());
    command.arg("--version");
    assert_eq!(
        succeeds(command).trim(),
        format!("partnerhub {}", env!("CARGO_PKG_VERSION"))
    );
}

/// `migrate tenants` with `setup`, checking which of the folders a, b, c got the database.
fn migrated_into(setup: impl FnOnce(&mut Command)) -> Vec<&'static str> {
    let dir = temp();
    std::fs::write(dir.path().join("partnerhub.toml"), "data-dir = \"a\"\n").unwrap();
    let mut command = partnerhub(dir.path());
    command.args(["migrate", "tenants"]);
    setup(&mut command);
    succeeds(command);
    ["a", "b", "c", "data"]
        .into_iter()
        .filter(|d| dir.path().join(d).join("tenants.db").exists())
        .collect()
}

#[test]
fn flag_beats_environment_beats_config_file_beats_default() {
    assert_eq!(migrated_into(|_| {}), ["data"]);
    assert_eq!(
        migrated_into(|c| {
            c.args(["--config", "partnerhub.toml"]);
        }),
        ["a"]
    );
    // The config file named by the environment, the data folder by the environment.
    assert_eq!(
        migrated_into(|c| {
            c.env("PARTNERHUB_CONFIG", "partnerhub.toml")
                .env("PARTNERHUB_DATA_DIR", "b");
        }),
        ["b"]
    );
    assert_eq!(
        migrated_into(|c| {
            c.env("PARTNERHUB_DATA_DIR", "b").args([
                "--config",
                "partnerhub.toml",
                "--data-dir",
                "c",
            ]);
        }),
        ["c"]
    );
}

#[test]
fn config_file_sets_the_signing_key_token_reads() {
    let dir = temp();
    std::fs::write(
        dir.path().join("partnerhub.toml"),
        "# settings\ndata-dir = \"keys\"\nlisten = \"127.0.0.1:1\" # serve's: ignored here\n",
    )
    .unwrap();
    let mut command = partnerhub(dir.path());
    command.args(["token", "--operator", "--config", "partnerhub.toml"]);
    let line = fails(command);
    assert!(line.contains("keys/signing-key.pem"), "{line}");
}

#[test]
fn bad_config_files_are_one_line_naming_the_problem() {
    let dir = temp();
    let cases = [
        ("colour = \"blue\"\n", "unknown setting \"colour\""),
        ("data_dir = \"x\"\n", "did you mean \"data-dir\"?"),
        (
            "data-dir = \"x\"\nrequest-timeout = \"soon\"\n",
            "\"request-timeout\"",
        ),
        ("log-format = \"xml\"\n", "must be one of text, json"),
        ("data-dir = \"x\"\n\ndata-dir = \n", "line 3"),
        ("[server]\nlisten = \"x\"\n", "unknown setting \"server\""),
    ];
    for (text, expected) in cases {
        std::fs::write(dir.path().join("bad.toml"), text).unwrap();
        let mut command = partnerhub(dir.path());
        command.args(["--config", "bad.toml", "migrate"]);
        let line = fails(command);
        assert!(line.contains("config file bad.toml"), "{line}");
        assert!(line.contains(expected), "{text:?}: {line}");
    }
    let mut command = partnerhub(dir.path());
    command.args(["--config", "missing.toml", "migrate"]);
    assert!(fails(command).contains("missing.toml"));
    assert!(!dir.path().join("x").exists() && !dir.path().join("data").exists());
}

#[test]
fn a_port_in_use_is_one_line_naming_the_address() {
    let dir = temp();
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap();

    // `serve` reads the service's key, never makes one: bring it.
    std::fs::create_dir(dir.path().join("d")).unwrap();
    std::fs::write(dir.path().join("d/tenants-secret.key"), "k".repeat(64)).unwrap();
    std::fs::write(dir.path().join("d/internal-secret.key"), "i".repeat(64)).unwrap();
    let mut command = partnerhub(dir.path());
    command.args(["serve", "tenants", "--data-dir", "d", "--metrics-listen"]);
    command
        .arg("127.0.0.1:0")
        .arg("--listen")
        .arg(addr.to_string());
    let line = fails(command);
    assert!(line.contains(&addr.to_string()), "{line}");
    assert!(line.contains("--listen"), "{line}");

    // `dev` binds the services first.
    let mut command = partnerhub(dir.path());
    command.args(["dev", "--data-dir", "d", "--first-service-port"]);
    command.arg(addr.port().to_string());
    let line = fails(command);
    assert!(line.contains(&addr.to_string()), "{line}");
    assert!(line.contains("--first-service-port"), "{line}");
    assert!(
        dir.path().join("d/invitations-secret.key").exists(),
        "dev makes the keys it lacks"
    );
}

#[test]
fn an_unreachable_database_is_one_line_soon() {
    let dir = temp();
    let start = Instant::now();
    let mut command = partnerhub(dir.path());
    command.args(["migrate", "tenants", "--database-url"]);
    command.arg("postgres://postgres:hunter2@127.0.0.1:1/x");
    let line = fails(command);
    assert!(start.elapsed() < Duration::from_secs(15));
    assert!(line.contains("127.0.0.1:1"), "{line}");
    assert!(line.contains("--database-url"), "{line}");
    assert!(!line.contains("hunter2"), "the password shows: {line}");
}

#[test]
fn a_bad_signing_key_is_one_line() {
    let dir = temp();
    std::fs::write(dir.path().join("garbage.pem"), "not a key\n").unwrap();
    for key in ["garbage.pem", "missing.pem", "."] {
        let mut command = partnerhub(dir.path());
        command.args(["token", "--operator", "--signing-key", key]);
        let line = fails(command);
        assert!(line.contains("signing key"), "{key}: {line}");
    }
    let mut command = partnerhub(dir.path());
    command.args(["serve", "gateway", "--signing-key", "garbage.pem"]);
    command.args(["--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"]);
    let line = fails(command);
    assert!(line.contains("garbage.pem"), "{line}");
}

#[test]
fn a_missing_or_short_service_key_is_one_line() {
    let dir = temp();
    std::fs::write(dir.path().join("short.key"), "0123456789abcdef\n").unwrap();
    let listen = ["--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"];
    for (service, flag, key, says) in [
        (
            "tenants",
            "--tenants-secret-key",
            "short.key",
            "too short: 16 bytes",
        ),
        (
            "invitations",
            "--invitations-secret-key",
            "missing.key",
            "can't read",
        ),
    ] {
        let mut command = partnerhub(dir.path());
        command.args(["serve", service, flag, key]).args(listen);
        let line = fails(command);
        assert!(line.contains(key) && line.contains(says), "{line}");
        assert!(line.contains(&format!("{service} secret key")), "{line}");
        assert!(line.contains("openssl rand -hex 32"), "{line}");
    }
    // Without a key file `serve` stops rather than make one no other replica would share.
    let mut command = partnerhub(dir.path());
    command
        .args(["serve", "invitations", "--data-dir", "d"])
        .args(listen);
    assert!(fails(command).contains("d/invitations-secret.key"));
    assert!(!dir.path().join("d/invitations-secret.key").exists());
}

#[test]
fn usage_errors_are_clap_s_with_exit_code_2() {
    let dir = temp();
    for args in [
        &["serve", "nothing"][..],
        &["serve", "tenants", "--listen", "nonsense"],
        &["token"],
        &["--log-format", "xml", "migrate"],
    ] {
        let mut command = partnerhub(dir.path());
        command.args(args);
        let output = run(command, Duration::from_secs(20));
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
    }
}

/// A port nothing listens on (bound, then let go).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

/// GetTenant of a tenant that doesn't exist, as the operator whose token is `token`, with this
/// request id.
async fn no_such_tenant(
    channel: tonic::transport::Channel,
    token: &str,
    request_id: Option<&str>,
) -> Result<tonic::Response<partnerhub_proto::tenants::GetTenantResponse>, tonic::Status> {
    use partnerhub_proto::tenants::GetTenantRequest;
    use partnerhub_proto::tenants::tenant_service_client::TenantServiceClient;
    let mut request = tonic::Request::new(GetTenantRequest {
        tenant_id: "0190a0a0-0000-7000-8000-000000000000".into(),
    });
    let metadata = request.metadata_mut();
    if let Some(id) = request_id {
        metadata.insert("x-request-id", id.parse().expect("ascii"));
    }
    metadata.insert(
        "authorization",
        format!("Bearer {token}").parse().expect("ascii"),
    );
    TenantServiceClient::new(channel).get_tenant(request).await
}

#[tokio::test]
async fn with_logs_filtered_to_warnings_a_warning_still_carries_its_request_id() {
    let dir = temp();
    let key = dir.path().join("key.pem");
    partnerhub_gateway::token::ensure_key_file(&key).expect("signing key");
    let key = key.display().to_string();
    std::fs::write(dir.path().join("internal-secret.key"), "i".repeat(64)).expect("internal key");
    let (gateway, metrics, dead) = (free_port(), free_port(), free_port());
    let dead = format!("http://127.0.0.1:{dead}");
    let mut command = partnerhub(dir.path());
    command
        .args(["serve", "gateway", "--log", "warn", "--log-format", "json"])
        .args(["--listen", &format!("127.0.0.1:{gateway}")])
        .args(["--metrics-listen", &format!("127.0.0.1:{metrics}")])
        .args(["--signing-key", &key])
        .args(["--internal-secret-key", "internal-secret.key"])
        .args(["--tenants-url", &dead, "--subscriptions-url", &dead])
        .args(["--relationships-url", &dead, "--invitations-url", &dead])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("start the gateway");
    let mut token_command = partnerhub(dir.path());
    token_command.args(["token", "--operator", "--signing-key", &key]);
    let token = succeeds(token_command).trim().to_string();

    let started = Instant::now();
    let channel = loop {
        match tonic::transport::Channel::from_shared(format!("http://127.0.0.1:{gateway}"))
            .expect("uri")
            .connect()
            .await
        {
            Ok(channel) => break channel,
            Err(_) if started.elapsed() < Duration::from_secs(20) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("the gateway did not start: {e}"),
        }
    };
    let status = no_such_tenant(channel, &token, Some("warn-1"))
        .await
        .expect_err("the tenants service is down");
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");

    let _ = child.kill();
    let output = child.wait_with_output().expect("the gateway's logs");
    let logs = String::from_utf8_lossy(&output.stderr);
    let warning = logs
        .lines()
        .find(|l| l.contains("service unreachable"))
        .unwrap_or_else(|| panic!("a warning: {logs}"));
    assert!(warning.contains(r#""request_id":"warn-1""#), "{warning}");
    assert!(
        !logs.contains("call ended"),
        "info lines are filtered out: {logs}"
    );
}

/// `n` ports in a row that nothing listens on (bound, then let go); the first of them. They are
/// taken from 20000..30000, below the ports the system hands out for port 0 (32768 and up on
/// Linux), where the other tests' servers and their "free" ports come from.
fn free_ports_in_a_row(n: u16) -> u16 {
    use std::hash::BuildHasher;
    for attempt in 0..100_u64 {
        let random = std::collections::hash_map::RandomState::new().hash_one(attempt);
        let first = 20_000 + (random % 10_000) as u16;
        let held: Vec<TcpListener> = (first..first + n)
            .map_while(|port| TcpListener::bind(("127.0.0.1", port)).ok())
            .collect();
        if held.len() == usize::from(n) {
            return first;
        }
    }
    panic!("no {n} free ports in a row");
}

/// Kills the process with this id when dropped, so that a failed test leaves no server running.
struct Reaper(Option<u32>);

impl Drop for Reaper {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
    }
}

/// A log line, which must be a JSON object.
fn json_line(line: &str) -> serde_json::Value {
    match serde_json::from_str::<serde_json::Value>(line) {
        Ok(entry) if entry.is_object() => entry,
        _ => panic!("not a JSON object: {line}"),
    }
}

#[tokio::test]
async fn in_json_mode_dev_writes_json_lines_only_and_no_trace_id_without_tracing() {
    use std::io::{BufRead, BufReader, Read};

    let dir = temp();
    let mut command = partnerhub(dir.path());
    command
        .args(["dev", "--log-format", "json", "--data-dir", "d"])
        .args(["--gateway-addr", "127.0.0.1:0"])
        .args(["--first-service-port", &free_ports_in_a_row(4).to_string()])
        .args(["--first-metrics-port", &free_ports_in_a_row(5).to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("start partnerhub dev");
    let mut reaper = Reaper(Some(child.id()));
    let stderr = child.stderr.take().expect("stderr");
    let (sender, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    let mut logs = Vec::new();
    let mut gateway = None;
    let started = Instant::now();
    loop {
        let left = Duration::from_secs(60).saturating_sub(started.elapsed());
        let line = lines
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("partnerhub dev did not say it runs: {logs:?}"));
        let entry = json_line(&line);
        let fields = &entry["fields"];
        if fields["message"] == "listening" && fields["server"] == "gateway" {
            gateway = fields["listen"].as_str().map(str::to_string);
        }
        logs.push(line);
        if fields["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("partnerhub dev is running"))
        {
            break;
        }
    }
    let gateway = gateway.unwrap_or_else(|| panic!("where the gateway listens: {logs:?}"));

    // A call the gateway passes on to the tenants service: both servers log it.
    let mut token_command = partnerhub(dir.path());
    token_command.args(["token", "--operator", "--data-dir", "d"]);
    let token = succeeds(token_command).trim().to_string();
    let channel = tonic::transport::Channel::from_shared(format!("http://{gateway}"))
        .expect("uri")
        .connect()
        .await
        .expect("the gateway");
    let status = no_such_tenant(channel, &token, None)
        .await
        .expect_err("no such tenant");
    assert_eq!(status.code(), tonic::Code::NotFound, "{status:?}");

    // Stopped as an operator stops it: the shutdown lines are JSON too.
    let stopped = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(stopped.success());
    // Waited for off this thread: the runtime must go on serving the client's side of the
    // connection, which the gateway closes as it stops.
    let waiting = tokio::task::spawn_blocking(move || {
        let mut stdout = String::new();
        if let Some(mut out) = child.stdout.take() {
            let _ = out.read_to_string(&mut stdout);
        }
        (child.wait(), stdout)
    });
    let (status, stdout) = tokio::time::timeout(Duration::from_secs(30), waiting)
        .await
        .expect("partnerhub dev stops on SIGTERM")
        .expect("waited");
    reaper.0 = None;
    assert!(status.expect("exit status").success());
    logs.extend(lines.try_iter());
    logs.extend(stdout.lines().map(str::to_string));

    let mut ended = HashSet::new();
    for line in &logs {
        let entry = json_line(line);
        if entry["fields"]["message"] == "call ended"
            && entry["span"]["method"] == "/partnerhub.tenants.v1.TenantService/GetTenant"
        {
            ended.insert(entry["span"]["server"].to_string());
        }
        // No collector, no tracing: no trace id on any line.
        assert!(entry["span"].get("trace_id").is_none(), "{line}");
        assert!(!line.contains("trace_id"), "{line}");
    }
    assert_eq!(
        ended.len(),
        2,
        "the gateway and the tenants service: {logs:#?}"
    );
}

#[test]
fn in_json_mode_a_startup_error_is_one_json_line() {
    let dir = temp();
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap();
    let mut port_in_use = partnerhub(dir.path());
    port_in_use
        .args(["dev", "--log-format", "json", "--data-dir", "d"])
        .args(["--first-service-port", &addr.port().to_string()]);
    // A config file that can't be read: the format the environment asks for still holds.
    std::fs::write(dir.path().join("bad.toml"), "nonsense = 1\n").unwrap();
    let mut bad_config = partnerhub(dir.path());
    bad_config
        .args(["--config", "bad.toml", "dev"])
        .env("PARTNERHUB_LOG_FORMAT", "json");
    for (command, says) in [
        (port_in_use, addr.to_string()),
        (bad_config, "nonsense".to_string()),
    ] {
        let output = run(command, Duration::from_secs(20));
        assert_eq!(output.status.code(), Some(1));
        assert!(output.stdout.is_empty());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.lines().count(), 1, "not one line: {stderr}");
        let entry = json_line(stderr.trim_end());
        assert_eq!(entry["level"], "ERROR", "{stderr}");
        let message = entry["fields"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(&says), "{stderr}");
        assert!(!message.starts_with("partnerhub: "), "{stderr}");
    }
}

#[test]
fn internal_credential_prints_an_assertion_a_service_takes() {
    use partnerhub_kit::internal_call::{ASSERTION, InternalKey, unix_now};
    use partnerhub_kit::secret_key::SecretKey;
    let dir = temp();
    let path = dir.path().join("internal.key");
    std::fs::write(&path, "i".repeat(64)).unwrap();
    let mut command = partnerhub(dir.path());
    command.args([
        "internal-credential",
        "--internal-secret-key",
        "internal.key",
    ]);
    command.args(["--method", "partnerhub.tenants.v1.TenantService/ListUsers"]);
    command.args(["--roles", "ROLE_GLOBAL_ADMIN", "--seconds", "30"]);
    let printed = succeeds(command).trim().to_string();
    let key = InternalKey::new(SecretKey::from_file("internal", &path).unwrap());
    let mut headers = http::HeaderMap::new();
    headers.insert(
        partnerhub_kit::caller::ROLES,
        "ROLE_GLOBAL_ADMIN".parse().unwrap(),
    );
    headers.insert(ASSERTION, printed.parse().unwrap());
    let method = "/partnerhub.tenants.v1.TenantService/ListUsers";
    assert_eq!(key.check(method, &headers, unix_now()), Ok(()), "{printed}");
    assert!(
        key.check(
            "/partnerhub.tenants.v1.TenantService/GetUser",
            &headers,
            unix_now()
        )
        .is_err()
    );

    // No key: one line naming the file and the flag; a made-up method: a usage error.
    let mut command = partnerhub(dir.path());
    command.args([
        "internal-credential",
        "--method",
        "a.B/C",
        "--data-dir",
        "none",
    ]);
    let line = fails(command);
    assert!(line.contains("none/internal-secret.key"), "{line}");
    assert!(line.contains("--internal-secret-key"), "{line}");
    let mut command = partnerhub(dir.path());
    command.args(["internal-credential", "--method", "nothing"]);
    let output = command.output().unwrap();
    assert_eq!(output.status.code(), Some(2));
}
