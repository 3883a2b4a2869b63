//! The training history as a CSV table and an SVG chart of the loss and accuracy curves.

use std::fmt::Write as _;
use std::path::Path;

use plotters::prelude::*;

use crate::error::TrainError;
use crate::train::EpochStats;

/// Writes `path` atomically and durably ([`nn_core::fs::write_atomic`], as checkpoints and
/// downloads are written): an interrupted write leaves the old file (or none), never a partial
/// one.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), TrainError> {
    nn_core::fs::write_atomic(path, contents).map_err(|e| TrainError::Report {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// The history as CSV: `epoch,train_loss,train_accuracy,test_accuracy,seconds`.
pub fn csv(history: &[EpochStats]) -> String {
    let mut out = String::from("epoch,train_loss,train_accuracy,test_accuracy,seconds\n");
    for s in history {
        let train_acc = s
            .train_accuracy
            .map_or_else(String::new, |a| format!("{a:.4}"));
        let _ = writeln!(
            out,
            "{},{:.6},{},{:.4},{:.3}",
            s.epoch, s.train_loss, train_acc, s.test_accuracy, s.seconds
        );
    }
    out
}

/// An SVG with the training loss (left) and the train/test accuracy (right) per epoch.
///
/// # Errors
/// [`TrainError::Report`] if drawing fails.
pub fn svg(history: &[EpochStats], title: &str) -> Result<String, TrainError> {
    let mut out = String::new();
    draw(&mut out, history, title).map_err(|e| TrainError::Report {
        path: "history.svg".into(),
        reason: e.to_string(),
    })?;
    Ok(out)
}

fn draw(
    out: &mut String,
    history: &[EpochStats],
    title: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::with_string(out, (960, 400)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(title, ("sans-serif", 18))?;
    let (left, right) = root.split_horizontally(480);
    let epochs = history.len().max(1) as f64;
    let max_loss = history
        .iter()
        .map(|s| s.train_loss)
        .fold(0.0f64, f64::max)
        .max(1e-3);

    let mut chart = ChartBuilder::on(&left)
        .caption("training loss", ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(50)
        .build_cartesian_2d(0.5f64..epochs + 0.5, 0f64..max_loss * 1.1)?;
    chart.configure_mesh().x_desc("epoch").draw()?;
    chart.draw_series(LineSeries::new(
        history.iter().map(|s| (s.epoch as f64, s.train_loss)),
        &RED,
    ))?;
    chart.draw_series(
        history
            .iter()
            .map(|s| Circle::new((s.epoch as f64, s.train_loss), 3, RED.filled())),
    )?;

    let lowest = history
        .iter()
        .flat_map(|s| [Some(s.test_accuracy), s.train_accuracy])
        .flatten()
        .fold(1.0f64, f64::min);
    let floor = (lowest - 0.02).clamp(0.0, 0.98);
    let mut chart = ChartBuilder::on(&right)
        .caption("accuracy", ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(50)
        .build_cartesian_2d(0.5f64..epochs + 0.5, floor..1.0f64)?;
    chart.configure_mesh().x_desc("epoch").draw()?;
    if history.iter().all(|s| s.train_accuracy.is_some()) {
        chart
            .draw_series(LineSeries::new(
                history
                    .iter()
                    .filter_map(|s| Some((s.epoch as f64, s.train_accuracy?))),
                &BLUE,
            ))?
            .label("train")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE));
    }
    chart
        .draw_series(LineSeries::new(
            history.iter().map(|s| (s.epoch as f64, s.test_accuracy)),
            &GREEN,
        ))?
        .label("test")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], GREEN));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .border_style(BLACK)
        .background_style(WHITE)
        .draw()?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_names_the_file() {
        // The atomic replacement itself is nn_core::fs's, tested there.
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no/such/dir/run.csv");
        let err = write_atomic(&missing, b"x").unwrap_err();
        assert!(matches!(err, TrainError::Report { .. }), "{err:?}");
        assert!(err.to_string().contains("run.csv"), "{err}");
    }

    fn history() -> Vec<EpochStats> {
        (1..=3)
            .map(|e| EpochStats {
                epoch: e,
                train_loss: 1.0 / e as f64,
                train_accuracy: Some(0.8 + 0.05 * e as f64),
                test_accuracy: 0.79 + 0.05 * e as f64,
                seconds: 1.5,
            })
            .collect()
    }

    #[test]
    fn csv_has_a_row_per_epoch() {
        let text = csv(&history());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[1], "1,1.000000,0.8500,0.8400,1.500");
    }

    #[test]
    fn svg_draws_both_panels() {
        let text = svg(&history(), "mlp on fashion-mnist").unwrap();
        assert!(text.starts_with("<svg"));
        assert!(text.contains("training loss") && text.contains("accuracy"));
        assert!(text.contains("mlp on fashion-mnist"));
    }
}
