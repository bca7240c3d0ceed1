//! `partnerhub-bench`: measures partnerhub against reference servers on the same machine in the
//! same run, and prints one table (or JSON).
//!
//! `cargo run --release -p partnerhub-bench [-- --quick] [--database-url postgres://…] [--json]`
//!
//! It starts its reference servers (a bare tonic server answering from memory, and a one-hop
//! proxy in front of it) and `partnerhub dev` in processes of their own, makes partners,
//! customers and users through the public API, seeds a million users straight into the tenants
//! database, and measures each hot path at one call at a time and under load: calls a second,
//! p50 and p99, the ratio to the reference, the server's CPU per call, the bench's own CPU (the
//! load generator must not be the bottleneck), how busy the machine was, and the server's
//! memory. No figure is asserted: machines are noisy, so CI runs `--quick` only to see it work.

mod dev;
mod load;
mod measure;
mod reference;
mod setup;
mod soak;

use clap::Parser;
use dev::{Dev, Error};
use load::{Call, Shape};
use measure::Machine;
use partnerhub_kit::internal_call::{ASSERTION, InternalKey};
use partnerhub_kit::secret_key::SecretKey;
use partnerhub_proto::gateway::workflow_service_client::WorkflowServiceClient;
use partnerhub_proto::gateway::{self as gw, auth_service_client::AuthServiceClient};
use partnerhub_proto::tenants::{self as pb, tenant_service_client::TenantServiceClient};
use setup::{Fixtures, authed};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Measures partnerhub's hot paths against reference servers, in one run.
#[derive(Parser, Debug)]
#[command(name = "partnerhub-bench", version)]
struct Args {
    /// A short run (about a minute): shorter measurements, same scenarios.
    #[arg(long)]
    quick: bool,
    /// Measure on PostgreSQL: any database URL of the server (the bench makes and drops its
    /// own databases there), e.g. postgres://postgres@127.0.0.1:5432/postgres.
    #[arg(long)]
    database_url: Option<String>,
    /// Print the results as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// The `partnerhub` binary to measure (default: the release build beside this bench,
    /// rebuilt first when run through cargo).
    #[arg(long)]
    partnerhub: Option<PathBuf>,
    /// Seconds each scenario is measured (default 10, or 2 with --quick).
    #[arg(long)]
    seconds: Option<f64>,
    /// Users seeded for the deep list page.
    #[arg(long, default_value_t = 1_000_000)]
    rows: i64,
    /// Only the scenarios whose name contains this text (case-insensitive), e.g. CreateCustomer.
    #[arg(long, value_name = "TEXT")]
    only: Option<String>,
    /// Instead of the scenarios: mixed reads and workflows at half the measured capacity for
    /// this many minutes, with each minute's errors by code, p50, p99 and resident memory.
    #[arg(long, value_name = "MINUTES")]
    soak: Option<u64>,
}

/// One measured scenario.
#[derive(Debug, Clone, serde::Serialize)]
struct Row {
    scenario: String,
    shape: String,
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    calls: u64,
    errors: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_error: Option<String>,
    /// This scenario's req/s as a share of its reference's at the same shape.
    #[serde(skip_serializing_if = "Option::is_none")]
    of_reference: Option<f64>,
    /// CPU the measured server process used per call, in ms.
    server_cpu_ms_per_call: f64,
    /// CPU the bench (the load generator) used, in percent of one core.
    bench_cpu_percent: f64,
    /// How busy all cores of the machine were, in percent.
    machine_busy_percent: f64,
    /// The measured server process's resident memory after the scenario, MiB.
    server_rss_mib: f64,
    /// The target this row is held to, and whether it was met.
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    met: Option<bool>,
}

/// A target and whether this run met it.
#[derive(Debug, serde::Serialize)]
struct Held {
    target: String,
    met: bool,
}

#[derive(Debug, Default, serde::Serialize)]
struct Report {
    date: String,
    machine: String,
    cores: usize,
    backend: String,
    seconds_per_scenario: f64,
    rows: Vec<Row>,
    idle_rss_mib: f64,
    peak_rss_mib: f64,
    seeded_users: i64,
    seed_seconds: f64,
    targets: Vec<Held>,
}

/// A running process whose CPU and memory a scenario reads.
#[derive(Clone, Copy)]
struct Target {
    pid: u32,
}

struct Bench {
    warm_up: Duration,
    measure: Duration,
    report: Report,
    only: Option<String>,
    /// The last scenario was left out by `--only` (so `compare` and `hold` skip it too).
    skipped: bool,
}

impl Bench {
    /// Runs one scenario and adds its row.
    async fn scenario(
        &mut self,
        name: &str,
        addr: SocketAddr,
        shape: Shape,
        server: Target,
        call: Call,
    ) -> Result<(), Error> {
        self.skipped = !self.wants(name);
        if self.skipped {
            return Ok(());
        }
        let (cpu_before, bench_before, machine_before) = (
            measure::cpu_seconds(server.pid),
            measure::cpu_seconds(std::process::id()),
            Machine::now(),
        );
        let outcome = load::run(addr, shape, self.warm_up, self.measure, call).await?;
        // The CPU of the warm-up too: calls per CPU second over the whole run.
        let total = self.warm_up.as_secs_f64() + outcome.seconds;
        let calls_in_total = outcome.per_second() * total;
        let server_cpu = measure::cpu_seconds(server.pid) - cpu_before;
        let bench_cpu = measure::cpu_seconds(std::process::id()) - bench_before;
        let row = Row {
            scenario: name.to_string(),
            shape: shape.to_string(),
            per_second: outcome.per_second(),
            p50_ms: outcome.p50_ms,
            p99_ms: outcome.p99_ms,
            calls: outcome.calls,
            errors: outcome.errors,
            first_error: outcome.first_error.clone(),
            of_reference: None,
            server_cpu_ms_per_call: if calls_in_total > 0.0 {
                1000.0 * server_cpu / calls_in_total
            } else {
                0.0
            },
            bench_cpu_percent: 100.0 * bench_cpu / total,
            machine_busy_percent: Machine::now().busy_since(&machine_before),
            server_rss_mib: measure::memory(server.pid).rss_mib,
            target: None,
            met: None,
        };
        {
            eprintln!(
                "  {:<44} {:<7} {:>9.1}/s  p50 {:>8.3} ms  p99 {:>8.3} ms{}",
                row.scenario,
                row.shape,
                row.per_second,
                row.p50_ms,
                row.p99_ms,
                if row.errors > 0 {
                    format!(
                        "  {} errors: {}",
                        row.errors,
                        row.first_error.clone().unwrap_or_default()
                    )
                } else {
                    String::new()
                }
            );
        }
        self.report.rows.push(row);
        Ok(())
    }

    /// Whether `--only` keeps the scenario `name`.
    fn wants(&self, name: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|only| name.to_lowercase().contains(&only.to_lowercase()))
    }

    fn last(&mut self) -> &mut Row {
        let index = self.report.rows.len() - 1;
        &mut self.report.rows[index]
    }

    /// Marks the last row with its share of the reference row `reference` at the same shape.
    fn compare(&mut self, reference: &str) {
        if self.skipped {
            return;
        }
        let shape = self.last().shape.clone();
        let base = self
            .report
            .rows
            .iter()
            .find(|r| r.scenario == reference && r.shape == shape)
            .map(|r| r.per_second);
        if let Some(base) = base.filter(|b| *b > 0.0) {
            let share = self.last().per_second / base;
            self.last().of_reference = Some(share);
        }
    }

    /// Holds the last row to a target.
    fn hold(&mut self, target: String, met: impl Fn(&Row) -> bool) {
        if self.skipped {
            return;
        }
        let row = self.last();
        let ok = row.errors == 0 && met(row);
        row.target = Some(target.clone());
        row.met = Some(ok);
        let label = format!("{} {}: {}", row.scenario, row.shape, target);
        self.report.targets.push(Held {
            target: label,
            met: ok,
        });
    }
}

/// GetTenant of `tenant_id`, signed with `token` (none: straight to a service).
fn get_tenant(tenant_id: &str, token: Option<&str>) -> Call {
    let (tenant_id, token) = (tenant_id.to_string(), token.map(str::to_string));
    Arc::new(move |channel, _| {
        let request = pb::GetTenantRequest {
            tenant_id: tenant_id.clone(),
        };
        let request = match &token {
            Some(token) => authed(request, token),
            None => tonic::Request::new(request),
        };
        Box::pin(async move {
            TenantServiceClient::new(channel)
                .get_tenant(request)
                .await
                .map(drop)
        })
    })
}

/// GetTenant straight to the tenants service, with the internal assertion each call carries
/// from the gateway (made per call, as the gateway does).
fn get_tenant_directly(tenant_id: &str, key: Option<InternalKey>) -> Call {
    const METHOD: &str = "/partnerhub.tenants.v1.TenantService/GetTenant";
    let tenant_id = tenant_id.to_string();
    Arc::new(move |channel, _| {
        let mut request = tonic::Request::new(pb::GetTenantRequest {
            tenant_id: tenant_id.clone(),
        });
        if let Some(key) = &key {
            let mut headers = http::HeaderMap::new();
            key.sign(METHOD, &mut headers);
            if let Some(value) = headers
                .get(ASSERTION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
            {
                request.metadata_mut().insert(ASSERTION, value);
            }
        }
        Box::pin(async move {
            TenantServiceClient::new(channel)
                .get_tenant(request)
                .await
                .map(drop)
        })
    })
}

fn list_users(tenant_id: &str, token: &str, page_token: &str) -> Call {
    let (tenant_id, token, page_token) = (
        tenant_id.to_string(),
        token.to_string(),
        page_token.to_string(),
    );
    Arc::new(move |channel, _| {
        let request = authed(
            pb::ListUsersRequest {
                tenant_id: tenant_id.clone(),
                page_size: 50,
                page_token: page_token.clone(),
                ..Default::default()
            },
            &token,
        );
        Box::pin(async move {
            let page = TenantServiceClient::new(channel)
                .list_users(request)
                .await?
                .into_inner();
            if page.users.len() == 50 {
                Ok(())
            } else {
                Err(tonic::Status::internal(format!(
                    "a page of {} users, not 50",
                    page.users.len()
                )))
            }
        })
    })
}

fn sign_in(user_name: &str) -> Call {
    let user_name = user_name.to_string();
    Arc::new(move |channel, _| {
        let request = gw::SignInRequest {
            user_name: user_name.clone(),
            password: setup::PASSWORD.into(),
            second_factor_code: String::new(),
        };
        Box::pin(async move {
            AuthServiceClient::new(channel)
                .sign_in(request)
                .await
                .map(drop)
        })
    })
}

fn create_customer(fixtures: &Arc<Fixtures>, run: &str) -> Call {
    let (fixtures, run) = (fixtures.clone(), run.to_string());
    Arc::new(move |channel, n| {
        let form = setup::customer_form(&fixtures, &format!("b{run}{n}"));
        let request = authed(form, &fixtures.provider_admin);
        Box::pin(async move {
            let made = WorkflowServiceClient::new(channel)
                .create_customer(request)
                .await?
                .into_inner();
            if made.subscriptions.len() == 2 && made.customer.is_some() {
                Ok(())
            } else {
                Err(tonic::Status::internal(
                    "a customer without its two subscriptions",
                ))
            }
        })
    })
}

/// Starts the reference servers' process; gives it with the echo's and the proxy's addresses.
fn start_reference() -> Result<(std::process::Child, SocketAddr, SocketAddr), Error> {
    use std::io::BufRead;
    let mut child = std::process::Command::new(std::env::current_exe()?)
        .arg("__reference")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no standard output")?;
    let mut line = String::new();
    std::io::BufReader::new(stdout).read_line(&mut line)?;
    let mut addrs = line.split_whitespace().filter_map(|w| w.split_once('='));
    let (Some(("echo", echo)), Some(("proxy", proxy))) = (addrs.next(), addrs.next()) else {
        let _ = child.kill();
        return Err(format!("the reference servers said {line:?}").into());
    };
    Ok((child, echo.parse()?, proxy.parse()?))
}

fn machine_name() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map(|kib| format!("{:.0} GiB", kib / 1024.0 / 1024.0))
        .unwrap_or_default();
    format!("{} cores, {cpu}, {memory}", measure::cores())
}

async fn bench(args: Args) -> Result<Report, Error> {
    let seconds = args.seconds.unwrap_or(if args.quick { 2.0 } else { 10.0 });
    let measure_for = Duration::from_secs_f64(seconds.max(0.1));
    let mut b = Bench {
        warm_up: Duration::from_secs_f64((seconds / 5.0).clamp(0.2, 1.0)),
        measure: measure_for,
        report: Report {
            date: String::new(),
            machine: machine_name(),
            cores: measure::cores(),
            backend: if args.database_url.is_some() {
                "PostgreSQL"
            } else {
                "SQLite"
            }
            .into(),
            seconds_per_scenario: seconds,
            ..Default::default()
        },
        only: args.only.clone(),
        skipped: false,
    };
    let postgres = args.database_url.is_some();
    let one = Shape::new(1, 1);
    let loaded = Shape::new(4, 16);
    let binary = dev::binary(args.partnerhub.clone())?;

    eprintln!("reference servers");
    // Started even when `--only` leaves their rows out: rows are compared with them.
    let (mut reference, echo, proxy) = start_reference()?;
    let reference_pid = Target {
        pid: reference.id(),
    };
    let any_id = uuid::Uuid::now_v7().to_string();
    for shape in [one, loaded] {
        b.scenario(
            "reference: echo (bare tonic, from memory)",
            echo,
            shape,
            reference_pid,
            get_tenant(&any_id, None),
        )
        .await?;
        b.scenario(
            "reference: one-hop proxy to the echo",
            proxy,
            shape,
            reference_pid,
            get_tenant(&any_id, None),
        )
        .await?;
    }
    drop(reference.stdin.take());
    let _ = reference.wait();

    eprintln!("partnerhub dev ({})", b.report.backend);
    let dev = Dev::start(&binary, args.database_url.as_deref())?;
    let system = Target { pid: dev.pid() };
    // A moment for the servers to settle after start.
    tokio::time::sleep(Duration::from_millis(500)).await;
    b.report.idle_rss_mib = measure::memory(system.pid).rss_mib;
    let result = measure_system(&mut b, &args, &dev, system, one, loaded, postgres).await;
    b.report.peak_rss_mib = measure::memory(system.pid).peak_mib;
    let log = dev.log_tail(20);
    dev.stop().await;
    if let Err(e) = result {
        return Err(format!("{e}\nthe last lines partnerhub dev logged:\n{log}").into());
    }
    let (idle, peak) = (b.report.idle_rss_mib, b.report.peak_rss_mib);
    b.report.targets.push(Held {
        target: format!("idle RSS {idle:.1} MiB ≤ 40 MiB"),
        met: idle <= 40.0,
    });
    b.report.targets.push(Held {
        target: format!("peak RSS (VmHWM) {peak:.1} MiB ≤ 250 MiB"),
        met: peak <= 250.0,
    });
    Ok(b.report)
}

async fn measure_system(
    b: &mut Bench,
    args: &Args,
    dev: &Dev,
    system: Target,
    one: Shape,
    loaded: Shape,
    postgres: bool,
) -> Result<(), Error> {
    eprintln!("fixtures through the public API");
    let fixtures = Arc::new(setup::make(dev).await?);
    let f = &fixtures;
    let (p50, p99) = if postgres { (1.0, 3.0) } else { (0.5, 1.5) };
    let reads = [
        (
            "gateway: GetTenant as the partner's admin",
            f.provider.id.clone(),
            f.provider_admin.clone(),
        ),
        (
            "gateway: GetTenant as the operator",
            f.provider.id.clone(),
            f.operator.clone(),
        ),
        (
            "gateway: GetTenant as a delegated admin agent",
            f.customer.id.clone(),
            f.agent.clone(),
        ),
    ];
    for (name, tenant, token) in &reads {
        b.scenario(
            name,
            dev.gateway,
            one,
            system,
            get_tenant(tenant, Some(token)),
        )
        .await?;
        b.compare("reference: one-hop proxy to the echo");
        b.hold(format!("p50 ≤ {p50} ms, p99 ≤ {p99} ms"), |r| {
            r.p50_ms <= p50 && r.p99_ms <= p99
        });
        b.scenario(
            name,
            dev.gateway,
            loaded,
            system,
            get_tenant(tenant, Some(token)),
        )
        .await?;
        b.compare("reference: one-hop proxy to the echo");
        b.hold("≥ 50 % of the proxy's req/s, p99 ≤ 10 ms".into(), |r| {
            r.of_reference.unwrap_or(0.0) >= 0.5 && r.p99_ms <= 10.0
        });
    }
    // A direct call proves itself as the gateway's do (a binary from before the internal key
    // ignores the header).
    let internal = dev.data_dir.join("internal-secret.key");
    let key = match internal.exists() {
        true => Some(InternalKey::new(SecretKey::from_file(
            "internal", &internal,
        )?)),
        false => None,
    };
    for shape in [one, loaded] {
        b.scenario(
            "tenants service: GetTenant directly",
            dev.services[0],
            shape,
            system,
            get_tenant_directly(&f.provider.id, key.clone()),
        )
        .await?;
        b.compare("reference: echo (bare tonic, from memory)");
    }

    let depth = usize::try_from(args.rows.saturating_sub(1000).max(0)).unwrap_or(0);
    let mut deep = String::new();
    if b.wants("gateway: ListUsers page of 50") {
        eprintln!("seeding {} users", args.rows);
        let url = dev.service_database("tenants");
        let took = dev::seed_users(&url, &f.lister.id, args.rows).await?;
        b.report.seeded_users = args.rows;
        b.report.seed_seconds = took.as_secs_f64();
        deep = setup::token_at_depth(dev, f, depth).await?;
    }
    for (name, token) in [
        (
            "gateway: ListUsers page of 50 at row 1".to_string(),
            String::new(),
        ),
        (
            format!("gateway: ListUsers page of 50 at row {depth}"),
            deep,
        ),
    ] {
        for shape in [one, loaded] {
            b.scenario(
                &name,
                dev.gateway,
                shape,
                system,
                list_users(&f.lister.id, &f.lister_admin, &token),
            )
            .await?;
            if shape.in_flight == 1 {
                b.hold("p99 ≤ 5 ms".into(), |r| r.p99_ms <= 5.0);
            }
        }
    }

    b.scenario(
        "gateway: SignIn (Argon2id)",
        dev.gateway,
        one,
        system,
        sign_in(&f.lister_admin_name),
    )
    .await?;
    b.scenario(
        "gateway: SignIn (Argon2id), a burst",
        dev.gateway,
        Shape::new(4, 8),
        system,
        sign_in(&f.lister_admin_name),
    )
    .await?;

    let run = uuid::Uuid::new_v4().simple().to_string()[..6].to_string();
    let (rate, p99) = if postgres {
        (300.0, 200.0)
    } else {
        (500.0, 200.0)
    };
    for (concurrency, shape) in [(1, one), (8, Shape::new(4, 2)), (32, Shape::new(4, 8))] {
        b.scenario(
            &format!("gateway: CreateCustomer, reseller, 2 items ({concurrency})"),
            dev.gateway,
            shape,
            system,
            create_customer(&fixtures, &run),
        )
        .await?;
        if concurrency == 32 {
            b.hold(format!("≥ {rate} per s, p99 ≤ {p99} ms"), |r| {
                r.per_second >= rate && r.p99_ms <= p99
            });
        }
    }
    Ok(())
}

fn print_table(r: &Report) {
    println!(
        "partnerhub-bench  {}  {}  {}  ({} s a scenario)",
        r.date, r.backend, r.machine, r.seconds_per_scenario
    );
    println!();
    println!(
        "| {:<48} | {:<6} | {:>9} | {:>8} | {:>8} | {:>6} | {:>8} | {:>6} | {:>6} | {:>6} | target",
        "scenario",
        "shape",
        "req/s",
        "p50 ms",
        "p99 ms",
        "vs ref",
        "CPU/call",
        "bench",
        "busy",
        "RSS",
    );
    println!("|{}|", ["-"; 11].map(|_| "---").join("|"));
    for row in &r.rows {
        println!(
            "| {:<48} | {:<6} | {:>9.1} | {:>8.3} | {:>8.3} | {:>6} | {:>5.2} ms | {:>5.0}% | {:>5.0}% | {:>6.1} | {}{}",
            row.scenario,
            row.shape,
            row.per_second,
            row.p50_ms,
            row.p99_ms,
            row.of_reference
                .map(|s| format!("{:.0}%", s * 100.0))
                .unwrap_or_default(),
            row.server_cpu_ms_per_call,
            row.bench_cpu_percent,
            row.machine_busy_percent,
            row.server_rss_mib,
            match (&row.target, row.met) {
                (Some(t), Some(true)) => format!("met: {t}"),
                (Some(t), _) => format!("NOT MET: {t}"),
                _ => String::new(),
            },
            if row.errors > 0 {
                format!(
                    " ({} errors: {})",
                    row.errors,
                    row.first_error.clone().unwrap_or_default()
                )
            } else {
                String::new()
            }
        );
    }
    println!();
    println!(
        "memory of partnerhub dev: idle {:.1} MiB, peak (VmHWM) {:.1} MiB; {} users seeded in {:.1} s; load average {:.2}",
        r.idle_rss_mib,
        r.peak_rss_mib,
        r.seeded_users,
        r.seed_seconds,
        measure::load_average()
    );
    let met = r.targets.iter().filter(|held| held.met).count();
    println!("targets met: {met} of {}", r.targets.len());
    for Held { target, met } in &r.targets {
        if !met {
            println!("  not met: {target}");
        }
    }
    println!(
        "CPU/call: the measured server process's CPU per call; bench: the load generator's CPU (100% = one core); busy: all cores."
    );
}

fn today() -> String {
    std::process::Command::new("date")
        .arg("-u")
        .arg("+%Y-%m-%d %H:%M UTC")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn main() -> std::process::ExitCode {
    // One worker per core, set here so that a TOKIO_WORKER_THREADS meant for the measured server
    // (the environment passes to `partnerhub dev`) doesn't change the load generator.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(measure::cores())
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("partnerhub-bench: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    if std::env::args().nth(1).as_deref() == Some("__reference") {
        return match runtime.block_on(reference::serve()) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("partnerhub-bench reference servers: {e}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    let args = Args::parse();
    if let Some(minutes) = args.soak {
        let soaked = match dev::binary(args.partnerhub.clone()) {
            Ok(binary) => runtime.block_on(soak::soak(
                &binary,
                args.database_url.as_deref(),
                minutes.max(1),
            )),
            Err(e) => Err(e),
        };
        return match soaked {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("partnerhub-bench: {e}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    let json = args.json;
    match runtime.block_on(bench(args)) {
        Ok(mut report) => {
            report.date = today();
            if json {
                match serde_json::to_string_pretty(&report) {
                    Ok(text) => println!("{text}"),
                    Err(e) => eprintln!("partnerhub-bench: {e}"),
                }
            } else {
                print_table(&report);
            }
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("partnerhub-bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
