use std::error::Error as _;
use std::io::{self, Read, Write};
use std::path::PathBuf;

use kb_mem::DType;

use super::*;

/// Every dtype [`write_npy_to`] accepts.
const WRITABLE: [DType; 7] = [DType::F16, DType::F32, DType::F64, DType::I8, DType::I32, DType::I64, DType::U8];

/// A `.npy` file with the given version and header text, verbatim (no padding), then `data`.
fn npy_bytes(version: (u8, u8), header: &str, data: &[u8]) -> Vec<u8> {
    let mut out = b"\x93NUMPY".to_vec();
    out.extend_from_slice(&[version.0, version.1]);
    if version.0 == 1 {
        out.extend_from_slice(&u16::try_from(header.len()).unwrap().to_le_bytes());
    } else {
        out.extend_from_slice(&u32::try_from(header.len()).unwrap().to_le_bytes());
    }
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

/// A version 1.0 file with the given header and data.
fn npy_v1(header: &str, data: &[u8]) -> Vec<u8> {
    npy_bytes((1, 0), header, data)
}

fn read(bytes: &[u8]) -> Result<NpyArray, NpyError> {
    read_npy_from(bytes, "x.npy")
}

fn read_err(bytes: &[u8]) -> String {
    read(bytes).unwrap_err().to_string()
}

fn write(array: &NpyArray) -> Vec<u8> {
    let mut out = Vec::new();
    write_npy_to(&mut out, array).unwrap();
    out
}

fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn i32_bytes(values: &[i32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// A fresh path in the system temp directory, unique to this process and `name`.
fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("kb-sched-npy-test-{}-{name}", std::process::id()))
}

// ---------------------------------------------------------------------------------------------
// Round trips

#[test]
fn round_trips_every_writable_dtype_and_shape() {
    for dtype in WRITABLE {
        for shape in [vec![], vec![0], vec![5], vec![2, 3, 4]] {
            let n: usize = shape.iter().product();
            // Small integers with halves: exact in every float type, rounded in the integer ones.
            let values: Vec<f32> = (0..n).map(|i| i as f32 * 1.5 - 7.0).collect();
            let array = NpyArray::from_f32(&shape, dtype, &values).unwrap();
            assert_eq!(array.numel(), n);
            let bytes = write(&array);
            let header_len = bytes.len() - array.data.len();
            assert_eq!(header_len % 64, 0, "{dtype} {shape:?}: data starts at {header_len}");
            assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00", "{dtype} {shape:?}");
            let back = read(&bytes).unwrap();
            assert_eq!(back, array, "{dtype} {shape:?}");
            // Every value is exact in the float types; the integer ones round ties to even and u8
            // saturates at 0.
            let expected: Vec<f32> = values
                .iter()
                .map(|&v| match dtype {
                    DType::U8 => v.round_ties_even().max(0.0),
                    _ if dtype.is_int() => v.round_ties_even(),
                    _ => v,
                })
                .collect();
            assert_eq!(back.to_f32(), expected, "{dtype} {shape:?}");
        }
    }
}

#[test]
fn from_f32_rounds_like_the_dtype() {
    let a = NpyArray::from_f32(&[4], DType::F16, &[1.0, 1.0 + 1.0 / 4096.0, 65520.0, -0.5]).unwrap();
    // 1 + 2^-12 is a tie between 1 and 1 + 2^-10 in f16: even is 1. 65520 rounds up to infinity.
    assert_eq!(a.data, [0x00, 0x3c, 0x00, 0x3c, 0x00, 0x7c, 0x00, 0xb8]);
    let a = NpyArray::from_f32(&[5], DType::I8, &[2.5, 3.5, -300.0, 300.0, f32::NAN]).unwrap();
    assert_eq!(a.data, [2, 4, (-128i8) as u8, 127, 0]);
    let a = NpyArray::from_f32(&[2], DType::BF16, &[1.0, -2.0]).unwrap();
    assert_eq!(a.data, [0x80, 0x3f, 0x00, 0xc0]);
    assert_eq!(a.to_f32(), [1.0, -2.0]);
}

#[test]
fn from_f32_refuses_the_wrong_number_of_values() {
    let err = NpyArray::from_f32(&[2, 3], DType::F32, &[0.0; 5]).unwrap_err();
    assert_eq!(err.to_string(), "from_f32: shape [2, 3] needs 6 values but 5 were given");
    let err = NpyArray::from_f32(&[usize::MAX, 2], DType::F32, &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "from_f32: shape [18446744073709551615, 2] needs 18446744073709551615 values but 0 were given"
    );
}

#[test]
fn numel_of_a_scalar_is_one_and_saturates_on_overflow() {
    let scalar = NpyArray { shape: vec![], dtype: DType::F32, data: vec![0; 4] };
    assert_eq!(scalar.numel(), 1);
    let huge = NpyArray { shape: vec![usize::MAX, 2], dtype: DType::U8, data: vec![] };
    assert_eq!(huge.numel(), usize::MAX);
}

#[test]
fn writes_version_2_when_the_header_exceeds_65535_bytes() {
    // 22000 dimensions of 1 spell "1, " 22000 times: a 66 kB header for a single element.
    let shape = vec![1; 22000];
    let array = NpyArray::from_f32(&shape, DType::F32, &[3.5]).unwrap();
    let bytes = write(&array);
    assert_eq!(&bytes[..8], b"\x93NUMPY\x02\x00");
    let header_len = u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize;
    assert_eq!(12 + header_len + 4, bytes.len());
    assert_eq!((12 + header_len) % 64, 0);
    assert_eq!(bytes[12 + header_len - 1], b'\n');
    assert_eq!(read(&bytes).unwrap(), array);
}

#[test]
fn file_round_trip_through_read_npy_and_write_npy() {
    let path = temp_path("round_trip.npy");
    let array = NpyArray::from_f32(&[2, 2], DType::I64, &[1.0, -2.0, 3.0, -4.0]).unwrap();
    write_npy(&path, &array).unwrap();
    let back = read_npy(&path);
    std::fs::remove_file(&path).unwrap();
    assert_eq!(back.unwrap(), array);
}

// ---------------------------------------------------------------------------------------------
// Files written by numpy
//
// Generated in this directory's `fixtures/` with numpy 2.4.6 (numpy.save writes format 1.0):
//
// python3 -c "
// import numpy as np
// np.save('f16_2x3.npy', np.arange(6, dtype=np.float16).reshape(2, 3) * np.float16(0.5) - np.float16(1))
// np.save('f32_3x4.npy', np.arange(12, dtype=np.float32).reshape(3, 4) * np.float32(0.25) - np.float32(1))
// np.save('f32_fortran_2x3.npy', np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)))
// np.save('f32_be_2.npy', np.array([1.5, -2.0], dtype='>f4'))
// np.save('f64_scalar.npy', np.array(2.5, dtype=np.float64))
// np.save('i8_5.npy', np.array([-128, -1, 0, 1, 127], dtype=np.int8))
// np.save('i32_2x2.npy', np.array([[-2147483648, -1], [7, 2147483647]], dtype=np.int32))
// np.save('i64_0.npy', np.zeros(0, dtype=np.int64))
// np.save('u8_2x1x3.npy', np.array([0, 1, 2, 253, 254, 255], dtype=np.uint8).reshape(2, 1, 3))
// "

/// A fixture by name, as numpy wrote it.
fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/npy/fixtures").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Reads fixture `name` and checks its shape, dtype and raw little-endian bytes.
fn check_fixture(name: &str, shape: &[usize], dtype: DType, data: &[u8]) -> NpyArray {
    let array = read_npy_from(fixture(name).as_slice(), name).unwrap();
    assert_eq!(array.shape, shape, "{name}");
    assert_eq!(array.dtype, dtype, "{name}");
    assert_eq!(array.data, data, "{name}");
    array
}

#[test]
fn reads_numpy_f16() {
    // -1, -0.5, 0, 0.5, 1, 1.5 as f16 bits.
    let bits: [u16; 6] = [0xbc00, 0xb800, 0x0000, 0x3800, 0x3c00, 0x3e00];
    let data: Vec<u8> = bits.iter().flat_map(|b| b.to_le_bytes()).collect();
    let a = check_fixture("f16_2x3.npy", &[2, 3], DType::F16, &data);
    assert_eq!(a.to_f32(), [-1.0, -0.5, 0.0, 0.5, 1.0, 1.5]);
}

#[test]
fn reads_numpy_f32() {
    let values: Vec<f32> = (0..12).map(|i| i as f32 * 0.25 - 1.0).collect();
    let a = check_fixture("f32_3x4.npy", &[3, 4], DType::F32, &f32_bytes(&values));
    assert_eq!(a.to_f32(), values);
}

#[test]
fn reads_numpy_fortran_order_into_c_order() {
    // numpy stored the columns: 0, 3, 1, 4, 2, 5.
    check_fixture("f32_fortran_2x3.npy", &[2, 3], DType::F32, &f32_bytes(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]));
}

#[test]
fn reads_numpy_big_endian() {
    check_fixture("f32_be_2.npy", &[2], DType::F32, &f32_bytes(&[1.5, -2.0]));
}

#[test]
fn reads_numpy_scalar() {
    check_fixture("f64_scalar.npy", &[], DType::F64, &2.5f64.to_le_bytes());
}

#[test]
fn reads_numpy_integers() {
    check_fixture("i8_5.npy", &[5], DType::I8, &[0x80, 0xff, 0, 1, 0x7f]);
    check_fixture("i32_2x2.npy", &[2, 2], DType::I32, &i32_bytes(&[i32::MIN, -1, 7, i32::MAX]));
    check_fixture("i64_0.npy", &[0], DType::I64, &[]);
    check_fixture("u8_2x1x3.npy", &[2, 1, 3], DType::U8, &[0, 1, 2, 253, 254, 255]);
}

#[test]
fn writes_byte_identical_to_numpy() {
    // Every fixture numpy wrote in C order and little-endian, rebuilt from its values alone.
    let cases: [(&str, &[usize], DType, Vec<f32>); 7] = [
        ("f16_2x3.npy", &[2, 3], DType::F16, vec![-1.0, -0.5, 0.0, 0.5, 1.0, 1.5]),
        ("f32_3x4.npy", &[3, 4], DType::F32, (0..12).map(|i| i as f32 * 0.25 - 1.0).collect()),
        ("f64_scalar.npy", &[], DType::F64, vec![2.5]),
        ("i8_5.npy", &[5], DType::I8, vec![-128.0, -1.0, 0.0, 1.0, 127.0]),
        ("i32_2x2.npy", &[2, 2], DType::I32, vec![-2147483648.0, -1.0, 7.0, 2147483520.0]),
        ("i64_0.npy", &[0], DType::I64, vec![]),
        ("u8_2x1x3.npy", &[2, 1, 3], DType::U8, vec![0.0, 1.0, 2.0, 253.0, 254.0, 255.0]),
    ];
    for (name, shape, dtype, values) in cases {
        let mut array = NpyArray::from_f32(shape, dtype, &values).unwrap();
        if name == "i32_2x2.npy" {
            // i32::MAX is not an f32: set the last element's bytes directly.
            array.data[12..].copy_from_slice(&i32::MAX.to_le_bytes());
        }
        assert_eq!(write(&array), fixture(name), "{name}");
    }
}

// ---------------------------------------------------------------------------------------------
// Header variants

#[test]
fn parses_keys_in_any_order_with_either_quote_and_any_spacing() {
    let data = f32_bytes(&[1.0, 2.0, 3.0]);
    let expected = NpyArray { shape: vec![3], dtype: DType::F32, data: data.clone() };
    for header in [
        "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
        "{'shape': (3,), 'fortran_order': False, 'descr': '<f4'}",
        "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (3,)}\n",
        "  {'descr':'<f4','fortran_order':False,'shape':(3,)}",
        "{ 'fortran_order' :\tFalse ,\n 'shape' : ( 3 , ) ,\r\n 'descr' : '<f4' , }        \n",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (3L,), }\n",
        "{'descr': 'f4', 'fortran_order': False, 'shape': (+3,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': ((3),)}",
    ] {
        assert_eq!(read(&npy_v1(header, &data)).unwrap(), expected, "{header:?}");
    }
}

#[test]
fn parses_scalar_and_multi_dimensional_shapes() {
    let a = read(&npy_v1("{'descr': '<i4', 'fortran_order': False, 'shape': ()}", &i32_bytes(&[7]))).unwrap();
    assert_eq!((a.shape, a.data), (vec![], i32_bytes(&[7])));
    let header = "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 0, 3, ), }";
    assert_eq!(read(&npy_v1(header, &[])).unwrap().shape, [2, 0, 3]);
    let header = "{'descr': '|u1', 'fortran_order': False, 'shape': (1, 2, 1, 1, 2)}";
    assert_eq!(read(&npy_v1(header, &[1, 2, 3, 4])).unwrap().shape, [1, 2, 1, 1, 2]);
}

#[test]
fn parses_versions_2_and_3() {
    let data = f32_bytes(&[1.0, 2.0]);
    let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n";
    for version in [(2, 0), (3, 0)] {
        let a = read(&npy_bytes(version, header, &data)).unwrap();
        assert_eq!((a.shape, a.dtype, a.data), (vec![2], DType::F32, data.clone()), "{version:?}");
    }
}

#[test]
fn reorders_fortran_order_2x3() {
    // Column-major [[0, 1, 2], [3, 4, 5]] stores 0, 3, 1, 4, 2, 5.
    let header = "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }";
    let a = read(&npy_v1(header, &f32_bytes(&[0.0, 3.0, 1.0, 4.0, 2.0, 5.0]))).unwrap();
    assert_eq!(a.shape, [2, 3]);
    assert_eq!(a.to_f32(), [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
}

#[test]
fn reorders_fortran_order_3d_like_a_plain_loop() {
    let (d0, d1, d2) = (2i32, 3, 4);
    // Element (i, j, k) holds 100i + 10j + k; Fortran order puts i fastest.
    let mut stored = Vec::new();
    for k in 0..d2 {
        for j in 0..d1 {
            for i in 0..d0 {
                stored.push(100 * i + 10 * j + k);
            }
        }
    }
    let mut c_order = Vec::new();
    for i in 0..d0 {
        for j in 0..d1 {
            for k in 0..d2 {
                c_order.push(100 * i + 10 * j + k);
            }
        }
    }
    let header = "{'descr': '<i4', 'fortran_order': True, 'shape': (2, 3, 4), }";
    let a = read(&npy_v1(header, &i32_bytes(&stored))).unwrap();
    assert_eq!(a.data, i32_bytes(&c_order));
    // A 1-d or empty Fortran array is already in C order.
    let header = "{'descr': '<i4', 'fortran_order': True, 'shape': (3,), }";
    assert_eq!(read(&npy_v1(header, &i32_bytes(&[1, 2, 3]))).unwrap().data, i32_bytes(&[1, 2, 3]));
    let header = "{'descr': '<i4', 'fortran_order': True, 'shape': (0, 3), }";
    assert_eq!(read(&npy_v1(header, &[])).unwrap().shape, [0, 3]);
}

#[test]
fn swaps_big_endian_data() {
    let header = "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }";
    let a = read(&npy_v1(header, &[0x3f, 0xc0, 0, 0, 0xc0, 0, 0, 0])).unwrap();
    assert_eq!((a.dtype, a.to_f32()), (DType::F32, vec![1.5, -2.0]));
    let header = "{'descr': '>i8', 'fortran_order': False, 'shape': (1,), }";
    let a = read(&npy_v1(header, &[1, 2, 3, 4, 5, 6, 7, 8])).unwrap();
    assert_eq!(a.data, 0x0102_0304_0506_0708i64.to_le_bytes());
    let header = "{'descr': '>f2', 'fortran_order': True, 'shape': (1, 2), }";
    assert_eq!(read(&npy_v1(header, &[0x3c, 0x00, 0xc0, 0x00])).unwrap().to_f32(), [1.0, -2.0]);
}

#[test]
fn accepts_every_byte_order_spelling() {
    for (descr, dtype) in [
        ("<f2", DType::F16),
        ("=f4", DType::F32),
        ("<f8", DType::F64),
        ("|i1", DType::I8),
        ("<i1", DType::I8),
        (">i1", DType::I8),
        ("=i4", DType::I32),
        ("<i8", DType::I64),
        ("|u1", DType::U8),
        ("<u1", DType::U8),
    ] {
        let header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': (1,), }}");
        let a = read(&npy_v1(&header, &vec![0; dtype.size()])).unwrap();
        assert_eq!(a.dtype, dtype, "{descr}");
    }
}

// ---------------------------------------------------------------------------------------------
// Read errors

#[test]
fn refuses_a_file_without_the_magic_string() {
    let message = "x.npy: not a .npy file (it does not start with the magic string \\x93NUMPY)";
    assert_eq!(read_err(b""), message);
    assert_eq!(read_err(b"\x93NUM"), message);
    assert_eq!(read_err(b"PK\x03\x04 this is a zip"), message);
}

#[test]
fn refuses_unknown_versions() {
    let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (), }";
    assert_eq!(
        read_err(&npy_bytes((4, 0), header, &[0; 4])),
        "x.npy: unsupported .npy format version 4.0 (kernbench reads 1.0, 2.0 and 3.0)"
    );
    assert_eq!(
        read_err(&npy_bytes((1, 1), header, &[0; 4])),
        "x.npy: unsupported .npy format version 1.1 (kernbench reads 1.0, 2.0 and 3.0)"
    );
}

#[test]
fn refuses_a_truncated_preamble_or_header() {
    assert_eq!(read_err(b"\x93NUMPY\x01"), "x.npy: malformed header: the file ends before the format version");
    assert_eq!(
        read_err(b"\x93NUMPY\x02\x00\x10\x00"),
        "x.npy: malformed header: the file ends before the header length"
    );
    let bytes = npy_v1("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", &[]);
    assert_eq!(read_err(&bytes[..30]), "x.npy: malformed header: the file ends after 20 of the header's 55 bytes");
}

#[test]
fn refuses_malformed_headers_saying_what_is_wrong() {
    let cases = [
        ("", "expected a value, found end of header"),
        ("('descr', '<f4')", "it is not a dict literal"),
        ("{'descr': '<f4', 'fortran_order': False}", "key 'shape' is missing"),
        ("{'shape': (), 'fortran_order': False}", "key 'descr' is missing"),
        ("{'descr': '<f4', 'shape': ()}", "key 'fortran_order' is missing"),
        ("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': ()}", "key 'descr' appears twice"),
        (
            "{'descr': '<f4', 'fortran_order': False, 'shape': (), 'extra': 1}",
            "unexpected key 'extra' (expected 'descr', 'fortran_order' and 'shape')",
        ),
        ("{1: '<f4'}", "key 1 is not a string"),
        ("{'descr': '<f4', 'fortran_order': 0, 'shape': ()}", "'fortran_order' is 0, not True or False"),
        ("{'descr': '<f4', 'fortran_order': false, 'shape': ()}", "unexpected name 'false' at byte 34"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': [2, 3]}", "'shape' is a list, not a tuple of integers"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (3)}", "'shape' is an integer, not a tuple of integers"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (2, -1)}", "shape entry -1 is negative"),
        (
            "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}",
            "shape entry 99999999999999999999 is too large",
        ),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': ('2',)}", "shape entry '2' is a string, not an integer"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (2.5,)}", "unexpected '.' at byte 52 in a number"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (2 3)}", "expected ',' or ')', found '3' at byte 53"),
        ("{'descr' '<f4'}", "expected ':' after key 'descr', found '\\'' at byte 9"),
        ("{'descr': '<f4, 'fortran_order': False}", "expected ',' or '}', found 'f' at byte 17"),
        ("{'descr': '<f4", "the string starting at byte 10 is not closed"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': ()} x", "unexpected 'x' at byte 54 after the dict"),
        ("{'descr': 4, 'fortran_order': False, 'shape': ()}", "'descr' is an integer, not a dtype string"),
        ("{'descr': '<q4', 'fortran_order': False, 'shape': ()}", "'descr' '<q4' is not a numpy dtype descriptor"),
        ("{'descr': '<f', 'fortran_order': False, 'shape': ()}", "'descr' '<f' is not a numpy dtype descriptor"),
        ("{'descr': '<f4x', 'fortran_order': False, 'shape': ()}", "'descr' '<f4x' is not a numpy dtype descriptor"),
    ];
    for (header, problem) in cases {
        assert_eq!(read_err(&npy_v1(header, &[])), format!("x.npy: malformed header: {problem}"), "{header:?}");
    }
}

#[test]
fn refuses_a_version_3_header_that_is_not_utf8() {
    let mut bytes = npy_bytes((3, 0), "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", &[0; 4]);
    bytes[12 + 3] = 0xff;
    assert_eq!(read_err(&bytes), "x.npy: malformed header: byte 3 is not valid UTF-8 (format 3.0 headers are UTF-8)");
    // Formats 1.0 and 2.0 are latin-1: any byte is a character.
    bytes[6] = 2;
    assert_eq!(
        read_err(&bytes),
        "x.npy: malformed header: unexpected key 'd\u{ff}scr' (expected 'descr', 'fortran_order' and 'shape')"
    );
}

#[test]
fn names_unsupported_dtypes() {
    let cases = [
        ("'<c8'", "'<c8' (complex64)"),
        ("'<i2'", "'<i2' (int16)"),
        ("'>u4'", "'>u4' (uint32)"),
        ("'<f16'", "'<f16' (float128)"),
        ("'|b1'", "'|b1' (bool)"),
        ("'<U5'", "'<U5' (str)"),
        ("'|S3'", "'|S3' (bytes)"),
        ("'|O'", "'|O' (Python objects)"),
        ("'<M8[ns]'", "'<M8[ns]' (datetime64)"),
        ("'|V2'", "'|V2' (void)"),
        ("[('a', '<f4'), ('b', '<i4')]", "[('a', '<f4'), ('b', '<i4')] (a structured dtype)"),
    ];
    for (descr, named) in cases {
        let header = format!("{{'descr': {descr}, 'fortran_order': False, 'shape': (), }}");
        assert_eq!(
            read_err(&npy_v1(&header, &[])),
            format!("x.npy: unsupported dtype {named}: kernbench reads f16, f32, f64, i8, i32, i64 and u8"),
        );
    }
}

#[test]
fn refuses_data_of_the_wrong_length() {
    let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    assert_eq!(
        read_err(&npy_v1(header, &[0; 20])),
        "x.npy: file holds 20 bytes of data but shape [2, 3] of f32 needs 24"
    );
    assert_eq!(
        read_err(&npy_v1(header, &[0; 25])),
        "x.npy: file holds 25 bytes of data but shape [2, 3] of f32 needs 24"
    );
    let header = "{'descr': '<f2', 'fortran_order': False, 'shape': (), }";
    assert_eq!(read_err(&npy_v1(header, &[])), "x.npy: file holds 0 bytes of data but shape [] of f16 needs 2");
}

#[test]
fn refuses_shapes_whose_byte_count_overflows() {
    let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 2), }";
    assert_eq!(
        read_err(&npy_v1(header, &[])),
        "x.npy: shape [4611686018427387904, 2] of f32 is too large: its byte count overflows usize"
    );
}

/// A reader that fails on every read.
struct Broken;

impl Read for Broken {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Err(io::Error::other("disk on fire"))
    }
}

impl Write for Broken {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::Error::other("disk on fire"))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn reports_io_errors_with_the_file_and_the_source() {
    let err = read_npy_from(Broken, "x.npy").unwrap_err();
    assert_eq!(err.to_string(), "x.npy: cannot read");
    assert_eq!(err.source().unwrap().to_string(), "disk on fire");

    let path = temp_path("does_not_exist.npy");
    let err = read_npy(&path).unwrap_err();
    assert_eq!(err.to_string(), format!("{}: cannot open", path.display()));
    let NpyError::Io { source, .. } = &err else { panic!("{err:?}") };
    assert_eq!(source.kind(), io::ErrorKind::NotFound);

    let array = NpyArray::from_f32(&[1], DType::U8, &[1.0]).unwrap();
    let err = write_npy_to(Broken, &array).unwrap_err();
    assert_eq!(err.to_string(), "<writer>: cannot write");
    assert_eq!(err.source().unwrap().to_string(), "disk on fire");

    let path = temp_path("no_such_dir").join("x.npy");
    let err = write_npy(&path, &array).unwrap_err();
    assert_eq!(err.to_string(), format!("{}: cannot create", path.display()));
}

#[test]
fn read_npy_names_the_path_in_errors() {
    let path = temp_path("truncated.npy");
    std::fs::write(&path, b"\x93NUMPY\x09\x00").unwrap();
    let err = read_npy(&path).unwrap_err().to_string();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(
        err,
        format!("{}: unsupported .npy format version 9.0 (kernbench reads 1.0, 2.0 and 3.0)", path.display())
    );
}

// ---------------------------------------------------------------------------------------------
// Write errors

#[test]
fn refuses_to_write_bf16() {
    let array = NpyArray::from_f32(&[2], DType::BF16, &[1.0, 2.0]).unwrap();
    let mut out = Vec::new();
    let err = write_npy_to(&mut out, &array).unwrap_err();
    assert_eq!(
        err.to_string(),
        "<writer>: bf16 cannot be written to .npy (numpy has no bfloat16); convert to f32 first"
    );
    assert!(out.is_empty());

    let path = temp_path("bf16.npy");
    let err = write_npy(&path, &array).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{}: bf16 cannot be written to .npy (numpy has no bfloat16); convert to f32 first", path.display())
    );
    assert!(!path.exists(), "a refused array creates no file");
}

#[test]
fn refuses_to_write_inconsistent_arrays() {
    let array = NpyArray { shape: vec![2, 2], dtype: DType::I32, data: vec![0; 15] };
    let mut out = Vec::new();
    let err = write_npy_to(&mut out, &array).unwrap_err();
    assert_eq!(err.to_string(), "<writer>: array data holds 15 bytes but shape [2, 2] of i32 needs 16");
    assert!(out.is_empty());

    let array = NpyArray { shape: vec![usize::MAX, 2], dtype: DType::U8, data: vec![] };
    let err = write_npy_to(&mut out, &array).unwrap_err();
    assert_eq!(
        err.to_string(),
        "<writer>: shape [18446744073709551615, 2] of u8 is too large: its byte count overflows usize"
    );
}
