//! Property test of the TOML loader: arbitrary text and arbitrary edits of
//! the shipped experiment files never panic; they parse or return a message.

use exprun::config::parse_str;
use proptest::prelude::*;

const FILES: [&str; 4] = [
    include_str!("../experiments/denoise.toml"),
    include_str!("../experiments/ordering.toml"),
    include_str!("../experiments/smoke/denoise.toml"),
    include_str!("../experiments/smoke/ordering.toml"),
];

/// Replacement fragments that exercise types, ranges, sweeps and syntax.
const FRAGMENTS: [&str; 16] = [
    "-1",
    "0",
    "1e309",
    "nan",
    "inf",
    "\"x\"",
    "[1, 2]",
    "[]",
    "true",
    "{}",
    "[[a]]",
    "=",
    "\n[",
    "999999999999999999999",
    "0.0",
    "\"\"",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 5_000, failure_persistence: None, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,400}") {
        let _ = parse_str(&text);
    }

    #[test]
    fn edited_experiment_files_never_panic(file in 0usize..4, line in 0usize..60, frag in 0usize..16, keep_key in any::<bool>()) {
        let lines: Vec<&str> = FILES[file].lines().collect();
        let target = line % lines.len();
        let edited: Vec<String> = lines
            .iter()
            .enumerate()
            .map(|(i, l)| {
                if i != target {
                    l.to_string()
                } else if keep_key && l.contains('=') {
                    format!("{} = {}", l.split('=').next().unwrap_or("").trim(), FRAGMENTS[frag])
                } else {
                    FRAGMENTS[frag].to_string()
                }
            })
            .collect();
        match parse_str(&edited.join("\n")) {
            Ok(plans) => prop_assert!(!plans.is_empty()),
            Err(message) => prop_assert!(!message.is_empty()),
        }
    }
}
