//! Small images (filters, feature maps, digits) drawn as grids of grey squares in an SVG, the
//! way the book's `imshow(…, cmap=plt.cm.gray_r)` shows them: dark is large.

use std::path::Path;

use ndarray::{ArrayView2, s};
use plotters::prelude::*;

use super::{Result, write_svg};

/// How a picture's values become grey levels.
#[derive(Debug, Clone, Copy)]
pub enum Scale {
    /// Its own smallest value white, its largest black (matplotlib's default `imshow`).
    MinMax,
    /// 0 white, 1 black (pixels already in [0, 1]).
    Unit,
}

/// One cell of a grid: an image and the line above it.
pub struct Picture {
    /// The pixel values, `(rows, columns)`.
    pub pixels: ndarray::Array2<f64>,
    /// The caption.
    pub caption: String,
    /// How its values become grey levels.
    pub scale: Scale,
    /// Caption in red (e.g. a wrong prediction).
    pub highlight: bool,
}

impl Picture {
    /// A picture from a 2-D view.
    pub fn new(pixels: ArrayView2<'_, f64>, caption: impl Into<String>, scale: Scale) -> Self {
        Picture {
            pixels: pixels.to_owned(),
            caption: caption.into(),
            scale,
            highlight: false,
        }
    }

    /// A 28×28 image from a row of 784 pixels in [0, 1].
    pub fn digit(row: &[f32], caption: impl Into<String>) -> Self {
        let pixels = ndarray::Array2::from_shape_fn((28, 28), |(r, c)| f64::from(row[r * 28 + c]));
        Picture {
            pixels,
            caption: caption.into(),
            scale: Scale::Unit,
            highlight: false,
        }
    }

    /// The grey level (0 black … 255 white) of each pixel.
    fn greys(&self) -> ndarray::Array2<u8> {
        let (lo, hi) = match self.scale {
            Scale::Unit => (0.0, 1.0),
            Scale::MinMax => self
                .pixels
                .iter()
                .filter(|v| v.is_finite())
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
                    (lo.min(v), hi.max(v))
                }),
        };
        let span = if hi > lo { hi - lo } else { 1.0 };
        self.pixels.mapv(|v| {
            let t = ((v - lo) / span).clamp(0.0, 1.0);
            (255.0 * (1.0 - t)).round() as u8
        })
    }
}

/// Draws `pictures` in rows of `columns` cells of `cell` pixels (caption included) under
/// `title`, into `path`. White pixels are not drawn, which keeps the SVG small.
pub fn write_grid(
    path: &Path,
    title: &str,
    pictures: &[Picture],
    columns: usize,
    cell: u32,
) -> Result<()> {
    let columns = columns.clamp(1, pictures.len().max(1));
    let rows = pictures.len().div_ceil(columns).max(1);
    let title_h = 40;
    let size = (columns as u32 * cell, rows as u32 * cell + title_h);
    write_svg(path, size, |root| {
        let body = root.titled(title, ("sans-serif", 18))?;
        let cells = body.split_evenly((rows, columns));
        for (pic, area) in pictures.iter().zip(cells) {
            draw_picture(&area, pic)?;
        }
        Ok(())
    })
}

fn draw_picture<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    pic: &Picture,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let colour = if pic.highlight { RED } else { BLACK };
    let style = ("sans-serif", 12).into_font().color(&colour);
    let (w, h) = area.dim_in_pixel();
    area.draw(&Text::new(
        pic.caption.clone(),
        (4, 2),
        style.pos(plotters::style::text_anchor::Pos::new(
            plotters::style::text_anchor::HPos::Left,
            plotters::style::text_anchor::VPos::Top,
        )),
    ))
    .map_err(|e| e.to_string())?;
    let (ph, pw) = pic.pixels.dim();
    if ph == 0 || pw == 0 {
        return Ok(());
    }
    let top = 18i32;
    let avail_w = w.saturating_sub(8) as usize;
    let avail_h = (h as usize).saturating_sub(top as usize + 4);
    let px = (avail_w / pw).min(avail_h / ph).max(1) as i32;
    let x0 = (w as i32 - px * pw as i32) / 2;
    let greys = pic.greys();
    // A thin frame so that an all-white picture still shows where it is.
    area.draw(&Rectangle::new(
        [
            (x0 - 1, top - 1),
            (x0 + px * pw as i32, top + px * ph as i32),
        ],
        RGBColor(200, 200, 200).stroke_width(1),
    ))
    .map_err(|e| e.to_string())?;
    for r in 0..ph {
        let row = greys.slice(s![r, ..]);
        for (c, &g) in row.iter().enumerate() {
            if g == 255 {
                continue;
            }
            let (x, y) = (x0 + px * c as i32, top + px * r as i32);
            area.draw(&Rectangle::new(
                [(x, y), (x + px, y + px)],
                RGBColor(g, g, g).filled(),
            ))
            .map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}
