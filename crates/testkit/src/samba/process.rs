//! Child processes that die with the test binary.
//!
//! `PR_SET_PDEATHSIG` fires when the *thread* that forked the child exits, not the
//! process. Test harnesses run each test on its own short-lived thread, so every server
//! is spawned from one dedicated thread that never exits: the servers then live exactly
//! as long as the test binary, even when it is killed.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Mutex, OnceLock};

type SpawnRequest = (Command, Sender<io::Result<Child>>);

fn keeper() -> &'static Mutex<Sender<SpawnRequest>> {
    static KEEPER: OnceLock<Mutex<Sender<SpawnRequest>>> = OnceLock::new();
    KEEPER.get_or_init(|| {
        let (tx, rx) = channel::<SpawnRequest>();
        // The receiver loop ends only when every sender is gone; the sender is static,
        // so the thread lives as long as the process.
        let spawned = std::thread::Builder::new()
            .name("testkit-process-keeper".into())
            .spawn(move || {
                for (mut command, reply) in rx {
                    let _ = reply.send(spawn_with_death_signal(&mut command));
                }
                loop {
                    std::thread::park();
                }
            });
        if let Err(e) = spawned {
            // Without the thread, requests fail below with a clear error.
            eprintln!("testkit: cannot start the process keeper thread: {e}");
        }
        Mutex::new(tx)
    })
}

fn spawn_with_death_signal(command: &mut Command) -> io::Result<Child> {
    // SAFETY: prctl and getppid are async-signal-safe; nothing else runs between fork
    // and exec here.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The keeper thread may already be gone (process exiting): do not outlive it.
            if libc::getppid() == 1 {
                return Err(io::Error::other("parent exited before the server started"));
            }
            Ok(())
        });
    }
    command.spawn()
}

/// Spawns `command` from the keeper thread; the child is killed when the test binary
/// exits, however it exits.
pub fn spawn_kept(command: Command) -> io::Result<Child> {
    let (reply_tx, reply_rx) = channel();
    {
        let sender = keeper()
            .lock()
            .map_err(|_| io::Error::other("process keeper lock poisoned"))?;
        sender
            .send((command, reply_tx))
            .map_err(|_| io::Error::other("process keeper thread is not running"))?;
    }
    reply_rx
        .recv()
        .map_err(|_| io::Error::other("process keeper thread did not answer"))?
}

/// A kept child that is killed and reaped when dropped.
pub struct KeptChild(pub Child);

impl Drop for KeptChild {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
