//! The exhaustive task-2 evaluator: a perfect protocol makes no error, a
//! constant bit makes exactly half, and the fast structured path agrees with
//! the forward pass case by case.

use burn::prelude::*;
use exprun::config::AgentsSpec;
use exprun::models::agents::{Receiver, Sender};
use exprun::tasks::ordering::{Cases, play, play_scores, play_stacks};
use rand::SeedableRng;
use rand::rngs::StdRng;

#[test]
fn exhaustive_cases_cover_every_ordered_pair_in_both_orders() {
    let c = Cases::exhaustive(100);
    assert_eq!(c.len(), 100 * 99 * 2);
    assert!(c.first.iter().zip(&c.second).all(|(a, b)| a != b));
    assert_eq!(c.same.iter().filter(|&&s| s == 1.0).count(), 9900);
}

#[test]
fn a_shared_ranking_makes_no_error() {
    let scores: Vec<f32> = (0..50).map(|i| ((i * 37) % 50) as f32).collect();
    let c = Cases::exhaustive(50);
    let d = play_scores(&scores, &scores, &c, None);
    assert_eq!(d.errors(&c), 0);
}

#[test]
fn a_constant_bit_is_right_exactly_half_the_time() {
    let s_scores = vec![0.0f32; 50]; // S cannot tell images apart: always sends 0
    let r_scores: Vec<f32> = (0..50).map(|i| i as f32).collect();
    let c = Cases::exhaustive(50);
    let d = play_scores(&s_scores, &r_scores, &c, None);
    assert_eq!(d.errors(&c) * 2, c.len());
}

#[test]
fn a_coin_instead_of_the_bit_gives_chance() {
    let scores: Vec<f32> = (0..60).map(|i| i as f32).collect();
    let c = Cases::exhaustive(60);
    let d = play_scores(&scores, &scores, &c, Some(&mut StdRng::seed_from_u64(1)));
    let rate = d.error_rate(&c);
    assert!((rate - 0.5).abs() < 0.02, "error rate with a coin: {rate}");
}

#[test]
fn score_path_equals_forward_path_for_structured_agents() {
    let device = Device::flex();
    device.seed(3);
    let spec = AgentsSpec {
        arch: "score".into(),
        channels: 4,
    };
    let (s, r) = (Sender::new(&spec, &device), Receiver::new(&spec, &device));
    let images = Tensor::<4>::random(
        [12, 3, 32, 32],
        burn::tensor::Distribution::Uniform(0.0, 1.0),
        &device,
    );
    let c = Cases::exhaustive(12);
    let fast = play(&s, &r, &images, &c, None);
    let slow = play_stacks(&s, &r, &images, &c, None);
    assert_eq!(fast.bit, slow.bit);
    assert_eq!(fast.decision, slow.decision);
    // Antisymmetry: S's bits for (i, j) and (j, i) differ.
    let bit_of = |i: usize, j: usize| {
        (0..c.len())
            .find(|&k| c.first[k] == i && c.second[k] == j)
            .map(|k| fast.bit[k])
            .unwrap()
    };
    assert_ne!(bit_of(2, 7), bit_of(7, 2));
}
