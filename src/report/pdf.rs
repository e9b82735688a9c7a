//! Typesets the Typst source of the report into a PDF, in-process.
//!
//! typst is a pure-Rust typesetter: no LaTeX or browser to install, and the
//! fonts come embedded in the binary, so the PDF is the same on every machine.

use std::path::Path;

use anyhow::{Context, Result, anyhow};
use typst_as_lib::TypstEngine;
use typst_as_lib::typst_kit_options::TypstKitFontOptions;

/// Compiles `source` (which refers to images relative to `root`) into `pdf_path`.
pub fn render(source: &str, root: &Path, pdf_path: &Path) -> Result<()> {
    let engine = TypstEngine::builder()
        .main_file(source.to_string())
        .search_fonts_with(
            TypstKitFontOptions::default()
                .include_system_fonts(false)
                .include_embedded_fonts(true),
        )
        .with_file_system_resolver(root)
        .build();
    let document: typst_layout::PagedDocument = engine
        .compile()
        .output
        .map_err(|e| anyhow!("typesetting the report failed: {e:?}"))?;
    let bytes = typst_pdf::pdf(&document, &Default::default())
        .map_err(|e| anyhow!("writing the PDF failed: {e:?}"))?;
    std::fs::write(pdf_path, bytes).with_context(|| format!("cannot write {}", pdf_path.display()))
}
