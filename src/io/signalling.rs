//! Signalling glue between the XMPP task and the node: announcements in
//! (validated, then learned as members), our announcement out (on start,
//! whenever our candidates change, and by the task whenever a member
//! appears), partition-healing pings answered. The data plane never waits
//! on this: links keep running while XMPP is down.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use smol::channel;

use super::run::{self, Shell};
use super::xmpp::{run_xmpp, LocalIdentity, XmppCommand, XmppEvent, XmppSettings, XmppStatus};
use crate::core::node::{PeerInfo, SignalOut, Source};
use crate::core::rng::Rng;
use crate::core::signal::{Announce, Signal};

/// How often to check whether our announcement changed.
const ANNOUNCE_CHECK: Duration = Duration::from_secs(5);

pub async fn run(shell: Rc<Shell>) {
    let settings = match XmppSettings::from_config(&shell.cfg) {
        Ok(Some(s)) => s,
        Ok(None) => return std::future::pending().await,
        Err(e) => {
            log::error!("xmpp: {e}; running without signalling");
            *shell.signalling.borrow_mut() = format!("disabled: {e}");
            return std::future::pending().await;
        }
    };
    let server = format!("{}:{}", settings.host, settings.port);
    let status = Rc::new(RefCell::new(XmppStatus::new(server.clone())));
    let (ev_tx, ev_rx) = channel::unbounded();
    let (cmd_tx, cmd_rx) = channel::unbounded();
    let me = {
        let node = shell.node.borrow();
        LocalIdentity {
            uid: node.uid(),
            subnet: (shell.cfg.ip4, shell.cfg.ip4_mask),
        }
    };
    let seed = super::keyfile::random_bytes().unwrap_or([7; 32]);
    let task = run_xmpp(
        settings,
        me,
        Rng::from_seed(seed),
        ev_tx,
        cmd_rx,
        status.clone(),
    );
    let glue = async {
        let mut last_sent: Option<Announce> = None;
        loop {
            let current = to_announce(&shell.node.borrow().local_info());
            if last_sent.as_ref() != Some(&current) {
                let _ = cmd_tx
                    .send(XmppCommand::SetAnnounce(Signal::Announce(current.clone())))
                    .await;
                last_sent = Some(current);
            }
            let ev = smol::future::or(async { ev_rx.recv().await.ok() }, async {
                async_io::Timer::after(ANNOUNCE_CHECK).await;
                None
            })
            .await;
            if let Some(ev) = ev {
                handle_event(&shell, ev, &cmd_tx);
            }
            send_topology_signals(&shell, &cmd_tx).await;
            *shell.signalling.borrow_mut() = describe(&shell, &status.borrow());
        }
    };
    smol::future::zip(task, glue).await;
}

/// Partition-healing pings the topology wants sent.
async fn send_topology_signals(shell: &Shell, cmd: &channel::Sender<XmppCommand>) {
    loop {
        let (out, me) = {
            let mut node = shell.node.borrow_mut();
            (node.poll_signal(), node.uid())
        };
        let msg = match out {
            Some(SignalOut::Ping { to }) => XmppCommand::SendTo {
                to,
                signal: Signal::Ping { uid: me },
            },
            Some(SignalOut::PingReply { to }) => XmppCommand::SendTo {
                to,
                signal: Signal::PingResp { uid: me },
            },
            Some(SignalOut::Members) => match members_signal(shell) {
                Some(signal) => XmppCommand::Broadcast(signal),
                None => continue,
            },
            None => return,
        };
        let _ = cmd.send(msg).await;
    }
}

/// The statement in force as a `members` signal (None: no statement).
fn members_signal(shell: &Shell) -> Option<Signal> {
    let node = shell.node.borrow();
    let bytes = node.statement_bytes();
    if bytes.is_empty() {
        return None;
    }
    Some(Signal::Members {
        uid: node.uid(),
        statement: bytes.to_vec(),
    })
}

fn handle_event(shell: &Shell, ev: XmppEvent, cmd: &channel::Sender<XmppCommand>) {
    match ev {
        XmppEvent::Online { jid } => log::info!("xmpp: online as {jid}"),
        XmppEvent::Disconnected { retry_in, reason } => {
            // The client already warned with the exact delay.
            log::debug!(
                "xmpp: disconnected ({reason}); retry in {} ms; links keep running",
                retry_in.as_millis()
            )
        }
        XmppEvent::AuthFailed => {
            log::error!("xmpp: authentication failed: check xmpp_username and xmpp_password")
        }
        XmppEvent::PeerPresent(jid) => log::debug!("xmpp: {jid} present"),
        XmppEvent::PeerGone { jid, .. } => log::debug!("xmpp: {jid} gone (links stay up)"),
        XmppEvent::Rejected { from, reason } => {
            log::debug!("xmpp: signal from {from} rejected: {reason:?}")
        }
        XmppEvent::Signal { from, signal } => match signal {
            Signal::Announce(a) => {
                log::debug!("xmpp: announce of {} from {from}", a.ip4);
                run::announce(shell, &to_info(&a), Source::Signal);
                // A member that was offline may have missed revocations.
                if let Some(signal) = members_signal(shell) {
                    let _ = cmd.try_send(XmppCommand::SendTo { to: a.uid, signal });
                }
            }
            Signal::Members { statement, .. } => {
                shell
                    .node
                    .borrow_mut()
                    .handle_signal_statement(shell.clock.now(), &statement);
                let mut node = shell.node.borrow_mut();
                shell.flush(&mut node);
            }
            Signal::Ping { uid } => shell
                .node
                .borrow_mut()
                .handle_signal_ping(shell.clock.now(), uid),
            Signal::PingResp { uid } => shell
                .node
                .borrow_mut()
                .handle_signal_ping_reply(shell.clock.now(), uid),
            Signal::LinkRequest(_) | Signal::LinkAccept(_) => {}
        },
    }
}

fn to_announce(info: &PeerInfo) -> Announce {
    let mut candidates = heapless::Vec::new();
    for c in &info.candidates {
        if candidates.push(*c).is_err() {
            break;
        }
    }
    Announce {
        uid: info.uid,
        ip4: info.ip4,
        public_key: info.public_key,
        candidates,
    }
}

fn to_info(a: &Announce) -> PeerInfo {
    let mut candidates = heapless::Vec::new();
    for c in &a.candidates {
        if candidates.push(*c).is_err() {
            break;
        }
    }
    PeerInfo {
        uid: a.uid,
        ip4: a.ip4,
        public_key: a.public_key,
        candidates,
    }
}

/// One line for `ipop status`.
fn describe(shell: &Shell, st: &XmppStatus) -> String {
    use crate::core::xmpp::State;
    match &st.state {
        State::Connecting => format!("{}: connecting", st.server),
        State::Negotiating => format!("{}: logging in", st.server),
        State::Online => format!(
            "{}: connected as {}, {} members present",
            st.server,
            st.jid.as_ref().map(|j| j.to_string()).unwrap_or_default(),
            st.members.len()
        ),
        State::BackOff { until, reason } => format!(
            "{}: back-off ({reason}), next try in {} s",
            st.server,
            until.saturating_since(shell.clock.now()).as_secs()
        ),
    }
}
