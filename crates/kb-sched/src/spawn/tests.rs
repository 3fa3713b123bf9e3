use super::*;

#[test]
fn rendezvous_keys_print_their_call() {
    let key = RendezvousKey { name: "all_reduce".into(), group: 1, members: vec![0, 2].into(), call: 3 };
    assert_eq!(key.to_string(), "rendezvous `all_reduce` #3 of group [0, 2]");
}

#[test]
fn groups_are_stored_once_and_found_by_address_or_by_value() {
    let mut groups = Groups::default();
    let world: Rc<[usize]> = vec![0, 1, 2, 3].into();
    let (w, stored) = groups.intern(&world);
    // The stored list is a copy: looked up by value, it is the same group.
    assert_eq!((groups.intern(&[0, 1, 2, 3]).0, &stored[..]), (w, &[0, 1, 2, 3][..]));
    // Looked up by the stored list's own address, without hashing it.
    assert_eq!(groups.intern(&stored).0, w);
    // A shorter list at the same address is another group.
    let (half, _) = groups.intern(&stored[..2]);
    assert_ne!(half, w);
    assert_eq!(groups.intern(&[0, 1]).0, half);
    assert_eq!(groups.lists.len(), 2);
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
