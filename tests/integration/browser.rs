//! The dashboard in a real headless Chromium (Debian's `chromium`, driven through
//! `chromedriver` by fantoccini), against the real `overdue serve` binary on each engine,
//! with the real clock and background loops, pinged by `curl` and alerting a real HTTP
//! receiver.
//!
//! Screenshots of the checks list, the check page and the integrations page at desktop
//! and phone widths land in `<target>/tmp/screenshots/`; every page the tests visit is
//! checked for sideways overflow and for text below WCAG AA contrast.
//!
//! Skipped when Chromium or chromedriver is missing, unless `OVERDUE_REQUIRE_BROWSER=1`
//! (CI) makes that a failure.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::support::{Receiver, TestDb};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const OWNER: &str = "owner@example.org";
const READER: &str = "reader@example.org";
const PASSWORD: &str = "correct horse battery";

/// Desktop and phone viewports, as (name, width, height).
const VIEWPORTS: [(&str, u32, u32); 2] = [("desktop", 1280, 900), ("phone", 390, 844)];

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

fn wait_for_port(port: u16, what: &str, log: &Path) {
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{what} did not start listening:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `overdue serve` on a free loopback port, killed when dropped.
struct Server {
    child: Child,
    url: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
    _db: TestDb,
}

impl Server {
    /// Periods and grace times down to one second, so a check goes down within seconds;
    /// webhooks to loopback allowed, for the test's receiver.
    fn start(db: TestDb) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("server.log");
        let port = free_port();
        let url = format!("http://127.0.0.1:{port}");
        let child = Command::new(env!("CARGO_BIN_EXE_overdue"))
            .arg("serve")
            .args(["--database-url", &db.url])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--site-root", &url])
            .args(["--min-timeout", "1"])
            .arg("--webhook-allow-private")
            .env("RUST_LOG", "overdue=info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log"))
            .spawn()
            .expect("start overdue serve");
        wait_for_port(port, "overdue serve", &log);
        Server {
            child,
            url,
            log,
            _dir: dir,
            _db: db,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// chromedriver with one headless Chromium session on a fresh profile, in light or dark
/// colours (`prefers-color-scheme`).
struct Chrome {
    client: Client,
    driver: Child,
    profile: tempfile::TempDir,
}

impl Chrome {
    async fn start(dark: bool) -> Option<Chrome> {
        let installed = Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists();
        if !installed {
            assert!(
                std::env::var("OVERDUE_REQUIRE_BROWSER").as_deref() != Ok("1"),
                "OVERDUE_REQUIRE_BROWSER=1 but {CHROMIUM} or {CHROMEDRIVER} is missing \
                 (apt-get install chromium chromium-driver)"
            );
            eprintln!(
                "skipped: Chromium is not installed (apt-get install chromium chromium-driver)"
            );
            return None;
        }
        let profile = tempfile::tempdir().expect("profile dir");
        let log = profile.path().join("chromedriver.log");
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log"))
            .spawn()
            .expect("start chromedriver");
        wait_for_port(port, "chromedriver", &log);
        let mut args = vec![
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--force-device-scale-factor=1".to_owned(),
            "--lang=en-US".to_owned(),
            format!(
                "--user-data-dir={}",
                profile.path().join("chrome").display()
            ),
        ];
        if dark {
            args.push("--force-dark-mode".to_owned());
        }
        let options = json!({ "binary": CHROMIUM, "args": args });
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("goog:chromeOptions".to_owned(), options);
        let client = ClientBuilder::rustls()
            .expect("TLS roots")
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("start a Chromium session");
        Some(Chrome {
            client,
            driver,
            profile,
        })
    }

    async fn close(self) {
        self.client.clone().close().await.ok();
    }
}

impl Drop for Chrome {
    fn drop(&mut self) {
        self.driver.kill().ok();
        self.driver.wait().ok();
        // A Chromium left behind by a failed test is found by its profile directory.
        Command::new("pkill")
            .arg("-f")
            .arg(self.profile.path())
            .status()
            .ok();
    }
}

/// The browser as a user drives it: pages by path, fields by CSS selector.
struct Page<'a> {
    client: &'a Client,
    server: &'a Server,
}

impl Page<'_> {
    async fn go(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.server.url))
            .await
            .expect("navigate");
    }

    async fn path(&self) -> String {
        self.client
            .current_url()
            .await
            .expect("url")
            .path()
            .to_owned()
    }

    async fn find(&self, css: &str) -> fantoccini::elements::Element {
        match self
            .client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
        {
            Ok(element) => element,
            Err(e) => panic!("{css} not found on {}: {e}", self.path().await),
        }
    }

    async fn has(&self, css: &str) -> bool {
        self.client.find(Locator::Css(css)).await.is_ok()
    }

    async fn fill(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        field.clear().await.expect("clear");
        field.send_keys(text).await.expect("type");
    }

    async fn click(&self, css: &str) {
        self.find(css).await.click().await.expect("click");
    }

    /// Clicks a submit button and waits for the next page to load.
    async fn submit(&self, css: &str) {
        let before = self.client.find(Locator::Css("html")).await.expect("page");
        self.click(css).await;
        self.until(&format!("the page after {css}"), || async {
            // The old document's element goes stale once the next page has loaded.
            before.tag_name().await.is_err()
        })
        .await;
    }

    async fn attr(&self, css: &str, name: &str) -> Option<String> {
        self.find(css).await.attr(name).await.expect("attribute")
    }

    async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.expect("text")
    }

    async fn js(&self, script: &str) -> Value {
        self.client
            .execute(script, Vec::new())
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Polls until `ready` holds; the dashboard's refreshes and the server's loops run on
    /// real time here.
    async fn until<F, Fut>(&self, what: &str, mut ready: F)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = bool>,
    {
        let started = Instant::now();
        while !ready().await {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "timed out waiting for {what} on {}\nserver log:\n{}",
                self.path().await,
                self.server.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sets the viewport (not the window) to `width` × `height` CSS pixels.
    async fn resize(&self, width: u32, height: u32) {
        self.client
            .set_window_size(width, height)
            .await
            .expect("resize");
        let inner = self
            .js("return [window.innerWidth, window.innerHeight]")
            .await;
        let dx =
            width.saturating_sub(u32::try_from(inner[0].as_u64().expect("width")).expect("u32"));
        let dy =
            height.saturating_sub(u32::try_from(inner[1].as_u64().expect("height")).expect("u32"));
        if dx > 0 || dy > 0 {
            self.client
                .set_window_size(width + dx, height + dy)
                .await
                .expect("resize");
        }
    }

    /// Checks the page's layout and contrast at both widths and saves a screenshot of the
    /// whole page at each as `<engine>-<name>-<viewport>.png`.
    async fn inspect(&self, engine: &str, name: &str) {
        let folder = screenshots();
        for (viewport, width, height) in VIEWPORTS {
            self.resize(width, height).await;
            self.assert_fits(&format!("{name} at {viewport} width"))
                .await;
            self.assert_contrast(&format!("{name} at {viewport} width"))
                .await;
            // A window as tall as the page, so the screenshot shows all of it.
            let full = self
                .js("return document.documentElement.scrollHeight")
                .await;
            let full = u32::try_from(full.as_u64().expect("height")).expect("u32");
            self.resize(width, full.max(height)).await;
            let png = self.client.screenshot().await.expect("screenshot");
            std::fs::write(folder.join(format!("{engine}-{name}-{viewport}.png")), png)
                .expect("save screenshot");
        }
        self.resize(VIEWPORTS[0].1, VIEWPORTS[0].2).await;
    }

    /// Nothing sticks out sideways: the page does not scroll horizontally, and no element
    /// reaches past the viewport unless a container that scrolls or clips holds it.
    async fn assert_fits(&self, what: &str) {
        let problems = self.js(FITS_JS).await;
        assert_eq!(problems, json!([]), "{what} overflows");
    }

    /// Every visible text meets WCAG AA contrast against the background behind it.
    async fn assert_contrast(&self, what: &str) {
        let problems = self.js(CONTRAST_JS).await;
        assert_eq!(problems, json!([]), "{what} has text below AA contrast");
    }

    /// POSTs a form from the page's own origin with the page's CSRF token, as a forged
    /// submission from a logged-in member would arrive, and gives the status.
    async fn forge_post(&self, path: &str, fields: &[(&str, &str)]) -> u64 {
        let fields: serde_json::Map<String, Value> = fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), json!(v)))
            .collect();
        let status = self
            .client
            .execute_async(
                r#"const [path, fields, done] = arguments;
                   const body = new URLSearchParams(fields);
                   body.set("csrf", document.querySelector("input[name=csrf]").value);
                   fetch(path, { method: "POST", body, redirect: "manual" })
                     .then((r) => done(r.status), (e) => done(String(e)));"#,
                vec![json!(path), Value::Object(fields)],
            )
            .await
            .expect("forged POST");
        status.as_u64().expect("status")
    }
}

/// The folder screenshots are written to, inside the build's temporary directory.
fn screenshots() -> PathBuf {
    let folder = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&folder).expect("screenshot folder");
    folder
}

const FITS_JS: &str = r#"
const root = document.documentElement;
const width = root.clientWidth;
const problems = [];
if (root.scrollWidth > width) problems.push(`the page is ${root.scrollWidth}px wide in ${width}px`);
for (const element of document.body.querySelectorAll("*")) {
  const box = element.getBoundingClientRect();
  if (box.width === 0 || box.right <= width + 1) continue;
  let held = false;
  for (let p = element.parentElement; p && p !== document.body; p = p.parentElement) {
    if (getComputedStyle(p).overflowX !== "visible") { held = true; break; }
  }
  if (!held) problems.push(`${element.tagName.toLowerCase()}.${element.className} ends at ${Math.round(box.right)}px`);
}
return problems;
"#;

const CONTRAST_JS: &str = r#"
function parse(text) {
  const parts = text.match(/[\d.]+/g).map(Number);
  return { r: parts[0], g: parts[1], b: parts[2], a: parts.length > 3 ? parts[3] : 1 };
}
function over(top, bottom) {
  const a = top.a;
  return { r: top.r * a + bottom.r * (1 - a), g: top.g * a + bottom.g * (1 - a), b: top.b * a + bottom.b * (1 - a), a: 1 };
}
function background(element) {
  const layers = [];
  for (let e = element; e; e = e.parentElement) {
    const color = parse(getComputedStyle(e).backgroundColor);
    if (color.a > 0) layers.push(color);
    if (color.a >= 1) break;
  }
  let result = { r: 255, g: 255, b: 255, a: 1 };
  for (const layer of layers.reverse()) result = over(layer, result);
  return result;
}
function luminance(c) {
  const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
}
const problems = [];
for (const element of document.body.querySelectorAll("*")) {
  const text = [...element.childNodes].filter((n) => n.nodeType === 3).map((n) => n.textContent).join("").trim();
  if (!text || element.getClientRects().length === 0) continue;
  const style = getComputedStyle(element);
  if (style.visibility === "hidden" || element.closest("[hidden], .sr, svg")) continue;
  const back = background(element);
  const fore = over(parse(style.color), back);
  const [light, dark] = [luminance(fore), luminance(back)].sort((a, b) => b - a);
  const ratio = (light + 0.05) / (dark + 0.05);
  const size = parseFloat(style.fontSize);
  const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
  if (ratio < (large ? 3 : 4.5)) problems.push(`"${text.slice(0, 40)}" (${element.tagName.toLowerCase()}.${element.className}): ${ratio.toFixed(2)}`);
}
return problems;
"#;

/// Signs up through the form and lands on the projects list.
async fn sign_up(page: &Page<'_>, email: &str) {
    page.go("/accounts/signup/").await;
    page.fill("#email", email).await;
    page.fill("#password", PASSWORD).await;
    page.submit("form[action='/accounts/signup/'] button[type=submit]")
        .await;
    assert_eq!(page.path().await, "/");
}

async fn log_in(page: &Page<'_>, email: &str) {
    page.go("/accounts/login/").await;
    page.fill("#email", email).await;
    page.fill("#password", PASSWORD).await;
    page.submit("form[action='/accounts/login/'] button[type=submit]")
        .await;
    assert_eq!(page.path().await, "/");
}

async fn log_out(page: &Page<'_>) {
    page.submit("form[action='/accounts/logout/'] button").await;
}

/// The server and a browser for one test; `None` when the engine or the browser is
/// not available here.
async fn start(db: Option<TestDb>) -> Option<(Server, Chrome)> {
    let db = db?;
    let chrome = Chrome::start(false).await?;
    Some((Server::start(db), chrome))
}

/// The project's code, from a path such as `/projects/<code>/settings/`.
fn project_code(path: &str) -> String {
    path.split('/').nth(2).expect("project code").to_owned()
}

/// Creates a project through the projects list's form; gives its code.
async fn create_project(page: &Page<'_>, name: &str) -> String {
    page.go("/").await;
    page.fill("form[action='/projects/new/'] #name", name).await;
    page.submit("form[action='/projects/new/'] button[type=submit]")
        .await;
    project_code(&page.path().await)
}

/// The status the checks list shows for the check in row `code`.
async fn row_status(page: &Page<'_>, code: &str) -> String {
    page.attr(&format!("tr[data-code='{code}'] .status"), "aria-label")
        .await
        .unwrap_or_default()
}

mod owner_watches_a_cron_job {
    use super::*;

    #[tokio::test]
    async fn sqlite() {
        scenario("sqlite", Some(TestDb::sqlite().await)).await;
    }

    #[tokio::test]
    async fn postgres() {
        scenario("postgres", TestDb::postgres().await).await;
    }

    /// Sign up, make a project and a cron check (with the preview), ping it with curl and
    /// watch it turn up without reloading; add a webhook and send a test; shorten the
    /// schedule and watch the check go down, its flip and the delivered webhook in the
    /// event log.
    async fn scenario(engine: &str, db: Option<TestDb>) {
        let Some((server, chrome)) = start(db).await else {
            return;
        };
        let page = Page {
            client: &chrome.client,
            server: &server,
        };
        let receiver = Receiver::start().await;

        sign_up(&page, OWNER).await;
        let project = create_project(&page, "Nightly jobs").await;
        let checks = format!("/projects/{project}/checks/");

        // A cron check, with the next runs previewed in its zone as the expression is typed.
        page.go(&checks).await;
        assert!(page.text("main").await.contains("No checks yet."));
        page.click("details.add summary").await;
        page.fill("#add-name", "Backup").await;
        page.click("input[name=kind][value=cron]").await;
        page.fill("#add-schedule", "30 2 * * *").await;
        page.fill("#add-tz", "Europe/Riga").await;
        page.until("the preview of the next runs", || async {
            let items = page
                .js("return [...document.querySelectorAll('.preview li')].map((li) => li.textContent)")
                .await;
            let items = items.as_array().cloned().unwrap_or_default();
            items.len() == 5
                && items
                    .iter()
                    .all(|i| i.as_str().is_some_and(|t| t.contains("02:30 EE")))
        })
        .await;
        // A mistake shows in the preview before the form is sent.
        page.fill("#add-schedule", "30 2 * *").await;
        page.until("the preview's error", || async {
            page.has(".preview li.field-error").await
        })
        .await;
        page.fill("#add-schedule", "30 2 * * *").await;
        page.fill("#add-grace", "1").await;
        page.find("select[name=grace_unit]")
            .await
            .select_by_value("60")
            .await
            .expect("minutes");
        page.submit("form[data-preview-url] button[type=submit]")
            .await;
        assert_eq!(page.path().await, checks);
        let code = page
            .attr("tr[data-code]", "data-code")
            .await
            .expect("row code");
        assert_eq!(row_status(&page, &code).await, "new");
        assert_eq!(
            page.text(".schedule").await,
            "30 2 * * * (Europe/Riga), grace 1 minute"
        );

        // Its ping URL, as shown on its page, pinged with curl.
        page.click(&format!("tr[data-code='{code}'] a.check-name"))
            .await;
        assert_eq!(page.path().await, format!("/checks/{code}/"));
        let ping_url = page.text("#ping-url").await;
        assert_eq!(ping_url, format!("{}/ping/{code}", server.url));
        page.go(&checks).await;
        let curl = Command::new("curl")
            .args(["-fsS", "-m", "10", "--retry", "5", &ping_url])
            .output()
            .expect("curl runs");
        assert!(curl.status.success(), "{curl:?}");
        assert_eq!(String::from_utf8_lossy(&curl.stdout), "OK");
        // The list refreshes itself: no reload.
        page.until("the check to show up", || async {
            row_status(&page, &code).await == "up"
        })
        .await;
        page.inspect(engine, "checks").await;

        // A webhook to the receiver, tested from the integrations page.
        let integrations = format!("/projects/{project}/integrations/");
        page.go(&integrations).await;
        page.fill("#wh-name", "Receiver").await;
        page.fill("#url-down", &format!("{}/down", receiver.url))
            .await;
        page.fill("#url-up", &format!("{}/up", receiver.url)).await;
        page.submit("input[value=add-webhook] ~ button[type=submit]")
            .await;
        assert!(page.text(".channel").await.contains("Receiver"));
        page.submit(".channel button[value=test]").await;
        page.until("the test notification", || async {
            receiver.received().iter().any(|r| r.path == "/down")
        })
        .await;
        page.inspect(engine, "integrations").await;

        // Shorter than the time since the ping, the check goes down at once.
        page.go(&format!("/checks/{code}/")).await;
        let form = "form:has(input[name=action][value=schedule])";
        page.click("details:has(input[name=action][value=schedule]) > summary")
            .await;
        page.click(&format!("{form} input[name=kind][value=simple]"))
            .await;
        for (field, amount) in [("timeout", "2"), ("grace", "1")] {
            page.fill(&format!("{form} input[name={field}]"), amount)
                .await;
            page.find(&format!("{form} select[name={field}_unit]"))
                .await
                .select_by_value("1")
                .await
                .expect("seconds");
        }
        page.submit(&format!("{form} button[type=submit]")).await;
        page.until("the down webhook", || async {
            receiver
                .received()
                .iter()
                .filter(|r| r.path == "/down")
                .count()
                == 2
        })
        .await;
        page.until("the event log to show the delivery", || async {
            page.go(&format!("/checks/{code}/")).await;
            page.text(".events").await.contains("delivered")
        })
        .await;
        let events = page.text(".events").await;
        assert!(events.contains("down"), "{events}");
        assert!(events.contains("Receiver"), "{events}");
        assert_eq!(
            page.attr(".heading .status", "aria-label").await.as_deref(),
            Some("down")
        );
        page.inspect(engine, "check").await;
        chrome.close().await;

        // The same pages in dark colours.
        let dark = Chrome::start(true).await.expect("a second browser");
        let page = Page {
            client: &dark.client,
            server: &server,
        };
        log_in(&page, OWNER).await;
        for (name, path) in [
            ("checks-dark", checks),
            ("check-dark", format!("/checks/{code}/")),
            ("integrations-dark", integrations),
        ] {
            page.go(&path).await;
            page.inspect(engine, name).await;
        }
        dark.close().await;
    }
}

mod keys_and_a_read_only_member {
    use super::*;

    #[tokio::test]
    async fn sqlite() {
        scenario(Some(TestDb::sqlite().await)).await;
    }

    #[tokio::test]
    async fn postgres() {
        scenario(TestDb::postgres().await).await;
    }

    /// An API key made on the settings page works at once and stops when revoked; a
    /// read-only member sees no control that changes anything, and their forged
    /// submissions are refused and change nothing.
    async fn scenario(db: Option<TestDb>) {
        let Some((server, chrome)) = start(db).await else {
            return;
        };
        let page = Page {
            client: &chrome.client,
            server: &server,
        };
        let http = reqwest::Client::new();
        let api_status = |key: String| {
            let request = http
                .get(format!("{}/api/v3/checks/", server.url))
                .header("X-Api-Key", key);
            async move { request.send().await.expect("API answers").status().as_u16() }
        };

        sign_up(&page, READER).await;
        // The layout and contrast checks catch what they are for.
        page.js(
            "const wide = document.createElement('div'); wide.style.width = '3000px'; \
             const faint = document.createElement('p'); faint.textContent = 'faint'; \
             faint.style.color = '#bbb'; faint.style.background = '#fff'; \
             document.querySelector('main').append(wide, faint); return null",
        )
        .await;
        assert_ne!(page.js(FITS_JS).await, json!([]));
        let faint = page.js(CONTRAST_JS).await;
        assert!(faint.to_string().contains("faint"), "{faint}");
        log_out(&page).await;
        sign_up(&page, OWNER).await;
        let project = create_project(&page, "Shared").await;
        let settings = format!("/projects/{project}/settings/");
        page.go(&format!("/projects/{project}/checks/")).await;
        page.click("details.add summary").await;
        page.fill("#add-name", "Reports").await;
        page.submit("form[data-preview-url] button[type=submit]")
            .await;
        let check = page
            .attr("tr[data-code]", "data-code")
            .await
            .expect("row code");

        // Made, shown once, working; revoked, refused.
        page.go(&settings).await;
        page.submit("input[name=key][value=rw] ~ button[value=create]")
            .await;
        let key = page.text("#new-key").await;
        assert_eq!(api_status(key.clone()).await, 200);
        page.go(&settings).await;
        assert!(!page.text("main").await.contains(&key));
        page.submit("input[name=key][value=rw] ~ button[value=revoke]")
            .await;
        assert_eq!(api_status(key).await, 401);

        // The reader joins as read-only.
        page.fill("#member-email", READER).await;
        page.find("select[name=role]")
            .await
            .select_by_value("readonly")
            .await
            .expect("role");
        page.submit("input[value=add-member] ~ button[type=submit]")
            .await;
        assert!(page.text("main").await.contains(READER));
        log_out(&page).await;
        log_in(&page, READER).await;

        let pages = [
            format!("/projects/{project}/checks/"),
            format!("/checks/{check}/"),
            format!("/projects/{project}/integrations/"),
            settings.clone(),
        ];
        for path in &pages {
            page.go(path).await;
            // The only form a reader has is the one that logs them out.
            let forms = page
                .js("return [...document.querySelectorAll('main form[method=post]')].length")
                .await;
            assert_eq!(forms, json!(0), "{path} offers a reader a form");
        }

        page.go(&format!("/checks/{check}/")).await;
        assert_eq!(
            page.forge_post(&format!("/checks/{check}/"), &[("action", "pause")])
                .await,
            403
        );
        assert_eq!(
            page.forge_post(&settings, &[("action", "create"), ("key", "rw")])
                .await,
            403
        );
        assert_eq!(
            page.forge_post(
                &format!("/projects/{project}/integrations/"),
                &[
                    ("action", "add-webhook"),
                    ("url_down", "https://example.org/")
                ]
            )
            .await,
            403
        );
        page.go(&format!("/checks/{check}/")).await;
        assert_eq!(
            page.attr(".heading .status", "aria-label").await.as_deref(),
            Some("new"),
            "the forged pause changed the check"
        );
        page.go(&format!("/projects/{project}/integrations/")).await;
        assert!(!page.has(".channel").await, "the forged webhook was added");
        page.go(&settings).await;
        assert!(!page.has(".reveal").await);
        log_out(&page).await;
        log_in(&page, OWNER).await;
        page.go(&settings).await;
        assert!(
            page.has("input[name=key][value=rw] ~ button[value=create]")
                .await,
            "the forged key was made"
        );
        chrome.close().await;
    }
}
