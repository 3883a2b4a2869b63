//! Any picture of a digit made into an MNIST image, the way the MNIST digits were made
//! (LeCun, Cortes, Burges): the ink's bounding box is scaled, keeping its aspect ratio, to fit a
//! 20×20 box (grey levels from the anti-aliasing of the area-averaging resampling), then placed
//! in a 28×28 field so that the ink's centre of mass sits at the centre. A network trained on
//! MNIST does badly on a drawing that is not prepared this way: a small digit in a corner of a
//! canvas looks like nothing it has seen.
//!
//! ```
//! use nn_data::digit::{Ink, to_mnist};
//! // A 100×60 picture, dark ink on white paper: a thick bar.
//! let (w, h) = (100, 60);
//! let mut grey = vec![1.0f32; w * h];
//! for y in 10..50 {
//!     for x in 40..50 {
//!         grey[y * w + x] = 0.0;
//!     }
//! }
//! let ink = Ink::from_grey(&grey, w, h);
//! let image = to_mnist(&ink);
//! assert_eq!(image.len(), 784);
//! // The bar is 20 pixels tall, 5 wide, centred.
//! let rows = (0..28).filter(|y| image[y * 28 + 14] > 0.5).count();
//! assert_eq!(rows, 20);
//! ```

/// A picture as ink intensities in [0, 1] (1 = full ink), row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Ink {
    /// Columns.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// `width × height` values.
    pub values: Vec<f32>,
}

/// The side of the box the ink is scaled into, and of the field it is centred in.
const BOX: usize = 20;
const FIELD: usize = 28;
/// Grey levels spanning less than this hold no ink.
const MIN_CONTRAST: f32 = 0.1;
/// How far (in pixels) a stroke's anti-aliased fringe reaches beyond its ink.
const FRINGE: usize = 2;

/// The indices of the picture's outermost pixels, each once.
fn border_indices(width: usize, height: usize) -> Vec<usize> {
    (0..height)
        .flat_map(|y| (0..width).map(move |x| (x, y)))
        .filter(|&(x, y)| y == 0 || x == 0 || y + 1 == height || x + 1 == width)
        .map(|(x, y)| y * width + x)
        .collect()
}

/// Otsu's threshold of grey levels in [0, 1] (256 bins): the level that splits them into two
/// classes with the largest variance between the classes' means. Levels above it are the
/// light class.
fn otsu(grey: &[f32]) -> f32 {
    let mut histogram = [0u64; 256];
    for &v in grey {
        histogram[(v * 255.0).round() as usize] += 1;
    }
    let total = grey.len() as f64;
    let sum: f64 = histogram
        .iter()
        .enumerate()
        .map(|(k, &n)| k as f64 * n as f64)
        .sum();
    let (mut below, mut below_sum) = (0.0f64, 0.0f64);
    // Where empty bins make a plateau of equal splits, its middle.
    let (mut best, mut first, mut last) = (-1.0f64, 0usize, 0usize);
    for (k, &n) in histogram.iter().enumerate().take(255) {
        below += n as f64;
        below_sum += k as f64 * n as f64;
        let above = total - below;
        if below == 0.0 || above == 0.0 {
            continue;
        }
        let between = below * above * (below_sum / below - (sum - below_sum) / above).powi(2);
        if between > best * (1.0 + 1e-12) {
            (best, first, last) = (between, k, k);
        } else if between >= best * (1.0 - 1e-12) {
            last = k;
        }
    }
    ((first + last) as f32 / 2.0 + 0.5) / 255.0
}

impl Ink {
    /// Ink from grey levels in [0, 1] (0 black, 1 white), whichever way round the picture is.
    ///
    /// The grey levels are split in two by Otsu's threshold; the side that holds most of the
    /// picture's border is the paper (a pen on light paper, or MNIST's own white on black),
    /// the other the ink. The paper's level and its noise are measured on the border's paper
    /// pixels that lie away from any ink (a stroke may touch or cross the picture's edge, as in
    /// a tight crop, and its anti-aliased fringe is no paper either): ink is what differs from
    /// the paper's level, and what differs from it no more than twice the noise (its 90th
    /// percentile) is none. A picture whose grey levels span less than a tenth of the scale
    /// (blank, uniform, or noise alone) has no ink at all: see [`Ink::is_blank`]. Values
    /// outside [0, 1] are clamped, NaN is 0.
    ///
    /// # Panics
    /// If `grey.len() != width * height` (a programmer error).
    pub fn from_grey(grey: &[f32], width: usize, height: usize) -> Ink {
        assert_eq!(
            grey.len(),
            width * height,
            "Ink::from_grey: {} values for a {width}×{height} picture",
            grey.len()
        );
        let grey: Vec<f32> = grey
            .iter()
            .map(|&v| if v.is_nan() { 0.0 } else { v.clamp(0.0, 1.0) })
            .collect();
        let blank = Ink {
            width,
            height,
            values: vec![0.0; grey.len()],
        };
        let (lo, hi) = grey
            .iter()
            .fold((1.0f32, 0.0f32), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        if grey.is_empty() || hi - lo < MIN_CONTRAST {
            return blank;
        }
        let threshold = otsu(&grey);
        let border = border_indices(width, height);
        let light = border.iter().filter(|&&i| grey[i] > threshold).count();
        let paper_is_light = 2 * light >= border.len();
        let is_ink = |v: f32| (v > threshold) != paper_is_light;
        // The border's paper pixels, without those near ink (a stroke's anti-aliased fringe).
        let near_ink = |i: usize| {
            let (x, y) = (i % width, i / width);
            let ys = y.saturating_sub(FRINGE)..(y + FRINGE + 1).min(height);
            ys.into_iter().any(|yy| {
                let xs = x.saturating_sub(FRINGE)..(x + FRINGE + 1).min(width);
                xs.into_iter().any(|xx| is_ink(grey[yy * width + xx]))
            })
        };
        let paper_side: Vec<usize> = border
            .iter()
            .copied()
            .filter(|&i| !is_ink(grey[i]))
            .collect();
        let clear: Vec<usize> = paper_side
            .iter()
            .copied()
            .filter(|&i| !near_ink(i))
            .collect();
        let samples = if clear.is_empty() {
            &paper_side
        } else {
            &clear
        };
        let mut levels: Vec<f32> = samples.iter().map(|&i| grey[i]).collect();
        levels.sort_by(f32::total_cmp);
        let paper = match levels.get(levels.len() / 2) {
            Some(&level) => level,
            None if paper_is_light => hi,
            None => lo,
        };
        let ink = |v: f32| {
            let i = if paper_is_light {
                if paper > 0.0 {
                    (paper - v) / paper
                } else {
                    0.0
                }
            } else if paper < 1.0 {
                (v - paper) / (1.0 - paper)
            } else {
                0.0
            };
            i.clamp(0.0, 1.0)
        };
        // The noise is measured away from ink only: with none such, the paper is taken as clean.
        let mut noise: Vec<f32> = clear.iter().map(|&i| ink(grey[i])).collect();
        noise.sort_by(f32::total_cmp);
        let noise = 2.0 * noise.get(noise.len() * 9 / 10).copied().unwrap_or(0.0);
        let values = grey
            .iter()
            .map(|&v| {
                let i = ink(v);
                if i > noise { i } else { 0.0 }
            })
            .collect();
        Ink {
            width,
            height,
            values,
        }
    }

    /// Whether the picture has no ink at all (blank or uniform): no digit to read.
    pub fn is_blank(&self) -> bool {
        self.bounding_box().is_none()
    }

    /// The smallest rectangle `(x0, y0, x1, y1)` (exclusive ends) holding every pixel with ink
    /// (of one grey level, 1/255, or more), or `None` for a blank picture. As in MNIST, whose
    /// digits' boxes measure exactly 20 pixels this way, the faint anti-aliased edge counts.
    pub fn bounding_box(&self) -> Option<(usize, usize, usize, usize)> {
        let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
        for y in 0..self.height {
            for x in 0..self.width {
                if self.values[y * self.width + x] >= 1.0 / 255.0 {
                    x0 = x0.min(x);
                    y0 = y0.min(y);
                    x1 = x1.max(x + 1);
                    y1 = y1.max(y + 1);
                }
            }
        }
        (x0 != usize::MAX).then_some((x0, y0, x1, y1))
    }
}

/// The 784 pixels (row-major, ink 1.0 on 0.0, as `load_mnist(normalize=True)` gives) of `ink`
/// prepared as the MNIST digits were; a blank picture gives 784 zeros.
pub fn to_mnist(ink: &Ink) -> Vec<f32> {
    let mut field = vec![0.0f32; FIELD * FIELD];
    let Some((x0, y0, x1, y1)) = ink.bounding_box() else {
        return field;
    };
    let (bw, bh) = (x1 - x0, y1 - y0);
    // The longer side becomes 20 pixels; the shorter keeps the proportion (at least one pixel).
    let scale = BOX as f64 / bw.max(bh) as f64;
    let tw = ((bw as f64 * scale).round() as usize).clamp(1, BOX);
    let th = ((bh as f64 * scale).round() as usize).clamp(1, BOX);
    let boxed = resample(ink, (x0, y0, bw, bh), tw, th);
    // Centre of mass of the boxed digit, moved to the field's centre by whole pixels.
    let (mut mass, mut mx, mut my) = (0.0f64, 0.0f64, 0.0f64);
    for y in 0..th {
        for x in 0..tw {
            let v = f64::from(boxed[y * tw + x]);
            mass += v;
            mx += v * x as f64;
            my += v * y as f64;
        }
    }
    // In pixel indices, MNIST's centres of mass lie within half a pixel of (14, 14).
    let half = FIELD as f64 / 2.0;
    let (cx, cy) = if mass > 0.0 {
        (mx / mass, my / mass)
    } else {
        ((tw - 1) as f64 / 2.0, (th - 1) as f64 / 2.0)
    };
    let dx = (half - cx).round() as isize;
    let dy = (half - cy).round() as isize;
    for y in 0..th {
        for x in 0..tw {
            let (fx, fy) = (x as isize + dx, y as isize + dy);
            if (0..FIELD as isize).contains(&fx) && (0..FIELD as isize).contains(&fy) {
                field[fy as usize * FIELD + fx as usize] = boxed[y * tw + x];
            }
        }
    }
    field
}

/// The rectangle `(x0, y0, w, h)` of `ink` resampled to `tw × th` by area averaging: each target
/// pixel is the mean of the source over its footprint (partial pixels weighted by their
/// overlap), which anti-aliases a reduction and repeats pixels in an enlargement.
fn resample(
    ink: &Ink,
    (x0, y0, w, h): (usize, usize, usize, usize),
    tw: usize,
    th: usize,
) -> Vec<f32> {
    let sx = w as f64 / tw as f64;
    let sy = h as f64 / th as f64;
    let spans = |t: usize, s: f64, limit: usize| -> Vec<(usize, f64)> {
        let (a, b) = (t as f64 * s, (t + 1) as f64 * s);
        let mut out = Vec::new();
        let mut i = a.floor() as usize;
        while (i as f64) < b && i < limit {
            let overlap = (b.min(i as f64 + 1.0) - a.max(i as f64)).max(0.0);
            if overlap > 0.0 {
                out.push((i, overlap));
            }
            i += 1;
        }
        out
    };
    let columns: Vec<Vec<(usize, f64)>> = (0..tw).map(|t| spans(t, sx, w)).collect();
    let mut out = vec![0.0f32; tw * th];
    for ty in 0..th {
        let rows = spans(ty, sy, h);
        for tx in 0..tw {
            let (mut sum, mut area) = (0.0f64, 0.0f64);
            for &(y, wy) in &rows {
                let row = (y0 + y) * ink.width + x0;
                for &(x, wx) in &columns[tx] {
                    sum += f64::from(ink.values[row + x]) * wx * wy;
                    area += wx * wy;
                }
            }
            out[ty * tw + tx] = if area > 0.0 { (sum / area) as f32 } else { 0.0 };
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picture(w: usize, h: usize, ink: impl Fn(usize, usize) -> bool) -> Vec<f32> {
        (0..h)
            .flat_map(|y| (0..w).map(move |x| (x, y)))
            .map(|(x, y)| if ink(x, y) { 0.0 } else { 1.0 })
            .collect()
    }

    #[test]
    fn a_blank_picture_is_blank() {
        let ink = Ink::from_grey(&vec![1.0; 50 * 40], 50, 40);
        assert_eq!(ink.bounding_box(), None);
        assert!(to_mnist(&ink).iter().all(|&v| v == 0.0));
    }

    #[test]
    fn polarity_is_detected_either_way() {
        let dark_on_light = picture(30, 30, |x, y| (10..20).contains(&x) && (5..25).contains(&y));
        let light_on_dark: Vec<f32> = dark_on_light.iter().map(|v| 1.0 - v).collect();
        let a = to_mnist(&Ink::from_grey(&dark_on_light, 30, 30));
        let b = to_mnist(&Ink::from_grey(&light_on_dark, 30, 30));
        assert_eq!(a, b);
        assert!(a.iter().any(|&v| v > 0.99));
    }

    #[test]
    fn a_small_digit_in_a_corner_is_scaled_to_20_and_centred() {
        // A 6×12 block in the top-left corner of a 280×280 canvas.
        let grey = picture(280, 280, |x, y| (3..9).contains(&x) && (2..14).contains(&y));
        let image = to_mnist(&Ink::from_grey(&grey, 280, 280));
        let on: Vec<(usize, usize)> = (0..784)
            .filter(|&i| image[i] > 0.5)
            .map(|i| (i % 28, i / 28))
            .collect();
        let (xs, ys): (Vec<usize>, Vec<usize>) = on.iter().copied().unzip();
        let height = ys.iter().max().unwrap() - ys.iter().min().unwrap() + 1;
        let width = xs.iter().max().unwrap() - xs.iter().min().unwrap() + 1;
        assert_eq!((width, height), (10, 20));
        // Centre of mass (in pixel indices, as MNIST's) at the field's centre.
        let mass: f32 = image.iter().sum();
        let cx: f32 = (0..784).map(|i| image[i] * (i % 28) as f32).sum::<f32>() / mass;
        let cy: f32 = (0..784).map(|i| image[i] * (i / 28) as f32).sum::<f32>() / mass;
        assert!(
            (cx - 14.0).abs() <= 0.5 && (cy - 14.0).abs() <= 0.5,
            "{cx} {cy}"
        );
    }

    #[test]
    fn reduction_averages_into_grey_levels() {
        // A 1-pixel line in a 40-pixel box: halved, it is half as dark.
        let grey = picture(50, 50, |x, y| {
            x == 20 && (5..45).contains(&y) || (y == 5 || y == 44) && (5..45).contains(&x)
        });
        let image = to_mnist(&Ink::from_grey(&grey, 50, 50));
        assert!(
            image.iter().any(|&v| (v - 0.5).abs() < 1e-6),
            "no grey level"
        );
        assert!(image.iter().all(|&v| (0.0..=1.0).contains(&v)));
    }

    #[test]
    fn a_coloured_noisy_background_is_not_ink() {
        // Light ink on a grey-blue background with ±0.02 of noise, the digit off-centre.
        let (w, h) = (60, 40);
        let grey: Vec<f32> = (0..w * h)
            .map(|i| {
                let (x, y) = (i % w, i / w);
                let noise = if (x * 7 + y * 13) % 5 == 0 {
                    0.02
                } else {
                    -0.01
                };
                if (40..46).contains(&x) && (5..35).contains(&y) {
                    0.9
                } else {
                    0.2 + noise
                }
            })
            .collect();
        let ink = Ink::from_grey(&grey, w, h);
        assert_eq!(ink.bounding_box(), Some((40, 5, 46, 35)));
        let image = to_mnist(&ink);
        assert!(image.iter().filter(|&&v| v > 0.0).count() >= 4 * 20);
        // The paper's level (0.19, the border's median) is no ink: 0.9 is (0.9 − 0.19) / 0.81.
        let full = image.iter().copied().fold(0.0f32, f32::max);
        assert!((full - 0.71 / 0.81).abs() < 1e-6, "{full}");
    }

    /// Shapes whose strokes touch one, two and all four edges of the picture, as in a tight
    /// crop: `(width, height, is_ink)`.
    /// A named test picture: `(name, width, height, is_ink)`.
    type Shape = (
        &'static str,
        usize,
        usize,
        Box<dyn Fn(usize, usize) -> bool>,
    );

    fn touching_shapes() -> Vec<Shape> {
        vec![
            // A bar along the left edge, half the picture's height.
            (
                "one edge",
                24,
                30,
                Box::new(|x, y| x < 4 && (8..23).contains(&y)),
            ),
            // An L: down the left edge and along the bottom.
            (
                "two edges",
                24,
                30,
                Box::new(|x, y| x < 4 && y >= 6 || y >= 26 && x < 18),
            ),
            // A ring (a tightly cropped 0) touching all four edges.
            (
                "four edges",
                20,
                28,
                Box::new(|x, y| {
                    let (dx, dy) = (
                        (x as f64 + 0.5 - 10.0) / 10.0,
                        (y as f64 + 0.5 - 14.0) / 14.0,
                    );
                    let r = dx * dx + dy * dy;
                    (0.55..=1.0).contains(&r)
                }),
            ),
            // A cross whose arms are cut by all four edges.
            (
                "four edges, crossed",
                21,
                21,
                Box::new(|x, y| (8..13).contains(&x) || (8..13).contains(&y)),
            ),
        ]
    }

    #[test]
    fn strokes_that_touch_the_edges_are_ink_either_way_round() {
        for (name, w, h, is_ink) in touching_shapes() {
            // Clean black on white, white on black, and a pencil on grey, noisy paper.
            let looks: [(&str, f32, f32, f32); 3] = [
                ("black on white", 0.0, 1.0, 0.0),
                ("white on black", 1.0, 0.0, 0.0),
                ("pencil on grey paper", 0.15, 0.8, 0.02),
            ];
            for (look, ink_level, paper_level, noise) in looks {
                let grey: Vec<f32> = (0..w * h)
                    .map(|i| {
                        let (x, y) = (i % w, i / w);
                        let wobble = if (x * 7 + y * 13) % 5 == 0 {
                            noise
                        } else {
                            -noise / 2.0
                        };
                        if is_ink(x, y) {
                            ink_level
                        } else {
                            paper_level + wobble
                        }
                    })
                    .collect();
                let ink = Ink::from_grey(&grey, w, h);
                // Ink is measured from the paper's level: a pencil's grey is less than full.
                let full = ink.values.iter().copied().fold(0.0, f32::max);
                assert!(full > 0.8, "{name}, {look}: the darkest ink is {full}");
                for i in 0..w * h {
                    let (x, y) = (i % w, i / w);
                    let v = ink.values[i];
                    if is_ink(x, y) {
                        assert_eq!(v, full, "{name}, {look}: ({x}, {y}) is ink");
                    } else {
                        assert_eq!(v, 0.0, "{name}, {look}: ({x}, {y}) is paper");
                    }
                }
                // The same digit with a margin of paper comes out the same.
                let m = 6;
                let (fw, fh) = (w + 2 * m, h + 2 * m);
                let framed: Vec<f32> = (0..fw * fh)
                    .map(|i| {
                        let (x, y) = (i % fw, i / fw);
                        let inside = (m..m + w).contains(&x) && (m..m + h).contains(&y);
                        let wobble = if (x * 7 + y * 13) % 5 == 0 {
                            noise
                        } else {
                            -noise / 2.0
                        };
                        if inside {
                            grey[(y - m) * w + x - m]
                        } else {
                            paper_level + wobble
                        }
                    })
                    .collect();
                let a = to_mnist(&ink);
                let b = to_mnist(&Ink::from_grey(&framed, fw, fh));
                let most = a
                    .iter()
                    .zip(&b)
                    .map(|(p, q)| (p - q).abs())
                    .fold(0.0, f32::max);
                assert!(
                    most < 1e-5,
                    "{name}, {look}: differs by {most} with a margin"
                );
            }
        }
    }

    #[test]
    fn uniform_pictures_and_faint_noise_are_blank() {
        for level in [0.0, 0.3, 1.0] {
            let ink = Ink::from_grey(&vec![level; 30 * 20], 30, 20);
            assert!(ink.is_blank(), "uniform {level}");
        }
        let noisy: Vec<f32> = (0..900)
            .map(|i| 0.5 + 0.03 * ((i * 37 % 11) as f32 / 10.0))
            .collect();
        assert!(Ink::from_grey(&noisy, 30, 30).is_blank());
        assert!(Ink::from_grey(&[], 0, 0).is_blank());
        assert!(!Ink::from_grey(&picture(30, 30, |x, _| x == 15), 30, 30).is_blank());
    }

    #[test]
    fn nan_and_out_of_range_values_are_clamped() {
        let mut grey = vec![0.0f32; 16];
        grey[5] = f32::NAN;
        grey[6] = 7.0;
        grey[9] = -3.0;
        let ink = Ink::from_grey(&grey, 4, 4);
        assert!(ink.values.iter().all(|v| (0.0..=1.0).contains(v)));
    }
}
