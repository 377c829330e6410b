//! What the client does with each thing the server sends.

use std::io::Write as _;

use jid::FullJid;

use super::*;
use crate::core::xmpp::xml::Element;

impl Client {
    pub(super) fn on_item(&mut self, now: Instant, item: Item<'_>) -> Flow {
        match item {
            Item::Header(_) => Flow::Continue,
            Item::End => {
                self.fail(now, CloseReason::ServerClosed);
                Flow::Stop
            }
            Item::Stanza(el) => {
                log::trace!("xmpp: <{}> in {}", el.qname(), self.state());
                self.on_stanza(now, el)
            }
        }
    }

    fn on_stanza(&mut self, now: Instant, el: Element<'_>) -> Flow {
        if el.qname() == "stream:error" {
            let cond = el
                .children()
                .map(|c| c.name())
                .find(|n| *n != "text")
                .unwrap_or("undefined-condition");
            self.fail(now, CloseReason::StreamError(cond.to_owned()));
            return Flow::Stop;
        }
        let flow = match (&self.phase, el.name()) {
            (Phase::Features, "features") => self.on_features(now, el),
            (Phase::StartTls, "proceed") => {
                self.phase = Phase::TlsHandshake;
                return Flow::Stop;
            }
            (Phase::StartTls, "failure") => Err(CloseReason::NoTls),
            (Phase::SaslScram { .. } | Phase::SaslPlain, _) => self.on_sasl(el),
            (_, "iq") => self.on_iq(now, el),
            (_, "presence") => {
                self.on_presence(el);
                Ok(Flow::Continue)
            }
            (_, "message") => {
                self.on_message(el);
                Ok(Flow::Continue)
            }
            _ => {
                self.counters.stanzas_unknown += 1;
                log::debug!("xmpp: ignoring <{}>", el.qname());
                Ok(Flow::Continue)
            }
        };
        match flow {
            Ok(f) => f,
            Err(reason) => {
                self.fail(now, reason);
                Flow::Stop
            }
        }
    }

    fn on_features(&mut self, _now: Instant, el: Element<'_>) -> Result<Flow, CloseReason> {
        if !self.tls_up {
            el.child_ns("starttls", NS_TLS).ok_or(CloseReason::NoTls)?;
            let _ = write!(self.out, "<starttls xmlns='{NS_TLS}'/>");
            self.phase = Phase::StartTls;
            return Ok(Flow::Continue);
        }
        if !self.authed {
            let mechs = el
                .child_ns("mechanisms", NS_SASL)
                .ok_or(CloseReason::NoMechanism)?;
            let offered = |m: &str| mechs.children().any(|c| c.text().as_deref() == Some(m));
            let user = self.cfg.jid.node().map_or("", |n| n.as_str());
            if offered("SCRAM-SHA-1") {
                let nonce = base64::encode(&self.rng.bytes::<18>());
                let (scram, first) = Scram::start(user, &self.cfg.password, &nonce);
                let _ = write!(
                    self.out,
                    "<auth xmlns='{NS_SASL}' mechanism='SCRAM-SHA-1'>{}</auth>",
                    base64::encode(first.as_bytes())
                );
                self.mechanism = Some("SCRAM-SHA-1");
                self.phase = Phase::SaslScram {
                    scram,
                    sent_final: false,
                };
            } else if offered("PLAIN") && self.tls_up {
                let msg = plain_message(user, &self.cfg.password);
                let _ = write!(
                    self.out,
                    "<auth xmlns='{NS_SASL}' mechanism='PLAIN'>{msg}</auth>"
                );
                self.mechanism = Some("PLAIN");
                self.phase = Phase::SaslPlain;
            } else {
                return Err(CloseReason::NoMechanism);
            }
            return Ok(Flow::Continue);
        }
        el.child_ns("bind", NS_BIND)
            .ok_or(CloseReason::BindFailed)?;
        // RFC 6121 dropped sessions; servers that still list one without
        // <optional/> expect the request.
        let session = el
            .child_ns("session", NS_SESSION)
            .is_some_and(|s| s.child("optional").is_none());
        let _ = write!(
            self.out,
            "<iq type='set' id='bind'><bind xmlns='{NS_BIND}'><resource>{}</resource></bind></iq>",
            Esc(&self.resource)
        );
        self.phase = Phase::Bind { session };
        Ok(Flow::Continue)
    }

    fn on_sasl(&mut self, el: Element<'_>) -> Result<Flow, CloseReason> {
        if el.attr("xmlns").as_deref() != Some(NS_SASL) {
            return Err(CloseReason::Protocol);
        }
        let payload = || -> Result<String, CloseReason> {
            let text = el.text().ok_or(CloseReason::Protocol)?;
            let raw = base64::decode(text.trim()).ok_or(CloseReason::Protocol)?;
            String::from_utf8(raw).map_err(|_| CloseReason::Protocol)
        };
        match (&mut self.phase, el.name()) {
            (_, "failure") => {
                let cond = el
                    .children()
                    .map(|c| c.name())
                    .find(|n| *n != "text")
                    .unwrap_or("not-authorized");
                Err(CloseReason::AuthFailed(cond.to_owned()))
            }
            (
                Phase::SaslScram {
                    scram,
                    sent_final: sent @ false,
                },
                "challenge",
            ) => {
                let last = scram
                    .client_final(&payload()?)
                    .map_err(CloseReason::Scram)?;
                *sent = true;
                let _ = write!(
                    self.out,
                    "<response xmlns='{NS_SASL}'>{}</response>",
                    base64::encode(last.as_bytes())
                );
                Ok(Flow::Continue)
            }
            (
                Phase::SaslScram {
                    scram,
                    sent_final: true,
                },
                "success",
            ) => {
                scram
                    .verify_final(&payload()?)
                    .map_err(CloseReason::Scram)?;
                Ok(self.authenticated())
            }
            (Phase::SaslPlain, "success") => Ok(self.authenticated()),
            _ => Err(CloseReason::Protocol),
        }
    }

    fn authenticated(&mut self) -> Flow {
        self.authed = true;
        self.open_stream();
        Flow::Restart
    }

    fn on_iq(&mut self, now: Instant, el: Element<'_>) -> Result<Flow, CloseReason> {
        let id = el.attr("id").unwrap_or_default();
        let kind = el.attr("type").unwrap_or_default();
        match (&self.phase, &*kind, &*id) {
            (Phase::Bind { session }, "result", "bind") => {
                let session = *session;
                let bind = el
                    .child_ns("bind", NS_BIND)
                    .ok_or(CloseReason::BindFailed)?;
                let jid = bind
                    .child("jid")
                    .and_then(|j| j.text())
                    .ok_or(CloseReason::BindFailed)?;
                self.jid = Some(FullJid::new(jid.trim()).map_err(|_| CloseReason::BindFailed)?);
                if session {
                    let _ = write!(
                        self.out,
                        "<iq type='set' id='sess'><session xmlns='{NS_SESSION}'/></iq>"
                    );
                    self.phase = Phase::Session;
                } else {
                    self.online(now);
                }
                Ok(Flow::Continue)
            }
            (Phase::Bind { .. }, "error", "bind") | (Phase::Session, "error", "sess") => {
                Err(CloseReason::BindFailed)
            }
            (Phase::Session, "result", "sess") => {
                self.online(now);
                Ok(Flow::Continue)
            }
            (_, "result", _) if id.starts_with('r') => {
                if let Some(q) = el.child_ns("query", NS_ROSTER) {
                    self.roster_items = Some(q.children().filter(|c| c.name() == "item").count());
                }
                Ok(Flow::Continue)
            }
            (_, "result" | "error", _) => {
                if let Some((pid, _)) = self.ping {
                    // Any answer (even an error) shows the server is alive.
                    if *id == *format!("p{pid}") {
                        self.ping = None;
                    }
                }
                Ok(Flow::Continue)
            }
            (_, "get" | "set", _) => {
                self.answer_iq(&el, &kind, &id);
                Ok(Flow::Continue)
            }
            _ => {
                self.counters.stanzas_unknown += 1;
                Ok(Flow::Continue)
            }
        }
    }

    /// Answers server pings and roster pushes; anything else gets
    /// `service-unavailable` as RFC 6120 §8.2.3 requires.
    fn answer_iq(&mut self, el: &Element<'_>, kind: &str, id: &str) {
        let from = el.attr("from");
        let to = from
            .as_deref()
            .map(|f| format!(" to='{}'", Esc(f)))
            .unwrap_or_default();
        let from_server_or_self = match from.as_deref() {
            None => true,
            Some(f) => f == self.server_name() || f == self.cfg.jid.as_str(),
        };
        let ping = kind == "get" && el.child_ns("ping", NS_PING).is_some();
        let roster_push =
            kind == "set" && from_server_or_self && el.child_ns("query", NS_ROSTER).is_some();
        if ping || roster_push {
            let _ = write!(self.out, "<iq type='result' id='{}'{to}/>", Esc(id));
        } else {
            self.counters.stanzas_unknown += 1;
            let _ = write!(
                self.out,
                "<iq type='error' id='{}'{to}><error type='cancel'><service-unavailable \
                 xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>",
                Esc(id)
            );
        }
    }

    /// A group member is a full JID with an `ipop*` resource that is not us.
    fn member(&self, from: Option<&str>) -> Option<FullJid> {
        let jid = FullJid::new(from?).ok()?;
        let ours = self.jid.as_ref().is_some_and(|j| *j == jid);
        (!ours && jid.resource().as_str().starts_with(RESOURCE_PREFIX)).then_some(jid)
    }

    fn on_presence(&mut self, el: Element<'_>) {
        let Some(jid) = self.member(el.attr("from").as_deref()) else {
            return;
        };
        let known = self.peers.iter().position(|p| *p == jid);
        match (el.attr("type").as_deref(), known) {
            (None, None) => {
                if self.peers.len() >= MAX_PEERS {
                    self.counters.peers_over_limit += 1;
                    return;
                }
                log::debug!("xmpp: member {jid} present");
                self.peers.push(jid.clone());
                self.events.push_back(Event::PeerPresent(jid));
            }
            (Some("unavailable" | "error"), Some(i)) => {
                let jid = self.peers.swap_remove(i);
                log::debug!("xmpp: member {jid} gone");
                self.events.push_back(Event::PeerGone(jid));
            }
            _ => {}
        }
    }

    fn on_message(&mut self, el: Element<'_>) {
        if el.attr("type").as_deref() == Some("error") {
            return;
        }
        let Some(sig) = el.child_ns("ipop", SIGNAL_NS) else {
            self.counters.stanzas_unknown += 1;
            return;
        };
        let from = self.member(el.attr("from").as_deref());
        let Some(from) = from.filter(|f| self.peers.contains(f)) else {
            self.counters.signals_not_member += 1;
            return;
        };
        match sig.text() {
            Some(body) if body.len() <= MAX_SIGNAL_LEN => {
                self.counters.signals_in += 1;
                self.events.push_back(Event::Signal {
                    from,
                    body: body.into_owned().into_bytes(),
                });
            }
            _ => self.counters.signals_bad += 1,
        }
    }
}
