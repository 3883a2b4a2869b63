//! `nn-mnist serve` over HTTP: the API's answers, bad input of every kind (each a JSON error,
//! the server serving on), and a bounded load test. The bad-input tests use weights made here
//! and run everywhere; the load test runs the book's networks on real MNIST images, in CI
//! (`CI=true`, with `NN_DATA_MIRROR`), and elsewhere says it was skipped.

mod common;

use std::io::Cursor;
use std::time::{Duration, Instant};

use common::{Server, have_data, mnist_test_images};
use serde_json::{Value, json};

/// A chapter-3 network of zeros except a bias that favours class 3, saved as an `.npz`.
fn fake_weights(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("weights.npz");
    let mut npz = ndarray_npy::NpzWriter::new(std::fs::File::create(&path).expect("create"));
    for (name, shape) in [
        ("W1", vec![784, 50]),
        ("b1", vec![50]),
        ("W2", vec![50, 100]),
        ("b2", vec![100]),
        ("W3", vec![100, 10]),
    ] {
        npz.add_array(name, &ndarray::ArrayD::<f32>::zeros(shape))
            .expect("add");
    }
    let mut b3 = ndarray::Array1::<f32>::zeros(10);
    b3[3] = 5.0;
    npz.add_array("b3", &b3).expect("add");
    npz.finish().expect("finish");
    path
}

/// A server of the chapter-3 network with [`fake_weights`] written in `dir`, the runs of `runs`,
/// then `extra`.
fn fake_server(dir: &std::path::Path, runs: &std::path::Path, extra: &[&str]) -> Server {
    let weights = fake_weights(dir);
    let mut args = vec![
        "--nets",
        "ch3",
        "--weights",
        weights.to_str().expect("utf-8"),
        "--runs-dir",
        runs.to_str().expect("utf-8"),
        "--no-dates",
    ];
    args.extend_from_slice(extra);
    Server::start(&args)
}

/// CRC-32 (PNG's chunk checksum), bit by bit.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn client() -> reqwest::blocking::Client {
    // reqwest is built with rustls and no provider of its own (as nn-data sets it up).
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("HTTP client")
}

/// `GET /api/models`, parsed.
fn models(c: &reqwest::blocking::Client, server: &Server) -> Value {
    let text = c
        .get(format!("{}api/models", server.url))
        .send()
        .and_then(|r| r.text())
        .expect("GET /api/models");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Status and JSON body of a POST to /api/predict.
fn post(
    c: &reqwest::blocking::Client,
    server: &Server,
    query: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, Value) {
    let r = c
        .post(format!("{}api/predict{query}", server.url))
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .expect("POST /api/predict");
    let status = r.status().as_u16();
    let text = r.text().expect("body");
    let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    (status, value)
}

fn png(width: u32, height: u32, ink: impl Fn(u32, u32) -> bool) -> Vec<u8> {
    let img = image::GrayImage::from_fn(width, height, |x, y| {
        image::Luma([if ink(x, y) { 0 } else { 255 }])
    });
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .expect("encode");
    out
}

#[test]
fn the_api_answers_and_refuses_bad_input_with_json_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = fake_server(dir.path(), dir.path(), &["--threads", "2"]);
    let c = client();

    let listed = models(&c, &server);
    assert_eq!(listed["models"][0]["name"], "ch3", "{listed}");
    assert_eq!(listed["models"].as_array().map(Vec::len), Some(1));

    let page = c.get(&server.url).send().expect("GET /");
    assert_eq!(page.status().as_u16(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .is_ok_and(|t| t.starts_with("text/html"))
    );
    assert!(page.text().expect("page").contains("<canvas id=\"canvas\""));

    // A good PNG: the image seen, ten probabilities, the favoured class.
    let bar = png(280, 280, |x, y| {
        (120..150).contains(&x) && (40..240).contains(&y)
    });
    let (status, answer) = post(&c, &server, "", "image/png", bar.clone());
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["image"].as_array().map(Vec::len), Some(784));
    let result = &answer["results"][0];
    assert_eq!(result["model"], "ch3");
    assert_eq!(result["top"], 3);
    let p: Vec<f64> = serde_json::from_value(result["probabilities"].clone()).expect("numbers");
    assert_eq!(p.len(), 10);
    assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-5, "{p:?}");

    let pixels = |values: Vec<Value>| serde_json::to_vec(&json!({ "pixels": values })).unwrap();
    let zeros = || vec![json!(0); 784];
    let mut with_text = zeros();
    with_text[10] = json!("white");
    let mut too_big = zeros();
    too_big[783] = json!(300);
    let mut negative = zeros();
    negative[0] = json!(-0.5);
    // A valid PNG whose header claims 100000×100000 pixels (its checksum made to match).
    let mut huge_png = png(1, 1, |_, _| true);
    huge_png[16..24].copy_from_slice(&[0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0]);
    let crc = crc32(&huge_png[12..29]);
    huge_png[29..33].copy_from_slice(&crc.to_be_bytes());
    // What, query, content type, body; the status and a piece of the message expected.
    type Case<'a> = (&'a str, &'a str, &'a str, Vec<u8>, u16, &'a str);
    let bad: Vec<Case> = vec![
        (
            "wrong length",
            "",
            "application/json",
            pixels(vec![json!(0); 783]),
            400,
            "has 783 values, expected 784",
        ),
        (
            "not a number",
            "",
            "application/json",
            pixels(with_text),
            400,
            "pixels[10] is not a number",
        ),
        (
            "NaN",
            "",
            "application/json",
            b"{\"pixels\": [NaN]}".to_vec(),
            400,
            "not valid JSON",
        ),
        (
            "above 255",
            "",
            "application/json",
            pixels(too_big),
            400,
            "pixels[783] = 300 is outside",
        ),
        (
            "negative",
            "",
            "application/json",
            pixels(negative),
            400,
            "pixels[0] = -0.5 is outside",
        ),
        (
            "not JSON",
            "",
            "application/json",
            b"pixels=1,2,3".to_vec(),
            400,
            "not valid JSON",
        ),
        (
            "no pixels",
            "",
            "application/json",
            b"{\"data\": []}".to_vec(),
            400,
            "no \"pixels\"",
        ),
        (
            "blank PNG",
            "",
            "image/png",
            png(60, 40, |_, _| false),
            422,
            "no digit: the picture has no ink",
        ),
        (
            "uniform pixels",
            "",
            "application/json",
            pixels(vec![json!(128); 784]),
            422,
            "no digit",
        ),
        (
            "malformed PNG",
            "",
            "image/png",
            b"\x89PNG\r\n\x1a\nnot really".to_vec(),
            400,
            "not a readable picture",
        ),
        (
            "truncated PNG",
            "",
            "image/png",
            bar[..bar.len() / 2].to_vec(),
            400,
            "not a readable picture",
        ),
        (
            "huge PNG",
            "",
            "image/png",
            huge_png,
            413,
            "at most 4096×4096 pixels",
        ),
        (
            "body over 1 MiB",
            "",
            "image/png",
            vec![0u8; (1 << 20) + 1],
            413,
            "over 1048576 bytes",
        ),
        (
            "text",
            "",
            "text/plain",
            b"seven".to_vec(),
            415,
            "Content-Type text/plain is not read",
        ),
        (
            "unknown model",
            "?model=resnet",
            "image/png",
            bar.clone(),
            400,
            "unknown model \"resnet\"",
        ),
    ];
    for (what, query, content_type, body, want, needle) in bad {
        let (status, answer) = post(&c, &server, query, content_type, body);
        assert_eq!(status, want, "{what}: {answer}");
        let message = answer["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{what}: {answer}"));
        assert!(
            message.contains(needle),
            "{what}: {message:?} lacks {needle:?}"
        );
    }

    // Only the page and the API: no file is reachable.
    for path in [
        "../Cargo.toml",
        "api/../../etc/passwd",
        "index.html",
        "src/main.rs",
    ] {
        let r = c.get(format!("{}{path}", server.url)).send().expect("GET");
        assert_eq!(r.status().as_u16(), 404, "{path}");
    }

    // The wrong method, and a query string that is not one, are JSON errors too.
    let r = c
        .get(format!("{}api/predict", server.url))
        .send()
        .expect("GET");
    assert_eq!(r.status().as_u16(), 405);
    assert!(r.text().expect("body").contains("POST /api/predict"));
    let (status, answer) = post(
        &c,
        &server,
        "?model=ch3&model=ch3",
        "image/png",
        bar.clone(),
    );
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .is_some_and(|m| m.contains("bad query string")),
        "{answer}"
    );

    // Still serving, with the model named.
    let (status, answer) = post(&c, &server, "?model=ch3", "image/png", bar);
    assert_eq!(status, 200, "{answer}");
    assert!(server.is_running());
}

#[test]
fn a_non_loopback_address_is_warned_about() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = fake_server(dir.path(), dir.path(), &["--addr", "0.0.0.0:0"]);
    let expected = "warning: listening on 0.0.0.0:0: other machines can reach this server";
    // stderr is read on its own thread: the warning may arrive just after the URL.
    let started = Instant::now();
    let mut warning = server.stderr_line();
    while !warning.contains(expected) && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
        warning = server.stderr_line();
    }
    assert!(warning.contains(expected), "{warning}");
}

/// 2,000 requests from 8 clients at once, each a real MNIST test image as JSON, through both of
/// the book's networks: no request fails, every answer is the one a lone request gets, the
/// server's memory stays flat. Prints throughput and latency percentiles.
#[test]
fn a_bounded_load_test() {
    if !have_data("a_bounded_load_test") {
        return;
    }
    const CLIENTS: usize = 8;
    const PER_CLIENT: usize = 250;
    let runs = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(&["--runs-dir", runs.path().to_str().expect("utf-8")]);
    let images = mnist_test_images(100);
    let bodies: Vec<Vec<u8>> = images
        .iter()
        .map(|im| serde_json::to_vec(&json!({ "pixels": im })).expect("JSON"))
        .collect();
    let c = client();
    // What a lone request answers, and a warm-up.
    let expected: Vec<Value> = bodies
        .iter()
        .map(|b| {
            let (status, answer) = post(&c, &server, "", "application/json", b.clone());
            assert_eq!(status, 200, "{answer}");
            answer["results"]
                .as_array()
                .expect("results")
                .iter()
                .map(|r| r["top"].clone())
                .collect()
        })
        .collect();
    let rss_before = server.rss_kib();
    let started = Instant::now();
    let latencies: Vec<Duration> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..CLIENTS)
            .map(|k| {
                let (bodies, expected, server) = (&bodies, &expected, &server);
                s.spawn(move || {
                    let c = client();
                    let mut times = Vec::with_capacity(PER_CLIENT);
                    for i in 0..PER_CLIENT {
                        let n = (k * PER_CLIENT + i) % bodies.len();
                        let t = Instant::now();
                        let (status, answer) =
                            post(&c, server, "", "application/json", bodies[n].clone());
                        times.push(t.elapsed());
                        assert_eq!(status, 200, "request {i} of client {k}: {answer}");
                        let tops: Vec<Value> = answer["results"]
                            .as_array()
                            .expect("results")
                            .iter()
                            .map(|r| r["top"].clone())
                            .collect();
                        assert_eq!(Value::Array(tops), expected[n], "image {n}");
                    }
                    times
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a client failed"))
            .collect()
    });
    let wall = started.elapsed().as_secs_f64();
    let rss_after = server.rss_kib();
    let mut ms: Vec<f64> = latencies.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    let pct = |p: f64| ms[((ms.len() as f64 * p) as usize).min(ms.len() - 1)];
    common::report(&format!(
        "load test: {} requests from {CLIENTS} clients in {wall:.2} s = {:.0} requests/s; \
         latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; server RSS {} KiB before, {} KiB after",
        ms.len(),
        ms.len() as f64 / wall,
        pct(0.50),
        pct(0.99),
        ms[ms.len() - 1],
        rss_before,
        rss_after
    ));
    assert_eq!(ms.len(), CLIENTS * PER_CLIENT);
    // Flat: the workers' buffers are reused; growth is allocator noise, not per request.
    assert!(
        rss_after < rss_before + 16 * 1024,
        "memory grew from {rss_before} KiB to {rss_after} KiB"
    );
    assert!(server.is_running());
}

/// `predict` on picture files as people make them: MNIST's fourth test digit (a 0) ten times
/// larger, dark on white paper; its fifth (a 4) three times larger, light blue on a navy
/// background, off-centre in a wider picture. The book's three trained networks must read them; a file that is no
/// picture is a one-line error, a blank one is said to hold no digit, and the exit code says so.
#[test]
fn predict_reads_pictures_either_way_round() {
    if !have_data("predict_reads_pictures_either_way_round") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (images, labels) = common::mnist_test(5);
    assert_eq!(&labels[3..], [0, 4]);
    let zero = &images[3];
    let paper = image::GrayImage::from_fn(280, 280, |x, y| {
        let v = zero[(y / 10) as usize * 28 + (x / 10) as usize];
        image::Luma([255 - (v * 255.0).round() as u8])
    });
    let four = &images[4];
    let navy = image::RgbImage::from_fn(150, 100, |x, y| {
        let v = if (10..94).contains(&y) && (60..144).contains(&x) {
            four[((y - 10) / 3) as usize * 28 + ((x - 60) / 3) as usize]
        } else {
            0.0
        };
        image::Rgb([
            20 + (v * 153.0) as u8,
            30 + (v * 204.0) as u8,
            60 + (v * 191.0) as u8,
        ])
    });
    let (a, b) = (dir.path().join("zero.png"), dir.path().join("four.jpg"));
    paper.save(&a).expect("write zero.png");
    navy.save(&b).expect("write four.jpg");
    let not_a_picture = dir.path().join("notes.png");
    std::fs::write(&not_a_picture, "a 7, I think").expect("write");
    let blank = dir.path().join("blank.png");
    image::GrayImage::from_pixel(100, 80, image::Luma([250]))
        .save(&blank)
        .expect("write blank.png");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_nn-mnist"))
        .arg("predict")
        .args([&a, &blank, &b, &not_a_picture])
        .args(["--runs-dir", dir.path().to_str().expect("utf-8")])
        .args(["--nets", "ch3,simple-convnet,deep-convnet"])
        .env("NN_DATA_DIR", dir.path().join("cache"))
        .output()
        .expect("run nn-mnist predict");
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{out}\n{err}");
    assert!(err.contains("notes.png: not a picture"), "{err}");
    assert!(
        err.contains("1 of 4 files could not be read; 1 of 4 files had no digit (no ink)"),
        "{err}"
    );
    assert!(
        out.contains("blank.png:\n  no digit: the picture has no ink"),
        "{out}"
    );
    // Each file's lines: "  ch3           0 (99.4%)  5 (0.3%)  2 (0.2%)".
    let tops: Vec<(String, String)> = out
        .lines()
        .filter(|l| l.starts_with("  ") && !l.contains("no digit"))
        .map(|l| {
            let mut words = l.split_whitespace();
            let model = words.next().unwrap_or_default().to_string();
            (model, words.next().unwrap_or_default().to_string())
        })
        .collect();
    let want = [
        ("ch3", "0"),
        ("simple-convnet", "0"),
        ("deep-convnet", "0"),
        ("ch3", "4"),
        ("simple-convnet", "4"),
        ("deep-convnet", "4"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(m, c)| (m.to_string(), c.to_string()))
        .collect();
    assert_eq!(tops, want, "{out}");
}

/// A checkpoint of `train` is served beside the book's networks: the newest in `--runs-dir`
/// by default (a Fashion-MNIST SimpleConvNet here, answering with clothing names and its 30
/// feature maps of 24×24), or the one `--checkpoint` names; one that does not load stops the
/// server before it listens.
#[test]
fn checkpoints_are_served_the_newest_by_default() {
    use nn_layers::checkpoint::save_with_metadata;
    use nn_train::{Arch, InitChoice};
    let dir = tempfile::tempdir().expect("tempdir");
    let runs = dir.path().join("runs");
    std::fs::create_dir_all(&runs).expect("runs");
    let older = runs.join("mlp-mnist-1.safetensors");
    let newer = runs.join("simple-convnet-fashion-mnist-1.safetensors");
    let facts = |arch: &'static str, dataset: &'static str| [("arch", arch), ("dataset", dataset)];
    save_with_metadata(
        &older,
        &Arch::Mlp.build(InitChoice::Auto, 0),
        &facts("mlp", "mnist"),
    )
    .expect("save");
    std::thread::sleep(Duration::from_millis(20));
    let cnn = Arch::SimpleConvNet.build(InitChoice::Auto, 0);
    save_with_metadata(&newer, &cnn, &facts("simple-convnet", "fashion-mnist")).expect("save");
    let c = client();

    let server = fake_server(dir.path(), &runs, &[]);
    let listed = models(&c, &server);
    let m = &listed["models"][1];
    assert_eq!(m["name"], "simple-convnet-fashion-mnist-1", "{listed}");
    assert_eq!(m["dataset"], "fashion-mnist");
    assert_eq!(m["classes"][9], "Ankle boot");
    assert_eq!(m["feature_maps"], true);
    let bar = png(28, 28, |x, y| (12..15).contains(&x) && (4..24).contains(&y));
    let (status, answer) = post(
        &c,
        &server,
        "?model=simple-convnet-fashion-mnist-1",
        "image/png",
        bar,
    );
    assert_eq!(status, 200, "{answer}");
    let maps = &answer["results"][0]["feature_maps"];
    assert_eq!(
        (&maps["channels"], &maps["height"], &maps["width"]),
        (&json!(30), &json!(24), &json!(24)),
        "{maps}"
    );
    assert_eq!(maps["values"].as_array().map(Vec::len), Some(30 * 24 * 24));
    drop(server);

    let server = fake_server(
        dir.path(),
        &runs,
        &["--checkpoint", older.to_str().expect("utf-8")],
    );
    assert_eq!(models(&c, &server)["models"][1]["name"], "mlp-mnist-1");
    drop(server);

    // A checkpoint that does not fit its recorded architecture: an error, no server.
    let weights = fake_weights(dir.path());
    let wrong = runs.join("wrong.safetensors");
    save_with_metadata(&wrong, &cnn, &facts("mlp", "mnist")).expect("save");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_nn-mnist"))
        .args(["serve", "--addr", "127.0.0.1:0", "--nets", "ch3"])
        .args(["--weights", weights.to_str().expect("utf-8")])
        .args(["--checkpoint", wrong.to_str().expect("utf-8")])
        .output()
        .expect("run nn-mnist serve");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with("nn-mnist: error: ") && err.contains("wrong.safetensors"),
        "{err}"
    );
}

/// Tight crops of the MNIST test digits, whose strokes touch the picture's edges, are read as
/// well as the same crops with a margin of paper around them, light on dark as MNIST's and dark
/// on light as a pen draws: within a point of accuracy for the book's chapter-3 network, and
/// no crop is taken for a blank picture.
#[test]
fn tight_crops_are_read_as_well_as_crops_with_a_margin() {
    use nn_data::digit::{Ink, to_mnist};
    if !have_data("tight_crops_are_read_as_well_as_crops_with_a_margin") {
        return;
    }
    let (images, labels) = common::mnist_test(10_000);
    let cache = tempfile::tempdir().expect("tempdir");
    let mut opts = nn_data::FetchOptions::from_env().expect("NN_DATA_MIRROR");
    opts.cache_dir = cache.path().to_path_buf();
    opts.progress = false;
    let arrays = nn_data::numpy::fetch_pickle(&nn_data::SAMPLE_WEIGHT, &opts).expect("weights");
    let mut net = nn_train::book::network(&arrays, "sample_weight.pkl").expect("network");
    nn_layers::Module::<f32>::eval(&mut net);
    const MARGIN: usize = 4;
    for dark_on_light in [false, true] {
        let (mut tight, mut framed) = (Vec::new(), Vec::new());
        let mut blank = 0;
        for image in &images {
            let (x0, y0, x1, y1) = Ink::from_grey(image, 28, 28)
                .bounding_box()
                .expect("every MNIST image has ink");
            let (w, h) = (x1 - x0, y1 - y0);
            let level = |v: f32| if dark_on_light { 1.0 - v } else { v };
            let crop: Vec<f32> = (y0..y1)
                .flat_map(|y| (x0..x1).map(move |x| level(image[y * 28 + x])))
                .collect();
            let (fw, fh) = (w + 2 * MARGIN, h + 2 * MARGIN);
            let mut frame = vec![level(0.0); fw * fh];
            for y in 0..h {
                let row = (y + MARGIN) * fw + MARGIN;
                frame[row..row + w].copy_from_slice(&crop[y * w..(y + 1) * w]);
            }
            let ink = Ink::from_grey(&crop, w, h);
            blank += usize::from(ink.is_blank());
            tight.extend(to_mnist(&ink));
            framed.extend(to_mnist(&Ink::from_grey(&frame, fw, fh)));
        }
        let n = images.len();
        let mut accuracy = |pixels: Vec<f32>| {
            let batch = ndarray::Array2::from_shape_vec((n, 784), pixels)
                .expect("784 pixels an image")
                .into_dyn();
            let predicted = nn_train::metrics::predict(&mut net, &batch, 100);
            nn_train::metrics::accuracy(&predicted, &labels)
        };
        let (a_tight, a_framed) = (accuracy(tight), accuracy(framed));
        common::report(&format!(
            "tight crops ({}): accuracy {a_tight:.4} tight, {a_framed:.4} with a margin; {blank} read as blank",
            if dark_on_light {
                "dark on light"
            } else {
                "light on dark"
            }
        ));
        assert_eq!(blank, 0, "tight crops read as blank pictures");
        assert!(
            (a_tight - a_framed).abs() <= 0.01,
            "tight crops {a_tight}, with a margin {a_framed}"
        );
    }
}

/// Status and JSON body of a POST to /api/date.
fn post_date(c: &reqwest::blocking::Client, server: &Server, body: &str) -> (u16, Value) {
    let r = c
        .post(format!("{}api/date", server.url))
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .expect("POST /api/date");
    let status = r.status().as_u16();
    let text = r.text().expect("body");
    let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    (status, value)
}

/// The date page and its API with the book's attention model: dates in several forms come back
/// in ISO form with one row of attention per answer character over the typed characters; bad
/// questions get a JSON error naming what is wrong, and the server serves on; without the model
/// the API says so.
#[test]
fn the_date_api_answers_and_refuses_bad_questions() {
    if !have_data("the_date_api_answers_and_refuses_bad_questions") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let weights = fake_weights(dir.path());
    let args = [
        "--nets",
        "ch3",
        "--weights",
        weights.to_str().expect("utf-8"),
        "--runs-dir",
        dir.path().to_str().expect("utf-8"),
    ];
    let mut server = Server::start(&args);
    let c = client();
    let page = c
        .get(format!("{}dates", server.url))
        .send()
        .expect("GET /dates");
    assert_eq!(page.status().as_u16(), 200);
    assert!(page.text().expect("page").contains("id=\"date\""));

    for (text, iso) in [
        ("september 27, 1994", "1994-09-27"),
        ("Sunday, December 6, 1998", "1998-12-06"),
        ("10/15/94", "1994-10-15"),
    ] {
        let (status, answer) = post_date(&c, &server, &json!({ "text": text }).to_string());
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["answer"], iso, "{text}: {answer}");
        assert_eq!(answer["question"], text);
        let rows: Vec<Vec<f64>> =
            serde_json::from_value(answer["attention"].clone()).expect("rows of numbers");
        assert_eq!(rows.len(), iso.len());
        for row in &rows {
            assert_eq!(row.len(), text.chars().count());
            let total: f64 = row.iter().sum();
            assert!(
                row.iter().all(|&w| w >= 0.0) && total <= 1.0 + 1e-5,
                "{row:?}"
            );
        }
    }

    let long = "1".repeat(30);
    let bad = [
        (json!({ "text": "" }).to_string(), 400, "type a date"),
        (json!({ "text": "   " }).to_string(), 400, "type a date"),
        (
            json!({ "text": long }).to_string(),
            400,
            "30 characters: the model reads dates of at most 29",
        ),
        (
            json!({ "text": "6 déc 1998 @" }).to_string(),
            422,
            "does not know the characters 'é', '@'",
        ),
        ("not json".to_string(), 400, "expected JSON"),
        ("{\"date\": \"x\"}".to_string(), 400, "missing field `text`"),
        (
            format!("{{\"text\": \"{}\"}}", "x".repeat(5000)),
            413,
            "over 4096 bytes",
        ),
    ];
    for (body, status, message) in bad {
        let (got, answer) = post_date(&c, &server, &body);
        assert_eq!(got, status, "{body:.60}: {answer}");
        let error = answer["error"].as_str().unwrap_or_default();
        assert!(error.contains(message), "{body:.60}: {error}");
    }
    let r = c
        .get(format!("{}api/date", server.url))
        .send()
        .expect("GET");
    assert_eq!(r.status().as_u16(), 405);
    assert!(server.is_running());

    let mut without = Server::start(&[&args[..], &["--no-dates"]].concat());
    let (status, answer) = post_date(&c, &without, &json!({ "text": "1/2/03" }).to_string());
    assert_eq!(status, 503, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap_or_default()
            .contains("not loaded")
    );
    assert!(without.is_running());
}
