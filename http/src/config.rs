//! Configuration: defaults, then an optional TOML file (`--config`), then
//! `PARLEY_*` environment variables, then command-line flags. Unknown keys
//! in the file are an error, not silence.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Everything the server can be tuned by.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to listen on; port 0 picks a free one.
    pub listen: SocketAddr,
    /// Where the database and instance secret live.
    pub data_dir: PathBuf,
    /// Log filter (tracing `EnvFilter` syntax); `PARLEY_LOG` overrides it.
    pub log: String,
    pub limits: Limits,
    pub storage: StorageConfig,
    pub actors: ActorsConfig,
    pub auth: AuthConfig,
    pub mail: MailConfig,
    pub outbox: OutboxConfig,
    pub webhooks: WebhookConfig,
    pub newsletter: NewsletterConfig,
    pub bookings: BookingsConfig,
    /// `[plans.NAME]`: overrides of the built-in plans (`free`, `pro`,
    /// `business`) or new ones.
    pub plans: std::collections::BTreeMap<String, PlanConfig>,
    pub billing: BillingConfig,
    pub audit: AuditConfig,
    pub retention: RetentionConfig,
    pub analytics: AnalyticsConfig,
    pub testing: TestingConfig,
    pub cluster: ClusterConfig,
    pub conversation: ConversationConfig,
}

/// `[conversation]`: what happens after a conversation is closed.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConversationConfig {
    /// Seconds after a close within which the visitor's (or a proactive)
    /// message reopens the closed conversation; after it, or once the
    /// visitor rated it, the message starts a new conversation and the
    /// closed one stays in the history. 0 (the default): always a new one.
    pub reopen_window_secs: u64,
}

/// `[cluster]`: several nodes on one PostgreSQL and one NATS (`CLUSTER.md`),
/// used by `parley serve --cluster` and `parley admin migrate`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// Run as a cluster node (`parley serve --cluster`), records in PostgreSQL.
    #[serde(skip)]
    pub enabled: bool,
    /// How long a tenant's lease lasts unrenewed: the longest a dead node's
    /// tenants wait for a new owner.
    pub lease_secs: f64,
    /// Connections each node reads its records through.
    pub readers: usize,
    /// This node's name, unique in the cluster (`PARLEY_NODE_ID`).
    pub node_id: Option<String>,
    /// `postgres://user:password@host:port/db` (`PARLEY_POSTGRES_URL`).
    pub postgres_url: Option<String>,
    /// `nats://host:port` (`PARLEY_NATS_URL`).
    pub nats_url: Option<String>,
    /// The node's NATS user (`PARLEY_NATS_USER`): anyone who reaches an
    /// open NATS reads every relayed frame, so production runs with one.
    pub nats_user: Option<String>,
    /// That user's password (`PARLEY_NATS_PASSWORD`); never logged.
    pub nats_password: Option<String>,
    /// A file holding the node's NATS nkey seed (`SU…`), instead of a user
    /// and password: the server keeps only the public key.
    pub nats_nkey_seed_file: Option<PathBuf>,
    /// Connect over TLS only (also implied by a CA or client certificate,
    /// or a `tls://` URL): a node refuses a NATS that does not offer it.
    pub nats_tls: bool,
    /// PEM CA certificate(s) NATS's certificate must chain to; without it,
    /// the system's roots.
    pub nats_ca_file: Option<PathBuf>,
    /// PEM client certificate, for a NATS that verifies its clients (`verify: true`).
    pub nats_cert_file: Option<PathBuf>,
    /// The client certificate's PEM private key.
    pub nats_key_file: Option<PathBuf>,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            lease_secs: 10.0,
            readers: 4,
            node_id: None,
            postgres_url: None,
            nats_url: None,
            nats_user: None,
            nats_password: None,
            nats_nkey_seed_file: None,
            nats_tls: false,
            nats_ca_file: None,
            nats_cert_file: None,
            nats_key_file: None,
        }
    }
}

/// What only conformance tests turn on.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TestingConfig {
    /// Serve `GET /ws/echo`: a WebSocket that echoes every message on the
    /// same reader, writer and limits as `/ws/visitor` and `/ws/staff`
    /// (what Autobahn|Testsuite's fuzzingclient drives). Never in production.
    pub echo_endpoint: bool,
}

/// Analytics.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnalyticsConfig {
    /// A MaxMind country (or city) database: visitors' countries come from
    /// their address. Without it they come from the browser's time zone.
    pub geoip_path: Option<PathBuf>,
    /// A conversation with no staff answer for this long counts as missed.
    pub missed_after_secs: u64,
    /// Reports of one tenant made at once (more wait their turn); each is
    /// made off the async threads.
    pub reports_per_tenant: usize,
    /// Seconds a report is kept and answered again for the same request;
    /// 0 makes every one afresh.
    pub report_cache_secs: u64,
}

impl Default for AnalyticsConfig {
    fn default() -> Self {
        Self {
            geoip_path: None,
            missed_after_secs: 300,
            reports_per_tenant: 2,
            report_cache_secs: 60,
        }
    }
}

/// The audit log.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// Days an audit entry is kept; negative: forever.
    pub retention_days: i64,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            retention_days: 365,
        }
    }
}

/// The janitor that deletes what plans keep no longer.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Seconds between passes.
    pub sweep_secs: u64,
    /// Records deleted per write.
    pub batch: usize,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            sweep_secs: 3600,
            batch: 500,
        }
    }
}

/// One plan's settings; a missing key keeps the built-in value. A
/// negative limit is unlimited.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanConfig {
    pub sites: Option<i64>,
    pub staff: Option<i64>,
    pub conversations_per_month: Option<i64>,
    pub retention_days: Option<i64>,
    pub features: Option<Vec<String>>,
    pub price_cents: Option<u32>,
}

/// Payments through a Stripe-compatible provider.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BillingConfig {
    /// Plans, quotas and plan features apply only with billing on (this,
    /// or a `checkout_url_template`). Off — the default, one company
    /// hosting its own chat — every workspace has everything, unlimited,
    /// and no pricing or upgrade is shown.
    pub enabled: bool,
    /// The secret the provider signs its webhooks with (`Stripe-Signature`).
    pub webhook_secret: Option<String>,
    /// The checkout page, with `{tenant_id}`, `{plan}` and `{email}` filled in.
    pub checkout_url_template: Option<String>,
    /// Days a tenant keeps its plan after a failed payment.
    pub grace_days: u32,
    /// The largest webhook body taken, in bytes. Its own limit, not
    /// `limits.max_json_bytes`: the provider's events are bigger than any
    /// form (an invoice with its lines), and a provider whose deliveries
    /// keep failing disables the endpoint.
    pub webhook_max_bytes: usize,
}

impl Default for BillingConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            webhook_secret: None,
            checkout_url_template: None,
            grace_days: 7,
            webhook_max_bytes: 256 * 1024,
        }
    }
}

/// Consultation bookings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BookingsConfig {
    /// The reminder mail goes out this long before a consultation (none
    /// for one booked later than that).
    pub reminder_before_secs: u64,
    /// How often due reminders are looked for.
    pub sweep_secs: u64,
}

impl Default for BookingsConfig {
    fn default() -> Self {
        Self {
            reminder_before_secs: 24 * 3600,
            sweep_secs: 15,
        }
    }
}

/// Webhooks out.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookConfig {
    /// Whether endpoints may be on loopback or private addresses (off:
    /// a tenant cannot make the server call into its own network).
    pub allow_private_targets: bool,
    /// Attempts before a delivery is marked failed.
    pub max_attempts: u32,
    /// Seconds before the first retry; each further one doubles it.
    pub retry_base_secs: u64,
    /// Seconds one attempt may take.
    pub timeout_secs: u64,
    /// Hours the old secret keeps signing after a rotation.
    pub rotation_overlap_hours: u64,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            allow_private_targets: false,
            max_attempts: 8,
            retry_base_secs: 10,
            timeout_secs: 10,
            rotation_overlap_hours: 24,
        }
    }
}

/// Newsletter sending.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NewsletterConfig {
    /// Campaign mails queued per second (the outbox sends them on).
    pub per_second: usize,
}

impl Default for NewsletterConfig {
    fn default() -> Self {
        Self { per_second: 20 }
    }
}

/// Outgoing mail.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailConfig {
    /// `smtp://host:port` (STARTTLS when offered) or `smtps://host:port`,
    /// credentials as `user:pass@` (`PARLEY_SMTP_URL`). None: mail stays
    /// queued in the outbox.
    pub smtp_url: Option<String>,
    /// The sender of every mail (`PARLEY_MAIL_FROM`).
    pub from: String,
    /// Attempts before a mail is marked failed.
    pub max_attempts: u32,
    /// Seconds before the first retry; each further one doubles it.
    pub retry_base_secs: u64,
    /// A visitor who gave an email and has had no tab open this long gets
    /// staff replies by mail.
    pub missed_reply_after_secs: u64,
    /// Bytes of mail one tenant may queue a day (UTC); past it mail is
    /// refused with 429 `outbox_full`. A campaign's body counts once.
    pub tenant_bytes_per_day: u64,
    /// Transcript requests one conversation may make a day (each mails the
    /// transcript, or a confirmation link to an address not proven yet).
    pub transcripts_per_day: u32,
    /// A transcript mail carries at most the last this many messages…
    pub transcript_max_messages: usize,
    /// …and at most this many bytes of them; then a link to the rest.
    pub transcript_max_bytes: usize,
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            smtp_url: None,
            from: "Parley <parley@localhost>".into(),
            max_attempts: 8,
            retry_base_secs: 10,
            missed_reply_after_secs: 300,
            tenant_bytes_per_day: 64 << 20,
            transcripts_per_day: 2,
            transcript_max_messages: 200,
            transcript_max_bytes: 256 << 10,
        }
    }
}

/// How the outbox drainer spreads delivery (mail and webhooks) over tenants.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboxConfig {
    /// Attempts under way at once, per kind (mail, webhooks).
    pub in_flight: usize,
    /// Of which at most this many for one tenant: a tenant's slow or dead
    /// endpoints never hold more, so other tenants' deliveries go on.
    pub in_flight_per_tenant: usize,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        Self {
            in_flight: 32,
            in_flight_per_tenant: 4,
        }
    }
}

/// Connection and input limits.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Most WebSocket connections at once; more are refused with 503.
    pub max_connections: usize,
    /// Most WebSocket connections from one client address (429 beyond).
    pub max_connections_per_ip: usize,
    /// Most visitor sockets of one tenant (503 beyond), so one busy
    /// workspace cannot take every connection of the instance.
    pub max_connections_per_tenant: usize,
    /// Most sockets past their upgrade but not yet past `hello` / `auth`
    /// (503 beyond): a flood of new connections waits outside.
    pub max_handshakes: usize,
    /// Largest WebSocket message in bytes; larger closes with 1009.
    pub max_frame_bytes: usize,
    /// Longest message body in characters.
    pub max_body_chars: usize,
    /// Frames queued for one socket before it is dropped as a slow consumer.
    pub outbound_queue: usize,
    /// Sustained frames per second a connection may send.
    pub frames_per_second: u32,
    /// Burst of frames above the sustained rate.
    pub frame_burst: u32,
    /// Seconds a new socket has to send `hello` / `auth`.
    pub handshake_timeout_secs: u64,
    /// Connections the kernel queues before they are accepted (the OS caps
    /// it at `net.core.somaxconn`): a burst of connects past it is reset.
    pub listen_backlog: u32,
    /// Largest JSON request body in bytes.
    pub max_json_bytes: usize,
    /// Longest request target (path and query) in bytes (414 beyond).
    pub max_uri_bytes: usize,
    /// Most request header bytes, names and values together (431 beyond).
    pub max_header_bytes: usize,
    /// Most request headers (431 beyond).
    pub max_headers: usize,
    /// Sign-in attempts one IP address may make per minute.
    pub login_per_ip_per_minute: u32,
    /// Sign-in attempts one account may receive per minute from one
    /// address (sign-up, reset and password-change requests count here too).
    pub login_per_account_per_minute: u32,
    /// Failed sign-ins an account takes, from every address together,
    /// before each further attempt must wait: 1 s, then twice as long after
    /// every failure, up to `login_max_delay_secs` (429 with `Retry-After`).
    /// A browser that signed in to the account before carries a device
    /// cookie and keeps a budget of its own, so guessing never locks the
    /// owner out.
    pub login_free_failures: u32,
    /// The longest wait between failed sign-ins to one account.
    pub login_max_delay_secs: u64,
    /// Failed sign-ins an account takes in an hour, at most (OWASP: ~100).
    pub login_failures_per_account_per_hour: u32,
    /// Days a device cookie (set on a successful sign-in) is honoured.
    pub device_cookie_days: u32,
    /// Public form posts (contact, …) one IP address may make per minute.
    pub forms_per_ip_per_minute: u32,
    /// Public form posts per site per minute, from every address together.
    pub forms_per_site_per_minute: u32,
    /// Visitor sockets one IP address may open per minute (bursts of as many).
    pub visitor_connects_per_ip_per_minute: u32,
    /// New visitors (a `hello` without a valid token) one IP address may
    /// start per minute; beyond it the socket closes with 4429.
    pub new_visitors_per_ip_per_minute: u32,
    /// Sustained API requests per second from one IP address.
    pub api_per_ip_per_second: u32,
    /// Burst of API requests above the sustained rate.
    pub api_burst: u32,
    /// Treat every peer as a trusted proxy (one hop): the client is the
    /// rightmost `X-Forwarded-For` entry. Prefer `trusted_proxies`.
    pub trust_forwarded_for: bool,
    /// Reverse proxies (addresses or CIDRs) whose forwarded header is
    /// believed; the client is the rightmost forwarded address not in this
    /// list. Their connections are not capped per address.
    pub trusted_proxies: Vec<String>,
    /// The header those proxies write: `x-forwarded-for` or `forwarded`.
    pub forwarded_header: String,
    /// Seconds a connection has to send a whole request head; also how
    /// long a kept-alive connection may sit idle between requests.
    pub header_timeout_secs: u64,
    /// Seconds a request body has to arrive whole, from its head.
    pub body_timeout_secs: u64,
    /// Plain HTTP connections at once (beyond them the server stops
    /// accepting until one ends); WebSockets count in `max_connections`.
    pub max_http_connections: usize,
    /// Plain HTTP connections at once from one client address (more are
    /// closed at once).
    pub max_http_connections_per_ip: usize,
    /// Bytes queued for one socket before it is dropped as a slow consumer.
    pub outbound_queue_bytes: usize,
}

/// Storage tuning.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// sled page cache in MiB.
    pub cache_mb: u64,
    /// Most operations in one group commit.
    pub batch_max_ops: usize,
    /// Microseconds a group commit waits for more work (0: only what is queued).
    pub batch_window_us: u64,
    /// MiB the data dir's file system must keep free; below it writes are
    /// refused with `unavailable` until space returns.
    pub min_free_mb: u64,
    /// MiB of write-ahead log after which a segment is checkpointed into
    /// sled and removed: bounds the log on disk and what a restart replays.
    pub log_segment_mb: u64,
    /// Where `POST /api/v1/admin/backups` writes (default: `backups` in the data dir).
    pub backup_dir: Option<std::path::PathBuf>,
}

/// Actor tuning.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ActorsConfig {
    /// Seconds an idle conversation stays live.
    pub conversation_idle_secs: u64,
    /// Seconds an idle visitor actor stays live.
    pub visitor_idle_secs: u64,
    /// Writes one conversation keeps in flight.
    pub max_inflight: usize,
}

/// Authentication settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Lifetime of a staff access token, in seconds.
    pub access_token_ttl_secs: u64,
    /// Days a sign-in session (refresh token family) lives without use.
    pub refresh_token_ttl_days: u64,
    /// Minutes a password-reset token stays valid.
    pub reset_token_ttl_minutes: u64,
    /// Hours an invitation stays valid.
    pub invitation_ttl_hours: u64,
    /// Anyone may create a tenant with `POST /api/v1/auth/register`; when
    /// off, tenants are created with `parley admin create-tenant` only.
    pub open_registration: bool,
    /// Development mode: reset and invitation links are also logged at info level.
    pub dev_mode: bool,
    /// The token-signing secret (at least 32 characters; `PARLEY_TOKEN_SECRET`).
    /// Nodes sharing it accept each other's tokens. Default: a random
    /// secret kept in the data dir.
    pub token_secret: Option<String>,
    /// The address staff reach the dashboard at, for links in mails
    /// (default: `http://` + the listen address).
    pub public_url: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("parley-data"),
            log: "info".into(),
            limits: Limits::default(),
            storage: StorageConfig::default(),
            actors: ActorsConfig::default(),
            auth: AuthConfig::default(),
            mail: MailConfig::default(),
            outbox: OutboxConfig::default(),
            webhooks: WebhookConfig::default(),
            newsletter: NewsletterConfig::default(),
            bookings: BookingsConfig::default(),
            plans: Default::default(),
            billing: BillingConfig::default(),
            audit: AuditConfig::default(),
            retention: RetentionConfig::default(),
            analytics: AnalyticsConfig::default(),
            testing: TestingConfig::default(),
            cluster: ClusterConfig::default(),
            conversation: ConversationConfig::default(),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 19_000,
            max_connections_per_ip: 1_000,
            max_connections_per_tenant: 15_000,
            max_handshakes: 2_048,
            max_frame_bytes: 64 * 1024,
            max_body_chars: parley_engine::validate::MAX_BODY_CHARS,
            outbound_queue: 1024,
            frames_per_second: 20,
            frame_burst: 60,
            handshake_timeout_secs: 10,
            listen_backlog: 4096,
            max_json_bytes: 10 * 1024,
            max_uri_bytes: 8 * 1024,
            max_header_bytes: 16 * 1024,
            max_headers: 100,
            login_per_ip_per_minute: 10,
            login_per_account_per_minute: 5,
            login_free_failures: 5,
            login_max_delay_secs: 300,
            login_failures_per_account_per_hour: 100,
            device_cookie_days: 180,
            forms_per_ip_per_minute: 10,
            forms_per_site_per_minute: 120,
            visitor_connects_per_ip_per_minute: 600,
            new_visitors_per_ip_per_minute: 60,
            api_per_ip_per_second: 50,
            api_burst: 200,
            trust_forwarded_for: false,
            trusted_proxies: Vec::new(),
            forwarded_header: "x-forwarded-for".into(),
            header_timeout_secs: 10,
            body_timeout_secs: 10,
            max_http_connections: 16_384,
            max_http_connections_per_ip: 128,
            outbound_queue_bytes: 1 << 20,
        }
    }
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            cache_mb: 256,
            batch_max_ops: 4096,
            batch_window_us: 0,
            min_free_mb: 64,
            log_segment_mb: 32,
            backup_dir: None,
        }
    }
}

impl Default for ActorsConfig {
    fn default() -> Self {
        Self {
            conversation_idle_secs: 60,
            visitor_idle_secs: 30,
            max_inflight: 1024,
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            access_token_ttl_secs: 15 * 60,
            refresh_token_ttl_days: 30,
            reset_token_ttl_minutes: 60,
            invitation_ttl_hours: 72,
            open_registration: true,
            dev_mode: false,
            token_secret: None,
            public_url: None,
        }
    }
}

impl Config {
    /// Defaults overlaid with a TOML file.
    pub fn from_file(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
        Self::from_toml(&text).map_err(|e| format!("config file {}: {e}", path.display()))
    }

    /// Defaults overlaid with TOML text.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.message().replace('\n', " "))
    }

    /// Checks values that would make the server misbehave.
    pub fn validate(&self) -> Result<(), String> {
        let l = &self.limits;
        if l.max_connections == 0 || l.outbound_queue == 0 || l.frames_per_second == 0 {
            return Err("limits.max_connections, limits.outbound_queue and limits.frames_per_second must be above 0".into());
        }
        if l.max_http_connections == 0 || l.max_http_connections_per_ip == 0 {
            return Err("limits.max_http_connections and limits.max_http_connections_per_ip must be above 0".into());
        }
        if l.outbound_queue_bytes < l.max_frame_bytes {
            return Err(
                "limits.outbound_queue_bytes must be at least limits.max_frame_bytes".into(),
            );
        }
        if l.max_frame_bytes < 1024 {
            return Err("limits.max_frame_bytes must be at least 1024".into());
        }
        if l.login_per_ip_per_minute == 0
            || l.login_per_account_per_minute == 0
            || l.api_per_ip_per_second == 0
        {
            return Err("limits.login_per_ip_per_minute, limits.login_per_account_per_minute and limits.api_per_ip_per_second must be above 0".into());
        }
        if l.login_failures_per_account_per_hour == 0 || l.device_cookie_days == 0 {
            return Err("limits.login_failures_per_account_per_hour and limits.device_cookie_days must be above 0".into());
        }
        crate::proxies::Proxies::new(l)?;
        if self
            .auth
            .token_secret
            .as_ref()
            .is_some_and(|s| s.len() < 32)
        {
            return Err("auth.token_secret must have at least 32 characters".into());
        }
        if let Some(url) = &self.mail.smtp_url {
            parley_actors::mailer::smtp_transport(url)?;
        }
        if self.mail.from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(format!(
                "mail.from {:?} is not a mail address (e.g. \"Acme <help@acme.test>\")",
                self.mail.from
            ));
        }
        if self.mail.max_attempts == 0 {
            return Err("mail.max_attempts must be above 0".into());
        }
        let c = &self.cluster;
        if c.enabled {
            if c.node_id.as_deref().is_none_or(str::is_empty)
                || c.postgres_url.is_none()
                || c.nats_url.is_none()
            {
                return Err("--cluster needs [cluster] node_id, postgres_url and nats_url (or PARLEY_NODE_ID, PARLEY_POSTGRES_URL, PARLEY_NATS_URL)".into());
            }
            if !(c.lease_secs >= 1.0 && c.lease_secs <= 600.0) {
                return Err("cluster.lease_secs must be between 1 and 600".into());
            }
            if c.readers == 0 {
                return Err("cluster.readers must be above 0".into());
            }
            if c.nats_user.is_some() != c.nats_password.is_some() {
                return Err("cluster.nats_user and cluster.nats_password go together (or PARLEY_NATS_USER, PARLEY_NATS_PASSWORD)".into());
            }
            if c.nats_user.is_some() && c.nats_nkey_seed_file.is_some() {
                return Err(
                    "cluster.nats_user and cluster.nats_nkey_seed_file: choose one way to sign in to NATS".into(),
                );
            }
            if c.nats_cert_file.is_some() != c.nats_key_file.is_some() {
                return Err("cluster.nats_cert_file and cluster.nats_key_file go together".into());
            }
            for (key, file) in [
                ("nats_ca_file", &c.nats_ca_file),
                ("nats_cert_file", &c.nats_cert_file),
                ("nats_key_file", &c.nats_key_file),
                ("nats_nkey_seed_file", &c.nats_nkey_seed_file),
            ] {
                if let Some(f) = file {
                    if let Err(e) = std::fs::File::open(f) {
                        return Err(format!("cluster.{key}: cannot read {}: {e}", f.display()));
                    }
                }
            }
        }
        self.plans()?;
        if self.auth.access_token_ttl_secs < 30 {
            return Err("auth.access_token_ttl_secs must be at least 30".into());
        }
        Ok(())
    }

    /// Whether plans and their limits apply (`billing.enabled`, or a
    /// checkout page configured).
    pub fn billing_on(&self) -> bool {
        self.billing.enabled || self.billing.checkout_url_template.is_some()
    }

    /// The plans: the built-in ones with this config's overrides, and any
    /// new ones it names.
    pub fn plans(&self) -> Result<Vec<parley_engine::plans::Plan>, String> {
        let mut plans = parley_engine::plans::builtin();
        let limit = |v: i64| u32::try_from(v).ok();
        for (name, c) in &self.plans {
            let at = match plans.iter().position(|p| &p.name == name) {
                Some(i) => i,
                None => {
                    let mut p = plans[0].clone();
                    p.name = name.clone();
                    plans.push(p);
                    plans.len() - 1
                }
            };
            let p = &mut plans[at];
            if let Some(v) = c.sites {
                p.sites = limit(v);
            }
            if let Some(v) = c.staff {
                p.staff = limit(v);
            }
            if let Some(v) = c.conversations_per_month {
                p.conversations_per_month = limit(v);
            }
            if let Some(v) = c.retention_days {
                p.retention_days = limit(v);
            }
            if let Some(f) = &c.features {
                if let Some(bad) = f
                    .iter()
                    .find(|f| !parley_engine::plans::FEATURES.contains(&f.as_str()))
                {
                    return Err(format!(
                        "plans.{name}.features: unknown feature {bad:?} (features are {})",
                        parley_engine::plans::FEATURES.join(", ")
                    ));
                }
                p.features = f.clone();
            }
            if let Some(v) = c.price_cents {
                p.price_cents = v;
            }
        }
        Ok(plans)
    }

    /// The actor tuning this config asks for.
    pub fn hook_config(&self) -> parley_actors::hooks::HookConfig {
        let w = &self.webhooks;
        parley_actors::hooks::HookConfig {
            policy: parley_engine::mail::RetryPolicy {
                max_attempts: w.max_attempts.max(1),
                base: Duration::from_secs(w.retry_base_secs.max(1)),
                cap: Duration::from_secs(6 * 3600),
            },
            allow_private: w.allow_private_targets,
            timeout: Duration::from_secs(w.timeout_secs.max(1)),
        }
    }

    pub fn actor_config(&self) -> parley_actors::ActorConfig {
        parley_actors::ActorConfig {
            conversation_idle: Duration::from_secs(self.actors.conversation_idle_secs.max(1)),
            visitor_idle: Duration::from_secs(self.actors.visitor_idle_secs.max(1)),
            max_inflight: self.actors.max_inflight.max(1),
            call_timeout: Duration::from_secs(5),
            missed_reply_after: Duration::from_secs(self.mail.missed_reply_after_secs.max(1)),
            missed_after: Duration::from_secs(self.analytics.missed_after_secs.max(1)),
            // None: no plan limits (billing off).
            plans: if self.billing_on() {
                self.plans().unwrap_or_default()
            } else {
                Vec::new()
            },
            drain: parley_actors::drain::DrainLimits {
                per_tenant: self.outbox.in_flight_per_tenant.max(1),
                total: self.outbox.in_flight.max(1),
            },
            reopen_window_secs: self.conversation.reopen_window_secs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(
            &p,
            "listen = \"127.0.0.1:9\"\n[limits]\nmax_connections = 5\n",
        )
        .unwrap();
        let c = Config::from_file(&p).unwrap();
        assert_eq!(c.limits.max_connections, 5);
        assert_eq!(c.limits.outbound_queue, Limits::default().outbound_queue);
        std::fs::write(&p, "lisen = \"x\"\n").unwrap();
        assert!(Config::from_file(&p).unwrap_err().contains("lisen"));
    }

    #[test]
    fn the_bus_credentials_are_checked_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let seed = dir.path().join("node.nk");
        std::fs::write(&seed, "SU").unwrap();
        let with = |cluster: &str| {
            let p = dir.path().join("c.toml");
            std::fs::write(
                &p,
                format!("[cluster]\nnode_id = \"a\"\npostgres_url = \"postgres://x\"\nnats_url = \"nats://x\"\n{cluster}"),
            )
            .unwrap();
            let mut c = Config::from_file(&p).unwrap();
            c.cluster.enabled = true;
            c.validate()
        };
        assert_eq!(with(""), Ok(()));
        assert_eq!(with("nats_user = \"a\"\nnats_password = \"p\"\n"), Ok(()));
        assert_eq!(with(&format!("nats_nkey_seed_file = {seed:?}\n")), Ok(()));
        for (bad, says) in [
            ("nats_user = \"a\"\n", "go together"),
            ("nats_cert_file = \"/etc/hostname\"\n", "go together"),
            (
                "nats_ca_file = \"/nonexistent/ca.pem\"\n",
                "cluster.nats_ca_file: cannot read",
            ),
            (
                &format!(
                    "nats_user = \"a\"\nnats_password = \"p\"\nnats_nkey_seed_file = {seed:?}\n"
                ),
                "choose one",
            ),
        ] {
            let e = with(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
