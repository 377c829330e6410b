//! The library side of each `ipop` command. `main.rs` parses arguments and
//! calls these; errors carry their exit status (2 = bad input).

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::config::{self, base64, ConfigError, Loaded, OverlayConfig};

pub const DEFAULT_UCI_FILE: &str = "/etc/config/ipop";
pub const DEFAULT_CONTROL_SOCKET: &str = "/var/run/ipop/ipop.sock";

/// Where an overlay's config comes from.
pub enum ConfigSource {
    Json(PathBuf),
    Uci { file: PathBuf, name: String },
}

#[derive(Debug)]
pub enum CliError {
    /// Bad command line (exit 2).
    Usage(String),
    /// Bad config (exit 2); the message names file, key and expectation.
    Config(ConfigError),
    /// Something failed at run time (exit 1).
    Runtime(String),
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) | CliError::Config(_) => 2,
            CliError::Runtime(_) => 1,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(m) | CliError::Runtime(m) => f.write_str(m),
            CliError::Config(e) => write!(f, "{e}"),
        }
    }
}

impl From<ConfigError> for CliError {
    fn from(e: ConfigError) -> Self {
        CliError::Config(e)
    }
}

/// `-q` errors only, default warnings, `-v` info, `-vv` debug; RUST_LOG wins.
pub fn init_logging(verbosity: i8) {
    let level = match verbosity {
        i8::MIN..=-1 => "error",
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let env = env_logger::Env::default().default_filter_or(level);
    let _ = env_logger::Builder::from_env(env)
        .format_timestamp_millis()
        .try_init();
}

pub fn load(source: &ConfigSource, tap: Option<&str>) -> Result<Loaded, CliError> {
    let mut loaded = match source {
        ConfigSource::Json(path) => config::load_json(path)?,
        ConfigSource::Uci { file, name } => config::load_uci(file, name)?,
    };
    if let Some(t) = tap {
        loaded.config.set_tap_name(t);
    }
    Ok(loaded)
}

fn report_ignored(loaded: &Loaded) {
    for k in &loaded.ignored {
        log::warn!("config key {} ignored: {}", k.key, k.why);
    }
}

pub fn run(source: &ConfigSource, tap: Option<&str>, board: Option<&str>) -> Result<(), CliError> {
    let loaded = load(source, tap)?;
    report_ignored(&loaded);
    if let ConfigSource::Uci { name, .. } = source {
        if !loaded.enabled {
            log::warn!("overlay '{name}' has enabled '0'; running it anyway because it was asked for by name");
        }
    }
    let board = board.or(loaded.config.board.as_deref());
    let profile = super::limits::profile(board)?;
    log::info!("board profile {} ({})", profile.name, profile.origin);
    super::run::run(loaded.config, tap, super::limits::of(&profile))
}

pub fn check(
    source: &ConfigSource,
    tap: Option<&str>,
    board: Option<&str>,
    online: bool,
) -> Result<String, CliError> {
    let loaded = load(source, tap)?;
    let bridge_mtu = loaded
        .config
        .bridge
        .as_deref()
        .and_then(super::tap::interface_mtu);
    let mut out = config::describe_with(&loaded.config, bridge_mtu);
    out.push_str(&format!(
        "{:<16}{}\n",
        "kernel_ipv6",
        match super::ipv6::host_refusal() {
            None => "on".to_string(),
            Some(why) => format!("off: {why}; the overlay will run IPv4-only"),
        }
    ));
    for k in &loaded.ignored {
        out.push_str(&format!("ignored  {}: {}\n", k.key, k.why));
    }
    let board = board.or(loaded.config.board.as_deref());
    out.push_str(&super::limits::profile(board)?.describe());
    if online {
        out.push_str(&super::online::check(&loaded.config)?);
    }
    Ok(out)
}

pub fn control_socket_of(source: &ConfigSource) -> Result<PathBuf, CliError> {
    Ok(load(source, None)?.config.control_socket)
}

pub fn status(socket: &Path, json: bool) -> Result<String, CliError> {
    super::control::query(socket, json).map_err(|e| CliError::Runtime(e.to_string()))
}

pub fn uci_export(json: &str, name: &str) -> Result<String, CliError> {
    let loaded = config::load_json(Path::new(json))?;
    if !config::valid_section_name(name) {
        return Err(CliError::Usage(format!(
            "--name: expected a UCI section name ([A-Za-z0-9_]+), got '{name}'"
        )));
    }
    Ok(config::to_uci_section(&loaded.config, name, true))
}

pub fn uci_import(file: &str, name: &str) -> Result<String, CliError> {
    let loaded = config::load_uci(Path::new(file), name)?;
    Ok(config::to_json(&loaded.config))
}

/// `ipop uci show`: the file as libuci's `uci show` prints it.
pub fn uci_show(file: &str) -> Result<String, CliError> {
    Ok(config::uci_show_file(Path::new(file))?)
}

pub fn genkey() -> Result<String, CliError> {
    let k = super::keyfile::random_bytes().map_err(|e| CliError::Runtime(e.to_string()))?;
    Ok(base64::encode(&k))
}

/// `ipop genkey --operator FILE`: a new Ed25519 seed in FILE (base64, mode
/// 0600, never overwritten); returns the public key for `operator_key`.
pub fn genkey_operator(file: &str) -> Result<String, CliError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let seed = super::keyfile::random_bytes().map_err(|e| CliError::Runtime(e.to_string()))?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(file)
        .map_err(|e| CliError::Runtime(format!("{file}: {e}")))?;
    writeln!(f, "{}", base64::encode(&seed))
        .map_err(|e| CliError::Runtime(format!("{file}: {e}")))?;
    Ok(base64::encode(&crate::core::member::operator_public(&seed)))
}

fn control(socket: &Path, req: &super::control::Request) -> Result<String, CliError> {
    let reply =
        super::control::request(socket, req).map_err(|e| CliError::Runtime(e.to_string()))?;
    match reply.strip_prefix("error: ") {
        Some(e) => Err(CliError::Runtime(e.trim_end().to_string())),
        None => Ok(reply),
    }
}

pub fn member_show(socket: &Path) -> Result<String, CliError> {
    control(socket, &super::control::Request::MemberShow)
}

/// `ipop member revoke KEY --operator-key FILE`.
pub fn member_revoke(socket: &Path, key: &str, operator_file: &str) -> Result<String, CliError> {
    let key: [u8; 32] = base64::decode(key)
        .and_then(|k| k.try_into().ok())
        .ok_or_else(|| {
            CliError::Usage(format!(
                "KEY: expected a base64 public key (32 bytes), got '{key}'"
            ))
        })?;
    let text = std::fs::read_to_string(operator_file)
        .map_err(|e| CliError::Runtime(format!("{operator_file}: {e}")))?;
    let seed = super::keyfile::parse_secret(&text).ok_or_else(|| {
        CliError::Usage(format!(
            "{operator_file}: expected a base64 operator key as `ipop genkey --operator` writes"
        ))
    })?;
    let current = member_show(socket)?;
    let signed =
        super::membership::revoke_statement(&current, &key, &seed).map_err(CliError::Runtime)?;
    control(socket, &super::control::Request::MemberInstall(signed))
}

/// `ipop secret next`: the secret is read from stdin (first line).
pub fn secret_next(socket: &Path) -> Result<String, CliError> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| CliError::Runtime(format!("stdin: {e}")))?;
    let secret = text.lines().next().unwrap_or("");
    if secret.is_empty() {
        return Err(CliError::Usage(
            "stdin: expected the next group secret on one line".into(),
        ));
    }
    control(
        socket,
        &super::control::Request::SecretNext(base64::encode(secret.as_bytes())),
    )
}

pub fn secret_rotate(socket: &Path) -> Result<String, CliError> {
    control(socket, &super::control::Request::SecretRotate)
}

pub fn pubkey_from_stdin() -> Result<String, CliError> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| CliError::Runtime(format!("stdin: {e}")))?;
    let secret = super::keyfile::parse_secret(&text).ok_or_else(|| {
        CliError::Usage(
            "stdin: expected a base64 private key (32 bytes) as `ipop genkey` prints".into(),
        )
    })?;
    Ok(base64::encode(&super::keyfile::public_of(&secret)))
}

#[cfg(feature = "lab")]
pub fn demo() -> Result<(), CliError> {
    super::demo::demo()
}

#[cfg(feature = "lab")]
pub fn sim_bench(nodes: usize, seed: u64) -> Result<String, CliError> {
    Ok(crate::sim::bench(nodes, seed).to_string())
}

impl OverlayConfig {
    /// `--tap` overrides `tap_name` (and the defaults derived from it).
    pub fn set_tap_name(&mut self, tap: &str) {
        let default_key = config::default_key_file(&self.tap_name);
        let default_sock = config::default_control_socket(&self.tap_name);
        if self.key_file == default_key {
            self.key_file = config::default_key_file(tap);
        }
        if self.control_socket == default_sock {
            self.control_socket = config::default_control_socket(tap);
        }
        self.tap_name = tap.to_string();
    }
}
