//! The whole path through the binary: smoke experiments → run folders →
//! report, reproducibility, and clean failures on bad input.

use std::path::Path;
use std::process::{Command, Output};

fn exprun(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_exprun"))
        .args(args)
        .output()
        .expect("the binary starts")
}

fn run_folders(root: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(root)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// metrics.csv without the timing column.
fn metrics_without_time(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let t = header.iter().position(|h| *h == "elapsed_s").unwrap();
    text.lines()
        .map(|l| {
            l.split(',')
                .enumerate()
                .filter(|(i, _)| *i != t)
                .map(|(_, v)| v)
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect()
}

#[test]
fn smoke_runs_fill_run_folders_reproducibly_and_feed_the_report() {
    let runs = tempfile::tempdir().unwrap();
    let runs_arg = runs.path().to_str().unwrap();
    for _ in 0..2 {
        let out = exprun(&[
            "run",
            "--runs",
            runs_arg,
            "experiments/smoke/denoise.toml",
            "experiments/smoke/ordering.toml",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            !stdout.to_lowercase().contains("loss"),
            "no loss values on the terminal: {stdout}"
        );
    }
    let folders = run_folders(runs.path());
    assert_eq!(folders.len(), 4, "one folder per run, none overwritten");
    for dir in &folders {
        let info: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("run.json")).unwrap()).unwrap();
        assert_eq!(info["status"], "finished");
        assert!(info["wall_s"].as_f64().unwrap() > 0.0);
        for f in ["config.toml", "metrics.csv", "summary.json", "model.bpk"] {
            assert!(dir.join(f).is_file(), "{} lacks {f}", dir.display());
        }
        let rows = std::fs::read_to_string(dir.join("metrics.csv"))
            .unwrap()
            .lines()
            .count();
        assert_eq!(rows, 3, "header and one row per epoch (2 epochs)");
        // steps.csv: one row per optimisation step, its last step the
        // step count of the last epoch row.
        let steps = std::fs::read_to_string(dir.join("steps.csv")).unwrap();
        let last_step = steps
            .lines()
            .last()
            .unwrap()
            .split(',')
            .next()
            .unwrap()
            .to_string();
        let metrics = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
        let last_epoch_step = metrics
            .lines()
            .last()
            .unwrap()
            .split(',')
            .nth(1)
            .unwrap()
            .to_string();
        assert_eq!(steps.lines().next(), Some("step,elapsed_s,train_loss"));
        assert_eq!(last_step, last_epoch_step, "{}", dir.display());
        assert_eq!(
            steps.lines().count() - 1,
            last_step.parse::<usize>().unwrap()
        );
    }
    let denoise: Vec<_> = folders
        .iter()
        .filter(|d| d.to_string_lossy().ends_with("smoke-denoise"))
        .collect();
    assert_eq!(
        metrics_without_time(denoise[0]),
        metrics_without_time(denoise[1]),
        "same TOML and seed, same metrics"
    );
    let ordering: Vec<_> = folders
        .iter()
        .filter(|d| d.to_string_lossy().ends_with("smoke-ordering"))
        .collect();
    assert_eq!(
        metrics_without_time(ordering[0]),
        metrics_without_time(ordering[1])
    );
    for f in [
        "test_clean.npy",
        "test_noisy.npy",
        "test_denoised.npy",
        "examples_test.png",
        "sigma_gallery.png",
    ] {
        assert!(denoise[0].join(f).is_file(), "denoising run lacks {f}");
    }
    let cases = std::fs::read_to_string(ordering[0].join("train_cases.csv")).unwrap();
    assert_eq!(
        cases.lines().count(),
        1 + 10 * 9 * 2,
        "one row per training case"
    );

    let report = tempfile::tempdir().unwrap();
    // A file of the user's in the report folder, and a stale plot of an
    // earlier build: the first must survive, the second must go.
    std::fs::write(report.path().join("NOTES.md"), "mine").unwrap();
    std::fs::write(report.path().join("mine.svg"), "<svg/>").unwrap();
    std::fs::write(report.path().join("sweep_99.svg"), "<svg/>").unwrap();
    let build = || {
        let out = exprun(&[
            "report",
            "--runs",
            runs_arg,
            "--out",
            report.path().to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    build();
    build();
    assert!(report.path().join("NOTES.md").is_file(), "user file kept");
    assert!(report.path().join("mine.svg").is_file(), "user file kept");
    assert!(
        !report.path().join("sweep_99.svg").exists(),
        "stale plot removed"
    );
    let missing = exprun(&[
        "report",
        "--runs",
        "/nonexistent/runs",
        "--out",
        report.path().to_str().unwrap(),
    ]);
    assert!(
        !missing.status.success(),
        "a missing runs folder is an error"
    );
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/runs"));
    let md = std::fs::read_to_string(report.path().join("report.md")).unwrap();
    assert!(
        md.contains("Reconstruction error") && md.contains("Final error rate"),
        "both tasks reported"
    );
    let pdf = std::fs::read(report.path().join("report.pdf")).unwrap();
    assert!(pdf.starts_with(b"%PDF") && pdf.len() > 10_000);
    for f in [
        "denoise_loss.svg",
        "denoise_psnr.svg",
        "ordering_loss.svg",
        "denoise_examples_test.png",
    ] {
        assert!(report.path().join(f).is_file(), "report lacks {f}");
    }
}

#[test]
fn recomputed_metrics_from_the_npy_arrays_match_the_summary() {
    let runs = tempfile::tempdir().unwrap();
    let out = exprun(&[
        "run",
        "--runs",
        runs.path().to_str().unwrap(),
        "experiments/smoke/denoise.toml",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = &run_folders(runs.path())[0];
    let (shape, clean) = exprun::images::load_npy(&dir.join("test_clean.npy")).unwrap();
    let (_, denoised) = exprun::images::load_npy(&dir.join("test_denoised.npy")).unwrap();
    let size = shape[1];
    let n = shape[0];
    let mean_psnr: f64 = (0..n)
        .map(|i| {
            let r = &clean[i * size * size..(i + 1) * size * size];
            let e = exprun::metrics::clip01(&denoised[i * size * size..(i + 1) * size * size]);
            exprun::metrics::psnr(r, &e)
        })
        .sum::<f64>()
        / n as f64;
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    let reported = summary["test"]["denoised"]["psnr"].as_f64().unwrap();
    assert!(
        (mean_psnr - reported).abs() < 0.01,
        "recomputed {mean_psnr}, reported {reported}"
    );
}

#[test]
fn bad_input_fails_cleanly_without_a_run_folder() {
    let runs = tempfile::tempdir().unwrap();
    let runs_arg = runs.path().to_str().unwrap();
    let bad = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(bad.path(), "task = \"denoise\"\nname = \"x\"\nbogus = 1\n").unwrap();
    let out = exprun(&["run", "--runs", runs_arg, bad.path().to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("error:") && !err.contains("panicked"), "{err}");
    assert!(
        run_folders(runs.path()).is_empty(),
        "a config error creates no run folder"
    );

    // An unwritable runs folder (a file stands where the folder should be).
    let blocker = runs.path().join("blocked");
    std::fs::write(&blocker, "").unwrap();
    let out = exprun(&[
        "run",
        "--runs",
        blocker.to_str().unwrap(),
        "experiments/smoke/ordering.toml",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("runs folder") && !err.contains("panicked"),
        "{err}"
    );

    // A backend that is not compiled in.
    if !cfg!(feature = "cuda") {
        let out = exprun(&[
            "run",
            "--runs",
            runs_arg,
            "--backend",
            "cuda",
            "experiments/smoke/ordering.toml",
        ]);
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("--features cuda"));
    }
}

#[test]
fn a_slurm_array_task_run_by_hand_lands_in_the_runs_layout() {
    let work = tempfile::tempdir().unwrap();
    let runs = work.path().join("runs");
    let sweep = work.path().join("sweep.toml");
    let text = std::fs::read_to_string("experiments/smoke/ordering.toml").unwrap();
    std::fs::write(&sweep, text.replace("seed = 1", "seed = [1, 2, 3]")).unwrap();
    let out = exprun(&[
        "slurm",
        "--runs",
        runs.to_str().unwrap(),
        sweep.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let script = String::from_utf8(out.stdout).unwrap();
    assert!(script.contains("#SBATCH --array=0-2"), "{script}");
    let path = work.path().join("job.sh");
    std::fs::write(&path, &script).unwrap();
    for task in ["1", "2"] {
        let status = Command::new("bash")
            .arg(&path)
            .env("SLURM_ARRAY_TASK_ID", task)
            .output()
            .unwrap();
        assert!(
            status.status.success(),
            "{}",
            String::from_utf8_lossy(&status.stderr)
        );
    }
    let folders = run_folders(&runs);
    assert_eq!(folders.len(), 2);
    let infos: Vec<serde_json::Value> = folders
        .iter()
        .map(|d| {
            serde_json::from_str(&std::fs::read_to_string(d.join("run.json")).unwrap()).unwrap()
        })
        .collect();
    let seeds: Vec<u64> = infos.iter().map(|i| i["seed"].as_u64().unwrap()).collect();
    assert!(
        seeds.contains(&2) && seeds.contains(&3),
        "tasks 1 and 2 are seeds 2 and 3: {seeds:?}"
    );
    assert_eq!(
        infos[0]["sweep_id"], infos[1]["sweep_id"],
        "one sweep id for the whole array"
    );
    assert!(infos[0]["sweep_id"].is_string());
}

#[test]
fn ctrl_c_marks_the_run_interrupted_and_keeps_its_epochs() {
    let work = tempfile::tempdir().unwrap();
    let runs = work.path().join("runs");
    let long = work.path().join("long.toml");
    let text = std::fs::read_to_string("experiments/smoke/denoise.toml").unwrap();
    std::fs::write(&long, text.replace("epochs = 2", "epochs = 100000")).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_exprun"))
        .args([
            "run",
            "--runs",
            runs.to_str().unwrap(),
            long.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until at least one epoch is on disk, then interrupt.
    let started = std::time::Instant::now();
    loop {
        let rows = run_folders(&runs)
            .first()
            .and_then(|d| std::fs::read_to_string(d.join("metrics.csv")).ok())
            .map(|t| t.lines().count())
            .unwrap_or(0);
        if rows >= 2 {
            break;
        }
        assert!(
            started.elapsed().as_secs() < 120,
            "no epoch finished within two minutes"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success(), "an interrupted run exits non-zero");
    let dir = &run_folders(&runs)[0];
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("run.json")).unwrap()).unwrap();
    assert_eq!(info["status"], "interrupted");
    assert!(
        std::fs::read_to_string(dir.join("metrics.csv"))
            .unwrap()
            .lines()
            .count()
            >= 2,
        "completed epochs are kept"
    );
    // The report leaves it out of the results and lists it apart.
    let report = work.path().join("report");
    let out = exprun(&[
        "report",
        "--no-pdf",
        "--runs",
        runs.to_str().unwrap(),
        "--out",
        report.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let md = std::fs::read_to_string(report.join("report.md")).unwrap();
    assert!(
        md.contains("No finished denoising run"),
        "an interrupted run is not a result"
    );
    assert!(md.contains("Interrupted"), "it is listed as interrupted");
}

#[test]
fn missing_data_fails_with_a_fix_and_a_failed_run_record() {
    let work = tempfile::tempdir().unwrap();
    let experiment = std::fs::canonicalize("experiments/smoke/denoise.toml").unwrap();
    let run_with_mirror = |mirror: &Path| {
        Command::new(env!("CARGO_BIN_EXE_exprun"))
            .current_dir(work.path())
            .env("DATA_MIRROR", mirror)
            .env("DATA_OFFLINE", "1")
            .args(["run", experiment.to_str().unwrap()])
            .output()
            .unwrap()
    };
    // A DATA_MIRROR that is not a folder is a mistake to report, not a
    // reason to download.
    let out = run_with_mirror(&work.path().join("no-mirror-here"));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not a folder") && err.contains("DATA_MIRROR"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(work.path().join("runs"));
    // An empty mirror: the file is missing, and the message says where it looked.
    let empty = work.path().join("empty-mirror");
    std::fs::create_dir(&empty).unwrap();
    let out = run_with_mirror(&empty);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("missing") && err.contains("DATA_MIRROR") && !err.contains("panicked"),
        "{err}"
    );
    let dir = &run_folders(&work.path().join("runs"))[0];
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("run.json")).unwrap()).unwrap();
    assert_eq!(
        info["status"], "failed",
        "the folder says it is not a result"
    );
    assert!(info["error"].as_str().unwrap().contains("missing"));
}
