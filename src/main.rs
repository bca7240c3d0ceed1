//! The `partnerhub` command.

mod config;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use partnerhub::system::{
    self, Configuration, GatewaySection, SecretKeyFiles, Section, Server, Service, Settings,
    StartError, Storage, TlsSettings,
};
use partnerhub_gateway::Tokens;
use partnerhub_kit::server::{Limits, ServeError, shutdown_signal};
use partnerhub_kit::telemetry::{self, TracingError};
use partnerhub_kit::tls::ServerTlsFiles;
use serde::{Deserialize, Deserializer, Serialize};
use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The top-level `--help`, after the flags.
const AFTER_LONG_HELP: &str = "\
Quick start:
  partnerhub dev                  # everything on 127.0.0.1, SQLite files in ./data
  grpcurl -plaintext 127.0.0.1:50051 list
  partnerhub token --operator     # a platform operator token, for `authorization: Bearer ...`

Settings: each flag can also be set by the environment variable shown in its help, or in a
config file (--config FILE or PARTNERHUB_CONFIG=FILE). A command-line flag wins over the
environment variable, which wins over the config file, which wins over the default.

The config file is one flat TOML table whose keys are the long flag names (those with an
environment variable); settings of other subcommands are ignored, unknown keys are an error:
  data-dir = \"/var/lib/partnerhub\"
  database-url = \"postgres://partnerhub@db.internal/partnerhub\"
  request-timeout = 30
  log-format = \"json\"
  gateway-addr = \"0.0.0.0:50051\"      # dev
  listen = \"0.0.0.0:50051\"            # serve

Logs go to standard error: --log sets the filter (PARTNERHUB_LOG, e.g. \"info,sqlx=warn\"),
--log-format json (PARTNERHUB_LOG_FORMAT) writes one JSON object a line.

Startup errors are one line on standard error, and the exit code is 1 (2 for a usage error).";

/// partnerhub: the partner side of a cloud marketplace, as gRPC services.
///
/// Partners (resellers, advisors) manage their customers' tenants, subscriptions, the
/// relationships between them and the invitations that create those relationships. Four
/// services (tenants, subscriptions, relationships, invitations), each with its own database,
/// behind one authenticating gateway, the public gRPC endpoint. `partnerhub dev` runs it all in
/// one process; `partnerhub serve` runs one server at a time for a deployment.
#[derive(Parser)]
#[command(
    version,
    about,
    after_help = "Quick start: `partnerhub dev`. See --help for the config file and logs.",
    after_long_help = AFTER_LONG_HELP
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// A TOML file of settings: keys are the long flag names, e.g. `data-dir = "/srv/ph"`. Flags
    /// and environment variables win over it.
    #[arg(long, global = true, env = "PARTNERHUB_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(flatten)]
    common: Common,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object a line.
    Json,
}

/// A tracing filter such as `info` or `info,sqlx=warn,partnerhub_gateway=debug`. A directive
/// without `=` must be a level: `inof` would otherwise quietly mean "only the target inof".
fn log_filter(value: &str) -> Result<String, String> {
    const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];
    for directive in value.split(',').map(str::trim) {
        if !directive.is_empty()
            && !directive.contains(['=', '[', '{'])
            && !LEVELS.contains(&directive.to_ascii_lowercase().as_str())
        {
            return Err(format!(
                "{directive:?} is no level: use one of {} or target=level",
                LEVELS.join(", ")
            ));
        }
    }
    tracing_subscriber::EnvFilter::try_new(value)
        .map(|_| value.to_string())
        .map_err(|e| config::one_line(&e.to_string()))
}

/// `log` from the config file, checked as on the command line.
fn log_setting<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    log_filter(&String::deserialize(d)?).map_err(serde::de::Error::custom)
}

/// Seconds `--request-timeout` may be.
const REQUEST_TIMEOUT_SECONDS: RangeInclusive<u64> = 1..=86_400;

/// `request-timeout` from the config file, checked as on the command line.
fn request_timeout_setting<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let seconds = u64::deserialize(d)?;
    if REQUEST_TIMEOUT_SECONDS.contains(&seconds) {
        Ok(seconds)
    } else {
        Err(serde::de::Error::custom(format!(
            "{seconds} is not in {}..={}",
            REQUEST_TIMEOUT_SECONDS.start(),
            REQUEST_TIMEOUT_SECONDS.end()
        )))
    }
}

/// The settings every subcommand has; the config file's keys are their long names.
#[derive(Args, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Common {
    /// Folder of the SQLite databases (one file per service) and the dev signing key.
    #[arg(
        long,
        global = true,
        env = "PARTNERHUB_DATA_DIR",
        default_value = "./data"
    )]
    data_dir: PathBuf,
    /// A postgres:// URL: PostgreSQL instead of SQLite [default: SQLite files in --data-dir].
    ///
    /// Each service uses its own database on that server: the URL's database name plus
    /// "_<service>", e.g. partnerhub_tenants (created if missing). Messages never show its
    /// password.
    #[arg(long, global = true, env = "PARTNERHUB_DATABASE_URL")]
    database_url: Option<String>,
    /// The gateway's Ed25519 signing key, PKCS#8 PEM [default: <data-dir>/signing-key.pem].
    ///
    /// `dev` creates it if missing; `serve gateway` and `token` only read it (make one with
    /// `openssl genpkey -algorithm ed25519 -out signing-key.pem`). Whoever can read it can
    /// issue any token, an operator's too: keep it private to the gateway's host.
    #[arg(long, global = true, env = "PARTNERHUB_SIGNING_KEY")]
    signing_key: Option<PathBuf>,
    /// Ed25519 keys whose tokens the gateway still accepts but no longer signs with, comma
    /// separated (a TOML array in the config file): public keys (`openssl pkey -pubout`) or
    /// private keys, PEM.
    ///
    /// For rotating the signing key without signing anyone out: the next key is added here
    /// on every gateway before it signs, the old one stays here until its last token has
    /// expired (see the README's production section). Every key is published at
    /// /.well-known/jwks.json and by AuthService.ListPublicKeys.
    #[arg(
        long,
        global = true,
        env = "PARTNERHUB_VERIFICATION_KEYS",
        value_delimiter = ',',
        value_name = "FILES"
    )]
    #[serde(default)]
    verification_keys: Vec<PathBuf>,
    /// The tenants service's secret key: a file of at least 32 bytes [default:
    /// <data-dir>/tenants-secret.key].
    ///
    /// Temporary passwords of created users are derived from it, so that a retried create
    /// answers the same one; only their hashes are stored. `dev` creates it if missing; `serve
    /// tenants` only reads it (make one with `openssl rand -hex 32 > tenants-secret.key`). Keep
    /// it private to the tenants service, and apart from the invitations key.
    #[arg(long, global = true, env = "PARTNERHUB_TENANTS_SECRET_KEY")]
    tenants_secret_key: Option<PathBuf>,
    /// The invitations service's secret key: a file of at least 32 bytes [default:
    /// <data-dir>/invitations-secret.key].
    ///
    /// Invitation codes are derived from it, so that a retried create answers the same link;
    /// only their hashes are stored. `dev` creates it if missing; `serve invitations` only
    /// reads it (make one with `openssl rand -hex 32 > invitations-secret.key`).
    #[arg(long, global = true, env = "PARTNERHUB_INVITATIONS_SECRET_KEY")]
    invitations_secret_key: Option<PathBuf>,
    /// The internal key every server holds: a file of at least 32 bytes [default:
    /// <data-dir>/internal-secret.key].
    ///
    /// The gateway and the services prove each call to a service with a short-lived assertion
    /// made with it; a service refuses calls without one (UNAUTHENTICATED,
    /// INTERNAL_CALL_UNPROVEN). `dev` creates it if missing; `serve` only reads it (make one with
    /// `openssl rand -hex 32 > internal-secret.key`; the same file for every server).
    /// `internal-credential` reads it to make an assertion for a call by hand.
    #[arg(long, global = true, env = "PARTNERHUB_INTERNAL_SECRET_KEY")]
    internal_secret_key: Option<PathBuf>,
    /// Serve TLS with this certificate chain (PEM) [default: plaintext]; needs --tls-key.
    ///
    /// The file and the key are checked every 10 seconds: when they change, new connections
    /// get the new certificate (a pair that doesn't load is logged; the last good one stays).
    /// `dev` serves every server with it.
    #[arg(long, global = true, env = "PARTNERHUB_TLS_CERT", value_name = "PEM")]
    tls_cert: Option<PathBuf>,
    /// The private key (PEM, PKCS#8, PKCS#1 or SEC1) of --tls-cert.
    #[arg(long, global = true, env = "PARTNERHUB_TLS_KEY", value_name = "PEM")]
    tls_key: Option<PathBuf>,
    /// Call the services over TLS, verifying them with this CA certificate (PEM) [default:
    /// plaintext]. Their URLs (--tenants-url, ...) are then https://.
    #[arg(long, global = true, env = "PARTNERHUB_TLS_CA", value_name = "PEM")]
    tls_ca: Option<PathBuf>,
    /// The name the services' certificates must hold [default: the host of each service URL].
    #[arg(long, global = true, env = "PARTNERHUB_TLS_SERVER_NAME")]
    tls_server_name: Option<String>,
    /// Seconds (1 to 86400) before a call that has not answered ends with DEADLINE_EXCEEDED (a
    /// stream's answer is its start).
    #[arg(
        long,
        global = true,
        env = "PARTNERHUB_REQUEST_TIMEOUT",
        default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(REQUEST_TIMEOUT_SECONDS)
    )]
    #[serde(deserialize_with = "request_timeout_setting")]
    request_timeout: u64,
    /// Calls one server handles at once; further calls wait.
    #[arg(
        long,
        global = true,
        env = "PARTNERHUB_MAX_CONCURRENT_REQUESTS",
        default_value_t = 512
    )]
    max_concurrent_requests: usize,
    /// The most connections a server's PostgreSQL pool holds (each server has its own pool; a
    /// SQLite database always has one connection).
    #[arg(
        long,
        global = true,
        env = "PARTNERHUB_DATABASE_POOL_SIZE",
        default_value_t = partnerhub_kit::store::DEFAULT_POOL_SIZE,
        value_parser = clap::value_parser!(u32).range(1..=10_000)
    )]
    database_pool_size: u32,
    /// Seconds between two readiness checks of a server: a service checks its database
    /// (SELECT 1), the gateway the services behind it (their health). Each check may take 2 s.
    #[arg(
        long,
        global = true,
        env = "PARTNERHUB_READINESS_INTERVAL",
        default_value_t = 5,
        value_parser = clap::value_parser!(u64).range(1..=3600)
    )]
    readiness_interval: u64,
    /// Sign-ins a minute from one client address before SignIn answers RESOURCE_EXHAUSTED
    /// (the gateway's setting; half of them may come at once).
    #[arg(
        long,
        global = true,
        env = "PARTNERHUB_SIGN_INS_PER_ADDRESS",
        default_value_t = 60,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    sign_ins_per_address: u32,
    /// Sign-ins a minute for one user name, all of which may come at once (the gateway's
    /// setting).
    #[arg(
        long,
        global = true,
        env = "PARTNERHUB_SIGN_INS_PER_USER",
        default_value_t = 10,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    sign_ins_per_user: u32,
    /// Partners' staff (a partner's users holding any role) must enroll a second factor
    /// (TOTP) before anything else, and sign in with it (the gateway's setting).
    #[arg(long, global = true, env = "PARTNERHUB_REQUIRE_SECOND_FACTOR")]
    require_second_factor: bool,
    /// Minutes an access token from SignIn lasts (the gateway's setting).
    #[arg(
        long,
        global = true,
        env = "PARTNERHUB_TOKEN_MINUTES",
        default_value_t = 60
    )]
    token_minutes: u64,
    /// Seconds an unfinished workflow (CreateCustomer, AcceptInvitation) waits after its call
    /// stopped before a gateway takes it up again, and the first wait between attempts (it
    /// doubles, at most 15 minutes). Keep it above --request-timeout, so that no gateway
    /// resumes a workflow still running for its caller (the gateway's setting).
    #[arg(
        long,
        global = true,
        env = "PARTNERHUB_WORKFLOW_RESUME_SECONDS",
        default_value_t = 60,
        value_parser = clap::value_parser!(u64).range(1..=86_400)
    )]
    workflow_resume_seconds: u64,
    /// Hours after its submission that a workflow still unfinished is given up: it fails and
    /// what it made is undone (a pending customer released) (the gateway's setting).
    #[arg(
        long,
        global = true,
        env = "PARTNERHUB_WORKFLOW_GIVE_UP_HOURS",
        default_value_t = 24,
        value_parser = clap::value_parser!(u64).range(1..=8_760)
    )]
    workflow_give_up_hours: u64,
    /// Days an untouched invitation stays usable (the invitations service's setting).
    #[arg(
        long,
        global = true,
        env = "PARTNERHUB_INVITATION_DAYS",
        default_value_t = 90
    )]
    invitation_days: u64,
    /// Contact requests (`ContactPartners`) one customer may send a day.
    #[arg(
        long,
        global = true,
        env = "PARTNERHUB_CONTACT_REQUESTS_PER_DAY",
        default_value_t = 5
    )]
    contact_requests_per_day: u32,
    /// Partners one customer may contact a day, all its contact requests together.
    #[arg(
        long,
        global = true,
        env = "PARTNERHUB_CONTACT_PARTNERS_PER_DAY",
        default_value_t = 10
    )]
    contact_partners_per_day: u32,
    /// Hours after a subscription's term starts that its licences may still be removed
    /// (Partner Center's cancellation window; the subscriptions service's setting).
    #[arg(
        long,
        global = true,
        env = "PARTNERHUB_CANCELLATION_WINDOW_HOURS",
        default_value_t = 168,
        value_parser = clap::value_parser!(u64).range(0..=8_760)
    )]
    cancellation_window_hours: u64,
    /// Base of invitation links for the worldwide cloud; the code is added as `?code=`
    /// [default: the invitations service's built-in link].
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
    /// Send traces over OTLP/gRPC to this collector (e.g. http://127.0.0.1:4317); none if unset.
    #[arg(long, global = true, env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    otlp_endpoint: Option<String>,
    /// Which log lines to write, as a tracing filter, e.g. "info,sqlx=warn" or "debug".
    #[arg(
        long,
        global = true,
        env = "PARTNERHUB_LOG",
        default_value = "info",
        value_name = "FILTER",
        value_parser = log_filter
    )]
    #[serde(deserialize_with = "log_setting")]
    log: String,
    /// How log lines (on standard error) are written.
    #[arg(
        long,
        global = true,
        env = "PARTNERHUB_LOG_FORMAT",
        value_enum,
        default_value_t = LogFormat::Text
    )]
    log_format: LogFormat,
}

impl Common {
    fn signing_key(&self) -> PathBuf {
        self.signing_key
            .clone()
            .unwrap_or_else(|| self.data_dir.join("signing-key.pem"))
    }

    /// The services' key files; `create`: make missing ones (`dev`).
    fn secret_keys(&self, create: bool) -> SecretKeyFiles {
        let mut files = SecretKeyFiles::in_dir(&self.data_dir, create);
        if let Some(path) = &self.tenants_secret_key {
            files.tenants = path.clone();
        }
        if let Some(path) = &self.invitations_secret_key {
            files.invitations = path.clone();
        }
        if let Some(path) = &self.internal_secret_key {
            files.internal = path.clone();
        }
        files
    }

    fn limits(&self) -> Limits {
        Limits {
            request_timeout: Duration::from_secs(self.request_timeout.max(1)),
            max_concurrent_requests: self.max_concurrent_requests.max(1),
            probing: partnerhub_kit::health::Probing {
                interval: Duration::from_secs(self.readiness_interval.max(1)),
                timeout: Duration::from_secs(2),
            },
        }
    }

    /// `--sign-ins-per-address` and `--sign-ins-per-user` as token buckets: N a minute is one
    /// each 60/N seconds, from a bucket of N/2 (an address) or N (a user name).
    fn sign_in_limits(&self) -> partnerhub_gateway::SignInLimits {
        let rate = |per_minute: u32, burst: u32| partnerhub_gateway::sign_in_limit::Rate {
            burst: burst.max(1),
            every: Duration::from_secs(60) / per_minute.max(1),
        };
        partnerhub_gateway::SignInLimits {
            per_address: rate(self.sign_ins_per_address, self.sign_ins_per_address / 2),
            per_user: rate(self.sign_ins_per_user, self.sign_ins_per_user),
        }
    }

    /// `--workflow-resume-seconds` and `--workflow-give-up-hours`; an attempt may last as long
    /// as a call (`--request-timeout`).
    fn resumption(&self) -> partnerhub_gateway::Resumption {
        partnerhub_gateway::Resumption {
            after: Duration::from_secs(self.workflow_resume_seconds.max(1)),
            lease: self.limits().request_timeout,
            give_up_after: Duration::from_secs(self.workflow_give_up_hours.max(1) * 3600),
            ..Default::default()
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
            contact_limit: Some(partnerhub_tenants::domain::ContactLimit {
                requests: self.contact_requests_per_day.max(1),
                partners: self.contact_partners_per_day.max(1),
            }),
            cancellation_window: Some(Duration::from_secs(self.cancellation_window_hours * 3600)),
            shutdown: CancellationToken::new(),
        }
    }

    fn storage(&self) -> Storage {
        Storage {
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
            pool_size: self.database_pool_size.max(1),
        }
    }

    /// The servers' configuration: these settings, and each server's section from `section`.
    /// `create_keys`: make the signing key and the services' secret keys if missing (`dev`).
    fn configuration(
        &self,
        create_keys: bool,
        section: impl Fn(Server) -> Section,
    ) -> Configuration {
        Configuration {
            storage: self.storage(),
            limits: self.limits(),
            gateway: GatewaySection {
                server: section(Server::Gateway),
                signing_key: self.signing_key(),
                verification_keys: self.verification_keys.clone(),
                create_signing_key: create_keys,
                token_lifetime: self.token_lifetime(),
                options: partnerhub_gateway::Options {
                    sign_in: self.sign_in_limits(),
                    require_second_factor: self.require_second_factor,
                    workflows: self.resumption(),
                    ..Default::default()
                },
            },
            tenants: section(Service::Tenants.into()),
            subscriptions: section(Service::Subscriptions.into()),
            relationships: section(Service::Relationships.into()),
            invitations: section(Service::Invitations.into()),
            secret_keys: self.secret_keys(create_keys),
            settings: self.settings(),
            tls: TlsSettings {
                server: match (&self.tls_cert, &self.tls_key) {
                    (Some(cert), Some(key)) => Some(ServerTlsFiles {
                        cert: cert.clone(),
                        key: key.clone(),
                    }),
                    _ => None,
                },
                ca: self.tls_ca.clone(),
                server_name: self.tls_server_name.clone(),
                ..TlsSettings::default()
            },
        }
    }

    /// A certificate without its key, or the other way round, is a mistake to stop at.
    fn check_tls(&self) -> Result<(), Failure> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(_), None) => Err(Failure::Setting(
                "--tls-cert needs --tls-key (PARTNERHUB_TLS_KEY), the certificate's private key"
                    .into(),
            )),
            (None, Some(_)) => Err(Failure::Setting(
                "--tls-key needs --tls-cert (PARTNERHUB_TLS_CERT), the certificate it belongs to"
                    .into(),
            )),
            _ => Ok(()),
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole system on this machine: the four services and the gateway.
    ///
    /// Each is its own gRPC server on the gateway's IP (loopback by default), with SQLite files
    /// under --data-dir (or PostgreSQL with --database-url). Creates the signing key and the
    /// services' secret keys if missing.
    /// Runs until Ctrl-C; the gateway (127.0.0.1:50051) is the public endpoint.
    #[command(after_help = "\
Examples:
  partnerhub dev
  partnerhub dev --data-dir /tmp/ph --gateway-addr 127.0.0.1:6000 --first-service-port 6001
  PARTNERHUB_DATABASE_URL=postgres://postgres@127.0.0.1/partnerhub partnerhub dev
  grpcurl -plaintext 127.0.0.1:50051 list")]
    Dev(Dev),
    /// Run one server: tenants, subscriptions, relationships, invitations or gateway.
    ///
    /// For a deployment: one process per server, each with its own database (migrated at start).
    /// The gateway authenticates callers with the signing key and calls the four services at
    /// the --*-url addresses; the services call each other there too.
    #[command(after_help = "\
Examples:
  partnerhub serve tenants --listen 0.0.0.0:50052 --database-url postgres://ph@db/partnerhub
  partnerhub serve gateway --listen 0.0.0.0:50051 --signing-key /etc/partnerhub/signing-key.pem \\
      --tenants-url http://tenants:50052 --subscriptions-url http://subscriptions:50053 \\
      --relationships-url http://relationships:50054 --invitations-url http://invitations:50055")]
    Serve(Serve),
    /// Print a platform operator access token, signed with the signing key.
    ///
    /// Reads the key at --signing-key (default <data-dir>/signing-key.pem, which `partnerhub dev`
    /// creates); it never creates one. Anyone who can read that key can mint such tokens, so
    /// an operator token comes from whoever holds the key: run this where the gateway's key is.
    #[command(after_help = "\
Examples:
  partnerhub token --operator
  partnerhub token --operator --minutes 10 --signing-key /etc/partnerhub/signing-key.pem
  grpcurl -plaintext -H \"authorization: Bearer $(partnerhub token --operator)\" \\
      127.0.0.1:50051 list")]
    Token {
        /// A platform operator token (the only kind this prints; required).
        #[arg(long, required = true)]
        operator: bool,
        /// Minutes the token lasts (command line only).
        #[arg(long, default_value_t = 60)]
        minutes: u64,
    },
    /// Print an assertion for one call straight to a service, signed with the internal key.
    ///
    /// Services answer only calls that prove they come from the gateway or another service: an
    /// `x-partnerhub-assertion` header made with the internal key (--internal-secret-key,
    /// default <data-dir>/internal-secret.key, which `partnerhub dev` creates) for that method
    /// and the caller headers sent with it. This prints the header's value, good for --seconds.
    /// Whoever can read the key can make these: run it where the key is.
    #[command(after_help = "\
Examples:
  grpcurl -plaintext -H \"x-partnerhub-assertion: $(partnerhub internal-credential \\
      --method partnerhub.tenants.v1.TenantInternalService/ActivateTenant)\" \\
      -d '{\"tenant_id\": \"...\"}' 127.0.0.1:50052 partnerhub.tenants.v1.TenantInternalService/ActivateTenant
  partnerhub internal-credential --method /partnerhub.tenants.v1.TenantService/ListUsers \\
      --user-id 0190... --tenant-id 0190... --roles ROLE_GLOBAL_ADMIN")]
    InternalCredential(Credential),
    /// Create the databases if missing and apply every migration, then exit.
    ///
    /// `dev` and `serve` migrate at start too; this is for doing it ahead of a deployment.
    #[command(after_help = "\
Examples:
  partnerhub migrate --data-dir /var/lib/partnerhub
  partnerhub migrate tenants gateway --database-url postgres://ph@db/partnerhub")]
    Migrate {
        /// Only these databases (gateway: the audit trail) [default: all five].
        #[arg(value_name = "SERVICES")]
        servers: Vec<Server>,
    },
}

/// `partnerhub internal-credential`'s own settings (command line only).
#[derive(Args)]
struct Credential {
    /// The method the call is for: `package.Service/Method` (as grpcurl names it) or its path
    /// `/package.Service/Method`.
    #[arg(long, value_parser = method_path)]
    method: String,
    /// The `x-partnerhub-user-id` header the call will carry, if any.
    #[arg(long)]
    user_id: Option<String>,
    /// The `x-partnerhub-tenant-id` header the call will carry, if any.
    #[arg(long)]
    tenant_id: Option<String>,
    /// The `x-partnerhub-roles` header the call will carry (comma-separated role names), if
    /// any. Without it the service takes the call as one from another service.
    #[arg(long)]
    roles: Option<String>,
    /// Seconds the assertion is good for (1 to 600).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=600))]
    seconds: u64,
}

/// A method's path, `/package.Service/Method`, from either of the ways it is written.
fn method_path(value: &str) -> Result<String, String> {
    let path = match value.strip_prefix('/') {
        Some(_) => value.to_string(),
        None => format!("/{value}"),
    };
    let valid = path[1..].split_once('/').is_some_and(|(service, method)| {
        service.contains('.')
            && !method.is_empty()
            && !method.contains('/')
            && path[1..]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._/".contains(&b))
    });
    match valid {
        true => Ok(path),
        false => Err(format!(
            "{value:?} is no method: write package.Service/Method, e.g. \
             partnerhub.tenants.v1.TenantInternalService/ActivateTenant"
        )),
    }
}

impl Credential {
    /// The assertion's value, made with `key`.
    fn assertion(
        &self,
        key: &partnerhub_kit::internal_call::InternalKey,
    ) -> Result<String, Failure> {
        use partnerhub_kit::caller;
        let mut headers = http::HeaderMap::new();
        for (flag, name, value) in [
            ("user-id", caller::USER_ID, &self.user_id),
            ("tenant-id", caller::TENANT_ID, &self.tenant_id),
            ("roles", caller::ROLES, &self.roles),
        ] {
            if let Some(value) = value {
                let value = http::HeaderValue::from_str(value)
                    .map_err(|_| Failure::Setting(format!("--{flag} is no header value")))?;
                headers.insert(name, value);
            }
        }
        let expiry = partnerhub_kit::internal_call::unix_now() + self.seconds;
        Ok(key.assertion(&self.method, &headers, expiry))
    }
}

/// `partnerhub dev`'s own settings.
#[derive(Args, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Dev {
    /// Where the gateway listens; the services listen on the same IP.
    #[arg(long, env = "PARTNERHUB_GATEWAY_ADDR", default_value_t = Server::Gateway.default_listen())]
    gateway_addr: SocketAddr,
    /// Port of the first service (tenants); subscriptions, relationships and invitations
    /// take the next three.
    #[arg(long, env = "PARTNERHUB_FIRST_SERVICE_PORT", default_value_t = Server::from(Service::Tenants).default_listen().port())]
    first_service_port: u16,
    /// Port of the gateway's Prometheus metrics (http://<ip>:<port>/metrics); the services'
    /// take the next four, in the order tenants, subscriptions, relationships, invitations.
    #[arg(long, env = "PARTNERHUB_FIRST_METRICS_PORT", default_value_t = Server::Gateway.default_metrics().port())]
    first_metrics_port: u16,
}

impl Dev {
    /// Where `server` listens and serves metrics: all on the gateway's IP, the ports in a row.
    fn section(&self, server: Server) -> Section {
        let ip = self.gateway_addr.ip();
        let listen = match server {
            Server::Gateway => self.gateway_addr,
            Server::Service(_) => {
                let port = self.first_service_port.saturating_add(server.place() - 1);
                SocketAddr::new(ip, port)
            }
        };
        let metrics = self.first_metrics_port.saturating_add(server.place());
        Section {
            listen,
            metrics: Some(SocketAddr::new(ip, metrics)),
            url: None,
        }
    }
}

#[derive(Args)]
struct Serve {
    /// Which server.
    server: Server,
    #[command(flatten)]
    settings: ServeSettings,
}

/// `partnerhub serve`'s own settings.
#[derive(Args, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct ServeSettings {
    /// Address of the gRPC server [default: 127.0.0.1:50051 for the gateway, :50052..:50055 for
    /// tenants, subscriptions, relationships, invitations].
    #[arg(long, env = "PARTNERHUB_LISTEN")]
    listen: Option<SocketAddr>,
    /// Address of the HTTP server for Prometheus metrics at /metrics [default: 127.0.0.1:9464
    /// for the gateway, 9465..9468 for the services in the order above].
    #[arg(long, env = "PARTNERHUB_METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,
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
    /// The invitations service (for the gateway).
    #[arg(
        long,
        env = "PARTNERHUB_INVITATIONS_URL",
        default_value = "http://127.0.0.1:50055"
    )]
    invitations_url: String,
}

impl Serve {
    /// The served server listens where told (or at its default addresses); the others are
    /// called at their URLs.
    fn section(&self, server: Server) -> Section {
        let settings = &self.settings;
        let url = match server {
            Server::Gateway => None,
            Server::Service(Service::Tenants) => Some(&settings.tenants_url),
            Server::Service(Service::Subscriptions) => Some(&settings.subscriptions_url),
            Server::Service(Service::Relationships) => Some(&settings.relationships_url),
            Server::Service(Service::Invitations) => Some(&settings.invitations_url),
        };
        let served = server == self.server;
        Section {
            listen: settings
                .listen
                .filter(|_| served)
                .unwrap_or_else(|| server.default_listen()),
            metrics: served.then(|| {
                settings
                    .metrics_listen
                    .unwrap_or_else(|| server.default_metrics())
            }),
            url: url.cloned(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error(transparent)]
    Start(#[from] StartError),
    #[error(transparent)]
    Key(#[from] partnerhub_gateway::token::KeyError),
    #[error(transparent)]
    SecretKey(#[from] partnerhub_kit::secret_key::KeyError),
    #[error("{0}")]
    Setting(String),
}

/// The command line, with the config file's settings where neither a flag nor the environment
/// set one.
fn parse() -> Result<Cli, config::Error> {
    let matches = Cli::command()
        .try_get_matches()
        .map_err(config::Error::Usage)?;
    let mut cli = Cli::from_arg_matches(&matches).map_err(config::Error::Usage)?;
    let (Some(path), Some((_, sub))) = (&cli.config, matches.subcommand()) else {
        return Ok(cli);
    };
    let file = config::File::read(path, &Cli::command())?;
    cli.common = file.layer(cli.common, &matches)?;
    cli.command = match cli.command {
        Command::Dev(dev) => Command::Dev(file.layer(dev, sub)?),
        Command::Serve(Serve { server, settings }) => Command::Serve(Serve {
            server,
            settings: file.layer(settings, sub)?,
        }),
        other => other,
    };
    Ok(cli)
}

fn main() -> ExitCode {
    let cli = match parse() {
        Ok(cli) => cli,
        // Help and --version (exit 0) or a usage error (exit 2), as clap prints them.
        Err(config::Error::Usage(e)) => e.exit(),
        // The settings as a whole could not be read: the log format is the flag's or the
        // environment's, if they set one.
        Err(config::Error::File(message)) => return fail(asked_log_format(), &message),
    };
    let format = cli.common.log_format;
    let advice = Advice::of(&cli);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => return fail(format, &format!("can't start the runtime: {e}")),
    };
    // The OTLP exporter must be made inside the runtime.
    let traces = {
        let _inside = runtime.enter();
        init_tracing(&cli)
    };
    let traces = match traces {
        Ok(traces) => traces,
        Err(e) => return fail(format, &e.to_string()),
    };
    let outcome = runtime.block_on(run(cli));
    if let Some(provider) = traces {
        // Sends the spans still buffered.
        let _ = provider.shutdown();
    }
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(format, &advice.explain(&e)),
    }
}

/// Prints why partnerhub stops, as one line: `partnerhub: <why>`, or in JSON mode an ERROR
/// line like the logs' (written whatever the logs are filtered to, and before they are set up).
fn fail(format: LogFormat, message: &str) -> ExitCode {
    let message = config::one_line(message);
    match format {
        LogFormat::Text => eprintln!("partnerhub: {message}"),
        LogFormat::Json => {
            use tracing_subscriber::layer::SubscriberExt;
            let lines = tracing_subscriber::registry().with(json_lines());
            tracing::subscriber::with_default(lines, || tracing::error!("{message}"));
        }
    }
    ExitCode::FAILURE
}

/// The log format the command line or the environment asks for (text unless they say json).
fn asked_log_format() -> LogFormat {
    Cli::command()
        .ignore_errors(true)
        .try_get_matches()
        .ok()
        .and_then(|m| {
            m.try_get_one::<LogFormat>("log_format")
                .ok()
                .flatten()
                .copied()
        })
        .unwrap_or(LogFormat::Text)
}

/// Log lines as `--log-format json` writes them, on standard error: one JSON object a line, with
/// the call's span (server, method, request id); its parents add nothing.
fn json_lines<S>() -> impl tracing_subscriber::Layer<S> + Send + Sync
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    tracing_subscriber::fmt::layer()
        .json()
        .with_span_list(false)
        .with_writer(std::io::stderr)
}

/// What to tell the operator to do about a failure, knowing the command it came from.
struct Advice {
    /// Addresses the command chose, with how to choose others.
    addresses: Vec<(SocketAddr, &'static str)>,
    /// How to choose any other address.
    other_addresses: &'static str,
    postgres: bool,
}

impl Advice {
    fn of(cli: &Cli) -> Self {
        let (addresses, other_addresses) = match &cli.command {
            Command::Dev(dev) => (
                Server::ALL
                    .iter()
                    .filter_map(|server| dev.section(*server).metrics)
                    .map(|addr| (addr, "other ports with --first-metrics-port"))
                    .chain([(dev.gateway_addr, "another address with --gateway-addr")])
                    .collect(),
                "other ports with --first-service-port",
            ),
            Command::Serve(serve) => (
                [
                    (serve.settings.listen, "another address with --listen"),
                    (
                        serve.settings.metrics_listen,
                        "another address with --metrics-listen",
                    ),
                ]
                .into_iter()
                .filter_map(|(addr, flag)| Some((addr?, flag)))
                .collect(),
                "another address with --listen or --metrics-listen",
            ),
            _ => (Vec::new(), "other addresses"),
        };
        Advice {
            addresses,
            other_addresses,
            postgres: cli.common.database_url.is_some(),
        }
    }

    /// The failure's message, with what to do about it where that is known.
    fn explain(&self, failure: &Failure) -> String {
        use partnerhub_kit::store::OpenError;
        let message = failure.to_string();
        let bind = match failure {
            Failure::Start(StartError::Serve {
                source: ServeError::Bind { addr, source },
                ..
            }) => Some((addr, source)),
            _ => None,
        };
        if let Some((addr, source)) = bind
            && source.kind() == std::io::ErrorKind::AddrInUse
        {
            let flag = self
                .addresses
                .iter()
                .find(|(a, _)| a == addr)
                .map_or(self.other_addresses, |(_, flag)| flag);
            return format!(
                "{message}; another program (another partnerhub?) listens there: stop it, \
                 or choose {flag}"
            );
        }
        if self.postgres
            && let Failure::Start(StartError::Database {
                source: OpenError::Connect { .. },
                ..
            }) = failure
        {
            return format!(
                "{message}; is the PostgreSQL server up and reachable, and --database-url \
                 (PARTNERHUB_DATABASE_URL) right?"
            );
        }
        message
    }
}

/// Logs to standard error: `filter` as in `--log`, in `format`.
/// Logs to stderr as asked and, with `--otlp-endpoint`, traces to that collector (the provider
/// returned is shut down before exiting, to send the last spans).
fn init_tracing(
    cli: &Cli,
) -> Result<Option<opentelemetry_sdk::trace::SdkTracerProvider>, TracingError> {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    use tracing_subscriber::Layer;
    use tracing_subscriber::filter::LevelFilter;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    // The filter was checked when the command line was parsed. It filters the logs only: the
    // traces take every span at INFO or above, whatever the logs show.
    let filter = EnvFilter::try_new(&cli.common.log).unwrap_or_else(|_| EnvFilter::new("info"));
    let fmt = match cli.common.log_format {
        LogFormat::Json => json_lines().boxed(),
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .boxed(),
    };
    let (provider, traces) = match &cli.common.otlp_endpoint {
        Some(endpoint) => {
            // One process in `dev`; one per server with `serve`.
            let service = match &cli.command {
                Command::Serve(serve) => format!("partnerhub-{}", serve.server.name()),
                _ => "partnerhub".to_string(),
            };
            let (provider, tracer) = telemetry::otlp_tracer(endpoint, &service)?;
            (
                Some(provider),
                Some(
                    tracing_opentelemetry::layer()
                        .with_tracer(tracer)
                        .with_filter(LevelFilter::INFO),
                ),
            )
        }
        None => (None, None),
    };
    tracing_subscriber::registry()
        .with(fmt.with_filter(filter))
        .with(traces)
        .init();
    Ok(provider)
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let common = cli.common;
    common.check_tls()?;
    match cli.command {
        Command::Dev(dev) => {
            let config = common.configuration(true, |server| dev.section(server));
            let running = system::start(config, &Server::ALL).await?;
            let storage = match &common.database_url {
                Some(url) => format!("PostgreSQL {}", partnerhub_kit::store::redact(url)),
                None => format!("SQLite files in {}", common.data_dir.display()),
            };
            let json = common.log_format == LogFormat::Json;
            // In JSON mode every line is JSON: what is printed here is logged there.
            match json {
                true => tracing::info!(%storage, "partnerhub dev: storage"),
                false => println!("partnerhub dev: storage: {storage}"),
            }
            for (server, bound) in &running.bound {
                let metrics = bound
                    .metrics
                    .map_or(String::new(), |m| format!("http://{m}/metrics"));
                let public = *server == Server::Gateway;
                if json {
                    let (server, listen) = (server.name(), bound.listen);
                    tracing::info!(server, %listen, %metrics, public, "listening");
                    continue;
                }
                let public = match public {
                    true => "   <- the gateway is the public endpoint",
                    false => "",
                };
                println!(
                    "  {:<14} {:<17} metrics {metrics}{public}",
                    server.name(),
                    bound.listen
                );
            }
            let key = match &common.signing_key {
                Some(path) => format!(" --signing-key {}", path.display()),
                None if common.data_dir != std::path::Path::new("./data") => {
                    format!(" --data-dir {}", common.data_dir.display())
                }
                None => String::new(),
            };
            let token = format!("partnerhub token --operator{key}");
            match json {
                true => tracing::info!(
                    operator_token = %token,
                    "partnerhub dev is running (Ctrl-C stops everything)"
                ),
                false => println!("operator token: {token} (Ctrl-C stops everything)"),
            }
            running.run_until(shutdown_signal()).await?;
            Ok(())
        }
        Command::Serve(serve) => {
            let config = common.configuration(false, |server| serve.section(server));
            let running = system::start(config, &[serve.server]).await?;
            let name = serve.server.name();
            for bound in running.bound.values() {
                let listen = bound.listen;
                if common.log_format == LogFormat::Json {
                    let metrics = bound
                        .metrics
                        .map_or(String::new(), |m| format!("http://{m}/metrics"));
                    tracing::info!(server = name, %listen, %metrics, "listening");
                    continue;
                }
                if let Some(metrics) = bound.metrics {
                    println!("{name} metrics on http://{metrics}/metrics");
                }
                println!("{name} listening on {listen}");
            }
            running.run_until(shutdown_signal()).await?;
            Ok(())
        }
        Command::Token {
            operator: _,
            minutes,
        } => {
            let tokens = Tokens::from_pem_file(&common.signing_key(), common.token_lifetime())?;
            let (token, _) = tokens.issue_operator(Duration::from_secs(minutes.max(1) * 60));
            println!("{token}");
            Ok(())
        }
        Command::InternalCredential(credential) => {
            let path = common.secret_keys(false).internal;
            let key = partnerhub_kit::secret_key::SecretKey::from_file("internal", &path)?;
            let key = partnerhub_kit::internal_call::InternalKey::new(key);
            println!("{}", credential.assertion(&key)?);
            Ok(())
        }
        Command::Migrate { servers } => {
            let servers = if servers.is_empty() {
                Server::ALL.to_vec()
            } else {
                servers
            };
            let storage = common.storage();
            for server in servers {
                let url = storage.url(server);
                server.open_database(&url).await?;
                println!(
                    "{}: migrated ({})",
                    server.name(),
                    partnerhub_kit::store::redact(&url)
                );
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn common(args: &[&str]) -> Common {
        let mut all = vec!["partnerhub", "dev"];
        all.extend_from_slice(args);
        match Cli::try_parse_from(all) {
            Ok(cli) => cli.common,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn the_sign_in_flags_default_to_the_gateways_limits_and_change_them() {
        assert_eq!(
            common(&[]).sign_in_limits(),
            partnerhub_gateway::SignInLimits::default()
        );
        let limits =
            common(&["--sign-ins-per-address", "600", "--sign-ins-per-user", "3"]).sign_in_limits();
        assert_eq!(limits.per_address.burst, 300);
        assert_eq!(limits.per_address.every, Duration::from_millis(100));
        assert_eq!(limits.per_user.burst, 3);
        assert_eq!(limits.per_user.every, Duration::from_secs(20));
        assert!(Cli::try_parse_from(["partnerhub", "dev", "--sign-ins-per-user", "0"]).is_err());
    }

    #[test]
    fn workflows_are_resumed_after_a_minute_and_given_up_after_a_day_unless_told() {
        let default = common(&[]).resumption();
        assert_eq!(default.after, Duration::from_secs(60));
        assert_eq!(default.give_up_after, Duration::from_secs(24 * 3600));
        // An attempt may take as long as a call.
        assert_eq!(default.lease, Duration::from_secs(30));
        let set = common(&[
            "--workflow-resume-seconds",
            "5",
            "--workflow-give-up-hours",
            "2",
            "--request-timeout",
            "10",
        ])
        .resumption();
        assert_eq!(set.after, Duration::from_secs(5));
        assert_eq!(set.give_up_after, Duration::from_secs(7200));
        assert_eq!(set.lease, Duration::from_secs(10));
    }
}
