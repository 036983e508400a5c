//! Server processes that die with the test binary.
//!
//! `PR_SET_PDEATHSIG` fires when the *thread* that forked the child exits, not the
//! process. So every server is spawned from one dedicated thread that never exits;
//! when the test binary ends (normally, by panic or by a signal) the kernel sends the
//! servers SIGKILL.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

type Job = (Command, Sender<io::Result<Child>>);

fn spawner() -> io::Result<&'static Mutex<Sender<Job>>> {
    static SPAWNER: OnceLock<Mutex<Sender<Job>>> = OnceLock::new();
    if let Some(s) = SPAWNER.get() {
        return Ok(s);
    }
    let (tx, rx) = channel::<Job>();
    std::thread::Builder::new()
        .name("testkit-spawner".into())
        .spawn(move || {
            // The sender lives in a static, so this loop (and the thread) never ends.
            for (mut command, reply) in rx {
                let _ = reply.send(command.spawn());
            }
            loop {
                std::thread::park();
            }
        })?;
    Ok(SPAWNER.get_or_init(|| Mutex::new(tx)))
}

/// Spawns `command` so that it is killed (SIGKILL) when this process ends.
pub fn spawn_tied(mut command: Command) -> io::Result<Child> {
    // SAFETY: the closure runs between fork and exec and only calls the
    // async-signal-safe prctl and getppid.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::getppid() == 1 {
                // The parent is already gone.
                return Err(io::Error::other("parent exited before exec"));
            }
            Ok(())
        });
    }
    let (tx, rx) = channel();
    spawner()?
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .send((command, tx))
        .map_err(|_| io::Error::other("the spawner thread is gone"))?;
    rx.recv()
        .map_err(|_| io::Error::other("the spawner thread is gone"))?
}

/// Asks a child to stop (SIGTERM), waits up to `grace`, then kills it.
pub fn stop_child(child: &mut Child, grace: Duration) {
    if let Ok(pid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: kill on our own child's pid; it is not reaped yet, so not reused.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Whether a process with this pid exists.
pub fn pid_alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks for existence and permission.
    unsafe {
        libc::kill(pid, 0) == 0 || io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
    }
}

/// `N` distinct free TCP ports on `ip` (bind to port 0, read, release all).
pub fn free_ports<const N: usize>(ip: &str) -> io::Result<[u16; N]> {
    let mut listeners = Vec::with_capacity(N);
    let mut ports = [0u16; N];
    for port in ports.iter_mut() {
        let l = std::net::TcpListener::bind((ip, 0))?;
        *port = l.local_addr()?.port();
        listeners.push(l);
    }
    Ok(ports)
}
