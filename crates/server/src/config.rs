//! Command-line flags and `SALON_*` environment variables, all in `--help`.
//!
//! One struct serves both `main` (parsed by clap) and tests (built in code,
//! with port 0 and a temporary data directory).
//!
//! A config file (`--config salon.toml`) is read by [`Config::load`] and
//! turned into the same flags, placed before those typed, so precedence is
//! flags, then environment, then file, then defaults, and clap validates a
//! file's values exactly as it validates flags.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use clap::Parser;

#[derive(Debug, Clone, Parser)]
#[command(
    name = "salon",
    version,
    about = "Salon: self-hosted video rooms (SFU, signaling, web client)."
)]
pub struct Config {
    /// HTTP(S) address to listen on.
    #[arg(long, env = "SALON_LISTEN", default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,

    /// Directory for the database and generated certificates (created if missing).
    #[arg(long, env = "SALON_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// First UDP port for media; media loop i uses this + i (0 picks free ports).
    #[arg(long, env = "SALON_MEDIA_PORT", default_value_t = 40000)]
    pub media_port: u16,

    /// Media loops, one per CPU core by default; loop i uses UDP port
    /// --media-port + i, and each room lives in one loop.
    #[arg(long, env = "SALON_MEDIA_LOOPS", value_parser = clap::builder::TypedValueParser::map(clap::value_parser!(u16).range(1..=64), usize::from))]
    pub media_loops: Option<usize>,

    /// TCP port for media over ICE-TCP (RFC 6544), for networks that block
    /// UDP; one port for every media loop. Default: the same number as
    /// --media-port (0 picks a free port).
    #[arg(long, env = "SALON_MEDIA_TCP_PORT")]
    pub media_tcp_port: Option<u16>,

    /// TCP port of the embedded TURN relay, TURN over TCP (0 picks a free port).
    #[arg(long, env = "SALON_TURN_PORT", default_value_t = 3478)]
    pub turn_port: u16,

    /// TCP port of TURN over TLS, with Salon's certificate (or a self-signed
    /// one). 443 lets in networks that allow only HTTPS. May equal
    /// --turn-port: one port then serves both (0 picks a free port).
    #[arg(long, env = "SALON_TURN_TLS_PORT", default_value_t = 5349)]
    pub turn_tls_port: u16,

    /// Host name put in the TURN URLs given to browsers. Browsers check a
    /// TURN/TLS server's certificate against it, so with a real certificate
    /// (--tls-cert) set it to the name on the certificate. Default: the
    /// announced IP addresses (matching the self-signed certificate).
    #[arg(long, env = "SALON_TURN_HOST")]
    pub turn_host: Option<String>,

    /// Secret for TURN credentials (HMAC). Default: random at each start,
    /// which is right unless several servers must accept the same ones.
    #[arg(long, env = "SALON_TURN_SECRET", hide_env_values = true)]
    pub turn_secret: Option<String>,

    /// Address announced to browsers in ICE candidates. Default: every IPv4
    /// address of this machine (loopback and LAN), which suits localhost and
    /// LAN use. Set it to the public IP behind a port-forwarding router.
    #[arg(long, env = "SALON_PUBLIC_IP")]
    pub public_ip: Option<IpAddr>,

    /// Most people in one room.
    #[arg(long, env = "SALON_MAX_PARTICIPANTS", default_value_t = 50)]
    pub max_participants: usize,

    /// Estimate each subscriber's bandwidth (TWCC) and step video layers down,
    /// then pause the least important videos, when it drops. Off by default:
    /// str0m then paces sending to its estimate (see ARCHITECTURE.md).
    #[arg(long, env = "SALON_BWE")]
    pub bwe: bool,

    /// Most one participant may send, all tracks together, in kb/s; the SFU
    /// drops the excess and tells that participant. 0: no cap. The default
    /// is well above what Salon's own client sends (about 4.8 Mb/s at most).
    #[arg(long, env = "SALON_MAX_PUBLISH_KBPS", default_value_t = 6000, value_parser = clap::value_parser!(u64).range(0..=1_000_000))]
    pub max_publish_kbps: u64,

    /// Milliseconds a subscriber's packets may wait so that one pass sends
    /// frames from several publishers (cuts CPU by about a quarter in a
    /// 50-person room; see BENCHMARKS.md). 0 sends at once.
    #[arg(long, env = "SALON_POLL_COALESCE_MS", default_value_t = 2, value_parser = clap::value_parser!(u64).range(0..=20))]
    pub poll_coalesce_ms: u64,

    /// TLS certificate chain (PEM); with --tls-key, serves HTTPS.
    #[arg(long, env = "SALON_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// TLS private key (PEM).
    #[arg(long, env = "SALON_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Serve HTTPS with a self-signed certificate kept in the data directory,
    /// so phones on the LAN may use their camera (browsers require HTTPS).
    #[arg(long, env = "SALON_TLS_SELF_SIGNED", conflicts_with = "tls_cert")]
    pub tls_self_signed: bool,

    /// The address people use to reach Salon, as `https://host[:port]` (no
    /// path), e.g. behind a reverse proxy. Every absolute link Salon writes
    /// (invitations, share links) uses it, it is accepted as the Origin of
    /// browser requests, and an `https` URL makes cookies `Secure`. Without
    /// it, links use the host the request was addressed to.
    #[arg(long, env = "SALON_PUBLIC_URL", value_parser = PublicUrl::parse)]
    pub public_url: Option<PublicUrl>,

    /// Who may create rooms: `accounts` (signed-in people only, like
    /// Messenger) or `anyone`. Anyone with a link may always join as a guest.
    #[arg(long, env = "SALON_ROOM_CREATION", value_enum, default_value_t = RoomCreation::Accounts)]
    pub room_creation: RoomCreation,

    /// Seconds a participant whose connection dropped stays in the room
    /// (shown as reconnecting) before leaving for good.
    #[arg(long, env = "SALON_RESUME_GRACE_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub resume_grace_secs: u64,

    /// Reverse proxies whose `Forwarded` / `X-Forwarded-For` headers name the
    /// client (IPs or CIDRs, comma-separated, e.g. `127.0.0.1,10.0.0.0/8`).
    /// Every per-address limit then counts the client, not the proxy. The
    /// headers are ignored from any other peer.
    #[arg(long, env = "SALON_TRUSTED_PROXY", value_delimiter = ',', value_parser = parse_net)]
    pub trusted_proxy: Vec<ipnet::IpNet>,

    /// Networks besides loopback that may read `/metrics` (IPs or CIDRs,
    /// comma-separated, e.g. a Prometheus server's). Checked against the TCP
    /// peer, never a forwarding header.
    #[arg(long, env = "SALON_METRICS_ALLOW", value_delimiter = ',', value_parser = parse_net)]
    pub metrics_allow: Vec<ipnet::IpNet>,
    /// Sites allowed to embed rooms in a frame (`/embed/r/<id>`), as
    /// origins, comma-separated (e.g. `https://www.example.org`): the
    /// embed page's `frame-ancestors`. None (the default): no embedding.
    #[arg(long, env = "SALON_EMBED_ORIGINS", value_delimiter = ',', value_parser = parse_origin)]
    pub embed_origins: Vec<String>,

    /// Rooms nobody entered for this many days are deleted with their
    /// invites (a room with a session scheduled ahead is kept); 0 keeps
    /// rooms forever.
    #[arg(long, env = "SALON_ROOM_EXPIRY_DAYS", default_value_t = 90)]
    pub room_expiry_days: u32,

    /// A TOML file of settings, named as the long flags (`max-participants
    /// = 20`, `trusted-proxy = ["10.0.0.0/8"]`, `bwe = true`). Flags and
    /// environment variables win over it. See `docs/salon.example.toml`.
    #[arg(long, env = "SALON_CONFIG")]
    pub config: Option<PathBuf>,

    /// Without a command, Salon serves. `admin` runs an operator's task on
    /// the data directory and exits.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// An IP (one host) or a CIDR network.
fn parse_net(s: &str) -> Result<ipnet::IpNet, String> {
    let s = s.trim();
    s.parse::<ipnet::IpNet>()
        .or_else(|_| s.parse::<IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("{s:?} is neither an IP address nor a CIDR network"))
}

/// `--public-url`: a scheme (`http` or `https`) and an authority, nothing
/// else, kept in canonical form (lowercase, no trailing slash) so it can be
/// compared with a browser's `Origin` header as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl {
    origin: String,
    https: bool,
}

impl PublicUrl {
    /// Accepts `http(s)://host[:port]`, with at most a trailing `/`.
    pub fn parse(s: &str) -> Result<PublicUrl, String> {
        let bad = |why: &str| format!("{s:?} is not a public URL like https://salon.example[:port] ({why})");
        let (https, rest) = if let Some(r) = s.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = s.strip_prefix("http://") {
            (false, r)
        } else {
            return Err(bad("it must start with http:// or https://"));
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.is_empty() {
            return Err(bad("no host"));
        }
        if authority.contains(['/', '?', '#', '@']) {
            return Err(bad("no path, query, fragment or user allowed"));
        }
        let parsed: axum::http::uri::Authority = authority.parse().map_err(|_| bad("invalid host or port"))?;
        if parsed.host().is_empty() || (authority.contains(':') && !authority.ends_with(']') && parsed.port().is_none())
        {
            return Err(bad("invalid host or port"));
        }
        if parsed.port_u16() == Some(0) {
            return Err(bad("port 0"));
        }
        let scheme = if https { "https" } else { "http" };
        Ok(PublicUrl {
            origin: format!("{scheme}://{}", authority.to_ascii_lowercase()),
            https,
        })
    }

    /// `scheme://host[:port]`, exactly as a browser's `Origin` header spells it.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    pub fn is_https(&self) -> bool {
        self.https
    }

    /// The absolute URL of `path` (which starts with `/`).
    pub fn join(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }
}

/// Who may create rooms (`--room-creation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoomCreation {
    /// Only signed-in people.
    Accounts,
    /// Anyone, with or without an account.
    Anyone,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// The instance operator's tasks.
    #[command(subcommand)]
    Admin(Admin),
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum Admin {
    /// List reports made in rooms (open ones, or all with --all).
    Reports {
        #[arg(long)]
        all: bool,
    },
    /// Mark a report resolved.
    Resolve { id: i64 },
}

impl Config {
    /// Defaults suitable for tests: loopback only, free ports, given data dir.
    pub fn for_tests(data_dir: PathBuf) -> Self {
        Config {
            listen: "127.0.0.1:0".parse().expect("valid address"),
            data_dir,
            media_port: 0,
            // Two loops, so tests exercise rooms spread over loops.
            media_loops: Some(2),
            media_tcp_port: Some(0),
            turn_port: 0,
            turn_tls_port: 0,
            turn_secret: None,
            turn_host: None,
            public_ip: Some("127.0.0.1".parse().expect("valid address")),
            max_participants: 50,
            bwe: false,
            poll_coalesce_ms: 2,
            max_publish_kbps: 6000,
            tls_cert: None,
            tls_key: None,
            tls_self_signed: false,
            public_url: None,
            command: None,
            // The existing suites create rooms anonymously; account tests set `Accounts`.
            room_creation: RoomCreation::Anyone,
            // Short, so tests of dropped connections do not wait 30 s.
            resume_grace_secs: 2,
            trusted_proxy: Vec::new(),
            metrics_allow: Vec::new(),
            config: None,
            embed_origins: Vec::new(),
            room_expiry_days: 90,
        }
    }

    pub fn tls_enabled(&self) -> bool {
        self.tls_self_signed || self.tls_cert.is_some()
    }

    /// Cookies get `Secure` when browsers reach Salon over HTTPS: served
    /// with TLS here, or behind a proxy whose public URL is `https`.
    pub fn secure_cookies(&self) -> bool {
        self.tls_enabled() || self.public_url.as_ref().is_some_and(PublicUrl::is_https)
    }
}

impl Config {
    /// Parses the process's flags and environment, and the config file if
    /// one is named. Exits with clap's message on a bad flag.
    pub fn load() -> anyhow::Result<Config> {
        let args = with_file(std::env::args_os().collect())?;
        Ok(Config::parse_from(args))
    }
}

/// `args` with the config file's settings inserted as flags after the
/// program name, except those given as a flag or an environment variable.
fn with_file(args: Vec<std::ffi::OsString>) -> anyhow::Result<Vec<std::ffi::OsString>> {
    use clap::CommandFactory;
    let typed: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
    let named = typed
        .iter()
        .enumerate()
        .find_map(|(i, a)| match a.strip_prefix("--config") {
            Some("") => typed.get(i.saturating_add(1)).cloned(),
            Some(v) => v.strip_prefix('=').map(str::to_string),
            None => None,
        });
    let Some(path) = named.or_else(|| std::env::var("SALON_CONFIG").ok()) else {
        return Ok(args);
    };
    let text = std::fs::read_to_string(&path).map_err(|e| anyhow::anyhow!("reading the config file {path}: {e}"))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e| anyhow::anyhow!("the config file {path} is not valid TOML: {e}"))?;
    let command = Config::command();
    let mut extra: Vec<std::ffi::OsString> = Vec::new();
    for (key, value) in table {
        let long = key.replace('_', "-");
        let Some(arg) = command
            .get_arguments()
            .find(|a| a.get_long() == Some(long.as_str()) && long != "config")
        else {
            let known: Vec<&str> = command
                .get_arguments()
                .filter_map(|a| a.get_long())
                .filter(|l| *l != "config" && *l != "help" && *l != "version")
                .collect();
            anyhow::bail!("unknown setting `{key}` in {path}; known: {}", known.join(", "));
        };
        let flag = format!("--{long}");
        let given = typed.iter().any(|a| *a == flag || a.starts_with(&format!("{flag}=")));
        let in_env = arg.get_env().is_some_and(|e| std::env::var_os(e).is_some());
        if given || in_env {
            continue;
        }
        let takes_value = arg.get_action().takes_values();
        match value {
            toml::Value::Boolean(on) if !takes_value => {
                if on {
                    extra.push(flag.into());
                }
            }
            toml::Value::String(s) => extra.push(format!("{flag}={s}").into()),
            toml::Value::Integer(n) => extra.push(format!("{flag}={n}").into()),
            toml::Value::Float(n) => extra.push(format!("{flag}={n}").into()),
            toml::Value::Boolean(b) => extra.push(format!("{flag}={b}").into()),
            toml::Value::Array(items) => {
                let items: Vec<String> = items
                    .iter()
                    .map(|v| match v {
                        toml::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect();
                extra.push(format!("{flag}={}", items.join(",")).into());
            }
            other => anyhow::bail!("`{key}` in {path}: a {} is not a setting's value", other.type_str()),
        }
    }
    let mut out = args;
    let at = usize::from(!out.is_empty());
    out.splice(at..at, extra);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::PublicUrl;

    #[test]
    fn public_url_is_scheme_and_authority_only() {
        let u = PublicUrl::parse("https://Salon.Example:8443/").expect("valid");
        assert_eq!(u.origin(), "https://salon.example:8443");
        assert!(u.is_https());
        assert_eq!(u.join("/r/abc"), "https://salon.example:8443/r/abc");
        let u = PublicUrl::parse("http://192.0.2.7").expect("valid");
        assert_eq!(u.origin(), "http://192.0.2.7");
        assert!(!u.is_https());
        assert!(PublicUrl::parse("http://[2001:db8::1]:8080").is_ok());
        for bad in [
            "salon.example",
            "ftp://salon.example",
            "https://",
            "https:///",
            "https://salon.example/rooms",
            "https://salon.example/?a=b",
            "https://salon.example#x",
            "https://user@salon.example",
            "https://salon.example:99999",
            "https://salon.example:0",
            "https://salon.example:",
            "https://sa lon.example",
        ] {
            assert!(PublicUrl::parse(bad).is_err(), "{bad} accepted");
        }
    }
}

#[cfg(test)]
mod file_tests {
    use clap::Parser;

    use super::{with_file, Config};

    fn parse(args: &[&str]) -> anyhow::Result<Config> {
        let args = with_file(args.iter().map(Into::into).collect())?;
        Ok(Config::try_parse_from(args)?)
    }

    #[test]
    fn a_config_file_sets_flags_and_typed_flags_win() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("salon.toml");
        std::fs::write(
            &path,
            "max-participants = 20\nresume_grace_secs = 45\nbwe = true\n\
             trusted-proxy = [\"10.0.0.0/8\", \"127.0.0.1\"]\nlisten = \"127.0.0.1:9000\"\n",
        )
        .unwrap();
        let p = path.to_str().unwrap();
        let c = parse(&["salon", "--config", p, "--max-participants", "30"]).unwrap();
        assert_eq!(c.max_participants, 30, "the flag wins");
        assert_eq!(c.resume_grace_secs, 45, "underscores work as dashes");
        assert!(c.bwe);
        assert_eq!(c.trusted_proxy.len(), 2);
        assert_eq!(c.listen.to_string(), "127.0.0.1:9000");
        // `--config=path` works too, before a subcommand.
        let c = parse(&["salon", &format!("--config={p}"), "admin", "reports"]).unwrap();
        assert_eq!(c.max_participants, 20);
        assert!(c.command.is_some());
    }

    #[test]
    fn a_bad_config_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("salon.toml");
        let p = path.to_str().unwrap().to_string();
        let err = |text: &str| {
            std::fs::write(&path, text).unwrap();
            parse(&["salon", "--config", &p]).map(|_| ()).unwrap_err().to_string()
        };
        assert!(err("max-partcipants = 3").contains("unknown setting `max-partcipants`"));
        assert!(err("max-participants = ").contains("not valid TOML"));
        // clap checks values from the file as it checks flags.
        assert!(err("max-publish-kbps = -4").contains("max-publish-kbps"));
        assert!(parse(&["salon", "--config", "/nonexistent/salon.toml"])
            .unwrap_err()
            .to_string()
            .contains("reading the config file"));
    }
}

/// An origin for `--embed-origins`: `http` or `https`, a host, an optional
/// port, nothing else (no path, no wildcard: each site is named).
fn parse_origin(s: &str) -> Result<String, String> {
    let s = s.trim().trim_end_matches('/');
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .ok_or_else(|| format!("{s}: an origin starts with https:// or http://"))?;
    let ok = !rest.is_empty()
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if !ok {
        return Err(format!("{s}: an origin is scheme://host[:port], nothing more"));
    }
    Ok(s.to_ascii_lowercase())
}

#[cfg(test)]
mod embed_origin_tests {
    #[test]
    fn origins_are_checked() {
        assert_eq!(
            super::parse_origin("https://Example.org/").unwrap(),
            "https://example.org"
        );
        assert_eq!(
            super::parse_origin("http://127.0.0.1:8000").unwrap(),
            "http://127.0.0.1:8000"
        );
        for bad in [
            "example.org",
            "https://",
            "https://a.org/path",
            "https://*.a.org",
            "javascript:x",
            "https://a.org 'unsafe-inline'",
        ] {
            assert!(super::parse_origin(bad).is_err(), "{bad}");
        }
    }
}
