//! Attention maps (book 2 ch.8.3.3, its `visualize_attention.py`): a question answered greedily
//! by an attention model, and the weights it gave each question character while writing each
//! answer character, drawn as the book draws them.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use zero_nn::data::sequence::CharSequences;
use zero_nn::text::seq2seq::Seq2seq;

use super::{Result, write_svg};

/// One answered question and its attention, `[answer character][question character]`.
pub struct Map {
    /// The question in reading order.
    pub question: Vec<char>,
    /// The answer.
    pub answer: Vec<char>,
    /// `[answer character][question character]`, reading order.
    pub weights: Vec<Vec<f32>>,
}

/// The greedy answer of `len` characters after `start` to the question `reversed` (as the
/// model reads it), and its attention put back in reading order.
pub fn answer(
    model: &Seq2seq<f32>,
    data: &CharSequences,
    reversed: &[usize],
    start: usize,
    len: usize,
) -> Map {
    let out = model.generate(reversed, &[start], len);
    // The model read the question backwards: put its weights back in reading order.
    let weights = out.attention[0]
        .iter()
        .map(|w| w.iter().rev().copied().collect())
        .collect();
    Map {
        question: data
            .decode(reversed.iter().rev().copied())
            .chars()
            .collect(),
        answer: data.decode(out.ids[0].iter().copied()).chars().collect(),
        weights,
    }
}

/// The book's attention figure: question characters across, answer characters down, darker
/// for more weight; trailing padding left out.
pub fn draw_maps(path: &Path, maps: &[Map]) -> Result<()> {
    let cell = 22i32;
    let widths: Vec<usize> = maps
        .iter()
        .map(|m| {
            let text: String = m.question.iter().collect();
            text.trim_end().chars().count().max(1)
        })
        .collect();
    let panel_w = widths.iter().max().copied().unwrap_or(1) as i32 * cell + 60;
    let panel_h = 10 * cell + 70;
    let size = (panel_w as u32, (panel_h as usize * maps.len()) as u32);
    write_svg(path, size, |root| {
        let panels = root.split_evenly((maps.len(), 1));
        for ((area, map), &width) in panels.iter().zip(maps).zip(&widths) {
            let (x0, y0) = (50, 40);
            let font = ("monospace", 16).into_font();
            let title = format!(
                "{} → {}",
                map.question.iter().collect::<String>().trim_end(),
                map.answer.iter().collect::<String>()
            );
            area.draw(&Text::new(title, (x0, 8), ("sans-serif", 15).into_font()))?;
            for (i, c) in map.question.iter().take(width).enumerate() {
                let pos = Pos::new(HPos::Center, VPos::Bottom);
                let style = font.clone().into_text_style(area).pos(pos);
                let x = x0 + i as i32 * cell + cell / 2;
                area.draw(&Text::new(c.to_string(), (x, y0 - 2), style))?;
            }
            for (r, (c, row)) in map.answer.iter().zip(&map.weights).enumerate() {
                let y = y0 + r as i32 * cell;
                let pos = Pos::new(HPos::Right, VPos::Center);
                let style = font.clone().into_text_style(area).pos(pos);
                area.draw(&Text::new(c.to_string(), (x0 - 6, y + cell / 2), style))?;
                for (i, &w) in row.iter().take(width).enumerate() {
                    let shade = (255.0 * (1.0 - w.clamp(0.0, 1.0))) as u8;
                    let x = x0 + i as i32 * cell;
                    area.draw(&Rectangle::new(
                        [(x, y), (x + cell, y + cell)],
                        RGBColor(shade, shade, shade).filled(),
                    ))?;
                }
            }
        }
        Ok(())
    })
}
