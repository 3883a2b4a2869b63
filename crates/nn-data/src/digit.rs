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

impl Ink {
    /// Ink from grey levels in [0, 1] (0 black, 1 white), whichever way round the picture is.
    /// The paper is the median grey of the picture's border: when it is light, the ink is what
    /// is darker (a pen on paper), else what is lighter (MNIST's own white on black). Ink is
    /// measured from the paper's level (a grey or coloured background is no ink), and what
    /// differs from the paper no more than twice the border's noise (its 90th percentile: a
    /// stroke may touch the border) is none. A clean black background changes nothing. Values outside [0, 1] are clamped, NaN is 0.
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
        let clamp = |v: f32| if v.is_nan() { 0.0 } else { v.clamp(0.0, 1.0) };
        let mut border: Vec<f32> = (0..height)
            .flat_map(|y| (0..width).map(move |x| (x, y)))
            .filter(|&(x, y)| y == 0 || x == 0 || y + 1 == height || x + 1 == width)
            .map(|(x, y)| clamp(grey[y * width + x]))
            .collect();
        border.sort_by(f32::total_cmp);
        let paper = border.get(border.len() / 2).copied().unwrap_or(0.0);
        let ink = |v: f32| {
            let v = clamp(v);
            let i = if paper > 0.5 {
                (paper - v) / paper
            } else if paper < 1.0 {
                (v - paper) / (1.0 - paper)
            } else {
                0.0
            };
            i.clamp(0.0, 1.0)
        };
        let mut noise: Vec<f32> = border.iter().map(|&v| ink(v)).collect();
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
