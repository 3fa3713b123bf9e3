//! Process groups: the world, sub-groups from new_group, and collectives on them.

use kb_ccl::{CclError, ProcessGroup, ReduceOp, all_reduce, new_group};
use kb_mem::DType;
use kb_sched::spawn;

#[test]
fn members_get_the_sorted_group_and_others_none() {
    let out = spawn(5, |ctx| {
        let world = ProcessGroup::world(&ctx);
        let g = new_group(&ctx, &[4, 1, 3])?;
        Ok::<_, CclError>((world.ranks().to_vec(), g.map(|g| (g.ranks().to_vec(), g.size(), g.group_rank(ctx.rank())))))
    })
    .unwrap();
    for (rank, (world, g)) in out.into_iter().enumerate() {
        assert_eq!(world, [0, 1, 2, 3, 4]);
        let want = [1, 3, 4].iter().position(|&r| r == rank).map(|pos| (vec![1, 3, 4], 3, Some(pos)));
        assert_eq!(g, want, "rank {rank}");
    }
}

#[test]
fn an_all_reduce_on_a_sub_group_touches_only_its_members() {
    let out = spawn(5, |ctx| {
        let t = ctx.device().full(&[6], (ctx.rank() + 1) as f64, DType::I32)?;
        if let Some(g) = new_group(&ctx, &[3, 1, 4])? {
            all_reduce(&ctx, &g, &t, ReduceOp::Product)?;
        }
        Ok::<_, CclError>(t.to_vec::<i32>()?)
    })
    .unwrap();
    let want = [1, 2 * 4 * 5, 3, 2 * 4 * 5, 2 * 4 * 5];
    for (rank, values) in out.iter().enumerate() {
        assert_eq!(values, &[want[rank]; 6], "rank {rank}");
    }
}

#[test]
fn two_disjoint_groups_reduce_independently() {
    let out = spawn(4, |ctx| {
        let evens = new_group(&ctx, &[0, 2])?;
        let odds = new_group(&ctx, &[1, 3])?;
        let t = ctx.device().full(&[3], ctx.rank() as f64, DType::F32)?;
        let g = evens.or(odds).expect("every rank is in one of them");
        all_reduce(&ctx, &g, &t, ReduceOp::Sum)?;
        Ok::<_, CclError>(t.to_vec::<f32>()?)
    })
    .unwrap();
    assert_eq!(out, [vec![2.0; 3], vec![4.0; 3], vec![2.0; 3], vec![4.0; 3]]);
}

#[test]
fn ranks_that_disagree_on_a_new_group_get_an_error() {
    let e = spawn(3, |ctx| {
        let ranks: &[usize] = if ctx.rank() == 1 { &[0, 2] } else { &[0, 1] };
        new_group(&ctx, ranks).map(|_| ())
    })
    .unwrap_err();
    assert!(e.to_string().contains("new_group: rank 1 passed ranks [0, 2] but rank 0 passed [0, 1]"), "{e}");
}

#[test]
fn bad_ranks_for_a_new_group_are_errors() {
    for (ranks, message) in [
        (vec![0, 0], "new_group: rank 0: rank 0 is listed twice in [0, 0]"),
        (vec![], "new_group: rank 0: a group needs at least one rank"),
        (vec![1, 5], "new_group: rank 0: rank 5 in [1, 5] is out of range for a world of 2 ranks"),
    ] {
        let e = spawn(2, move |ctx| new_group(&ctx, &ranks).map(|_| ())).unwrap_err();
        assert!(e.to_string().contains(message), "{e}");
    }
}
