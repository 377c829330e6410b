//! The control socket behind `ipop status`, `ipop member` and `ipop
//! secret`: a Unix stream socket (mode 0600) where a client sends one line
//! (`status`, `status json`, `member show`, `member install <base64>`,
//! `secret next <base64 of the secret>`, `secret rotate`) and the node
//! answers with text and closes.
//!
//! Server side for the single-threaded event loop: `accept_request` yields
//! one parsed request plus a `ControlReply` to answer it with. It keeps a
//! half-read connection in `self`, so it is cancel-safe: the loop may race it
//! against other events and simply call it again. A client that sends nothing
//! is dropped after `request_timeout`; it never holds up the node.

use std::fmt;
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use async_io::{Async, Timer};

/// Longest request line accepted (a `member install` line carries a
/// 1104-byte statement in base64).
const MAX_REQUEST: usize = 2048;
/// How long `query` waits for the node to answer.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long `ControlReply::send` may block the loop on a client that does
/// not read (a status reply normally fits in the socket buffer at once).
const SEND_BUDGET: Duration = Duration::from_millis(200);

/// What a client asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    Status {
        json: bool,
    },
    /// The membership statement in force.
    MemberShow,
    /// A signed statement (base64) to check and install.
    MemberInstall(String),
    /// Hold a next group secret (base64 of its text, so no byte of it is
    /// taken for a separator; never logged).
    SecretNext(String),
    /// Start using the next group secret now.
    SecretRotate,
}

impl Request {
    /// Parses one request line (surrounding whitespace ignored).
    pub fn parse(line: &str) -> Option<Request> {
        let mut words = line.split_whitespace();
        let req = match (words.next()?, words.next()) {
            ("status", None) => Request::Status { json: false },
            ("status", Some("json")) => Request::Status { json: true },
            ("member", Some("show")) => Request::MemberShow,
            ("member", Some("install")) => Request::MemberInstall(words.next()?.to_string()),
            ("secret", Some("next")) => Request::SecretNext(words.next()?.to_string()),
            ("secret", Some("rotate")) => Request::SecretRotate,
            _ => return None,
        };
        words.next().is_none().then_some(req)
    }

    /// The line a client sends.
    pub fn line(&self) -> String {
        match self {
            Request::Status { json: false } => "status\n".into(),
            Request::Status { json: true } => "status json\n".into(),
            Request::MemberShow => "member show\n".into(),
            Request::MemberInstall(b) => format!("member install {b}\n"),
            Request::SecretNext(b) => format!("secret next {b}\n"),
            Request::SecretRotate => "secret rotate\n".into(),
        }
    }
}

#[derive(Debug)]
pub enum ControlError {
    /// Nothing listens at the path (no file, or a stale socket).
    NotRunning {
        path: PathBuf,
    },
    /// Another node already listens at the path.
    AlreadyRunning {
        path: PathBuf,
    },
    /// The path exists and is not a socket; we will not delete it.
    NotASocket {
        path: PathBuf,
    },
    PermissionDenied {
        path: PathBuf,
    },
    /// The node accepted the connection but did not answer in time.
    Timeout {
        path: PathBuf,
    },
    Io {
        path: PathBuf,
        what: &'static str,
        source: io::Error,
    },
}

impl fmt::Display for ControlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ControlError::NotRunning { path } => {
                write!(f, "no ipop node is listening on {}: is it running?", path.display())
            }
            ControlError::AlreadyRunning { path } => write!(
                f,
                "control socket {} is in use: another ipop node is running with it",
                path.display()
            ),
            ControlError::NotASocket { path } => write!(
                f,
                "control socket path {} exists and is not a socket; remove it or set control_socket",
                path.display()
            ),
            ControlError::PermissionDenied { path } => {
                write!(f, "permission denied on {}: run as root", path.display())
            }
            ControlError::Timeout { path } => {
                write!(f, "the node on {} did not answer within 5 s", path.display())
            }
            ControlError::Io { path, what, source } => {
                write!(f, "control socket {}: cannot {what}: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for ControlError {}

/// A connection whose request line is still arriving.
struct Pending {
    stream: Async<UnixStream>,
    buf: [u8; MAX_REQUEST],
    len: usize,
    deadline: Instant,
}

enum Step {
    Line(usize),
    Wait,
    Drop(&'static str),
}

pub struct ControlServer {
    listener: Async<UnixListener>,
    path: PathBuf,
    /// (device, inode) of our socket file, so drop removes only our own.
    id: (u64, u64),
    pending: Option<Pending>,
    request_timeout: Duration,
}

impl ControlServer {
    /// Binds the socket: creates the parent directory, replaces a stale
    /// socket (nothing listening), refuses a live one or a non-socket file.
    pub fn bind(path: &Path) -> Result<ControlServer, ControlError> {
        let err = |what, source| ControlError::Io {
            path: path.to_path_buf(),
            what,
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(dir)
                .map_err(|e| err("create its directory", e))?;
        }
        match std::fs::symlink_metadata(path) {
            Ok(meta) if meta.file_type().is_socket() => match UnixStream::connect(path) {
                Ok(_) => {
                    return Err(ControlError::AlreadyRunning {
                        path: path.to_path_buf(),
                    })
                }
                Err(_) => {
                    log::info!("removing stale control socket {}", path.display());
                    std::fs::remove_file(path).map_err(|e| err("remove the stale socket", e))?;
                }
            },
            Ok(_) => {
                return Err(ControlError::NotASocket {
                    path: path.to_path_buf(),
                })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(err("inspect the path", e)),
        }
        // The umask makes the socket 0600 from the start (no chmod window).
        // SAFETY: umask only swaps the process file-creation mask.
        let old = unsafe { libc::umask(0o177) };
        let bound = UnixListener::bind(path);
        // SAFETY: as above; restores the previous mask.
        unsafe { libc::umask(old) };
        let listener = bound.map_err(|e| match e.kind() {
            io::ErrorKind::PermissionDenied => ControlError::PermissionDenied {
                path: path.to_path_buf(),
            },
            _ => err("bind", e),
        })?;
        let meta = std::fs::metadata(path).map_err(|e| err("inspect the new socket", e))?;
        let listener = Async::new(listener).map_err(|e| err("register with the reactor", e))?;
        Ok(ControlServer {
            listener,
            path: path.to_path_buf(),
            id: (meta.dev(), meta.ino()),
            pending: None,
            request_timeout: Duration::from_secs(1),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How long a client may take to send its request line (default 1 s).
    pub fn set_request_timeout(&mut self, timeout: Duration) {
        self.request_timeout = timeout;
    }

    /// Waits for the next well-formed request. Bad or silent clients get an
    /// error line (when possible) and are dropped here; only a failing
    /// `accept` (e.g. out of descriptors) is returned as an error.
    pub async fn accept_request(&mut self) -> io::Result<(Request, ControlReply)> {
        loop {
            if self.pending.is_none() {
                let (stream, _) = self.listener.accept().await?;
                self.pending = Some(Pending {
                    stream,
                    buf: [0; MAX_REQUEST],
                    len: 0,
                    deadline: Instant::now() + self.request_timeout,
                });
            }
            let Some(p) = self.pending.as_mut() else {
                continue;
            };
            match read_step(p).await {
                Step::Wait => continue,
                Step::Drop(why) => {
                    if let Some(p) = self.pending.take() {
                        log::debug!("control: dropping a client: {why}");
                        // Unread input would turn our close into ECONNRESET
                        // at the client and hide the error line from it.
                        drain(p.stream.get_ref());
                        let _ = ControlReply { stream: p.stream }.send(&format!("error: {why}\n"));
                    }
                }
                Step::Line(end) => {
                    let Some(p) = self.pending.take() else {
                        continue;
                    };
                    let line = std::str::from_utf8(&p.buf[..end]).unwrap_or("");
                    let reply = ControlReply { stream: p.stream };
                    match Request::parse(line) {
                        Some(req) => return Ok((req, reply)),
                        None => {
                            // Only the first word: the rest may be a secret.
                            let first = line.split_whitespace().next().unwrap_or("");
                            let text = format!(
                                "error: unknown request '{}' (expected 'status' or 'status json')\n",
                                first.escape_debug()
                            );
                            let _ = reply.send(&text);
                        }
                    }
                }
            }
        }
    }
}

/// Discards whatever input is queued (bounded; never waits).
fn drain(stream: &UnixStream) {
    let mut scratch = [0u8; 512];
    for _ in 0..8 {
        match (&*stream).read(&mut scratch) {
            Ok(n) if n > 0 => {}
            _ => break,
        }
    }
}

impl ControlServer {
    /// Answers requests for as long as the future is polled, with
    /// `reply_for` computing each answer (a task on the loop's executor).
    /// Accept failures (e.g. out of descriptors) are logged and retried.
    pub async fn serve(mut self, mut reply_for: impl FnMut(Request) -> String) {
        loop {
            match self.accept_request().await {
                Ok((req, reply)) => {
                    if let Err(e) = reply.send(&reply_for(req)) {
                        log::debug!("control: reply not delivered: {e}");
                    }
                }
                Err(e) => {
                    log::warn!("control socket {}: accept: {e}", self.path.display());
                    Timer::after(Duration::from_millis(100)).await;
                }
            }
        }
    }
}

/// Reads what has arrived of the request line, or times out.
async fn read_step(p: &mut Pending) -> Step {
    if p.len == p.buf.len() {
        return Step::Drop("request line too long");
    }
    let deadline = p.deadline;
    let read = async {
        let Pending {
            stream, buf, len, ..
        } = &mut *p;
        let free = &mut buf[*len..];
        Some(stream.read_with(|s| (&*s).read(free)).await)
    };
    let timeout = async {
        Timer::at(deadline).await;
        None
    };
    match smol::future::or(read, timeout).await {
        None => Step::Drop("no request line within the time limit"),
        Some(Err(_)) => Step::Drop("read error"),
        Some(Ok(0)) if p.len == 0 => Step::Drop("closed without a request"),
        // EOF without a newline: take what came as the line.
        Some(Ok(0)) => Step::Line(p.len),
        Some(Ok(n)) => {
            let start = p.len;
            p.len += n;
            match p.buf[start..p.len].iter().position(|&b| b == b'\n') {
                Some(i) => Step::Line(start + i),
                None => Step::Wait,
            }
        }
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        // Remove the file only if it is still the socket we made.
        if let Ok(meta) = std::fs::symlink_metadata(&self.path) {
            if (meta.dev(), meta.ino()) == self.id {
                let _ = std::fs::remove_file(&self.path);
            }
        }
    }
}

/// The open connection of one request; `send` answers it and closes it.
pub struct ControlReply {
    stream: Async<UnixStream>,
}

impl ControlReply {
    /// Writes the reply and closes the connection. Does not wait for the
    /// client beyond a short budget (200 ms) if its buffer is full.
    pub fn send(self, text: &str) -> io::Result<()> {
        let mut rest = text.as_bytes();
        let give_up = Instant::now() + SEND_BUDGET;
        let stream = self.stream.get_ref();
        while !rest.is_empty() {
            match (&*stream).write(rest) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => rest = &rest[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let left = give_up.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(io::ErrorKind::TimedOut.into());
                    }
                    wait_writable(stream, left)?;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// poll(2) for writability, at most `limit`.
fn wait_writable(stream: &UnixStream, limit: Duration) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let mut pfd = libc::pollfd {
        fd: stream.as_raw_fd(),
        events: libc::POLLOUT,
        revents: 0,
    };
    let ms = limit.as_millis().clamp(1, 1000) as libc::c_int;
    // SAFETY: one valid pollfd for the duration of the call.
    if unsafe { libc::poll(&mut pfd, 1, ms) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Client side (the CLI): asks the node at `path` for its status. Blocking.
pub fn query(path: &Path, json: bool) -> Result<String, ControlError> {
    request(path, &Request::Status { json })
}

/// Client side: sends `req` to the node at `path`, returns its answer.
pub fn request(path: &Path, req: &Request) -> Result<String, ControlError> {
    let p = || path.to_path_buf();
    let mut stream = UnixStream::connect(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => {
            ControlError::NotRunning { path: p() }
        }
        io::ErrorKind::PermissionDenied => ControlError::PermissionDenied { path: p() },
        _ => ControlError::Io {
            path: p(),
            what: "connect",
            source: e,
        },
    })?;
    let io_err = |what| {
        move |source| ControlError::Io {
            path: p(),
            what,
            source,
        }
    };
    stream
        .set_read_timeout(Some(CLIENT_TIMEOUT))
        .map_err(io_err("set a timeout"))?;
    stream
        .set_write_timeout(Some(CLIENT_TIMEOUT))
        .map_err(io_err("set a timeout"))?;
    stream
        .write_all(req.line().as_bytes())
        .map_err(io_err("send the request"))?;
    let mut reply = String::new();
    stream
        .read_to_string(&mut reply)
        .map_err(|e| match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                ControlError::Timeout { path: p() }
            }
            _ => ControlError::Io {
                path: p(),
                what: "read the reply",
                source: e,
            },
        })?;
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A fresh directory per test (removed at the end of the test).
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> TempDir {
            let d = std::env::temp_dir().join(format!("ipop-ctl-{}-{tag}", std::process::id()));
            let _ = std::fs::remove_dir_all(&d);
            TempDir(d)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// Serves `n` requests, answering each with a text that names it.
    async fn serve(server: &mut ControlServer, n: usize) {
        for _ in 0..n {
            let (req, reply) = server.accept_request().await.unwrap();
            let text = match req {
                Request::Status { json: false } => "uid 25c9\npeers 0\n".to_string(),
                Request::Status { json: true } => "{\"uid\":\"25c9\",\"peers\":[]}\n".to_string(),
                other => format!("{other:?}\n"),
            };
            reply.send(&text).unwrap();
        }
    }

    /// Runs the blocking client on a thread while the server runs here.
    fn with_client<T: Send + 'static>(
        server: &mut ControlServer,
        n: usize,
        client: impl FnOnce() -> T + Send + 'static,
    ) -> T {
        let t = std::thread::spawn(client);
        smol::block_on(smol::future::or(serve(server, n), async {
            Timer::after(Duration::from_secs(10)).await;
            panic!("server did not see {n} good requests (client failed?)");
        }));
        t.join().unwrap()
    }

    #[test]
    fn request_lines() {
        assert_eq!(
            Request::parse("status\n"),
            Some(Request::Status { json: false })
        );
        assert_eq!(
            Request::parse("  status   json \r\n"),
            Some(Request::Status { json: true })
        );
        assert_eq!(Request::parse("status xml"), None);
        assert_eq!(Request::parse("status json extra"), None);
        assert_eq!(Request::parse(""), None);
        assert_eq!(Request::parse("STATUS"), None);
        assert_eq!(Request::parse("member install"), None);
        assert_eq!(Request::parse("member install a b"), None);
        assert_eq!(Request::parse("secret rotate now"), None);
        for r in [
            Request::Status { json: false },
            Request::Status { json: true },
            Request::MemberShow,
            Request::MemberInstall("aXBtcw==".into()),
            Request::SecretNext("c2VjcmV0".into()),
            Request::SecretRotate,
        ] {
            assert_eq!(Request::parse(&r.line()), Some(r));
        }
    }

    #[test]
    fn status_round_trip_and_socket_hygiene() {
        let dir = TempDir::new("rt");
        let path = dir.0.join("run/ipop/ipop.sock");
        let mut server = ControlServer::bind(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);

        let p = path.clone();
        let (text, json) = with_client(&mut server, 2, move || {
            (query(&p, false).unwrap(), query(&p, true).unwrap())
        });
        assert_eq!(text, "uid 25c9\npeers 0\n");
        assert_eq!(json, "{\"uid\":\"25c9\",\"peers\":[]}\n");

        // A second node on the same path is refused, and the first keeps it.
        match ControlServer::bind(&path) {
            Err(e) => assert_eq!(
                e.to_string(),
                format!(
                    "control socket {} is in use: another ipop node is running with it",
                    path.display()
                )
            ),
            Ok(_) => panic!("second bind succeeded"),
        }
        assert!(path.exists());
        drop(server);
        assert!(!path.exists(), "socket file left behind");
        match query(&path, false) {
            Err(e) => assert_eq!(
                e.to_string(),
                format!(
                    "no ipop node is listening on {}: is it running?",
                    path.display()
                )
            ),
            Ok(t) => panic!("got a reply from nobody: {t}"),
        }
    }

    #[test]
    fn stale_socket_is_replaced_but_other_files_are_not() {
        let dir = TempDir::new("stale");
        std::fs::create_dir_all(&dir.0).unwrap();
        let path = dir.0.join("ipop.sock");
        // A socket file nobody listens on, as left by a killed node.
        drop(UnixListener::bind(&path).unwrap());
        assert!(matches!(
            query(&path, false),
            Err(ControlError::NotRunning { .. })
        ));
        let mut server = ControlServer::bind(&path).unwrap();
        let p = path.clone();
        assert_eq!(
            with_client(&mut server, 1, move || query(&p, false).unwrap()),
            "uid 25c9\npeers 0\n"
        );
        drop(server);

        let file = dir.0.join("notasocket");
        std::fs::write(&file, b"keep me").unwrap();
        assert!(matches!(
            ControlServer::bind(&file),
            Err(ControlError::NotASocket { .. })
        ));
        assert_eq!(std::fs::read(&file).unwrap(), b"keep me");
    }

    /// Sends raw bytes as a client and returns what the server answered.
    fn raw_client(path: &Path, send: &'static [u8]) -> String {
        let mut s = UnixStream::connect(path).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(send).unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn bad_requests_get_an_error_and_the_server_goes_on() {
        let dir = TempDir::new("bad");
        let path = dir.0.join("ipop.sock");
        let mut server = ControlServer::bind(&path).unwrap();
        let p = path.clone();
        let replies = with_client(&mut server, 2, move || {
            [
                raw_client(&p, b"reboot\n"),
                raw_client(&p, &[b'x'; 2100]),
                raw_client(&p, b""),
                // No newline before EOF still counts as a line.
                raw_client(&p, b"status json"),
                raw_client(&p, b"status\n"),
            ]
        });
        assert_eq!(
            replies,
            [
                "error: unknown request 'reboot' (expected 'status' or 'status json')\n",
                "error: request line too long\n",
                "error: closed without a request\n",
                "{\"uid\":\"25c9\",\"peers\":[]}\n",
                "uid 25c9\npeers 0\n",
            ]
        );
    }

    #[test]
    fn silent_client_is_dropped_and_the_next_is_served() {
        let dir = TempDir::new("silent");
        let path = dir.0.join("ipop.sock");
        let mut server = ControlServer::bind(&path).unwrap();
        server.set_request_timeout(Duration::from_millis(200));
        let p = path.clone();
        let (silent, served) = with_client(&mut server, 1, move || {
            let mut quiet = UnixStream::connect(&p).unwrap();
            quiet
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut out = String::new();
            quiet.read_to_string(&mut out).unwrap();
            (out, query(&p, false).unwrap())
        });
        assert_eq!(silent, "error: no request line within the time limit\n");
        assert_eq!(served, "uid 25c9\npeers 0\n");
    }

    #[test]
    fn cancelled_accept_keeps_the_half_read_request() {
        let dir = TempDir::new("cancel");
        let path = dir.0.join("ipop.sock");
        let mut server = ControlServer::bind(&path).unwrap();
        let mut client = UnixStream::connect(&path).unwrap();
        client.write_all(b"sta").unwrap();
        smol::block_on(async {
            // The loop gives up on the control socket after 50 ms (another
            // event won); the partial line must survive.
            let cancelled =
                smol::future::or(async { Some(server.accept_request().await) }, async {
                    Timer::after(Duration::from_millis(50)).await;
                    None
                })
                .await;
            assert!(cancelled.is_none());
            client.write_all(b"tus json\n").unwrap();
            let (req, reply) = server.accept_request().await.unwrap();
            assert_eq!(req, Request::Status { json: true });
            reply.send("ok\n").unwrap();
        });
        let mut out = String::new();
        client.read_to_string(&mut out).unwrap();
        assert_eq!(out, "ok\n");
    }

    #[test]
    fn serve_runs_a_callback_per_request() {
        let dir = TempDir::new("serve");
        let path = dir.0.join("ipop.sock");
        let server = ControlServer::bind(&path).unwrap();
        let p = path.clone();
        let client = std::thread::spawn(move || {
            [
                query(&p, false).unwrap(),
                query(&p, true).unwrap(),
                query(&p, false).unwrap(),
            ]
        });
        let mut count = 0;
        let served = server.serve(|req| {
            count += 1;
            format!("{count} {req:?}\n")
        });
        let replies = smol::block_on(smol::future::or(
            async {
                served.await;
                None
            },
            async { Some(smol::unblock(move || client.join().unwrap()).await) },
        ));
        assert_eq!(
            replies,
            Some([
                "1 Status { json: false }\n".to_string(),
                "2 Status { json: true }\n".to_string(),
                "3 Status { json: false }\n".to_string()
            ])
        );
        // Dropping the serve future dropped the server: the socket is gone.
        assert!(!path.exists());
    }

    #[test]
    fn large_reply_is_delivered_whole() {
        let dir = TempDir::new("large");
        let path = dir.0.join("ipop.sock");
        let mut server = ControlServer::bind(&path).unwrap();
        let p = path.clone();
        let t = std::thread::spawn(move || query(&p, false).unwrap());
        let big: String = (0..5000).map(|i| format!("peer {i:05}\n")).collect();
        smol::block_on(async {
            let (_, reply) = server.accept_request().await.unwrap();
            reply.send(&big).unwrap();
        });
        assert_eq!(t.join().unwrap(), big);
    }
}
