//! Reading and writing numpy `.npy` files: the only way arrays enter and leave kernbench on disk.
//!
//! Hand-written rather than built on `ndarray-npy` because that crate cannot read or write f16
//! (numpy's `'<f2'`), which is the dtype kernbench needs most. The format is small: a magic string,
//! a version, a header that is a Python dict literal (`{'descr': '<f4', 'fortran_order': False,
//! 'shape': (3, 4), }`), then the raw elements.
//!
//! Reading accepts format versions 1.0, 2.0 and 3.0; the dtypes `f2`, `f4`, `f8`, `i1`, `i4`, `i8`
//! and `u1` in any byte order (`<` little, `>` big, which is swapped, `=` and `|` native, which is
//! little on every target kernbench runs on); Fortran-order data, which is re-ordered into C order;
//! and any shape, including `()` for a scalar. The header parser reads the subset of Python literal
//! syntax numpy's headers use — strings in either quote, `True`/`False`, integers, tuples and lists —
//! in any key order, with any spacing and trailing commas. It never evaluates anything.
//!
//! Writing produces what `numpy.save` produces, byte for byte: format 1.0 (2.0 only when the header
//! would exceed 65535 bytes), C order, keys sorted, room left after the shape for it to grow, and the
//! header padded with spaces and a newline so the data starts at a multiple of 64 bytes.
//!
//! Every error message starts with the name of the file it is about.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;

use kb_mem::DType;

/// The first six bytes of every `.npy` file.
const MAGIC: &[u8; 6] = b"\x93NUMPY";
/// numpy's `ARRAY_ALIGN`: the header is padded so the data starts at a multiple of this.
const ARRAY_ALIGN: usize = 64;
/// numpy's `GROWTH_AXIS_MAX_DIGITS`: the header leaves room for the first axis to grow to this
/// many digits, so an array can be appended to in place.
const GROWTH_AXIS_MAX_DIGITS: usize = 21;
/// The dtypes the reader accepts, for error messages.
const SUPPORTED: &str = "kernbench reads f16, f32, f64, i8, i32, i64 and u8";
/// The name [`write_npy_to`] gives its writer in error messages.
const WRITER_NAME: &str = "<writer>";

/// A dense array as stored in a .npy file: C-order, little-endian packed bytes.
///
/// The fields are public; an array whose `data` is not exactly `numel() * dtype.size()` bytes is
/// refused by [`write_npy`] and [`write_npy_to`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpyArray {
    /// The extent of each dimension, outermost first; empty for a scalar.
    pub shape: Vec<usize>,
    /// The element type.
    pub dtype: DType,
    /// The elements in C (row-major) order, each as its little-endian bytes.
    pub data: Vec<u8>,
}

impl NpyArray {
    /// An array of `shape` holding `values` (in C order) converted to `dtype`, rounding to nearest
    /// even (integers saturate, NaN becomes 0) as [`DType::encode_f32_slice`] does.
    ///
    /// # Errors
    /// [`NpyError::ValueCount`] if `values` does not hold exactly one value per element of `shape`.
    pub fn from_f32(shape: &[usize], dtype: DType, values: &[f32]) -> Result<NpyArray, NpyError> {
        let expected = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
        if expected != Some(values.len()) {
            return Err(NpyError::ValueCount {
                shape: shape.to_vec(),
                expected: expected.unwrap_or(usize::MAX),
                got: values.len(),
            });
        }
        // values.len() f32s fit in memory, so as many elements of at most 8 bytes fit in usize.
        let mut data = vec![0; values.len() * dtype.size()];
        dtype.encode_f32_slice(values, &mut data);
        Ok(NpyArray { shape: shape.to_vec(), dtype, data })
    }

    /// The elements converted to f32 (rounding to nearest even where f32 cannot hold them), in C
    /// order. Decodes every whole element in `data`, even if `data` disagrees with `shape`.
    pub fn to_f32(&self) -> Vec<f32> {
        let n = self.data.len() / self.dtype.size();
        let mut out = vec![0.0; n];
        self.dtype.decode_f32_slice(&self.data[..n * self.dtype.size()], &mut out);
        out
    }

    /// The number of elements: the product of `shape` (1 for a scalar), saturating at `usize::MAX`.
    pub fn numel(&self) -> usize {
        self.shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d)).unwrap_or(usize::MAX)
    }
}

/// Every way reading or writing a `.npy` file can fail. `file` is the path or name the caller
/// gave, and every message starts with it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NpyError {
    /// The operating system refused to open, create, read or write the file.
    #[error("{file}: cannot {action}")]
    Io {
        /// The file.
        file: String,
        /// What was being done ("open", "read", "create", "write").
        action: &'static str,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The file does not start with the `.npy` magic string.
    #[error("{file}: not a .npy file (it does not start with the magic string \\x93NUMPY)")]
    NotNpy {
        /// The file.
        file: String,
    },
    /// A format version other than 1.0, 2.0 and 3.0.
    #[error("{file}: unsupported .npy format version {major}.{minor} (kernbench reads 1.0, 2.0 and 3.0)")]
    UnsupportedVersion {
        /// The file.
        file: String,
        /// The major version in the file.
        major: u8,
        /// The minor version in the file.
        minor: u8,
    },
    /// The header is cut short, is not a dict literal, or lacks or misuses a key.
    #[error("{file}: malformed header: {problem}")]
    MalformedHeader {
        /// The file.
        file: String,
        /// What is wrong, and where.
        problem: String,
    },
    /// A well-formed dtype descriptor for a type kernbench does not read.
    #[error("{file}: unsupported dtype {descr} ({kind}): {SUPPORTED}")]
    UnsupportedDType {
        /// The file.
        file: String,
        /// The descriptor: quoted if it is a string (`'<c8'`), else as written in the header.
        descr: String,
        /// What numpy calls the type ("complex64", "a structured dtype", …).
        kind: String,
    },
    /// The data after the header is longer or shorter than the shape and dtype call for.
    #[error("{file}: file holds {found} bytes of data but shape {shape:?} of {dtype} needs {expected}")]
    DataLength {
        /// The file.
        file: String,
        /// The number of bytes after the header.
        found: usize,
        /// The shape in the header.
        shape: Vec<usize>,
        /// The dtype in the header.
        dtype: DType,
        /// The number of bytes the shape and dtype need.
        expected: usize,
    },
    /// The element or byte count of a shape does not fit in `usize`.
    #[error("{file}: shape {shape:?} of {dtype} is too large: its byte count overflows usize")]
    ShapeOverflow {
        /// The file.
        file: String,
        /// The shape.
        shape: Vec<usize>,
        /// The dtype.
        dtype: DType,
    },
    /// An array to be written whose `data` disagrees with its shape and dtype.
    #[error("{file}: array data holds {found} bytes but shape {shape:?} of {dtype} needs {expected}")]
    ArrayLength {
        /// The file.
        file: String,
        /// The length of the array's `data`.
        found: usize,
        /// The array's shape.
        shape: Vec<usize>,
        /// The array's dtype.
        dtype: DType,
        /// The number of bytes the shape and dtype need.
        expected: usize,
    },
    /// A bf16 array to be written: numpy has no bfloat16 dtype to describe it with.
    #[error("{file}: bf16 cannot be written to .npy (numpy has no bfloat16); convert to f32 first")]
    Bf16 {
        /// The file.
        file: String,
    },
    /// [`NpyArray::from_f32`] was given the wrong number of values for its shape.
    #[error("from_f32: shape {shape:?} needs {expected} values but {got} were given")]
    ValueCount {
        /// The shape asked for.
        shape: Vec<usize>,
        /// The number of elements of `shape` (`usize::MAX` if that overflows).
        expected: usize,
        /// The number of values given.
        got: usize,
    },
}

/// Reads the `.npy` file at `path`. Errors name the file by `path` as given.
///
/// # Errors
/// Any [`NpyError`] but the write-only ones: see [`read_npy_from`].
pub fn read_npy(path: &Path) -> Result<NpyArray, NpyError> {
    let name = path.display().to_string();
    let file = File::open(path).map_err(|source| NpyError::Io { file: name.clone(), action: "open", source })?;
    read_npy_from(file, &name)
}

/// Reads a `.npy` file from `reader`, to its end, naming it `name_for_errors` in error messages.
/// The result is always C order and little-endian, whatever the file's order and byte order.
///
/// # Errors
/// [`NpyError::Io`] if reading fails; [`NpyError::NotNpy`] without the magic string;
/// [`NpyError::UnsupportedVersion`]; [`NpyError::MalformedHeader`] if the header is cut short or
/// not a dict with exactly the keys `descr`, `fortran_order` and `shape`;
/// [`NpyError::UnsupportedDType`]; [`NpyError::ShapeOverflow`]; [`NpyError::DataLength`] if the
/// bytes after the header are not exactly the array's.
pub fn read_npy_from(mut reader: impl Read, name_for_errors: &str) -> Result<NpyArray, NpyError> {
    let name = name_for_errors;
    let io_err = |source| NpyError::Io { file: name.to_string(), action: "read", source };
    let malformed = |problem: String| NpyError::MalformedHeader { file: name.to_string(), problem };

    let mut magic = [0; 6];
    if read_up_to(&mut reader, &mut magic).map_err(io_err)? < magic.len() || &magic != MAGIC {
        return Err(NpyError::NotNpy { file: name.to_string() });
    }
    let mut version = [0; 2];
    if read_up_to(&mut reader, &mut version).map_err(io_err)? < version.len() {
        return Err(malformed("the file ends before the format version".to_string()));
    }
    let [major, minor] = version;
    let len_size = match (major, minor) {
        (1, 0) => 2,
        (2 | 3, 0) => 4,
        _ => return Err(NpyError::UnsupportedVersion { file: name.to_string(), major, minor }),
    };
    let mut len_bytes = [0; 4];
    if read_up_to(&mut reader, &mut len_bytes[..len_size]).map_err(io_err)? < len_size {
        return Err(malformed("the file ends before the header length".to_string()));
    }
    let header_len = u32::from_le_bytes(len_bytes) as usize;
    let mut header = Vec::new();
    (&mut reader).take(header_len as u64).read_to_end(&mut header).map_err(io_err)?;
    if header.len() < header_len {
        return Err(malformed(format!("the file ends after {} of the header's {header_len} bytes", header.len())));
    }
    let text = if major == 3 {
        String::from_utf8(header).map_err(|e| {
            malformed(format!(
                "byte {} is not valid UTF-8 (format 3.0 headers are UTF-8)",
                e.utf8_error().valid_up_to()
            ))
        })?
    } else {
        // Formats 1.0 and 2.0 are latin-1, whose bytes are the first 256 code points.
        header.iter().map(|&b| char::from(b)).collect()
    };
    let header = parse_header(&text).map_err(malformed)?;
    let (dtype, big_endian) = parse_descr(&header.descr).map_err(|e| match e {
        DescrError::Malformed(problem) => malformed(problem),
        DescrError::Unsupported { descr, kind } => NpyError::UnsupportedDType { file: name.to_string(), descr, kind },
    })?;
    let shape = header.shape;
    let expected = byte_len(&shape, dtype).ok_or_else(|| NpyError::ShapeOverflow {
        file: name.to_string(),
        shape: shape.clone(),
        dtype,
    })?;

    // Reserve what the header promises, within reason: the read finds out what is really there.
    let mut data = Vec::with_capacity(expected.min(1 << 30));
    reader.read_to_end(&mut data).map_err(io_err)?;
    if data.len() != expected {
        return Err(NpyError::DataLength { file: name.to_string(), found: data.len(), shape, dtype, expected });
    }
    if big_endian && dtype.size() > 1 {
        for element in data.chunks_exact_mut(dtype.size()) {
            element.reverse();
        }
    }
    if header.fortran_order && shape.len() > 1 {
        data = fortran_to_c(&data, &shape, dtype.size());
    }
    Ok(NpyArray { shape, dtype, data })
}

/// Writes `array` to a new file at `path` (replacing any file there), as `numpy.save` would.
/// Nothing is created if the array is refused. Errors name the file by `path` as given.
///
/// # Errors
/// [`NpyError::Bf16`] for a bf16 array; [`NpyError::ArrayLength`] if `data` disagrees with the
/// shape and dtype; [`NpyError::ShapeOverflow`]; [`NpyError::Io`] if creating or writing fails.
pub fn write_npy(path: &Path, array: &NpyArray) -> Result<(), NpyError> {
    let name = path.display().to_string();
    let descr = check_writable(array, &name)?;
    let file = File::create(path).map_err(|source| NpyError::Io { file: name.clone(), action: "create", source })?;
    let mut writer = BufWriter::new(file);
    write_unchecked(&mut writer, array, descr, &name)?;
    writer.flush().map_err(|source| NpyError::Io { file: name, action: "write", source })
}

/// Writes `array` to `writer` in `.npy` format, as `numpy.save` would. Errors name the writer
/// `<writer>`. Nothing is written if the array is refused.
///
/// # Errors
/// As [`write_npy`], except that there is no file to create.
pub fn write_npy_to(mut writer: impl Write, array: &NpyArray) -> Result<(), NpyError> {
    let descr = check_writable(array, WRITER_NAME)?;
    write_unchecked(&mut writer, array, descr, WRITER_NAME)
}

/// Checks that `array` can be written: returns its descr.
fn check_writable(array: &NpyArray, name: &str) -> Result<&'static str, NpyError> {
    let descr = match array.dtype {
        DType::F16 => "<f2",
        DType::F32 => "<f4",
        DType::F64 => "<f8",
        DType::I8 => "|i1",
        DType::I32 => "<i4",
        DType::I64 => "<i8",
        DType::U8 => "|u1",
        DType::BF16 => return Err(NpyError::Bf16 { file: name.to_string() }),
    };
    let expected = byte_len(&array.shape, array.dtype).ok_or_else(|| NpyError::ShapeOverflow {
        file: name.to_string(),
        shape: array.shape.clone(),
        dtype: array.dtype,
    })?;
    if array.data.len() != expected {
        return Err(NpyError::ArrayLength {
            file: name.to_string(),
            found: array.data.len(),
            shape: array.shape.clone(),
            dtype: array.dtype,
            expected,
        });
    }
    Ok(descr)
}

/// Writes the header and data of an array [`check_writable`] accepted.
fn write_unchecked(writer: &mut impl Write, array: &NpyArray, descr: &str, name: &str) -> Result<(), NpyError> {
    let io_err = |source| NpyError::Io { file: name.to_string(), action: "write", source };
    writer.write_all(&header_bytes(descr, &array.shape)).map_err(io_err)?;
    writer.write_all(&array.data).map_err(io_err)
}

/// The magic string, version, header length and padded header numpy writes for an array of `shape`
/// with descriptor `descr`, in C order (numpy's `_write_array_header`).
fn header_bytes(descr: &str, shape: &[usize]) -> Vec<u8> {
    let mut dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': (");
    for (i, d) in shape.iter().enumerate() {
        // Python's tuple repr: "()", "(5,)", "(2, 3)".
        let sep = if i == 0 { "" } else { ", " };
        write!(dict, "{sep}{d}").expect("writing to a String cannot fail");
    }
    dict.push_str(if shape.len() == 1 { ",), }" } else { "), }" });
    if let Some(first) = shape.first() {
        let digits = first.to_string().len();
        dict.extend(std::iter::repeat_n(' ', GROWTH_AXIS_MAX_DIGITS.saturating_sub(digits)));
    }
    // numpy pads with spaces then a newline so that magic + version + length + header is a multiple
    // of ARRAY_ALIGN, adding a whole ARRAY_ALIGN of spaces when it already is one without padding.
    let hlen = dict.len() + 1;
    let padded = |len_size: usize| {
        let pad = ARRAY_ALIGN - (MAGIC.len() + 2 + len_size + hlen) % ARRAY_ALIGN;
        hlen + pad
    };
    let (version, total) = match u16::try_from(padded(2)) {
        Ok(total) => (1, total as usize),
        Err(_) => (2, padded(4)),
    };
    let mut out = Vec::with_capacity(MAGIC.len() + 2 + 4 + total);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[version, 0]);
    if version == 1 {
        out.extend_from_slice(&(total as u16).to_le_bytes());
    } else {
        // A header longer than 4 GiB would need a shape of over a billion dimensions.
        let total = u32::try_from(total).expect("a .npy header fits in 4 GiB");
        out.extend_from_slice(&total.to_le_bytes());
    }
    out.extend_from_slice(dict.as_bytes());
    out.resize(out.len() + total - hlen, b' ');
    out.push(b'\n');
    out
}

/// The number of bytes of an array of `shape` and `dtype`, or `None` if that overflows `usize`.
fn byte_len(shape: &[usize], dtype: DType) -> Option<usize> {
    shape.iter().try_fold(dtype.size(), |n, &d| n.checked_mul(d))
}

/// Reads into `buf` until it is full or the reader ends; returns how many bytes were read.
fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Re-orders the elements of a Fortran-order (column-major) array of `shape` into C order.
fn fortran_to_c(data: &[u8], shape: &[usize], size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    if data.is_empty() {
        return out;
    }
    // In the Fortran-order source, dimension k steps by the product of the extents before it.
    let mut strides = Vec::with_capacity(shape.len());
    let mut stride = size;
    for &d in shape {
        strides.push(stride);
        stride *= d;
    }
    // Walk the destination in C order: an odometer over the index, last dimension fastest.
    let mut index = vec![0; shape.len()];
    let mut offset = 0;
    loop {
        out.extend_from_slice(&data[offset..offset + size]);
        let mut k = shape.len();
        loop {
            if k == 0 {
                return out;
            }
            k -= 1;
            index[k] += 1;
            offset += strides[k];
            if index[k] < shape[k] {
                break;
            }
            offset -= strides[k] * shape[k];
            index[k] = 0;
        }
    }
}

/// The three entries of a `.npy` header.
#[derive(Debug)]
struct Header {
    descr: Value,
    fortran_order: bool,
    shape: Vec<usize>,
}

/// A Python literal, as far as `.npy` headers use them.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Str(String),
    Bool(bool),
    /// The digits of an integer, with its sign if negative.
    Int(String),
    Tuple(Vec<Value>),
    List(Vec<Value>),
    Dict(Vec<(Value, Value)>),
}

impl Value {
    /// What kind of value this is, for messages.
    fn kind(&self) -> &'static str {
        match self {
            Value::Str(_) => "a string",
            Value::Bool(_) => "a bool",
            Value::Int(_) => "an integer",
            Value::Tuple(_) => "a tuple",
            Value::List(_) => "a list",
            Value::Dict(_) => "a dict",
        }
    }

    /// The value as Python would print it (near enough for messages: strings are not escaped).
    fn repr(&self) -> String {
        fn join(items: &[Value]) -> String {
            items.iter().map(Value::repr).collect::<Vec<_>>().join(", ")
        }
        match self {
            Value::Str(s) => format!("'{s}'"),
            Value::Bool(b) => if *b { "True" } else { "False" }.to_string(),
            Value::Int(digits) => digits.clone(),
            Value::Tuple(items) if items.len() == 1 => format!("({},)", items[0].repr()),
            Value::Tuple(items) => format!("({})", join(items)),
            Value::List(items) => format!("[{}]", join(items)),
            Value::Dict(entries) => {
                let entries: Vec<_> = entries.iter().map(|(k, v)| format!("{}: {}", k.repr(), v.repr())).collect();
                format!("{{{}}}", entries.join(", "))
            }
        }
    }
}

/// Parses a header: one dict literal with exactly the keys `descr`, `fortran_order` and `shape`,
/// surrounded by whitespace. Errors say what is wrong.
fn parse_header(text: &str) -> Result<Header, String> {
    let mut parser = Parser { text, pos: 0 };
    parser.skip_space();
    let Value::Dict(entries) = parser.value()? else {
        return Err("it is not a dict literal".to_string());
    };
    parser.skip_space();
    if parser.pos < text.len() {
        return Err(format!("unexpected {} after the dict", parser.describe_here()));
    }
    let (mut descr, mut fortran_order, mut shape) = (None, None, None);
    for (key, value) in entries {
        let Value::Str(key) = key else {
            return Err(format!("key {} is not a string", key.repr()));
        };
        let slot = match key.as_str() {
            "descr" => &mut descr,
            "fortran_order" => &mut fortran_order,
            "shape" => &mut shape,
            _ => return Err(format!("unexpected key '{key}' (expected 'descr', 'fortran_order' and 'shape')")),
        };
        if slot.replace(value).is_some() {
            return Err(format!("key '{key}' appears twice"));
        }
    }
    let missing = |key| format!("key '{key}' is missing");
    let descr = descr.ok_or_else(|| missing("descr"))?;
    let fortran_order = match fortran_order.ok_or_else(|| missing("fortran_order"))? {
        Value::Bool(b) => b,
        other => return Err(format!("'fortran_order' is {}, not True or False", other.repr())),
    };
    let shape = match shape.ok_or_else(|| missing("shape"))? {
        Value::Tuple(items) => items
            .iter()
            .map(|item| match item {
                Value::Int(digits) if digits.starts_with('-') => Err(format!("shape entry {digits} is negative")),
                Value::Int(digits) => digits.parse().map_err(|_| format!("shape entry {digits} is too large")),
                other => Err(format!("shape entry {} is {}, not an integer", other.repr(), other.kind())),
            })
            .collect::<Result<Vec<usize>, String>>()?,
        other => return Err(format!("'shape' is {}, not a tuple of integers", other.kind())),
    };
    Ok(Header { descr, fortran_order, shape })
}

/// A recursive-descent parser over the literal syntax numpy headers use.
struct Parser<'a> {
    text: &'a str,
    /// Byte offset of the next character.
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn skip_space(&mut self) {
        while let Some(c) = self.peek().filter(|c| matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0c')) {
            self.pos += c.len_utf8();
        }
    }

    /// The next character and its position, or "end of header", for messages.
    fn describe_here(&self) -> String {
        match self.peek() {
            Some(c) => format!("{c:?} at byte {}", self.pos),
            None => "end of header".to_string(),
        }
    }

    /// Parses one value; leading whitespace must already be skipped.
    fn value(&mut self) -> Result<Value, String> {
        match self.peek() {
            Some('{') => {
                self.pos += 1;
                let entries = self.sequence('}', |p| {
                    let key = p.value()?;
                    p.skip_space();
                    if p.peek() != Some(':') {
                        return Err(format!("expected ':' after key {}, found {}", key.repr(), p.describe_here()));
                    }
                    p.pos += 1;
                    p.skip_space();
                    Ok((key, p.value()?))
                })?;
                Ok(Value::Dict(entries.0))
            }
            Some('(') => {
                self.pos += 1;
                let (items, trailing_comma) = self.sequence(')', Parser::value)?;
                // As in Python, "(x)" is x itself; only "(x,)" is a one-element tuple.
                if items.len() == 1 && !trailing_comma {
                    Ok(items.into_iter().next().expect("one item"))
                } else {
                    Ok(Value::Tuple(items))
                }
            }
            Some('[') => {
                self.pos += 1;
                Ok(Value::List(self.sequence(']', Parser::value)?.0))
            }
            Some(quote @ ('\'' | '"')) => self.string(quote),
            Some(c) if c.is_ascii_digit() || c == '-' || c == '+' => self.int(),
            Some(c) if c.is_ascii_alphabetic() => {
                let start = self.pos;
                while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                    self.pos += 1;
                }
                match &self.text[start..self.pos] {
                    "True" => Ok(Value::Bool(true)),
                    "False" => Ok(Value::Bool(false)),
                    word => Err(format!("unexpected name '{word}' at byte {start}")),
                }
            }
            _ => Err(format!("expected a value, found {}", self.describe_here())),
        }
    }

    /// Parses comma-separated items up to `close` (the opening bracket already consumed), allowing
    /// a trailing comma; returns the items and whether there was a trailing comma.
    fn sequence<T>(
        &mut self,
        close: char,
        mut item: impl FnMut(&mut Self) -> Result<T, String>,
    ) -> Result<(Vec<T>, bool), String> {
        let mut items = Vec::new();
        loop {
            self.skip_space();
            if self.peek() == Some(close) {
                self.pos += 1;
                return Ok((items, false));
            }
            items.push(item(self)?);
            self.skip_space();
            match self.peek() {
                Some(',') => {
                    self.pos += 1;
                    self.skip_space();
                    if self.peek() == Some(close) {
                        self.pos += 1;
                        return Ok((items, true));
                    }
                }
                Some(c) if c == close => {
                    self.pos += 1;
                    return Ok((items, false));
                }
                _ => return Err(format!("expected ',' or '{close}', found {}", self.describe_here())),
            }
        }
    }

    /// Parses a string in `quote`s, with backslash escapes of the quote and backslash.
    fn string(&mut self, quote: char) -> Result<Value, String> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(format!("the string starting at byte {start} is not closed"));
            };
            self.pos += c.len_utf8();
            match c {
                c if c == quote => return Ok(Value::Str(out)),
                '\\' => match self.peek() {
                    Some(e @ ('\\' | '\'' | '"')) => {
                        self.pos += 1;
                        out.push(e);
                    }
                    _ => out.push('\\'),
                },
                '\n' => return Err(format!("the string starting at byte {start} is not closed")),
                c => out.push(c),
            }
        }
    }

    /// Parses a decimal integer, with an optional sign and Python 2's `L` suffix.
    fn int(&mut self) -> Result<Value, String> {
        let start = self.pos;
        let negative = self.peek() == Some('-');
        if matches!(self.peek(), Some('-' | '+')) {
            self.pos += 1;
        }
        let digits_start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        if self.pos == digits_start {
            return Err(format!("expected digits after the sign at byte {start}"));
        }
        let digits = self.text[digits_start..self.pos].trim_start_matches('0');
        let digits = if digits.is_empty() { "0" } else { digits };
        if self.peek().is_some_and(|c| c == 'L' || c == 'l') {
            self.pos += 1;
        }
        if self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_') {
            return Err(format!("unexpected {} in a number", self.describe_here()));
        }
        Ok(Value::Int(if negative && digits != "0" { format!("-{digits}") } else { digits.to_string() }))
    }
}

/// Why a descr was refused.
#[derive(Debug)]
enum DescrError {
    /// Not a descriptor numpy would write.
    Malformed(String),
    /// A valid descriptor of a type kernbench does not read.
    Unsupported { descr: String, kind: String },
}

/// Maps a header's descr to a dtype and whether its data is big-endian.
fn parse_descr(descr: &Value) -> Result<(DType, bool), DescrError> {
    let unsupported = |kind: String| DescrError::Unsupported { descr: descr.repr(), kind };
    let text = match descr {
        Value::Str(s) => s.as_str(),
        Value::List(_) => return Err(unsupported("a structured dtype".to_string())),
        other => return Err(DescrError::Malformed(format!("'descr' is {}, not a dtype string", other.kind()))),
    };
    let (big_endian, code) = match text.chars().next() {
        Some('<' | '=' | '|') => (false, &text[1..]),
        Some('>') => (true, &text[1..]),
        _ => (false, text),
    };
    let split = code.find(|c: char| c.is_ascii_digit()).unwrap_or(code.len());
    let (kind, size) = code.split_at(split);
    let dtype = match (kind, size) {
        ("f", "2") => Some(DType::F16),
        ("f", "4") => Some(DType::F32),
        ("f", "8") => Some(DType::F64),
        ("i", "1") => Some(DType::I8),
        ("i", "4") => Some(DType::I32),
        ("i", "8") => Some(DType::I64),
        ("u", "1") => Some(DType::U8),
        _ => None,
    };
    if let Some(dtype) = dtype {
        return Ok((dtype, big_endian));
    }
    let malformed = || DescrError::Malformed(format!("'descr' {} is not a numpy dtype descriptor", descr.repr()));
    let bits = size.parse::<u32>().ok().filter(|&bytes| bytes > 0).and_then(|bytes| bytes.checked_mul(8));
    let sized = |name: &str| bits.map(|bits| format!("{name}{bits}")).ok_or_else(malformed);
    let name = match kind {
        "b" | "?" => "bool".to_string(),
        "i" => sized("int")?,
        "u" => sized("uint")?,
        "f" => sized("float")?,
        "c" => sized("complex")?,
        "M" => "datetime64".to_string(),
        "m" => "timedelta64".to_string(),
        "O" => "Python objects".to_string(),
        "S" | "a" => "bytes".to_string(),
        "U" => "str".to_string(),
        "V" => "void".to_string(),
        _ => return Err(malformed()),
    };
    Err(unsupported(name))
}

#[cfg(test)]
mod tests;
