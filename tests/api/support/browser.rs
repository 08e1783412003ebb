//! A real headless browser for the console's tests: Debian's `chromium` driven through
//! `chromedriver` (WebDriver), one of each per test. `.ci/run` installs both;
//! `CHROMEDRIVER` and `CHROME` name another pair.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::wd::Capabilities;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

/// How long a page may take to show what a test waits for.
const PATIENCE: Duration = Duration::from_secs(30);

pub struct Browser {
    pub client: Client,
    driver: Child,
    /// The browser's profile and temporary files, removed with it: a browser killed
    /// (as every one is, in `drop`) cleans up nothing itself.
    _scratch: tempfile::TempDir,
}

impl Browser {
    /// A fresh browser with a window `width` × `height` CSS pixels.
    pub async fn start(width: u32, height: u32) -> Self {
        let port = free_port();
        let scratch = tempfile::tempdir().expect("a directory for the browser");
        let driver = Command::new(std::env::var("CHROMEDRIVER").unwrap_or("chromedriver".into()))
            .arg(format!("--port={port}"))
            // What the driver and the browser make in the temp dir goes in the scratch
            // directory too.
            .env("TMPDIR", scratch.path())
            // Its own process group, so the browsers it starts go down with it.
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver runs (Debian: apt-get install chromium chromium-driver)");
        let mut options = json!({"args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                                          "--disable-gpu", format!("--window-size={width},{height}"),
                                          format!("--user-data-dir={}", scratch.path().join("profile").display())]});
        // Another browser than the one the driver finds by itself (see `.ci/run`).
        if let Ok(binary) = std::env::var("CHROME") {
            options["binary"] = binary.into();
        }
        let mut capabilities = Capabilities::new();
        capabilities.insert("goog:chromeOptions".into(), options);
        let started = Instant::now();
        let mut driver = driver;
        let client = loop {
            // A driver that exited (its port taken meanwhile) is not waited for.
            if let Ok(Some(exit)) = driver.try_wait() {
                panic!("chromedriver exited: {exit}");
            }
            match ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(client) => break client,
                Err(err) if started.elapsed() < PATIENCE => {
                    let _ = err;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(err) => panic!("no browser session: {err}"),
            }
        };
        Self {
            client,
            driver,
            _scratch: scratch,
        }
    }

    pub async fn open(&self, url: &str) {
        self.client.goto(url).await.expect("open the page");
    }

    /// The text of the first element matching `css`, once there is one. Pages redraw
    /// (the health page every 2 s): an element gone between finding and reading is
    /// found again.
    pub async fn text_of(&self, css: &str) -> String {
        let started = Instant::now();
        loop {
            if let Ok(element) = self.client.find(Locator::Css(css)).await
                && let Ok(text) = element.text().await
            {
                return text;
            }
            assert!(started.elapsed() < PATIENCE, "{css} never appeared");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the first element matching `css` reads `expected`.
    pub async fn wait_for_text(&self, css: &str, expected: &str) {
        let started = Instant::now();
        loop {
            let found = match self.client.find(Locator::Css(css)).await {
                Ok(element) => element.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if found == expected {
                return;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "{css} reads {found:?}, not {expected:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Clicks the first element matching `css`, found again if the page redrew it.
    pub async fn click(&self, css: &str) {
        let started = Instant::now();
        loop {
            let clicked = match self.client.find(Locator::Css(css)).await {
                Ok(element) => element.click().await.map_err(|err| err.to_string()),
                Err(err) => Err(err.to_string()),
            };
            match clicked {
                Ok(()) => return,
                Err(err) => assert!(started.elapsed() < PATIENCE, "click {css}: {err}"),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Runs `script` in the page; its `return` value.
    pub async fn run(&self, script: &str) -> serde_json::Value {
        self.client
            .execute(script, Vec::new())
            .await
            .unwrap_or_else(|err| panic!("{script}: {err}"))
    }

    pub async fn screenshot(&self) -> Vec<u8> {
        self.client.screenshot().await.expect("a screenshot")
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The driver and every browser process it started, even after a failed test.
        if let Ok(group) = i32::try_from(self.driver.id()) {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(group),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = self.driver.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}
