use super::*;

#[test]
fn rendezvous_keys_print_their_call() {
    let key = RendezvousKey { name: "all_reduce".into(), members: vec![0, 2], call: 3 };
    assert_eq!(key.to_string(), "rendezvous `all_reduce` #3 of group [0, 2]");
}

#[test]
fn failures_print_like_pytorch() {
    let e = SpawnError::Failed(vec![
        RankFailure { rank: 1, message: "boom".into(), panicked: true },
        RankFailure { rank: 3, message: "bad input".into(), panicked: false },
    ]);
    assert_eq!(
        e.to_string(),
        "\n-- Process 1 terminated with the following error:\nboom\n\n-- Process 3 terminated with the following error:\nbad input"
    );
}
