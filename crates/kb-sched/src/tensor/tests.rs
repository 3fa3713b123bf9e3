use kb_mem::DType;

use super::convert_bytes;

#[test]
fn conversions_between_dtypes_round_once() {
    let bytes = bytemuck::cast_slice(&[1.5f32, -2.5, 1e10]).to_vec();
    assert_eq!(convert_bytes::<i32>(DType::F32, &bytes), [2, -2, i32::MAX]);
    assert_eq!(convert_bytes::<f32>(DType::F32, &bytes), [1.5, -2.5, 1e10]);
}
