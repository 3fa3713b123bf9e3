use half::{bf16, f16};

use super::*;

#[test]
fn sizes_and_names_round_trip_through_parsing() {
    for d in DType::ALL {
        assert_eq!(d.name().parse::<DType>().unwrap(), d);
        assert_eq!(d.to_string(), d.name());
    }
    let sizes: Vec<usize> = DType::ALL.iter().map(|d| d.size()).collect();
    assert_eq!(sizes, [2, 2, 4, 8, 1, 4, 8, 1]);
}

#[test]
fn aliases_parse() {
    let cases = [
        ("half", DType::F16),
        ("float16", DType::F16),
        ("torch.float16", DType::F16),
        ("BF16", DType::BF16),
        ("bfloat16", DType::BF16),
        ("float", DType::F32),
        ("fp32", DType::F32),
        ("double", DType::F64),
        ("int", DType::I32),
        ("long", DType::I64),
        ("uint8", DType::U8),
        ("int8", DType::I8),
    ];
    for (name, want) in cases {
        assert_eq!(name.parse::<DType>().unwrap(), want, "{name}");
    }
}

#[test]
fn unknown_name_is_an_error_naming_it() {
    let err = "f8".parse::<DType>().unwrap_err();
    assert_eq!(err, MemError::UnknownDType { name: "f8".into() });
    assert!(err.to_string().starts_with("unknown dtype \"f8\" (expected one of f16, bf16"), "{err}");
}

#[test]
fn every_dtype_round_trips_representable_values() {
    // Values every dtype can hold exactly.
    let values = [0.0f32, 1.0, -1.0, 2.0, 7.0, -8.0, 64.0, 100.0, -128.0];
    for d in DType::ALL {
        let mut buf = vec![0u8; d.size()];
        for v in values {
            if d == DType::U8 && v < 0.0 {
                continue;
            }
            d.encode_f32(v, &mut buf);
            assert_eq!(d.decode_f32(&buf), v, "{d} {v}");
        }
        // Bulk forms agree with the scalar forms.
        let src: Vec<f32> = values.iter().map(|v| if d == DType::U8 { v.abs() } else { *v }).collect();
        let mut bytes = vec![0u8; src.len() * d.size()];
        d.encode_f32_slice(&src, &mut bytes);
        let mut back = vec![0f32; src.len()];
        d.decode_f32_slice(&bytes, &mut back);
        assert_eq!(back, src, "{d}");
    }
}

#[test]
fn f16_rounds_ties_to_even() {
    // Around 1.0 the f16 spacing is 2^-10; halfway points go to the even mantissa.
    let ulp = 2f32.powi(-10);
    assert_eq!(f16::from_f32(1.0 + ulp / 2.0).to_f32(), 1.0); // tie, 1.0 is even
    assert_eq!(f16::from_f32(1.0 + ulp + ulp / 2.0).to_f32(), 1.0 + 2.0 * ulp); // tie, goes up to even
    assert_eq!(f16::from_f32(1.0 + ulp / 2.0 + f32::EPSILON).to_f32(), 1.0 + ulp); // above tie
    // Through DType too.
    let mut b = [0u8; 2];
    DType::F16.encode_f32(1.0 + ulp + ulp / 2.0, &mut b);
    assert_eq!(DType::F16.decode_f32(&b), 1.0 + 2.0 * ulp);
    // Largest finite and overflow.
    DType::F16.encode_f32(65504.0, &mut b);
    assert_eq!(DType::F16.decode_f32(&b), 65504.0);
    DType::F16.encode_f32(65520.0, &mut b); // halfway to 65536: rounds to even = infinity
    assert_eq!(DType::F16.decode_f32(&b), f32::INFINITY);
}

#[test]
fn bf16_rounds_ties_to_even() {
    let ulp = 2f32.powi(-7);
    let mut b = [0u8; 2];
    for (input, want) in [
        (1.0 + ulp / 2.0, 1.0),
        (1.0 + ulp + ulp / 2.0, 1.0 + 2.0 * ulp),
        (1.0 + ulp / 2.0 + f32::EPSILON, 1.0 + ulp),
        (-(1.0 + ulp / 2.0), -1.0),
    ] {
        DType::BF16.encode_f32(input, &mut b);
        assert_eq!(DType::BF16.decode_f32(&b), want, "{input}");
    }
    let mut bulk = [0u8; 4];
    DType::BF16.encode_f32_slice(&[1.0 + ulp / 2.0, 1.0 + ulp + ulp / 2.0], &mut bulk);
    let mut out = [0f32; 2];
    DType::BF16.decode_f32_slice(&bulk, &mut out);
    assert_eq!(out, [1.0, 1.0 + 2.0 * ulp]);
}

#[test]
fn nan_inf_and_subnormals() {
    for d in [DType::F16, DType::BF16, DType::F32, DType::F64] {
        let mut b = vec![0u8; d.size()];
        d.encode_f32(f32::NAN, &mut b);
        assert!(d.decode_f32(&b).is_nan(), "{d}");
        d.encode_f32(f32::INFINITY, &mut b);
        assert_eq!(d.decode_f32(&b), f32::INFINITY, "{d}");
        d.encode_f32(f32::NEG_INFINITY, &mut b);
        assert_eq!(d.decode_f32(&b), f32::NEG_INFINITY, "{d}");
        d.encode_f32(-0.0, &mut b);
        let z = d.decode_f32(&b);
        assert!(z == 0.0 && z.is_sign_negative(), "{d}");
    }
    // f16 subnormals: smallest positive is 2^-24; half of it ties to even (zero).
    let tiny = 2f32.powi(-24);
    assert_eq!(f16::from_f32(tiny).to_f32(), tiny);
    assert_eq!(f16::from_f32(3.0 * tiny).to_f32(), 3.0 * tiny);
    assert_eq!(f16::from_f32(tiny / 2.0).to_f32(), 0.0);
    assert_eq!(f16::from_f32(tiny * 1.5).to_f32(), 2.0 * tiny); // tie between 1 and 2: to even (2)
    // bf16 keeps f32's subnormal range: 2^-133 is representable.
    let sub = 2f32.powi(-133);
    assert_eq!(bf16::from_f32(sub).to_f32(), sub);
    // Integers: NaN → 0, saturation.
    assert_eq!(i8::from_f32(f32::NAN), 0);
    assert_eq!(i8::from_f32(1000.0), 127);
    assert_eq!(i8::from_f32(-1000.0), -128);
    assert_eq!(u8::from_f32(-3.0), 0);
    assert_eq!(i32::from_f32(f32::INFINITY), i32::MAX);
}

#[test]
fn float_to_int_rounds_ties_to_even() {
    assert_eq!(i32::from_f32(2.5), 2);
    assert_eq!(i32::from_f32(3.5), 4);
    assert_eq!(i32::from_f32(-2.5), -2);
    assert_eq!(i64::from_f64(0.5), 0);
    assert_eq!(u8::from_f32(254.5), 254);
}

#[test]
fn element_dtypes_match_sizes() {
    fn check<T: Element>() {
        assert_eq!(size_of::<T>(), T::DTYPE.size(), "{}", T::DTYPE);
    }
    check::<f16>();
    check::<bf16>();
    check::<f32>();
    check::<f64>();
    check::<i8>();
    check::<i32>();
    check::<i64>();
    check::<u8>();
}

#[test]
fn unaligned_bulk_decode() {
    let vals = [1.5f32, -2.25, 3.0];
    // Backed by wider words, so the slice starting at byte 1 is certainly misaligned.
    let mut words = [0u16; 4];
    let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut words);
    DType::F16.encode_f32_slice(&vals, &mut bytes[1..7]);
    let mut out = [0f32; 3];
    DType::F16.decode_f32_slice(&bytes[1..7], &mut out);
    assert_eq!(out, vals);
    let mut words = [0u32; 4];
    let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut words);
    DType::F32.encode_f32_slice(&vals, &mut bytes[1..13]);
    DType::F32.decode_f32_slice(&bytes[1..13], &mut out);
    assert_eq!(out, vals);
}

#[test]
fn f64_to_half_rounds_once() {
    // 1 + 2^-11 + 2^-40 lies just above the f16 tie between 1 and 1 + 2^-10: correctly rounded, it
    // goes up. Rounding to f32 first would land exactly on the tie and then go to even (1.0).
    let v = 1.0 + 2f64.powi(-11) + 2f64.powi(-40);
    assert_eq!(<f16 as Element>::from_f64(v).to_f32(), 1.0 + 2f32.powi(-10));
    let w = 1.0 + 2f64.powi(-8) + 2f64.powi(-40);
    assert_eq!(<bf16 as Element>::from_f64(w).to_f32(), 1.0 + 2f32.powi(-7));
    // Exact values are untouched, and so are NaN and infinities.
    assert_eq!(f64_to_f32_odd(0.375), 0.375);
    assert!(f64_to_f32_odd(f64::NAN).is_nan());
    assert_eq!(f64_to_f32_odd(f64::INFINITY), f32::INFINITY);
    assert_eq!(i64_to_f32_odd((1 << 40) + 1), (2f32.powi(40)) + 2f32.powi(17));
}

#[test]
fn f64_element_conversions() {
    let big = ((1i64 << 53) + 1).to_le_bytes();
    assert_eq!(DType::I64.decode_f64(&big), (1u64 << 53) as f64);
    let mut b = [0u8; 4];
    DType::I32.encode_f64(2.5, &mut b);
    assert_eq!(i32::from_le_bytes(b), 2);
    DType::I32.encode_f64(1e12, &mut b);
    assert_eq!(i32::from_le_bytes(b), i32::MAX);
    let mut h = [0u8; 2];
    DType::F16.encode_f64(1.0 + 2f64.powi(-11) + 2f64.powi(-40), &mut h);
    assert_eq!(DType::F16.decode_f64(&h), 1.0 + 2f64.powi(-10));
}
