//! `parallel_state`: Megatron's rank layout for a table of (W, T, P), and its errors.

use kb_sched::spawn;
use kb_tp::*;

/// What one rank's getters say.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    tp: (usize, usize, Vec<usize>, usize),
    pp: (usize, usize, Vec<usize>),
    dp: (usize, usize, Vec<usize>),
}

fn layout(world: usize, tp: usize, pp: usize) -> Vec<Seen> {
    spawn(world, move |ctx| {
        assert!(!model_parallel_is_initialized(&ctx));
        initialize_model_parallel(&ctx, tp, pp)?;
        assert!(model_parallel_is_initialized(&ctx));
        Ok::<_, TpError>(Seen {
            tp: (
                get_tensor_model_parallel_rank(&ctx)?,
                get_tensor_model_parallel_world_size(&ctx)?,
                get_tensor_model_parallel_group(&ctx)?.ranks().to_vec(),
                get_tensor_model_parallel_src_rank(&ctx)?,
            ),
            pp: (
                get_pipeline_model_parallel_rank(&ctx)?,
                get_pipeline_model_parallel_world_size(&ctx)?,
                get_pipeline_model_parallel_group(&ctx)?.ranks().to_vec(),
            ),
            dp: (
                get_data_parallel_rank(&ctx)?,
                get_data_parallel_world_size(&ctx)?,
                get_data_parallel_group(&ctx)?.ranks().to_vec(),
            ),
        })
    })
    .unwrap()
}

#[test]
fn sixteen_ranks_tp2_pp4_give_megatrons_documented_groups() {
    let seen = layout(16, 2, 4);
    let tp: Vec<Vec<usize>> = (0..8).map(|g| vec![2 * g, 2 * g + 1]).collect();
    let pp = [[0, 4, 8, 12], [1, 5, 9, 13], [2, 6, 10, 14], [3, 7, 11, 15]];
    let dp = [[0, 2], [1, 3], [4, 6], [5, 7], [8, 10], [9, 11], [12, 14], [13, 15]];
    for (rank, s) in seen.iter().enumerate() {
        assert!(tp.contains(&s.tp.2), "rank {rank}: {s:?}");
        assert!(pp.iter().any(|g| g[..] == s.pp.2[..]), "rank {rank}: {s:?}");
        assert!(dp.iter().any(|g| g[..] == s.dp.2[..]), "rank {rank}: {s:?}");
        assert!(s.tp.2.contains(&rank) && s.pp.2.contains(&rank) && s.dp.2.contains(&rank));
    }
    // Spot checks, from the documentation's lists.
    assert_eq!(seen[5].tp.2, [4, 5]);
    assert_eq!(seen[5].pp.2, [1, 5, 9, 13]);
    assert_eq!(seen[5].dp.2, [5, 7]);
    assert_eq!((seen[5].tp.0, seen[5].pp.0, seen[5].dp.0), (1, 1, 0));
    assert_eq!(seen[5].tp.3, 4);
}

#[test]
fn layouts_follow_tp_then_dp_then_pp() {
    for (w, t, p) in
        [(1, 1, 1), (2, 2, 1), (2, 1, 2), (4, 2, 1), (6, 3, 2), (8, 2, 2), (8, 8, 1), (8, 1, 8), (12, 2, 3)]
    {
        let d = w / (t * p);
        for (g, s) in layout(w, t, p).into_iter().enumerate() {
            // Independently: rank g = t + T·(d + D·p), so t = g mod T, d = (g / T) mod D, p = g / (T·D).
            let (ti, di, pi) = (g % t, (g / t) % d, g / (t * d));
            let tp_group: Vec<usize> = (0..t).map(|k| g - ti + k).collect();
            let dp_group: Vec<usize> = (0..d).map(|k| g - di * t + k * t).collect();
            let pp_group: Vec<usize> = (0..p).map(|k| g - pi * t * d + k * t * d).collect();
            let want =
                Seen { tp: (ti, t, tp_group.clone(), tp_group[0]), pp: (pi, p, pp_group), dp: (di, d, dp_group) };
            assert_eq!(s, want, "W={w} T={t} P={p} rank {g}");
        }
    }
}

fn error_as_rank0<T: std::fmt::Debug>(r: Result<T, kb_sched::SpawnError>) -> String {
    match r.unwrap_err() {
        // Which rank fails first depends on where each one parks; the others are then aborted. The
        // message names it: written as rank 0's, to compare.
        kb_sched::SpawnError::Failed(f) => {
            let first = &f[0];
            let prefix = format!("rank {}: ", first.rank);
            assert!(first.message.starts_with(&prefix), "{first:?}");
            format!("rank 0: {}", &first.message[prefix.len()..])
        }
        other => panic!("expected a rank failure, got {other}"),
    }
}

#[test]
fn a_world_that_does_not_split_is_an_error_on_every_rank() {
    let err = spawn(6, |ctx| initialize_model_parallel(&ctx, 4, 1));
    let kb_sched::SpawnError::Failed(failures) = err.unwrap_err() else { panic!("a failure") };
    assert_eq!(failures.len(), 6);
    assert!(failures[0].message.contains("world_size (6) is not divisible by 4"), "{}", failures[0].message);
    let msg = error_as_rank0(spawn(8, |ctx| initialize_model_parallel(&ctx, 2, 3)));
    assert_eq!(
        msg,
        "rank 0: world_size (8) is not divisible by 6 (tensor_model_parallel_size 2 × pipeline_model_parallel_size 3)"
    );
    let msg = error_as_rank0(spawn(2, |ctx| initialize_model_parallel(&ctx, 0, 1)));
    assert_eq!(msg, "rank 0: tensor_model_parallel_size must be positive, got 0");
}

#[test]
fn getters_before_initialisation_are_errors() {
    let msg = error_as_rank0(spawn(2, |ctx| get_tensor_model_parallel_rank(&ctx)));
    assert_eq!(msg, "rank 0: tensor model parallel group is not initialized (call initialize_model_parallel first)");
    let msg = error_as_rank0(spawn(1, |ctx| get_pipeline_model_parallel_group(&ctx)));
    assert!(msg.contains("pipeline model parallel group is not initialized"), "{msg}");
    let msg = error_as_rank0(spawn(1, |ctx| get_data_parallel_world_size(&ctx)));
    assert!(msg.contains("data parallel group is not initialized"), "{msg}");
}

#[test]
fn initialising_twice_is_an_error_until_destroyed() {
    let msg = error_as_rank0(spawn(2, |ctx| {
        initialize_model_parallel(&ctx, 2, 1)?;
        initialize_model_parallel(&ctx, 2, 1)
    }));
    assert_eq!(msg, "rank 0: model parallel groups are already initialized (call destroy_model_parallel first)");
    let sizes = spawn(4, |ctx| {
        initialize_model_parallel(&ctx, 2, 1)?;
        destroy_model_parallel(&ctx);
        assert!(!model_parallel_is_initialized(&ctx));
        initialize_model_parallel(&ctx, 4, 1)?;
        get_tensor_model_parallel_world_size(&ctx)
    })
    .unwrap();
    assert_eq!(sizes, [4; 4]);
}

#[test]
fn two_spawns_do_not_share_state() {
    spawn(2, |ctx| initialize_model_parallel(&ctx, 2, 1)).unwrap();
    let initialised = spawn(2, |ctx| Ok::<_, TpError>(model_parallel_is_initialized(&ctx))).unwrap();
    assert_eq!(initialised, [false, false]);
}
