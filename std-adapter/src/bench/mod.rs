//! The benchmark engine behind `trueno-zram bench`: codecs run over pages the way zram runs them
//! ([`run`]), a built-in corpus for when there is none ([`synthetic_mix`]), and reports as JSON (the
//! structs are `serde::Serialize`) and as HTML with an SVG chart ([`render_html`]).

mod engine;
mod html;
mod synthetic;

pub use engine::{
    BenchError, BenchReport, CodecResult, CodecSpec, available_codecs, codec_named, median,
    progress_total, run,
};
pub use html::{render_html, svg_chart};
pub use synthetic::{pages_from_bytes, synthetic_mix};
