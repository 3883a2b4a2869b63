//! The page of `nn-mnist serve` in a real browser: headless Chromium driven through WebDriver
//! (chromedriver) draws MNIST test digits on the canvas with pointer strokes, and the page must
//! show the right class as the chapter-3 network's top answer; then "Clear", and another digit.
//! On the date page it types dates key by key and reads the answer and the attention map.
//! Screenshots are written to `target/tmp/browser/` (or `$ZERO_NN_SCREENSHOTS`).
//!
//! Needs Chromium, chromedriver (Debian: `chromium`, `chromium-driver`) and the data mirror: in
//! CI (`CI=true`) all must be there and `.ci/run` installs them; elsewhere the test says
//! plainly that it was skipped and why.

mod common;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Server, mnist_test, report};
use fantoccini::actions::{InputSource, MOUSE_BUTTON_LEFT, MouseActions, PointerAction};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

fn skip(why: &str) {
    common::skip("the browser test", why);
}

/// The first of `names` found on the PATH (or as given, if a path).
fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .chain([PathBuf::from("/usr/lib/chromium")])
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

/// chromedriver on a free port, stopped when dropped.
struct Driver(Child, u16);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_driver(program: &PathBuf) -> Driver {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new(program)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    // Ready when it accepts connections.
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "chromedriver did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Driver(child, port)
}

/// Pen strokes that draw a 28×28 image on the 280×280 canvas: one horizontal stroke per run of
/// inked pixels in each row (the page's pen is 18 pixels wide, so rows 10 pixels apart merge).
fn strokes(image: &[f32]) -> Vec<((f64, f64), (f64, f64))> {
    let mut out = Vec::new();
    for y in 0..28 {
        let mut x = 0;
        while x < 28 {
            if image[y * 28 + x] < 0.5 {
                x += 1;
                continue;
            }
            let start = x;
            while x < 28 && image[y * 28 + x] >= 0.5 {
                x += 1;
            }
            let at = |x: usize| (x as f64 * 10.0 + 5.0, y as f64 * 10.0 + 5.0);
            out.push((at(start), at(x - 1)));
        }
    }
    out
}

async fn draw(client: &Client, image: &[f32]) -> Result<(), fantoccini::error::CmdError> {
    let canvas = client.find(Locator::Id("canvas")).await?;
    // Offsets are from the element's centre; the canvas is 280×280 CSS pixels.
    for (a, b) in strokes(image) {
        let pen = MouseActions::new("pen".into())
            .then(PointerAction::MoveToElement {
                element: canvas.clone(),
                duration: None,
                x: a.0 - 140.0,
                y: a.1 - 140.0,
            })
            .then(PointerAction::Down {
                button: MOUSE_BUTTON_LEFT,
            })
            .then(PointerAction::MoveBy {
                duration: Some(Duration::from_millis(30)),
                x: b.0 - a.0,
                y: b.1 - a.1,
            })
            .then(PointerAction::Up {
                button: MOUSE_BUTTON_LEFT,
            });
        client.perform_actions(pen).await?;
    }
    Ok(())
}

/// Waits until the page has shown the answer to its latest request; returns each model's top
/// class as the page shows it.
async fn shown_tops(client: &Client) -> Vec<(String, String)> {
    let started = Instant::now();
    loop {
        let state = client
            .execute(
                "return [document.body.dataset.predictions || '', String(sent), \
                 [...document.querySelectorAll('.model')].map(m => [m.dataset.model, \
                 m.querySelector('.top').textContent])]",
                vec![],
            )
            .await
            .expect("read the page");
        if state[0] == state[1] && state[0] != "" {
            return serde_json::from_value(state[2].clone()).expect("pairs");
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the page showed no answer: {state}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Headless Chromium through `driver`, on `url` once the page says it is ready.
async fn open(chromium: &PathBuf, driver: &Driver, url: &str) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1280,900"],
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let client = ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.1))
        .await
        .expect("Chromium through chromedriver");
    client.goto(url).await.expect("open the page");
    let started = Instant::now();
    while client
        .execute("return document.body.dataset.ready === 'true'", vec![])
        .await
        .expect("page state")
        != Value::Bool(true)
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the page did not get ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    client
}

/// Chromium and chromedriver, or `None` having said why not.
fn browser_programs() -> Option<(PathBuf, PathBuf)> {
    if std::env::var_os("NN_DATA_MIRROR").is_none() {
        skip("NN_DATA_MIRROR is not set (the book's weights and data)");
        return None;
    }
    let Some(chromium) = find_program(&["chromium", "chromium-browser", "google-chrome"]) else {
        skip("no chromium on the PATH (Debian: apt install chromium chromium-driver)");
        return None;
    };
    let Some(chromedriver) = find_program(&["chromedriver"]) else {
        skip("no chromedriver on the PATH (Debian: apt install chromium-driver)");
        return None;
    };
    Some((chromium, chromedriver))
}

/// Types dates into the date page key by key, as a person would: the page must show each one's
/// ISO form and draw its attention map (a square per answer character and typed character).
#[test]
fn typing_dates_on_the_date_page_in_chromium() {
    let Some((chromium, chromedriver)) = browser_programs() else {
        return;
    };
    let runs = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&[
        "--nets",
        "ch3",
        "--runs-dir",
        runs.path().to_str().expect("utf-8"),
    ]);
    let driver = start_driver(&chromedriver);
    let shots = screenshot_dir();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let client = open(&chromium, &driver, &format!("{}dates", server.url)).await;
        let input = client.find(Locator::Id("date")).await.expect("the date field");
        for (n, (text, iso)) in [("Sunday, December 6, 1998", "1998-12-06"), ("5/3/07", "2007-05-03")]
            .into_iter()
            .enumerate()
        {
            input.clear().await.expect("clear the field");
            input.send_keys(text).await.expect("type");
            let started = Instant::now();
            let (shown, cells) = loop {
                let state = client
                    .execute(
                        "return [document.getElementById('answer').textContent, \
                         document.querySelectorAll('#map .cell').length]",
                        vec![],
                    )
                    .await
                    .expect("read the page");
                let shown = state[0].as_str().unwrap_or_default().to_string();
                let cells = state[1].as_u64().unwrap_or(0);
                if shown == iso || started.elapsed() > Duration::from_secs(20) {
                    break (shown, cells);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            };
            assert_eq!(shown, iso, "the page's answer to {text:?}");
            assert_eq!(cells as usize, iso.len() * text.chars().count(), "{text:?}");
            let png = client.screenshot().await.expect("screenshot");
            let path = shots.join(format!("dates-{n}.png"));
            std::fs::write(&path, png).expect("write the screenshot");
            report(&format!(
                "the browser test: typed {text:?}; the page shows {shown:?} and {cells} squares; screenshot {}",
                path.display()
            ));
        }
        // A character the model lacks: the page says which.
        input.clear().await.expect("clear the field");
        input.send_keys("1 déc 1998").await.expect("type");
        let started = Instant::now();
        loop {
            let status = client
                .execute("return document.getElementById('status').textContent", vec![])
                .await
                .expect("read the status");
            if status.as_str().is_some_and(|s| s.contains("'é'")) {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(20), "status: {status}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        client.close().await.expect("close the browser");
    });
}

fn screenshot_dir() -> PathBuf {
    let dir = std::env::var_os("ZERO_NN_SCREENSHOTS").map_or_else(
        || PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser"),
        PathBuf::from,
    );
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    dir
}

#[test]
fn drawing_digits_on_the_page_in_chromium() {
    let Some((chromium, chromedriver)) = browser_programs() else {
        return;
    };
    let runs = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&["--runs-dir", runs.path().to_str().expect("utf-8")]);
    let driver = start_driver(&chromedriver);
    let (images, labels) = mnist_test(2);
    assert_eq!(labels, [7, 2], "MNIST's first test digits");
    let shots = screenshot_dir();

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let client = open(&chromium, &driver, &server.url).await;

        for (n, (image, label)) in images.iter().zip(&labels).enumerate() {
            if n > 0 {
                client
                    .find(Locator::Id("clear"))
                    .await
                    .expect("the clear button")
                    .click()
                    .await
                    .expect("click clear");
                let cleared = shown_tops(&client).await;
                assert!(cleared.is_empty(), "bars after Clear: {cleared:?}");
                let hint = client
                    .execute(
                        "const h = document.querySelector('#results .hint'); \
                         return h ? h.textContent : ''",
                        vec![],
                    )
                    .await
                    .expect("read the hint");
                assert_eq!(hint, "draw a digit", "the page after Clear");
            }
            draw(&client, image).await.expect("draw");
            let tops = shown_tops(&client).await;
            let png = client.screenshot().await.expect("screenshot");
            let path = shots.join(format!("draw-{label}.png"));
            std::fs::write(&path, png).expect("write the screenshot");
            report(&format!(
                "the browser test: drew a {label}; the page shows {tops:?}; screenshot {}",
                path.display()
            ));
            let ch3 = tops
                .iter()
                .find(|(model, _)| model == "ch3")
                .map(|(_, top)| top.as_str());
            assert_eq!(ch3, Some(label.to_string().as_str()), "{tops:?}");
        }
        client.close().await.expect("close the browser");
    });
}
