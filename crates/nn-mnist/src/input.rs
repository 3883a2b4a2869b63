//! Pictures in, MNIST images out: a PNG (the page's canvas, or any file), or JSON with 784 grey
//! values, made into the 28×28 image a network trained on MNIST expects
//! ([`nn_data::digit::to_mnist`]: scaled into 20×20 by its bounding box, centred by its centre
//! of mass).

use std::io::Cursor;
use std::path::Path;

use image::{DynamicImage, ImageFormat, ImageReader, Limits};
use nn_data::digit::{Ink, to_mnist};

/// The widest and tallest picture decoded (a 280×280 canvas is far below).
pub const MAX_SIDE: u32 = 4096;
/// The most memory one decode may take.
const MAX_ALLOC: u64 = 256 << 20;

/// Why a picture was refused; each maps to an HTTP status.
#[derive(Debug, PartialEq)]
pub enum InputError {
    /// Not a content type this server reads (415).
    Unsupported(String),
    /// A picture too large to decode (413).
    TooLarge(String),
    /// Malformed content (400).
    Invalid(String),
    /// A well-formed picture with no ink: blank or uniform, no digit to read (422).
    NoInk(String),
}

/// What a picture with no ink is told.
const NO_INK: &str = "no digit: the picture has no ink (it is blank or uniform); draw a digit";

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InputError::Unsupported(m)
            | InputError::TooLarge(m)
            | InputError::Invalid(m)
            | InputError::NoInk(m) => f.write_str(m),
        }
    }
}

/// The MNIST image of a request body whose `Content-Type` is `content_type`.
///
/// # Errors
/// [`InputError`] saying what is wrong with the body.
pub fn from_request(content_type: &str, body: &[u8]) -> Result<Vec<f32>, InputError> {
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match mime.as_str() {
        "image/png" => from_picture(decode(body, Some(ImageFormat::Png))?),
        "application/json" => from_json(body),
        "" => Err(InputError::Unsupported(
            "no Content-Type: send image/png, or application/json with {\"pixels\": [784 values]}"
                .into(),
        )),
        other => Err(InputError::Unsupported(format!(
            "Content-Type {other} is not read: send image/png, or application/json with \
             {{\"pixels\": [784 values]}}"
        ))),
    }
}

/// The MNIST image of a picture file (any size; colour or grey; PNG, JPEG, BMP, GIF).
///
/// # Errors
/// The file cannot be read or decoded ([`InputError::Invalid`], [`InputError::TooLarge`]), or
/// it holds no ink ([`InputError::NoInk`]).
pub fn from_file(path: &Path) -> Result<Vec<f32>, InputError> {
    let bytes =
        std::fs::read(path).map_err(|e| InputError::Invalid(format!("cannot read it: {e}")))?;
    decode(&bytes, None).and_then(from_picture)
}

fn decode(bytes: &[u8], format: Option<ImageFormat>) -> Result<DynamicImage, InputError> {
    let reader = match format {
        Some(f) => ImageReader::with_format(Cursor::new(bytes), f),
        None => ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| InputError::Invalid(format!("cannot read the picture: {e}")))?,
    };
    if reader.format().is_none() {
        return Err(InputError::Invalid(
            "not a picture in a format this program reads (PNG, JPEG, BMP, GIF)".into(),
        ));
    }
    let mut reader = reader;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    reader.decode().map_err(|e| match e {
        image::ImageError::Limits(_) => InputError::TooLarge(format!(
            "the picture is too large: at most {MAX_SIDE}×{MAX_SIDE} pixels are decoded"
        )),
        e => InputError::Invalid(format!("not a readable picture: {e}")),
    })
}

/// Grey levels in [0, 1], transparency laid on white paper, then [`to_mnist`].
fn from_picture(picture: DynamicImage) -> Result<Vec<f32>, InputError> {
    let (width, height) = (picture.width() as usize, picture.height() as usize);
    if width == 0 || height == 0 {
        return Err(InputError::Invalid("the picture is empty".into()));
    }
    let grey: Vec<f32> = picture
        .to_luma_alpha32f()
        .pixels()
        .map(|p| {
            let [l, a] = p.0;
            l * a + (1.0 - a)
        })
        .collect();
    prepared(&Ink::from_grey(&grey, width, height))
}

/// The MNIST image of `ink`, unless there is none.
fn prepared(ink: &Ink) -> Result<Vec<f32>, InputError> {
    if ink.is_blank() {
        return Err(InputError::NoInk(NO_INK.into()));
    }
    Ok(to_mnist(ink))
}

/// `{"pixels": [784 numbers], "preprocess": true}`: grey levels of a 28×28 picture, in [0, 1]
/// or in 0–255, either polarity; `"preprocess": false` takes them as they are (ink 1 on 0, as
/// MNIST's own images, already centred).
fn from_json(body: &[u8]) -> Result<Vec<f32>, InputError> {
    let bad = |m: String| InputError::Invalid(m);
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| bad(format!("the body is not valid JSON: {e}")))?;
    let Some(object) = value.as_object() else {
        return Err(bad(
            "expected a JSON object {\"pixels\": [784 values]}".into()
        ));
    };
    let Some(pixels) = object.get("pixels") else {
        return Err(bad("no \"pixels\": send {\"pixels\": [784 values]}".into()));
    };
    let Some(pixels) = pixels.as_array() else {
        return Err(bad("\"pixels\" is not an array".into()));
    };
    if pixels.len() != 784 {
        return Err(bad(format!(
            "\"pixels\" has {} values, expected 784 (28×28, row by row)",
            pixels.len()
        )));
    }
    let preprocess = match object.get("preprocess") {
        None => true,
        Some(serde_json::Value::Bool(b)) => *b,
        Some(_) => return Err(bad("\"preprocess\" is not true or false".into())),
    };
    let mut values = Vec::with_capacity(784);
    for (i, v) in pixels.iter().enumerate() {
        match v.as_f64() {
            Some(x) if x.is_finite() && (0.0..=255.0).contains(&x) => values.push(x as f32),
            Some(x) => {
                return Err(bad(format!("pixels[{i}] = {x} is outside 0–1 and 0–255")));
            }
            None => return Err(bad(format!("pixels[{i}] is not a number: {v}"))),
        }
    }
    // Values above 1 mean the 0–255 scale.
    if values.iter().any(|&v| v > 1.0) {
        for v in &mut values {
            *v /= 255.0;
        }
    }
    let ink = Ink::from_grey(&values, 28, 28);
    if !preprocess {
        return if ink.is_blank() {
            Err(InputError::NoInk(NO_INK.into()))
        } else {
            Ok(values)
        };
    }
    prepared(&ink)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(pixels: &str) -> Result<Vec<f32>, InputError> {
        from_request("application/json", pixels.as_bytes())
    }

    fn invalid(r: Result<Vec<f32>, InputError>) -> String {
        match r {
            Err(InputError::Invalid(m)) => m,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn json_pixels_are_checked() {
        let bar: Vec<&str> = (0..784)
            .map(|i| if i % 28 == 14 { "1" } else { "0" })
            .collect();
        assert!(json(&format!("{{\"pixels\":[{}]}}", bar.join(","))).is_ok());
        assert!(invalid(json("{\"pixels\":[1,2]}")).contains("has 2 values, expected 784"));
        assert!(invalid(json("[1,2]")).contains("JSON object"));
        assert!(invalid(json("{\"pixels\":[NaN]}")).contains("not valid JSON"));
        let mut text = vec!["0"; 784];
        text[3] = "\"x\"";
        assert!(
            invalid(json(&format!("{{\"pixels\":[{}]}}", text.join(","))))
                .contains("pixels[3] is not a number")
        );
        text[3] = "256";
        assert!(
            invalid(json(&format!("{{\"pixels\":[{}]}}", text.join(","))))
                .contains("pixels[3] = 256 is outside")
        );
        text[3] = "-1";
        assert!(invalid(json(&format!("{{\"pixels\":[{}]}}", text.join(",")))).contains("outside"));
        assert!(invalid(json("{\"pixels\":[1e999]}")).contains("not valid JSON"));
    }

    #[test]
    fn blank_and_uniform_pictures_have_no_digit() {
        for value in ["0", "255", "0.4"] {
            for preprocess in [true, false] {
                let body = format!(
                    "{{\"pixels\":[{}],\"preprocess\":{preprocess}}}",
                    vec![value; 784].join(",")
                );
                assert!(matches!(json(&body), Err(InputError::NoInk(m)) if m.contains("no ink")));
            }
        }
        let mut png = Vec::new();
        image::GrayImage::from_pixel(50, 30, image::Luma([200]))
            .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .unwrap();
        assert!(matches!(
            from_request("image/png", &png),
            Err(InputError::NoInk(_))
        ));
    }

    #[test]
    fn both_scales_give_the_same_image() {
        let raw: Vec<String> = (0..784).map(|i| ((i * 7) % 256).to_string()).collect();
        let unit: Vec<String> = (0..784)
            .map(|i| (((i * 7) % 256) as f32 / 255.0).to_string())
            .collect();
        let a = json(&format!("{{\"pixels\":[{}]}}", raw.join(","))).unwrap();
        let b = json(&format!("{{\"pixels\":[{}]}}", unit.join(","))).unwrap();
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-6);
        }
    }

    #[test]
    fn content_types_and_pictures() {
        assert!(matches!(
            from_request("text/plain", b"hi"),
            Err(InputError::Unsupported(_))
        ));
        assert!(matches!(
            from_request("", b"hi"),
            Err(InputError::Unsupported(_))
        ));
        assert!(
            invalid(from_request("image/png", b"not a png")).contains("not a readable picture")
        );
        // A real PNG: a white 40×40 square with a black bar, charset parameters ignored.
        let mut png = Vec::new();
        let img = image::GrayImage::from_fn(40, 40, |x, y| {
            image::Luma([if (18..22).contains(&x) && (5..35).contains(&y) {
                0
            } else {
                255
            }])
        });
        img.write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .unwrap();
        let image = from_request("image/png; charset=binary", &png).unwrap();
        assert_eq!(image.len(), 784);
        assert!(image.iter().any(|&v| v > 0.9));
    }
}
