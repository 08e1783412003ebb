//! Driving the server's programs: initdb once, the configuration ordo owns, pg_ctl to
//! start and stop, and the files only the server account may read.

use std::fs;
use std::io;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{
    CONFIG_FILE, Durability, EmbeddedPostgres, EmbeddedPostgresError, Result, SUPERUSER, io_error,
};

impl EmbeddedPostgres {
    pub(super) fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    pub(super) fn init(&self, durability: Durability) -> Result<()> {
        // initdb reads the password from a file: one only the server account can read,
        // removed right after.
        let password_file = self.dir.join("initdb-password");
        self.write_file(&password_file, self.password.expose())?;
        let mut initdb = self.account.command(&self.binaries.initdb);
        initdb
            .arg("-D")
            .arg(self.data_dir())
            .args(["-U", SUPERUSER, "--auth=scram-sha-256", "-E", "UTF8"])
            .args(["--locale=C.UTF-8"])
            .arg(format!("--pwfile={}", password_file.display()));
        if durability == Durability::Throwaway {
            initdb.arg("--no-sync");
        }
        let result = self.run_command("initdb", initdb);
        let _ = fs::remove_file(&password_file);
        result?;
        let conf = self.data_dir().join("postgresql.conf");
        let mut text = fs::read_to_string(&conf).map_err(|source| io_error(&conf, source))?;
        text.push_str(&format!(
            "\n# written by ordo\ninclude_if_exists = '{CONFIG_FILE}'\n"
        ));
        fs::write(&conf, text).map_err(|source| io_error(&conf, source))
    }

    /// A previous ordo killed without its shutdown leaves its server running on this
    /// data directory; stop it so this start owns the cluster. Callers hold the data
    /// directory's [`DataDirClaim`], so no live ordo owns the server stopped here.
    pub(super) fn stop_leftover(&self) -> Result<()> {
        if self.is_running() {
            tracing::warn!(dir = %self.dir.display(), "stopping a PostgreSQL left running by an earlier ordo");
            self.pg_ctl(
                "stopping a leftover PostgreSQL",
                &["stop", "-m", "fast", "-w"],
            )?;
        }
        Ok(())
    }

    /// Whether a server runs on this data directory.
    pub(super) fn is_running(&self) -> bool {
        if !self.data_dir().join("postmaster.pid").exists() {
            return false;
        }
        let mut status = self.account.command(&self.binaries.pg_ctl);
        status.arg("-D").arg(self.data_dir()).arg("status");
        status
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .current_dir(&self.dir)
            .status()
            .is_ok_and(|status| status.success())
    }

    /// The port of the server running on this data directory, from the settings ordo
    /// wrote when it started it.
    pub(super) fn running_port(&self) -> Option<u16> {
        if !self.is_running() {
            return None;
        }
        let conf = fs::read_to_string(self.data_dir().join(CONFIG_FILE)).ok()?;
        conf.lines()
            .find_map(|line| line.strip_prefix("port = "))
            .and_then(|port| port.trim().parse().ok())
    }

    pub(super) fn run(&mut self, durability: Durability) -> Result<()> {
        // A free port can be taken by someone else between our probe and the server's
        // bind; try a few.
        let mut last_error = None;
        for _ in 0..3 {
            self.port = free_port().map_err(|source| io_error(&self.dir, source))?;
            self.write_config(durability)?;
            let log = self.dir.join("server.log");
            let log = log.to_string_lossy();
            match self.pg_ctl(
                "starting PostgreSQL",
                &["start", "-w", "-t", "60", "-l", &log],
            ) {
                Ok(()) => {
                    self.running = true;
                    return Ok(());
                }
                Err(err) => last_error = Some(err),
            }
        }
        Err(last_error.expect("the loop ran at least once"))
    }

    pub(super) fn write_config(&self, durability: Durability) -> Result<()> {
        let mut conf = format!(
            "listen_addresses = '127.0.0.1'\nport = {}\nunix_socket_directories = ''\n",
            self.port
        );
        if durability == Durability::Throwaway {
            conf.push_str("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n");
        } else {
            // A forgotten transaction (an operator's psql) is ended after a minute: the
            // feed's horizon passes it at once, but it still holds back vacuum.
            conf.push_str("idle_in_transaction_session_timeout = '60s'\n");
        }
        self.write_file(&self.data_dir().join(CONFIG_FILE), &conf)
    }

    pub(super) fn remove_when_process_exits(&self) -> Result<()> {
        // The watchdog polls /proc rather than `kill -0`: as another user it may not
        // signal us, but it can always see whether we exist.
        let script = r#"while [ -d "/proc/$0" ]; do sleep 0.5; done
"$1" -D "$2" stop -m immediate >/dev/null 2>&1
rm -rf "$3""#;
        let mut watchdog = self.account.command(Path::new("sh"));
        watchdog
            .arg("-c")
            .arg(script)
            .arg(std::process::id().to_string())
            .arg(&self.binaries.pg_ctl)
            .arg(self.data_dir())
            .arg(&self.dir)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map(drop)
            .map_err(|source| io_error(&self.dir, source))
    }

    pub(super) fn pg_ctl(&self, step: &'static str, args: &[&str]) -> Result<()> {
        let mut command = self.account.command(&self.binaries.pg_ctl);
        command.arg("-D").arg(self.data_dir()).args(args);
        self.run_command(step, command)
    }

    pub(super) fn run_command(&self, step: &'static str, mut command: Command) -> Result<()> {
        // The server must not keep our stdout open (a test runner waits for it to close).
        let output = command
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .output()
            .map_err(|source| io_error(&self.dir, source))?;
        if output.status.success() {
            return Ok(());
        }
        let mut text = String::from_utf8_lossy(&output.stderr).into_owned();
        text.push_str(&String::from_utf8_lossy(&output.stdout));
        if let Ok(log) = fs::read_to_string(self.dir.join("server.log")) {
            let tail: Vec<&str> = log.lines().rev().take(5).collect();
            text.push_str(" | server.log: ");
            text.push_str(&tail.into_iter().rev().collect::<Vec<_>>().join(" / "));
        }
        Err(EmbeddedPostgresError::CommandFailed {
            step,
            status: output.status.to_string(),
            output: text.trim().to_owned(),
        })
    }

    /// Writes a file readable only by the server account.
    pub(super) fn write_file(&self, path: &Path, contents: &str) -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        fs::write(path, contents).map_err(|source| io_error(path, source))?;
        fs::set_permissions(path, fs::Permissions::from_mode(0o600))
            .and_then(|()| self.account.give(path))
            .map_err(|source| io_error(path, source))
    }
}

fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
