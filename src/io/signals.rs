//! SIGINT/SIGTERM as an awaitable event for the single-threaded loop, by the
//! self-pipe trick: the handler writes the signal number into a non-blocking
//! pipe whose read end sits on the async-io reactor. No threads, and unlike
//! signalfd it needs no signal mask (which every thread would have to share).
//!
//! A second signal while the first is being handled restores the default
//! action and re-raises, so a stuck shutdown can still be interrupted.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use async_io::Async;

/// Write end of the pipe, for the handler (-1 until installed).
static PIPE_WR: AtomicI32 = AtomicI32::new(-1);
/// Set by the first signal; the second one then takes the default action.
static SEEN: AtomicBool = AtomicBool::new(false);
static INSTALLED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(sig: libc::c_int) {
    // Only async-signal-safe calls here: write, signal, raise; errno is saved.
    // SAFETY: __errno_location returns this thread's errno slot.
    let errno = unsafe { *libc::__errno_location() };
    if SEEN.swap(true, Ordering::SeqCst) {
        // SAFETY: restoring the default action and re-raising is the
        // documented way to die "by" the signal.
        unsafe {
            libc::signal(sig, libc::SIG_DFL);
            libc::raise(sig);
        }
    }
    let fd = PIPE_WR.load(Ordering::SeqCst);
    if fd >= 0 {
        let byte = sig as u8;
        // SAFETY: one byte from a local into a descriptor we own; a full pipe
        // (EAGAIN) just drops the byte, which is fine: one is enough.
        unsafe { libc::write(fd, (&byte as *const u8).cast(), 1) };
    }
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = errno };
}

/// The read end of the self-pipe.
#[derive(Debug)]
struct PipeRead(OwnedFd);

impl AsFd for PipeRead {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

/// Termination signals (SIGINT, SIGTERM) as an async stream.
#[derive(Debug)]
pub struct Signals {
    pipe: Async<PipeRead>,
}

impl Signals {
    /// Waits for the next SIGINT or SIGTERM and returns its number.
    pub async fn recv(&self) -> io::Result<i32> {
        self.pipe
            .read_with(|p| read_one(&p.0)?.ok_or(io::ErrorKind::WouldBlock.into()))
            .await
    }

    /// The signal received so far, if any, without waiting.
    pub fn try_recv(&self) -> io::Result<Option<i32>> {
        match read_one(&self.pipe.get_ref().0) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            r => r,
        }
    }
}

/// Reads one signal byte: `Ok(None)` at EOF (cannot happen: we hold the
/// write end), `WouldBlock` if none is pending.
fn read_one(fd: &OwnedFd) -> io::Result<Option<i32>> {
    let mut byte = 0u8;
    // SAFETY: reading one byte into a local.
    let n = unsafe { libc::read(fd.as_raw_fd(), (&mut byte as *mut u8).cast(), 1) };
    match n {
        1 => Ok(Some(i32::from(byte))),
        0 => Ok(None),
        _ => Err(io::Error::last_os_error()),
    }
}

/// Installs the SIGINT/SIGTERM handlers (once per process) and returns the
/// receiver. A second call fails with `AlreadyExists`.
pub fn install_signal_handlers() -> io::Result<Signals> {
    if INSTALLED.swap(true, Ordering::SeqCst) {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "signal handlers are already installed",
        ));
    }
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: pipe2 fills two descriptors, checked below.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fresh descriptors owned from here on. The write end lives for
    // the rest of the process (the handler may fire at any time).
    let (rd, wr) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    PIPE_WR.store(std::os::fd::IntoRawFd::into_raw_fd(wr), Ordering::SeqCst);
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a zeroed sigaction plus the fields set below is valid.
        let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
        sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        sa.sa_flags = libc::SA_RESTART;
        // SAFETY: sa_mask is a valid sigset_t inside `sa`.
        unsafe { libc::sigemptyset(&mut sa.sa_mask) };
        // SAFETY: installing a handler that only makes async-signal-safe calls.
        if unsafe { libc::sigaction(sig, &sa, std::ptr::null_mut()) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(Signals {
        pipe: Async::new(PipeRead(rd))?,
    })
}

/// Resolves at the first SIGINT or SIGTERM (the one-shot form `ipop run`
/// uses) and logs which one it was.
pub async fn wait_for_shutdown(signals: &Signals) -> io::Result<()> {
    let sig = signals.recv().await?;
    let name = if sig == libc::SIGINT {
        "SIGINT"
    } else {
        "SIGTERM"
    };
    log::info!("{name}: shutting down");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn sigterm_and_sigint_arrive_in_the_loop() {
        let signals = install_signal_handlers().unwrap();
        assert_eq!(signals.try_recv().unwrap(), None);
        assert_eq!(
            install_signal_handlers().unwrap_err().kind(),
            io::ErrorKind::AlreadyExists
        );
        smol::block_on(async {
            // SAFETY: raising a signal whose handler is installed above.
            unsafe { libc::raise(libc::SIGTERM) };
            let got = smol::future::or(async { Some(signals.recv().await) }, async {
                async_io::Timer::after(Duration::from_secs(2)).await;
                None
            })
            .await;
            assert_eq!(got.unwrap().unwrap(), libc::SIGTERM);
        });
        // The handler would now take the default action for a second signal
        // (killing the test binary), so reset that state before raising again.
        SEEN.store(false, Ordering::SeqCst);
        // SAFETY: as above.
        unsafe { libc::raise(libc::SIGINT) };
        assert_eq!(signals.try_recv().unwrap(), Some(libc::SIGINT));
        assert_eq!(signals.try_recv().unwrap(), None);
        // Give the rest of the test run the default actions back.
        // SAFETY: restoring SIG_DFL.
        unsafe {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            libc::signal(libc::SIGTERM, libc::SIG_DFL);
        }
        SEEN.store(false, Ordering::SeqCst);
    }
}
