//! Serves `ipop status` on the control socket from the event loop.

use std::rc::Rc;

use super::control::{ControlServer, Request};
use super::run::Shell;

/// Answers status requests until the process ends.
pub async fn serve(shell: Rc<Shell>, mut server: ControlServer) {
    loop {
        let (req, reply) = match server.accept_request().await {
            Ok(x) => x,
            Err(e) => {
                log::debug!("control socket: {e}");
                continue;
            }
        };
        let text = match req {
            Request::Status { json } => status_text(&shell, json),
            Request::MemberShow => super::membership::show(&shell),
            Request::MemberInstall(b64) => super::membership::install(&shell, &b64),
            Request::SecretNext(b64) => super::membership::secret_next(&shell, &b64),
            Request::SecretRotate => super::membership::secret_rotate(&shell),
        };
        if let Err(e) = reply.send(&text) {
            log::debug!("control reply: {e}");
        }
    }
}

/// The node's status plus what only the shell knows.
pub fn status_text(shell: &Shell, json: bool) -> String {
    let now = shell.clock.now();
    let mut st = shell.node.borrow().status(now);
    st.ip6_off = shell.tap.ipv6_off().map(str::to_string);
    let members = shell.node.borrow().membership_status();
    let mtu = super::tap::interface_mtu(shell.tap.name()).unwrap_or(0);
    let signalling = shell.signalling.borrow().clone();
    let q = |s: &str| {
        let mut o = String::new();
        crate::core::node::status::json_str(&mut o, s);
        o
    };
    if json {
        let extra = [
            ("tap", q(shell.tap.name())),
            ("mtu", mtu.to_string()),
            ("listen_port", shell.local_port.to_string()),
            ("signalling", q(&signalling)),
            (
                "udp_send_errors",
                shell.stats.udp_send_errors.get().to_string(),
            ),
            (
                "tap_write_errors",
                shell.stats.tap_write_errors.get().to_string(),
            ),
            ("udp_truncated", shell.stats.udp_truncated.get().to_string()),
            ("membership", super::membership::status_json(&members, now)),
        ];
        let mut s = st.to_json(&extra);
        s.push('\n');
        s
    } else {
        let mut extra = vec![
            ("tap", format!("{} (MTU {mtu})", shell.tap.name())),
            ("udp", format!("port {}", shell.local_port)),
            ("xmpp", signalling),
        ];
        extra.extend(super::membership::status_text(&members, now));
        st.to_text(&extra)
    }
}
