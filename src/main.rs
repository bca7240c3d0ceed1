//! The `partnerhub` command.

use clap::{Args, Parser, Subcommand};
use partnerhub::system::{self, SERVICES, Settings, StartError, SystemConfig};
use partnerhub_gateway::Tokens;
use partnerhub_kit::server::{Limits, bind, shutdown_signal};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// partnerhub: the partner side of a cloud marketplace, as gRPC services.
///
/// Every flag can also be set by the environment variable named in its help.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    common: Common,
}

#[derive(Args, Clone)]
struct Common {
    /// Folder for the SQLite databases and the dev signing key.
    #[arg(
        long,
        global = true,
        env = "PARTNERHUB_DATA_DIR",
        default_value = "./data"
    )]
    data_dir: PathBuf,
    /// A postgres:// URL to use PostgreSQL instead of SQLite. Each service uses its own database
    /// on that server: the URL's database name plus "_<service>" (created if missing).
    #[arg(long, global = true, env = "PARTNERHUB_DATABASE_URL")]
    database_url: Option<String>,
    /// The gateway's Ed25519 signing key, PKCS#8 PEM [default: <data-dir>/signing-key.pem].
    #[arg(long, global = true, env = "PARTNERHUB_SIGNING_KEY")]
    signing_key: Option<PathBuf>,
    /// Seconds before a call that has not answered is cancelled.
    #[arg(
        long,
        global = true,
        env = "PARTNERHUB_REQUEST_TIMEOUT",
        default_value_t = 30
    )]
    request_timeout: u64,
    /// Calls one server handles at once; more wait.
    #[arg(
        long,
        global = true,
        env = "PARTNERHUB_MAX_CONCURRENT_REQUESTS",
        default_value_t = 512
    )]
    max_concurrent_requests: usize,
    /// Minutes an access token from SignIn lasts.
    #[arg(
        long,
        global = true,
        env = "PARTNERHUB_TOKEN_MINUTES",
        default_value_t = 60
    )]
    token_minutes: u64,
    /// Days an untouched invitation stays usable.
    #[arg(
        long,
        global = true,
        env = "PARTNERHUB_INVITATION_DAYS",
        default_value_t = 90
    )]
    invitation_days: u64,
    /// Base of invitation links for the worldwide cloud (the code is added as `?code=`).
    #[arg(long, global = true, env = "PARTNERHUB_INVITATION_LINK_WORLDWIDE")]
    invitation_link_worldwide: Option<String>,
    /// Base of invitation links for the Germany cloud.
    #[arg(long, global = true, env = "PARTNERHUB_INVITATION_LINK_GERMANY")]
    invitation_link_germany: Option<String>,
    /// Base of invitation links for the 21Vianet (China) cloud.
    #[arg(long, global = true, env = "PARTNERHUB_INVITATION_LINK_CHINA_21VIANET")]
    invitation_link_china_21vianet: Option<String>,
    /// Base of invitation links for the US government cloud.
    #[arg(long, global = true, env = "PARTNERHUB_INVITATION_LINK_US_GOVERNMENT")]
    invitation_link_us_government: Option<String>,
}

impl Common {
    fn signing_key(&self) -> PathBuf {
        self.signing_key
            .clone()
            .unwrap_or_else(|| self.data_dir.join("signing-key.pem"))
    }

    fn limits(&self) -> Limits {
        Limits {
            request_timeout: Duration::from_secs(self.request_timeout.max(1)),
            max_concurrent_requests: self.max_concurrent_requests.max(1),
        }
    }

    fn token_lifetime(&self) -> Duration {
        Duration::from_secs(self.token_minutes.max(1) * 60)
    }

    fn settings(&self) -> Settings {
        let mut links = partnerhub_invitations::Links::default();
        for (set, link) in [
            (&self.invitation_link_worldwide, &mut links.worldwide),
            (&self.invitation_link_germany, &mut links.germany),
            (
                &self.invitation_link_china_21vianet,
                &mut links.china_21vianet,
            ),
            (
                &self.invitation_link_us_government,
                &mut links.us_government,
            ),
        ] {
            if let Some(value) = set {
                *link = value.clone();
            }
        }
        Settings {
            clock: Default::default(),
            links,
            invitation_ttl: Some(Duration::from_secs(self.invitation_days.max(1) * 86_400)),
            shutdown: CancellationToken::new(),
        }
    }

    fn database_url(&self, service: &str) -> String {
        system::database_url(self.database_url.as_deref(), &self.data_dir, service)
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole system on this machine: the four services and the gateway, each its own
    /// gRPC server on loopback, with SQLite under the data folder (or PostgreSQL).
    Dev {
        /// Where the gateway listens.
        #[arg(long, env = "PARTNERHUB_GATEWAY_ADDR", default_value = system::DEFAULT_GATEWAY)]
        gateway_addr: SocketAddr,
        /// Port of the first service; the others take the next three.
        #[arg(long, env = "PARTNERHUB_FIRST_SERVICE_PORT", default_value_t = system::DEFAULT_SERVICE_PORTS[0])]
        first_service_port: u16,
    },
    /// Run one server: tenants, subscriptions, relationships, invitations or gateway.
    Serve(Serve),
    /// Print an access token. Signed with the signing key, so only for who holds it.
    Token {
        /// A platform operator token.
        #[arg(long, required = true)]
        operator: bool,
        /// Minutes the token lasts.
        #[arg(long, default_value_t = 60)]
        minutes: u64,
    },
    /// Create the databases if missing and apply every migration, then exit.
    Migrate {
        /// Only these databases: tenants, subscriptions, relationships, invitations, gateway (the
        /// audit trail) [default: all five].
        services: Vec<String>,
    },
}

#[derive(Args)]
struct Serve {
    /// tenants, subscriptions, relationships, invitations or gateway.
    server: String,
    /// Address to listen on [default: 127.0.0.1:50051 for the gateway, 50052..50055 for the
    /// services in the order above].
    #[arg(long, env = "PARTNERHUB_LISTEN")]
    listen: Option<SocketAddr>,
    /// The tenants service (for the gateway, relationships and invitations).
    #[arg(
        long,
        env = "PARTNERHUB_TENANTS_URL",
        default_value = "http://127.0.0.1:50052"
    )]
    tenants_url: String,
    /// The subscriptions service (for the gateway and invitations).
    #[arg(
        long,
        env = "PARTNERHUB_SUBSCRIPTIONS_URL",
        default_value = "http://127.0.0.1:50053"
    )]
    subscriptions_url: String,
    /// The relationships service (for the gateway and subscriptions).
    #[arg(
        long,
        env = "PARTNERHUB_RELATIONSHIPS_URL",
        default_value = "http://127.0.0.1:50054"
    )]
    relationships_url: String,
    /// Gateway only: the invitations service.
    #[arg(
        long,
        env = "PARTNERHUB_INVITATIONS_URL",
        default_value = "http://127.0.0.1:50055"
    )]
    invitations_url: String,
}

#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error(transparent)]
    Start(#[from] StartError),
    #[error(transparent)]
    Serve(#[from] partnerhub_kit::server::ServeError),
    #[error(transparent)]
    Key(#[from] partnerhub_gateway::token::KeyError),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("partnerhub: can't start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("partnerhub: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("PARTNERHUB_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::env::var("PARTNERHUB_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let common = cli.common;
    match cli.command {
        Command::Dev {
            gateway_addr,
            first_service_port,
        } => {
            let ip = gateway_addr.ip();
            let services = std::array::from_fn(|i| {
                SocketAddr::new(ip, first_service_port.saturating_add(i as u16))
            });
            let running = system::start(SystemConfig {
                data_dir: common.data_dir.clone(),
                database_url: common.database_url.clone(),
                gateway: gateway_addr,
                services,
                signing_key: common.signing_key(),
                token_lifetime: common.token_lifetime(),
                limits: common.limits(),
                settings: common.settings(),
            })
            .await?;
            let storage = match &common.database_url {
                Some(url) => format!("PostgreSQL {}", partnerhub_kit::store::redact(url)),
                None => format!("SQLite files in {}", common.data_dir.display()),
            };
            println!("partnerhub dev: storage: {storage}");
            for (name, addr) in SERVICES.iter().zip(running.services) {
                println!("  {name:<14} {addr}");
            }
            println!(
                "  {:<14} {}   <- the public endpoint",
                "gateway", running.gateway
            );
            println!("operator token: partnerhub token --operator (Ctrl-C stops everything)");
            running.run_until(shutdown_signal()).await?;
            Ok(())
        }
        Command::Serve(serve) => serve_one(&common, serve).await,
        Command::Token {
            operator: _,
            minutes,
        } => {
            let tokens = Tokens::from_pem_file(&common.signing_key(), common.token_lifetime())?;
            let (token, _) = tokens.issue_operator(Duration::from_secs(minutes.max(1) * 60));
            println!("{token}");
            Ok(())
        }
        Command::Migrate { services } => {
            let names: Vec<&'static str> = if services.is_empty() {
                SERVICES.iter().copied().chain(["gateway"]).collect()
            } else {
                services
                    .iter()
                    .map(|s| {
                        if s == "gateway" {
                            Ok("gateway")
                        } else {
                            system::service_name(s)
                        }
                    })
                    .collect::<Result<_, _>>()?
            };
            for name in names {
                let url = common.database_url(name);
                system::open_database(name, &url).await?;
                println!("{name}: migrated ({})", partnerhub_kit::store::redact(&url));
            }
            Ok(())
        }
    }
}

async fn serve_one(common: &Common, serve: Serve) -> Result<(), Failure> {
    let stop = CancellationToken::new();
    let signal = stop.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        signal.cancel();
    });
    if serve.server == "gateway" {
        let tokens = Tokens::from_pem_file(&common.signing_key(), common.token_lifetime())?;
        let backends = system::backends([
            &serve.tenants_url,
            &serve.subscriptions_url,
            &serve.relationships_url,
            &serve.invitations_url,
        ])?;
        let addr = serve.listen.unwrap_or_else(|| {
            system::DEFAULT_GATEWAY
                .parse()
                .unwrap_or(([127, 0, 0, 1], 50051).into())
        });
        let db = system::open_database("gateway", &common.database_url("gateway")).await?;
        let listener = bind(addr).await?;
        println!(
            "gateway listening on {}",
            listener.local_addr().unwrap_or(addr)
        );
        partnerhub_gateway::serve(
            listener,
            tokens,
            backends,
            db,
            common.limits(),
            stop.cancelled_owned(),
        )
        .await?;
        return Ok(());
    }
    let service = system::service_name(&serve.server)?;
    let index = SERVICES.iter().position(|s| *s == service).unwrap_or(0);
    let addr = serve
        .listen
        .unwrap_or_else(|| ([127, 0, 0, 1], system::DEFAULT_SERVICE_PORTS[index]).into());
    let db = system::open_database(service, &common.database_url(service)).await?;
    let listener = bind(addr).await?;
    println!(
        "{service} listening on {}",
        listener.local_addr().unwrap_or(addr)
    );
    let peers = system::Peers {
        tenants: system::channel(&serve.tenants_url)?,
        relationships: system::channel(&serve.relationships_url)?,
        subscriptions: system::channel(&serve.subscriptions_url)?,
    };
    let settings = Settings {
        shutdown: stop.clone(),
        ..common.settings()
    };
    system::service_server(service, db, &peers, &settings)
        .run(listener, common.limits(), stop.cancelled_owned())
        .await?;
    Ok(())
}
