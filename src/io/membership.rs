//! The shell's side of membership: the statement file next to the key
//! file (read at start, written whenever the node accepts a newer one),
//! the `member` and `secret` control requests, and what `ipop status`
//! prints about revocations.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::Duration;

use super::run::Shell;
use crate::config::{self, base64, OverlayConfig};
use crate::core::member::{self, MAX_STATEMENT_LEN};
use crate::core::node::membership::{MembershipConfig, MembershipStatus, StatementSource};
use crate::core::node::Node;
use crate::core::time::Instant;

/// Hands the config's membership rules and the stored statement to a new node.
pub fn setup(cfg: &OverlayConfig, node: &mut Node, now: Instant) {
    let file = config::statement_file(&cfg.key_file);
    let stored = match fs::read(&file) {
        Ok(b) if b.len() <= MAX_STATEMENT_LEN => Some(b),
        Ok(_) => {
            log::warn!("{}: larger than a statement; ignored", file.display());
            None
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            log::warn!("{}: {e}", file.display());
            None
        }
    };
    node.configure_membership(
        now,
        MembershipConfig {
            operator_key: cfg.operator(),
            revoked: cfg.revoked(),
            stored,
            next_psk: cfg.next_psk(),
            psk_grace: Some(Duration::from_secs(u64::from(cfg.group_secret_grace))),
        },
    );
}

/// Writes a newly accepted statement to the statement file (0600, via a
/// temporary file and rename, so a crash leaves the old or the new one).
pub fn persist(cfg: &OverlayConfig, node: &mut Node) {
    let Some(bytes) = node.poll_statement_to_store() else {
        return;
    };
    let file = config::statement_file(&cfg.key_file);
    if let Err(e) = write_atomic(&file, bytes) {
        log::warn!(
            "cannot store the membership statement in {}: {e}",
            file.display()
        );
    }
}

fn write_atomic(file: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = file.with_extension("members.tmp");
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    fs::rename(&tmp, file)
}

/// `member show`: the statement in force, one fact per line, and the
/// statement itself in base64 (what `ipop member revoke` builds on).
pub fn show(shell: &Shell) -> String {
    let node = shell.node.borrow();
    let mut out = String::new();
    match node.statement() {
        None => out.push_str("serial 0\n"),
        Some(st) => {
            out.push_str(&format!("serial {}\n", st.serial));
            for k in &st.revoked {
                out.push_str(&format!("revoked {}\n", base64::encode(k)));
            }
            match &st.allowed {
                None => out.push_str("allow_list none\n"),
                Some(a) => {
                    out.push_str(&format!("allow_list {}\n", a.len()));
                    for k in a {
                        out.push_str(&format!("allowed {}\n", base64::encode(k)));
                    }
                }
            }
            out.push_str(&format!(
                "statement {}\n",
                base64::encode(node.statement_bytes())
            ));
        }
    }
    for k in &shell.cfg.revoked_keys {
        out.push_str(&format!("revoked_by_config {k}\n"));
    }
    out
}

/// `member install B64`: check and install a statement.
pub fn install(shell: &Shell, b64: &str) -> String {
    let Some(bytes) = base64::decode(b64) else {
        return "error: not base64\n".into();
    };
    let now = shell.clock.now();
    let mut node = shell.node.borrow_mut();
    let res = node.install_statement(now, &bytes, StatementSource::Control);
    shell.flush(&mut node);
    match res {
        Ok(serial) => format!("ok: statement {serial} in force\n"),
        Err(e) => format!("error: {e}\n"),
    }
}

/// `secret next B64` (the secret's text in base64; never logged).
pub fn secret_next(shell: &Shell, b64: &str) -> String {
    let text = base64::decode(b64).and_then(|b| String::from_utf8(b).ok());
    match text {
        Some(t) if !t.is_empty() => {
            shell.node.borrow_mut().set_next_psk(config::psk_of(&t));
            "ok: next secret held\n".into()
        }
        _ => "error: expected the secret as non-empty UTF-8 text in base64\n".into(),
    }
}

/// `secret rotate`.
pub fn secret_rotate(shell: &Shell) -> String {
    let now = shell.clock.now();
    let mut node = shell.node.borrow_mut();
    let done = node.rotate_psk(now);
    shell.flush(&mut node);
    if done {
        "ok: rotated\n".into()
    } else {
        "error: no next secret held (set group_secret_next or run `ipop secret next`)\n".into()
    }
}

/// `ipop status` lines about membership (text).
pub fn status_text(m: &MembershipStatus, now: Instant) -> Vec<(&'static str, String)> {
    let refused: Vec<String> = m
        .refused
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(r, n)| format!("{r} {n}"))
        .collect();
    let mut lines = vec![(
        "membership",
        format!(
            "statement {}{}, {} revoked, {} accepted, refused: {}, closed links {}, relays refused {}",
            m.serial,
            match m.allow_list {
                Some(n) => format!(" (allow-list of {n})"),
                None => String::new(),
            },
            m.revoked,
            m.accepted,
            if refused.is_empty() {
                "none".into()
            } else {
                refused.join(", ")
            },
            m.closed_links,
            m.relay_refused
        ),
    )];
    for t in &m.tried {
        lines.push((
            "revoked_tried",
            format!(
                "{} refused {} times, last {} s ago",
                base64::encode(&t.key),
                t.refusals,
                now.saturating_since(t.last).as_secs()
            ),
        ));
    }
    lines.push(("secret", secret_text(m)));
    lines
}

fn secret_text(m: &MembershipStatus) -> String {
    use crate::core::link::psk::OtherRole;
    let other = match m.psk.other {
        None => "no other".to_string(),
        Some((tag, OtherRole::Next)) => format!("next (tag {tag:02x}) held"),
        Some((tag, OtherRole::Previous { .. })) => {
            format!("previous (tag {tag:02x}) accepted until its grace ends")
        }
    };
    format!(
        "current tag {:02x}, {other}, {} rotations",
        m.psk.current_tag, m.psk.rotations
    )
}

/// `ipop status --json` field `membership` (a JSON object).
pub fn status_json(m: &MembershipStatus, now: Instant) -> String {
    use crate::core::link::psk::OtherRole;
    let tried: Vec<String> = m
        .tried
        .iter()
        .map(|t| {
            format!(
                "{{\"key\":\"{}\",\"refusals\":{},\"last_s_ago\":{}}}",
                base64::encode(&t.key),
                t.refusals,
                now.saturating_since(t.last).as_secs()
            )
        })
        .collect();
    let refused: Vec<String> = m
        .refused
        .iter()
        .map(|(r, n)| format!("\"{r}\":{n}"))
        .collect();
    let other = match m.psk.other {
        None => "null".to_string(),
        Some((_, OtherRole::Next)) => "\"next\"".into(),
        Some((_, OtherRole::Previous { .. })) => "\"previous\"".into(),
    };
    format!(
        "{{\"operator_key\":{},\"serial\":{},\"revoked\":{},\"allow_list\":{},\"accepted\":{},\"refused\":{{{}}},\"closed_links\":{},\"relay_refused\":{},\"revoked_tried\":[{}],\"secret\":{{\"current_tag\":{},\"other\":{},\"rotations\":{}}}}}",
        m.operator_key
            .map(|k| format!("\"{}\"", base64::encode(&k)))
            .unwrap_or_else(|| "null".into()),
        m.serial,
        m.revoked,
        m.allow_list
            .map(|n| n.to_string())
            .unwrap_or_else(|| "null".into()),
        m.accepted,
        refused.join(","),
        m.closed_links,
        m.relay_refused,
        tried.join(","),
        m.psk.current_tag,
        other,
        m.psk.rotations
    )
}

/// `ipop member revoke KEY --operator-key FILE`: the new statement (the one
/// in force at the node plus KEY, serial + 1), signed, in base64.
pub fn revoke_statement(
    current_show: &str,
    key: &[u8; 32],
    operator_seed: &[u8; 32],
) -> Result<String, String> {
    let current = current_show
        .lines()
        .find_map(|l| l.strip_prefix("statement "))
        .map(|b| base64::decode(b.trim()).ok_or("the node sent a bad statement"))
        .transpose()?;
    let mut st = match current {
        Some(bytes) => member::parse(&bytes).map_err(|e| e.to_string())?,
        None => member::Statement {
            serial: 0,
            revoked: Vec::new(),
            allowed: None,
        },
    };
    if st.serial == u64::MAX {
        return Err("the statement serial is exhausted".into());
    }
    st.serial += 1;
    if !st.revoked.contains(key) {
        st.revoked.push(*key);
    }
    if let Some(a) = st.allowed.as_mut() {
        a.retain(|k| k != key);
    }
    let signed = st.sign(operator_seed).map_err(|e| e.to_string())?;
    Ok(base64::encode(&signed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revoke_builds_on_the_statement_in_force() {
        let seed = [5u8; 32];
        let op = member::operator_public(&seed);
        let first = revoke_statement("serial 0\n", &[1; 32], &seed).unwrap();
        let st = member::verify(&base64::decode(&first).unwrap(), &op).unwrap();
        assert_eq!((st.serial, st.revoked.clone()), (1, vec![[1; 32]]));
        let show = format!("serial 1\nrevoked x\nstatement {first}\n");
        let second = revoke_statement(&show, &[2; 32], &seed).unwrap();
        let st = member::verify(&base64::decode(&second).unwrap(), &op).unwrap();
        assert_eq!((st.serial, st.revoked), (2, vec![[1; 32], [2; 32]]));
        // Revoking again keeps one entry; a bad statement line is an error.
        let show = format!("statement {second}\n");
        let third = revoke_statement(&show, &[2; 32], &seed).unwrap();
        let st = member::verify(&base64::decode(&third).unwrap(), &op).unwrap();
        assert_eq!(st.revoked.len(), 2);
        assert!(revoke_statement("statement !!\n", &[2; 32], &seed).is_err());
    }
}
