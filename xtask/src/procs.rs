//! Long-running children for `run` and the benchmarks: each in its own process group, so
//! stopping one stops whatever it started (wrangler starts workerd), and all stopped on
//! Ctrl-C, SIGTERM, or when the task returns.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::util::{Result, describe};

/// The children a task started. Dropping it stops them.
#[derive(Clone, Default)]
pub struct Procs {
    children: Arc<Mutex<Vec<(String, Child)>>>,
}

impl Procs {
    /// A set that is also stopped on SIGINT/SIGTERM (the process then exits with 130).
    pub fn with_signal_handler() -> Result<Procs> {
        let procs = Procs::default();
        let on_signal = Arc::downgrade(&procs.children);
        ctrlc::set_handler(move || {
            eprintln!("\nstopping…");
            if let Some(children) = on_signal.upgrade() {
                Procs { children }.stop_all();
            }
            std::process::exit(130);
        })?;
        Ok(procs)
    }

    /// Starts `cmd` in a new process group with stdout/stderr to `log` (appended).
    pub fn spawn(&self, name: &str, cmd: &mut Command, log: &PathBuf) -> Result<u32> {
        use std::os::unix::process::CommandExt;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)?;
        cmd.process_group(0)
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file);
        eprintln!("$ {}   (log: {})", describe(cmd), log.display());
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        let pid = child.id();
        self.lock().push((name.to_string(), child));
        Ok(pid)
    }

    /// Fails if a child has exited (it should be running).
    pub fn check_running(&self) -> Result {
        for (name, child) in self.lock().iter_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("{name} exited: {status}").into());
            }
        }
        Ok(())
    }

    /// Waits until any child exits; returns its name.
    pub fn wait_any(&self) -> String {
        loop {
            for (name, child) in self.lock().iter_mut() {
                if let Ok(Some(_)) = child.try_wait() {
                    return name.clone();
                }
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// SIGTERM to every process group, then SIGKILL to what is left after 3 s.
    pub fn stop_all(&self) {
        let mut children = self.lock();
        for (_, child) in children.iter() {
            signal_group(child.id(), "TERM");
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        for (_, child) in children.iter_mut() {
            while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(50));
            }
            if matches!(child.try_wait(), Ok(None)) {
                signal_group(child.id(), "KILL");
                let _ = child.wait();
            }
        }
        children.clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(String, Child)>> {
        self.children.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Procs {
    fn drop(&mut self) {
        if Arc::strong_count(&self.children) == 1 {
            self.stop_all();
        }
    }
}

fn signal_group(pid: u32, signal: &str) {
    // `kill -SIG -PGID` reaches the child and everything it started.
    let _ = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg("--")
        .arg(format!("-{pid}"))
        .stderr(Stdio::null())
        .status();
}

/// Polls `url` with a plain HTTP/1.1 GET until it answers 200 or `timeout` passes.
pub fn wait_http_ok(url: &str, timeout: Duration) -> Result {
    let deadline = Instant::now() + timeout;
    loop {
        if http_get_status(url).is_ok_and(|s| s == 200) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("{url} did not answer 200 within {}s", timeout.as_secs()).into());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The status of `GET url` (http:// on loopback only).
pub fn http_get_status(url: &str) -> Result<u16> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").ok_or("only http:// URLs")?;
    let (host, path) = rest
        .split_once('/')
        .map(|(h, p)| (h, format!("/{p}")))
        .unwrap_or((rest, "/".into()));
    let mut s = std::net::TcpStream::connect(host)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )?;
    let mut head = [0u8; 16];
    s.read_exact(&mut head)?;
    let text = String::from_utf8_lossy(&head);
    text.get(9..12)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| "not an HTTP response".into())
}
