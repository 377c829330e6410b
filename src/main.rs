//! The `ipop` command line: parse arguments, call into the library.
//! Hand-written parsing (no clap): every flag is listed in `USAGE`.

use std::path::PathBuf;
use std::process::ExitCode;

use ipop::io::cli::{self, CliError, ConfigSource};

const USAGE: &str = "\
ipop - a lean IP-over-P2P GroupVPN node

usage:
  ipop run    --config FILE.json [--tap NAME] [--board NAME]
  ipop run    --uci NAME [--uci-file FILE] [--tap NAME] [--board NAME]
  ipop check  (--config FILE.json | --uci NAME [--uci-file FILE]) [--board NAME] [--online]
  ipop status [--json] [--socket PATH | --config FILE.json | --uci NAME [--uci-file FILE]]
  ipop uci export --config FILE.json --name NAME
  ipop uci import --uci-file FILE --name NAME
  ipop uci show [--uci-file FILE]
  ipop genkey             print a new private key (base64)
  ipop genkey --operator FILE
                          write a new operator key (Ed25519) to FILE, print its public key
  ipop member show [SOCKET]
  ipop member revoke KEY --operator-key FILE [SOCKET]
                          sign and install a statement revoking KEY (it spreads to the group)
  ipop secret next [SOCKET]   hold the group's next secret (read from stdin)
  ipop secret rotate [SOCKET] start using the next secret now
                          (SOCKET: --socket PATH | --config FILE.json | --uci NAME [--uci-file FILE])
  ipop pubkey             read a private key on stdin, print its public key
  ipop demo               three nodes in network namespaces, no server (root)
  ipop sim-bench [--nodes N] [--seed S]
                          (demo and sim-bench: not in router builds)
  ipop --help | --version

options:
  -v, -vv   more logging (info, debug); -q errors only; RUST_LOG overrides
  --uci-file defaults to /etc/config/ipop
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match dispatch(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ipop: {e}");
            if matches!(e, CliError::Usage(_)) {
                eprintln!("try 'ipop --help'");
            }
            ExitCode::from(e.exit_code())
        }
    }
}

/// Parsed flags: `--name value` pairs and bare switches, in any order.
struct Flags {
    values: Vec<(&'static str, String)>,
    switches: Vec<&'static str>,
    verbosity: i8,
}

impl Flags {
    fn parse(
        args: &[String],
        with_value: &[&'static str],
        switches: &[&'static str],
    ) -> Result<Flags, CliError> {
        let mut f = Flags {
            values: Vec::new(),
            switches: Vec::new(),
            verbosity: 0,
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            match a.as_str() {
                "-v" => f.verbosity += 1,
                "-vv" => f.verbosity += 2,
                "-q" => f.verbosity = -1,
                _ => {
                    if let Some(&name) = with_value.iter().find(|n| **n == a) {
                        let v = it
                            .next()
                            .ok_or_else(|| CliError::Usage(format!("{name} needs a value")))?;
                        f.values.push((name, v.clone()));
                    } else if let Some(&name) = switches.iter().find(|n| **n == a) {
                        f.switches.push(name);
                    } else {
                        return Err(CliError::Usage(format!("unexpected argument '{a}'")));
                    }
                }
            }
        }
        Ok(f)
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .rev()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    fn has(&self, name: &str) -> bool {
        self.switches.contains(&name)
    }

    fn required(&self, name: &str) -> Result<&str, CliError> {
        self.get(name)
            .ok_or_else(|| CliError::Usage(format!("{name} is required")))
    }

    /// The control socket: `--socket P`, or the one of `--config` /
    /// `--uci`, or the default.
    fn socket(&self) -> Result<PathBuf, CliError> {
        Ok(match self.get("--socket") {
            Some(s) => PathBuf::from(s),
            None if self.get("--config").is_some() || self.get("--uci").is_some() => {
                cli::control_socket_of(&self.source()?)?
            }
            None => PathBuf::from(cli::DEFAULT_CONTROL_SOCKET),
        })
    }

    /// `--config F` or `--uci NAME [--uci-file F]`.
    fn source(&self) -> Result<ConfigSource, CliError> {
        match (self.get("--config"), self.get("--uci")) {
            (Some(c), None) => Ok(ConfigSource::Json(PathBuf::from(c))),
            (None, Some(name)) => Ok(ConfigSource::Uci {
                file: PathBuf::from(self.get("--uci-file").unwrap_or(cli::DEFAULT_UCI_FILE)),
                name: name.to_string(),
            }),
            (Some(_), Some(_)) => Err(CliError::Usage(
                "give either --config or --uci, not both".into(),
            )),
            (None, None) => Err(CliError::Usage(
                "--config FILE or --uci NAME is required".into(),
            )),
        }
    }
}

fn dispatch(args: &[String]) -> Result<ExitCode, CliError> {
    let Some(cmd) = args.first() else {
        print!("{USAGE}");
        return Err(CliError::Usage("no command given".into()));
    };
    let rest = &args[1..];
    match cmd.as_str() {
        "--help" | "-h" | "help" => {
            print!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        "--version" | "-V" | "version" => {
            println!("ipop {}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
        "run" => {
            let f = Flags::parse(
                rest,
                &["--config", "--uci", "--uci-file", "--tap", "--board"],
                &[],
            )?;
            cli::init_logging(f.verbosity);
            cli::run(&f.source()?, f.get("--tap"), f.get("--board"))?;
            Ok(ExitCode::SUCCESS)
        }
        "check" => {
            let f = Flags::parse(
                rest,
                &["--config", "--uci", "--uci-file", "--board", "--tap"],
                &["--online"],
            )?;
            cli::init_logging(f.verbosity);
            print!(
                "{}",
                cli::check(
                    &f.source()?,
                    f.get("--tap"),
                    f.get("--board"),
                    f.has("--online")
                )?
            );
            Ok(ExitCode::SUCCESS)
        }
        "status" => {
            let f = Flags::parse(
                rest,
                &["--config", "--uci", "--uci-file", "--socket"],
                &["--json"],
            )?;
            print!("{}", cli::status(&f.socket()?, f.has("--json"))?);
            Ok(ExitCode::SUCCESS)
        }
        "member" => {
            let sub = rest.first().map(String::as_str);
            let (key, flags) = match sub {
                Some("revoke") => (rest.get(1), rest.get(2..).unwrap_or_default()),
                _ => (None, rest.get(1..).unwrap_or_default()),
            };
            let f = Flags::parse(
                flags,
                &[
                    "--config",
                    "--uci",
                    "--uci-file",
                    "--socket",
                    "--operator-key",
                ],
                &[],
            )?;
            match (sub, key) {
                (Some("show"), _) => print!("{}", cli::member_show(&f.socket()?)?),
                (Some("revoke"), Some(key)) => print!(
                    "{}",
                    cli::member_revoke(&f.socket()?, key, f.required("--operator-key")?)?
                ),
                (Some("revoke"), None) => {
                    return Err(CliError::Usage("member revoke needs a KEY".into()))
                }
                _ => return Err(CliError::Usage("member needs 'show' or 'revoke'".into())),
            }
            Ok(ExitCode::SUCCESS)
        }
        "secret" => {
            let sub = rest.first().map(String::as_str);
            let f = Flags::parse(
                rest.get(1..).unwrap_or_default(),
                &["--config", "--uci", "--uci-file", "--socket"],
                &[],
            )?;
            match sub {
                Some("next") => print!("{}", cli::secret_next(&f.socket()?)?),
                Some("rotate") => print!("{}", cli::secret_rotate(&f.socket()?)?),
                _ => return Err(CliError::Usage("secret needs 'next' or 'rotate'".into())),
            }
            Ok(ExitCode::SUCCESS)
        }
        "uci" => {
            let sub = rest.first().map(String::as_str);
            let f = Flags::parse(
                rest.get(1..).unwrap_or_default(),
                &["--config", "--uci-file", "--name"],
                &[],
            )?;
            match sub {
                Some("export") => print!(
                    "{}",
                    cli::uci_export(f.required("--config")?, f.required("--name")?)?
                ),
                Some("import") => println!(
                    "{}",
                    cli::uci_import(f.required("--uci-file")?, f.required("--name")?)?
                ),
                Some("show") => print!(
                    "{}",
                    cli::uci_show(f.get("--uci-file").unwrap_or(cli::DEFAULT_UCI_FILE))?
                ),
                _ => {
                    return Err(CliError::Usage(
                        "uci needs 'export', 'import' or 'show'".into(),
                    ))
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        "genkey" => {
            let f = Flags::parse(rest, &["--operator"], &[])?;
            match f.get("--operator") {
                Some(file) => println!("{}", cli::genkey_operator(file)?),
                None => println!("{}", cli::genkey()?),
            }
            Ok(ExitCode::SUCCESS)
        }
        "pubkey" => {
            Flags::parse(rest, &[], &[])?;
            println!("{}", cli::pubkey_from_stdin()?);
            Ok(ExitCode::SUCCESS)
        }
        #[cfg(feature = "lab")]
        "demo" => {
            let f = Flags::parse(rest, &[], &["--keep"])?;
            cli::init_logging(f.verbosity);
            cli::demo()?;
            Ok(ExitCode::SUCCESS)
        }
        #[cfg(feature = "lab")]
        "sim-bench" => {
            let f = Flags::parse(rest, &["--nodes", "--seed"], &[])?;
            let nodes = parse_num(f.get("--nodes").unwrap_or("10000"), "--nodes")?;
            let seed = parse_num(f.get("--seed").unwrap_or("1"), "--seed")?;
            print!("{}", cli::sim_bench(nodes as usize, seed)?);
            Ok(ExitCode::SUCCESS)
        }
        #[cfg(not(feature = "lab"))]
        "demo" | "sim-bench" => Err(CliError::Usage(format!(
            "'{cmd}' is not in this build (router builds leave out the 'lab' feature)"
        ))),
        other => Err(CliError::Usage(format!("unknown command '{other}'"))),
    }
}

#[cfg(feature = "lab")]
fn parse_num(v: &str, flag: &str) -> Result<u64, CliError> {
    v.parse()
        .map_err(|_| CliError::Usage(format!("{flag} expects a number, got '{v}'")))
}
