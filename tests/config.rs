//! Experiment files: the shipped ones parse; every kind of mistake is
//! reported with the key and what is allowed, never a panic.

use std::path::Path;

use exprun::config::{Experiment, load_file, parse_str};

const DENOISE: &str = include_str!("../experiments/denoise.toml");
const ORDERING: &str = include_str!("../experiments/ordering.toml");

#[test]
fn every_shipped_experiment_parses_and_validates() {
    let mut count = 0;
    for dir in ["experiments", "experiments/smoke"] {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                let plans = load_file(&path).unwrap_or_else(|e| panic!("{e}"));
                assert!(!plans.is_empty());
                count += 1;
            }
        }
    }
    assert!(
        count >= 4,
        "expected the reference and smoke experiments, found {count}"
    );
}

#[test]
fn reference_experiments_match_the_brief() {
    let plans = parse_str(DENOISE).unwrap();
    let Experiment::Denoise(d) = &plans[0].experiment else {
        panic!("denoise.toml is not a denoising experiment")
    };
    assert_eq!(d.data.train_images, 100);
    assert_eq!(d.data.image_size, 64);
    let plans = parse_str(ORDERING).unwrap();
    let Experiment::Ordering(o) = &plans[0].experiment else {
        panic!("ordering.toml is not an ordering experiment")
    };
    assert_eq!(o.data.train_images, 100);
}

/// Replaces `from` by `to`, failing loudly if the reference file no longer holds `from`.
fn edit(text: &str, from: &str, to: &str) -> String {
    assert!(
        text.contains(from),
        "the reference experiment no longer contains {from:?}; update this test"
    );
    text.replace(from, to)
}

fn error_of(text: &str) -> String {
    parse_str(text).expect_err("the text should be rejected")
}

#[test]
fn unknown_key_is_named_with_the_allowed_keys() {
    let e = error_of(&edit(DENOISE, "crop = 48", "crop = 48\ncrops = 3"));
    assert!(e.contains("crops"), "{e}");
    assert!(e.contains("allowed keys"), "{e}");
    assert!(e.contains("[train]"), "the section is named: {e}");
    let e = error_of(&edit(DENOISE, "seed = 1", "seed = 1\nseeds = 2"));
    assert!(e.contains("seeds") && !e.contains("section"), "{e}");
}

#[test]
fn wrong_type_is_reported() {
    // The key is named by its full path, and the expected type in words.
    let e = error_of(&set_key(DENOISE, "batch_size", "\"sixteen\""));
    assert!(
        e.contains("train.batch_size") && e.contains("whole number"),
        "{e}"
    );
    let e = error_of(&set_key(DENOISE, "epochs", "2.5"));
    assert!(
        e.contains("train.epochs") && e.contains("whole number"),
        "{e}"
    );
    let e = error_of(&set_key(DENOISE, "backend", "\"gpu\""));
    assert!(
        e.contains("`backend`") && e.contains("allowed values"),
        "{e}"
    );
    let e = error_of(&set_key(DENOISE, "crop", "[48, \"x\"]"));
    assert!(
        e.contains("train.crop") && e.contains("sweep combination"),
        "{e}"
    );
    let e = error_of(&DENOISE.replace("crop = 48\n", ""));
    assert!(
        e.contains("[train]") && e.contains("missing key `crop`"),
        "{e}"
    );
}

#[test]
fn out_of_range_values_name_the_key_and_the_rule() {
    let e = error_of(&edit(DENOISE, "sigma = 25.0", "sigma = -3.0"));
    assert!(e.contains("noise.sigma") && e.contains("(0, 255]"), "{e}");
    let e = error_of(&edit(DENOISE, "crop = 48", "crop = 96"));
    assert!(e.contains("train.crop"), "{e}");
    let e = error_of(&edit(ORDERING, "lr = 1e-2", "lr = 5.0"));
    assert!(e.contains("train.lr"), "{e}");
    let e = error_of(&edit(DENOISE, "train_images = 100", "train_images = 390"));
    assert!(e.contains("400"), "{e}");
    let e = error_of(&edit(DENOISE, "warmup = 0.05", "warmup = 0.7"));
    assert!(e.contains("train.warmup") && e.contains("[0, 0.5)"), "{e}");
}

#[test]
fn architecture_factors_must_fit_the_crop_and_the_architecture() {
    // Three levels halve the size twice: a 30-pixel crop does not divide by 4.
    let e = error_of(&edit(DENOISE, "crop = 48", "crop = 30"));
    assert!(
        e.contains("train.crop") && e.contains("multiples of 4"),
        "{e}"
    );
    let e = error_of(&edit(DENOISE, "levels = 3", "levels = 9"));
    assert!(
        e.contains("model.levels") && e.contains("between 1 and 5"),
        "{e}"
    );
    let plain = edit(DENOISE, "arch = \"unet\"", "arch = \"residual_cnn\"");
    let e = error_of(&plain);
    assert!(e.contains("model.levels") && e.contains("unet"), "{e}");
}

#[test]
fn missing_key_is_named() {
    let e = error_of(&edit(DENOISE, "lr_final = 3e-5", ""));
    assert!(e.contains("lr_final"), "{e}");
    assert!(
        e.contains("in section [train]"),
        "the section it belongs in: {e}"
    );
    let e = error_of(&edit(DENOISE, "task = \"denoise\"", ""));
    assert!(e.contains("task"), "{e}");
}

#[test]
fn unknown_architecture_and_task_list_the_allowed_names() {
    let e = error_of(&edit(DENOISE, "arch = \"unet\"", "arch = \"transformer\""));
    assert!(
        e.contains("model.arch") && e.contains("residual_cnn") && e.contains("unet"),
        "{e}"
    );
    let e = error_of(&edit(
        ORDERING,
        "estimator = \"straight_through\"",
        "estimator = \"gumbel\"",
    ));
    assert!(e.contains("reinforce"), "{e}");
    let e = error_of(&edit(DENOISE, "task = \"denoise\"", "task = \"classify\""));
    assert!(e.contains("ordering"), "{e}");
}

#[test]
fn empty_binary_and_broken_files_are_rejected_with_the_file_name() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &[u8]); 3] = [
        ("empty.toml", b""),
        ("binary.toml", &[0xff, 0xfe, 0x00, 0x9c]),
        ("broken.toml", b"name = \"x\"\n[train\n"),
    ];
    for (name, bytes) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let e = load_file(&path).expect_err("must be rejected").to_string();
        assert!(e.contains(name), "{e}");
    }
    let e = load_file(Path::new("experiments/no-such-file.toml"))
        .expect_err("missing file")
        .to_string();
    assert!(e.contains("no-such-file.toml"), "{e}");
}

#[test]
fn a_list_of_values_becomes_a_sweep() {
    let plans = parse_str(&set_key(
        &edit(DENOISE, "sigma = 25.0", "sigma = [15.0, 25.0, 50.0]"),
        "lr",
        "[1e-3, 5e-3]",
    ))
    .unwrap();
    assert_eq!(plans.len(), 6);
    let sigmas: Vec<f64> = plans
        .iter()
        .map(|p| match &p.experiment {
            Experiment::Denoise(d) => d.noise.sigma,
            _ => unreachable!(),
        })
        .collect();
    assert!(sigmas.contains(&15.0) && sigmas.contains(&50.0));
    assert!(plans.iter().all(|p| p.swept.len() == 2));
    // A bad value inside a sweep is reported with its combination.
    let e = error_of(&edit(DENOISE, "sigma = 25.0", "sigma = [25.0, 300.0]"));
    assert!(e.contains("noise.sigma") && e.contains("sweep"), "{e}");
}

/// Replaces the value of the first line that sets `key` (`key = …`).
fn set_key(text: &str, key: &str, value: &str) -> String {
    let prefix = format!("{key} = ");
    let line = text
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("the reference experiment sets no {key}; update this test"));
    text.replacen(line, &format!("{prefix}{value}"), 1)
}

#[test]
fn keys_swept_together_vary_in_step() {
    let lists = set_key(
        &set_key(DENOISE, "batch_size", "[4, 8, 16]"),
        "steps_per_epoch",
        "[100, 50, 25]",
    );
    let paired =
        format!("sweep_together = [\"train.batch_size\", \"train.steps_per_epoch\"]\n{lists}");
    let plans = parse_str(&paired).unwrap();
    let shapes: Vec<(usize, usize)> = plans
        .iter()
        .map(|p| match &p.experiment {
            Experiment::Denoise(d) => (d.train.batch_size, d.train.steps_per_epoch),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(shapes, [(4, 100), (8, 50), (16, 25)]);
    assert!(plans.iter().all(|p| p.swept.len() == 2));
    // Without the pairing the same lists give every combination.
    assert_eq!(parse_str(&lists).unwrap().len(), 9);
    // Unequal lists, and a named key that is not a list, are refused by name.
    let uneven = paired.replace("[100, 50, 25]", "[100, 50]");
    let e = error_of(&uneven);
    assert!(
        e.contains("train.batch_size")
            && e.contains("train.steps_per_epoch")
            && e.contains("equally many"),
        "{e}"
    );
    let single = format!("sweep_together = [\"train.lr\"]\n{lists}");
    let e = error_of(&single);
    assert!(
        e.contains("sweep_together") && e.contains("train.lr"),
        "{e}"
    );
    let e = error_of(&format!("sweep_together = \"train.lr\"\n{DENOISE}"));
    assert!(
        e.contains("sweep_together") && e.contains("list of key names"),
        "{e}"
    );
}

#[test]
fn resolved_config_round_trips_through_toml() {
    let plans = parse_str(ORDERING).unwrap();
    let text = plans[0].experiment.to_toml();
    let back: Experiment = toml::from_str(&text).unwrap();
    assert_eq!(back, plans[0].experiment);
}
