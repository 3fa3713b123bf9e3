use super::broadcast_shape;

#[test]
fn broadcast_shapes_follow_numpy() {
    assert_eq!(broadcast_shape(&[3, 1], &[1, 4]), Some(vec![3, 4]));
    assert_eq!(broadcast_shape(&[4], &[3, 4]), Some(vec![3, 4]));
    assert_eq!(broadcast_shape(&[], &[2]), Some(vec![2]));
    assert_eq!(broadcast_shape(&[3], &[4]), None);
}
