//! A small document model rendered twice: to Markdown (read on GitHub or in
//! any editor) and to Typst (typeset into the PDF). Writing the report once
//! as blocks keeps the two outputs identical in content.

use std::fmt::Write as _;

/// One block of the report.
#[derive(Debug, Clone)]
pub enum Block {
    /// A heading of level 1–3.
    Heading(u8, String),
    /// A paragraph of plain text; `**bold**` spans are supported.
    Para(String),
    /// A bulleted list of plain-text items.
    Bullets(Vec<String>),
    /// A table with a caption; cells are plain text.
    Table {
        caption: String,
        header: Vec<String>,
        rows: Vec<Vec<String>>,
    },
    /// An image file (relative to the report folder) with a caption;
    /// `width` is the fraction of the text width it takes in the PDF.
    Figure {
        path: String,
        caption: String,
        width: f32,
        pixelated: bool,
    },
    /// A PNG grid of image tiles, shown pixel-sharp, with a label over each
    /// column (the labels are set as text, not drawn into the picture, so
    /// they stay sharp and searchable).
    Grid {
        path: String,
        caption: String,
        width: f32,
        columns: Vec<String>,
    },
    /// A page break in the PDF (ignored in Markdown).
    PageBreak,
}

/// Renders blocks as GitHub-flavoured Markdown.
pub fn to_markdown(title: &str, blocks: &[Block]) -> String {
    let mut s = format!("# {title}\n\n");
    for b in blocks {
        match b {
            Block::Heading(level, text) => {
                let _ = writeln!(s, "{} {text}\n", "#".repeat(*level as usize + 1));
            }
            Block::Para(text) => {
                let _ = writeln!(s, "{text}\n");
            }
            Block::Bullets(items) => {
                for item in items {
                    let _ = writeln!(s, "- {item}");
                }
                s.push('\n');
            }
            Block::Table {
                caption,
                header,
                rows,
            } => {
                let _ = writeln!(s, "*{caption}*\n");
                let _ = writeln!(s, "| {} |", header.join(" | "));
                let _ = writeln!(
                    s,
                    "|{}|",
                    header.iter().map(|_| "---").collect::<Vec<_>>().join("|")
                );
                for row in rows {
                    let _ = writeln!(s, "| {} |", row.join(" | "));
                }
                s.push('\n');
            }
            Block::Figure { path, caption, .. } => {
                let _ = writeln!(s, "![{caption}]({path})\n\n*{caption}*\n");
            }
            Block::Grid {
                path,
                caption,
                columns,
                ..
            } => {
                let _ = writeln!(
                    s,
                    "Columns, left to right: {}.\n\n![{caption}]({path})\n\n*{caption}*\n",
                    columns.join(" | ")
                );
            }
            Block::PageBreak => {}
        }
    }
    s
}

/// Escapes plain text for Typst markup, keeping `**bold**` as Typst's
/// `*bold*` and `` `code` `` as Typst's raw text.
pub fn typst_text(text: &str) -> String {
    let mut out = String::new();
    for (i, part) in text.split("**").enumerate() {
        let escaped: String = part
            .split('`')
            .enumerate()
            .map(|(j, piece)| {
                if j % 2 == 1 {
                    format!("`{piece}`")
                } else {
                    escape_typst(piece)
                }
            })
            .collect();
        if i % 2 == 1 {
            let _ = write!(out, "*{escaped}*");
        } else {
            out.push_str(&escaped);
        }
    }
    out
}

fn escape_typst(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(
            c,
            '#' | '$'
                | '*'
                | '_'
                | '@'
                | '<'
                | '>'
                | '['
                | ']'
                | '\\'
                | '`'
                | '~'
                | '='
                | '-'
                | '+'
                | '/'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Renders blocks as a Typst document.
pub fn to_typst(title: &str, subtitle: &str, blocks: &[Block]) -> String {
    let mut s = String::from(
        "#set page(paper: \"a4\", margin: (x: 2cm, y: 2cm), numbering: \"1\")\n\
         #set text(font: \"Libertinus Serif\", size: 10.5pt)\n\
         #set par(justify: true)\n\
         #set heading(numbering: \"1.1\")\n\
         #show table.cell.where(y: 0): strong\n\
         #show raw: set text(font: \"DejaVu Sans Mono\", size: 9pt)\n",
    );
    let _ = writeln!(
        s,
        "#align(center)[#text(size: 18pt, weight: \"bold\")[{}] \\ #text(size: 10pt)[{}]]\n",
        typst_text(title),
        typst_text(subtitle)
    );
    for b in blocks {
        match b {
            Block::Heading(level, text) => {
                let _ = writeln!(s, "{} {}\n", "=".repeat(*level as usize), typst_text(text));
            }
            Block::Para(text) => {
                let _ = writeln!(s, "{}\n", typst_text(text));
            }
            Block::Bullets(items) => {
                for item in items {
                    let _ = writeln!(s, "- {}", typst_text(item));
                }
                s.push('\n');
            }
            Block::Table {
                caption,
                header,
                rows,
            } => {
                let cols = header.len().max(1);
                let _ = writeln!(
                    s,
                    "#figure(kind: table, caption: [{}],",
                    typst_text(caption)
                );
                // Numbers right-aligned, text left-aligned, column by column.
                let aligns: Vec<&str> = (0..cols)
                    .map(|c| {
                        if rows.iter().all(|r| r.get(c).is_some_and(|v| numeric(v)))
                            && !rows.is_empty()
                        {
                            "right"
                        } else {
                            "left"
                        }
                    })
                    .collect();
                let _ = write!(
                    s,
                    "  table(columns: {cols}, align: ({},), stroke: 0.4pt + gray, inset: 4pt,\n    ",
                    aligns.join(", ")
                );
                for cell in header.iter().chain(rows.iter().flatten()) {
                    let _ = write!(s, "[{}], ", typst_text(cell));
                }
                s.push_str("\n  )\n)\n\n");
            }
            Block::Figure {
                path,
                caption,
                width,
                pixelated,
            } => {
                let scaling = if *pixelated {
                    ", scaling: \"pixelated\""
                } else {
                    ""
                };
                let _ = writeln!(
                    s,
                    "#figure(image(\"{path}\", width: {:.0}%{scaling}), caption: [{}])\n",
                    width * 100.0,
                    typst_text(caption)
                );
            }
            Block::Grid {
                path,
                caption,
                width,
                columns,
            } => {
                // Equal columns over the image: the tiles are equal and their
                // gaps narrow, so each label sits over its column.
                let labels: Vec<String> = columns
                    .iter()
                    .map(|c| format!("text(size: 8.5pt)[{}]", typst_text(c)))
                    .collect();
                let _ = writeln!(
                    s,
                    "#figure(block(width: {:.0}%, stack(spacing: 3pt, grid(columns: ({}), align: center, {}), image(\"{path}\", width: 100%, scaling: \"pixelated\"))), caption: [{}])\n",
                    width * 100.0,
                    vec!["1fr"; columns.len().max(1)].join(", "),
                    labels.join(", "),
                    typst_text(caption)
                );
            }
            Block::PageBreak => s.push_str("#pagebreak()\n"),
        }
    }
    s
}

/// Whether a cell reads as a number (optionally with %, ±, a unit in parentheses).
fn numeric(cell: &str) -> bool {
    let head = cell.split_whitespace().next().unwrap_or("");
    let head = head
        .trim_end_matches('%')
        .replace('−', "-")
        .replace(',', "");
    !head.is_empty() && (head.parse::<f64>().is_ok() || head == "—")
}
