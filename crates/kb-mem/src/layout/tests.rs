use super::*;

/// Offsets computed the slow way, from the definition.
fn reference_offsets(l: &Layout) -> Vec<usize> {
    let mut out = Vec::new();
    let n = l.numel();
    for flat in 0..n {
        let mut rem = flat;
        let mut off = l.offset();
        for k in (0..l.rank()).rev() {
            off += (rem % l.shape()[k]) * l.strides()[k];
            rem /= l.shape()[k];
        }
        out.push(off);
    }
    out
}

#[test]
fn contiguous_layout() {
    let l = Layout::contiguous(&[2, 3, 4]).unwrap();
    assert_eq!(l.strides(), &[12, 4, 1]);
    assert_eq!((l.numel(), l.span(), l.rank()), (24, 24, 3));
    assert!(l.is_contiguous());
    assert_eq!(l.offsets(), (0..24).collect::<Vec<_>>());
    assert_eq!(l.nbytes(DType::F16).unwrap(), 48);
    let mut runs = Vec::new();
    l.for_each_run(|s, n| runs.push((s, n)));
    assert_eq!(runs, [(0, 24)]);
}

#[test]
fn scalar_and_empty() {
    let s = Layout::scalar();
    assert_eq!((s.numel(), s.span(), s.offsets()), (1, 1, vec![0]));
    let e = Layout::contiguous(&[3, 0, 2]).unwrap();
    assert_eq!((e.numel(), e.span()), (0, 0));
    assert!(e.offsets().is_empty());
}

#[test]
fn counts_overflow_is_an_error() {
    let big = [usize::MAX / 2, 3];
    assert_eq!(Layout::count(&big).unwrap_err(), MemError::Overflow { what: "element count", shape: big.to_vec() });
    assert!(Layout::contiguous(&big).is_err());
    let fits = [usize::MAX / 4];
    assert_eq!(Layout::count(&fits).unwrap(), usize::MAX / 4);
    assert_eq!(
        Layout::byte_count(&fits, DType::F64).unwrap_err().to_string(),
        format!("byte count overflows: shape [{}]", usize::MAX / 4)
    );
    let span = Layout::strided(0, &[2, 2], &[usize::MAX, 1]).unwrap_err();
    assert_eq!(span.to_string(), "layout span overflows: shape [2, 2]");
    let rank = Layout::contiguous(&[1; 9]).unwrap_err();
    assert_eq!(rank.to_string(), "rank 9 is larger than the maximum rank 8");
    let strides = Layout::strided(0, &[2, 2], &[1]).unwrap_err();
    assert_eq!(strides.to_string(), "strides: expected 2 entries (one per dimension), got 1");
}

#[test]
fn sub_block_and_its_bounds() {
    let l = Layout::contiguous(&[4, 6]).unwrap();
    let b = l.sub_block(&[1, 2], &[2, 3]).unwrap();
    assert_eq!(b.offsets(), vec![8, 9, 10, 14, 15, 16]);
    assert!(!b.is_contiguous());
    let mut runs = Vec::new();
    b.for_each_run(|s, n| runs.push((s, n)));
    assert_eq!(runs, [(8, 3), (14, 3)]);
    // Nested sub-blocks compose.
    let bb = b.sub_block(&[1, 1], &[1, 2]).unwrap();
    assert_eq!(bb.offsets(), vec![15, 16]);
    let err = l.sub_block(&[3, 4], &[2, 3]).unwrap_err();
    assert_eq!(err.to_string(), "sub-block: offsets [3, 4] + extent [2, 3] exceed shape [4, 6]");
    assert!(l.sub_block(&[usize::MAX, 0], &[2, 1]).is_err());
    assert!(l.sub_block(&[0], &[1]).is_err());
}

#[test]
fn transpose_permute_slice_broadcast_match_the_definition() {
    let l = Layout::contiguous(&[2, 3, 4]).unwrap();
    let t = l.transpose(0, 2).unwrap();
    assert_eq!(t.shape(), &[4, 3, 2]);
    assert_eq!(t.offsets(), reference_offsets(&t));
    assert_eq!(t.offsets()[..4], [0, 12, 4, 16]);
    let p = l.permute(&[1, 2, 0]).unwrap();
    assert_eq!(p.shape(), &[3, 4, 2]);
    assert_eq!(p.offsets(), reference_offsets(&p));
    assert!(l.permute(&[0, 0, 1]).is_err());
    let s = l.slice(2, 1, 4, 2).unwrap();
    assert_eq!(s.shape(), &[2, 3, 2]);
    assert_eq!(s.offsets()[..4], [1, 3, 5, 7]);
    assert_eq!(s.offsets(), reference_offsets(&s));
    assert!(l.slice(2, 3, 5, 1).is_err());
    assert!(l.slice(3, 0, 1, 1).is_err());
    let row = Layout::contiguous(&[4]).unwrap();
    let b = row.broadcast_to(&[3, 4]).unwrap();
    assert_eq!(b.strides(), &[0, 1]);
    assert_eq!(b.offsets(), [0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3]);
    let col = Layout::contiguous(&[3, 1]).unwrap();
    assert_eq!(col.broadcast_to(&[3, 2]).unwrap().offsets(), [0, 0, 1, 1, 2, 2]);
    assert!(row.broadcast_to(&[3, 5]).is_err());
}

#[test]
fn reshape_only_when_contiguous() {
    let l = Layout::contiguous(&[2, 6]).unwrap();
    let r = l.reshape(&[3, 4]).unwrap();
    assert_eq!(r.strides(), &[4, 1]);
    assert!(l.reshape(&[5]).is_err());
    assert!(l.transpose(0, 1).unwrap().reshape(&[12]).is_err());
}

#[test]
fn offset_of_checks_bounds() {
    let l = Layout::contiguous(&[2, 3]).unwrap().transpose(0, 1).unwrap();
    assert_eq!(l.offset_of(&[2, 1]).unwrap(), 5);
    assert_eq!(
        l.offset_of(&[3, 0]).unwrap_err().to_string(),
        "index: offsets [3, 0] + extent [1, 1] exceed shape [3, 2]"
    );
}

proptest::proptest! {
    #[test]
    fn runs_cover_exactly_the_defined_offsets(
        shape in proptest::collection::vec(1usize..5, 0..5),
        strides_seed in proptest::collection::vec(0usize..30, 5),
        offset in 0usize..10,
    ) {
        let strides: Vec<usize> = strides_seed[..shape.len()].to_vec();
        let l = Layout::strided(offset, &shape, &strides).unwrap();
        proptest::prop_assert_eq!(l.offsets(), reference_offsets(&l));
        let max = reference_offsets(&l).into_iter().max().unwrap();
        proptest::prop_assert_eq!(l.span(), max + 1);
    }
}

#[test]
fn a_vector_is_the_contiguous_layout_of_one_extent() {
    for len in [0, 1, 7, 1 << 20, usize::MAX] {
        assert_eq!(Layout::vector(len), Layout::contiguous(&[len]).unwrap(), "{len}");
    }
}
