//! GGUF metadata values and the ordered key/value map that holds them.

use std::collections::HashMap;
use std::fmt;

use super::error::GgufError;

/// How deeply arrays of arrays may nest (an array of scalars is depth 1). GGUF allows
/// nesting but no known file uses more than one level; the limit bounds recursion on
/// untrusted input.
pub const MAX_ARRAY_NESTING: usize = 8;

/// One metadata value. The variants map one-to-one onto GGUF's value types.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    F32(f32),
    Bool(bool),
    String(String),
    Array(Array),
    U64(u64),
    I64(i64),
    F64(f64),
}

/// A GGUF array. Arrays are homogeneous, so the elements are stored unboxed in one typed
/// `Vec` (a u8 element takes one byte, not a 32-byte [`Value`]) and strings share one buffer
/// ([`StringArray`]): memory stays close to the file's size whatever a file holds. The
/// variants map one-to-one onto GGUF's element types.
#[derive(Debug, Clone, PartialEq)]
pub enum Array {
    U8(Vec<u8>),
    I8(Vec<i8>),
    U16(Vec<u16>),
    I16(Vec<i16>),
    U32(Vec<u32>),
    I32(Vec<i32>),
    F32(Vec<f32>),
    Bool(Vec<bool>),
    String(StringArray),
    /// An array of arrays; each inner array has its own element type.
    Array(Vec<Array>),
    U64(Vec<u64>),
    I64(Vec<i64>),
    F64(Vec<f64>),
}

/// `match`es an [`Array`] with one arm, generic over the element type, for the variants
/// holding a `Vec` of scalars (`$v`), one for strings (`$s`) and one for nested arrays (`$a`).
macro_rules! match_array {
    ($array:expr, $v:ident => $scalars:expr, $s:ident => $strings:expr, $a:ident => $arrays:expr $(,)?) => {
        match $array {
            Array::U8($v) => $scalars,
            Array::I8($v) => $scalars,
            Array::U16($v) => $scalars,
            Array::I16($v) => $scalars,
            Array::U32($v) => $scalars,
            Array::I32($v) => $scalars,
            Array::F32($v) => $scalars,
            Array::Bool($v) => $scalars,
            Array::U64($v) => $scalars,
            Array::I64($v) => $scalars,
            Array::F64($v) => $scalars,
            Array::String($s) => $strings,
            Array::Array($a) => $arrays,
        }
    };
}
pub(crate) use match_array;

impl Value {
    /// The GGUF value type id of this value (`gguf_type` in ggml).
    pub fn type_id(&self) -> u32 {
        match self {
            Value::U8(_) => 0,
            Value::I8(_) => 1,
            Value::U16(_) => 2,
            Value::I16(_) => 3,
            Value::U32(_) => 4,
            Value::I32(_) => 5,
            Value::F32(_) => 6,
            Value::Bool(_) => 7,
            Value::String(_) => 8,
            Value::Array(_) => 9,
            Value::U64(_) => 10,
            Value::I64(_) => 11,
            Value::F64(_) => 12,
        }
    }

    /// Short type name for messages: `u8`, `string`, `array`, ...
    pub fn type_name(&self) -> &'static str {
        type_name_of_id(self.type_id())
    }

    /// The value as a `u64` if it is an integer that is not negative.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::U8(v) => Some(v.into()),
            Value::U16(v) => Some(v.into()),
            Value::U32(v) => Some(v.into()),
            Value::U64(v) => Some(v),
            Value::I8(v) => u64::try_from(v).ok(),
            Value::I16(v) => u64::try_from(v).ok(),
            Value::I32(v) => u64::try_from(v).ok(),
            Value::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    /// The value as an `i64` if it is an integer that fits.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::U8(v) => Some(v.into()),
            Value::U16(v) => Some(v.into()),
            Value::U32(v) => Some(v.into()),
            Value::U64(v) => i64::try_from(v).ok(),
            Value::I8(v) => Some(v.into()),
            Value::I16(v) => Some(v.into()),
            Value::I32(v) => Some(v.into()),
            Value::I64(v) => Some(v),
            _ => None,
        }
    }

    /// The value as an `f64` if it is a float or an integer (large integers round).
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::F32(v) => Some(v.into()),
            Value::F64(v) => Some(v),
            Value::U64(v) => Some(v as f64),
            Value::I64(v) => Some(v as f64),
            _ => self.as_i64().map(|v| v as f64),
        }
    }

    /// The value as an `f32` if it is a float or an integer (rounded to nearest).
    pub fn as_f32(&self) -> Option<f32> {
        match *self {
            Value::F32(v) => Some(v),
            Value::F64(v) => Some(v as f32),
            Value::U64(v) => Some(v as f32),
            Value::I64(v) => Some(v as f32),
            _ => self.as_i64().map(|v| v as f32),
        }
    }

    /// The value if it is a [`Value::Bool`].
    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            Value::Bool(v) => Some(v),
            _ => None,
        }
    }

    /// The value if it is a [`Value::String`].
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(v) => Some(v),
            _ => None,
        }
    }

    /// The array if the value is a [`Value::Array`].
    pub fn as_array(&self) -> Option<&Array> {
        match self {
            Value::Array(v) => Some(v),
            _ => None,
        }
    }

    /// Type description for error messages: `u32`, `string`, `array of i32`,
    /// `empty array of string`.
    pub fn describe_type(&self) -> String {
        match self {
            Value::Array(array) => array.describe_type(),
            other => other.type_name().to_string(),
        }
    }

    /// Bytes this value owns on the heap (allocated capacity, nested arrays included).
    pub fn heap_bytes(&self) -> usize {
        match self {
            Value::String(s) => s.capacity(),
            Value::Array(array) => array.heap_bytes(),
            _ => 0,
        }
    }
}

impl Array {
    /// Number of elements.
    pub fn len(&self) -> usize {
        match_array!(self, v => v.len(), s => s.len(), a => a.len())
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The GGUF value type id of the elements (an empty array has one too).
    pub fn element_type_id(&self) -> u32 {
        match self {
            Array::U8(_) => 0,
            Array::I8(_) => 1,
            Array::U16(_) => 2,
            Array::I16(_) => 3,
            Array::U32(_) => 4,
            Array::I32(_) => 5,
            Array::F32(_) => 6,
            Array::Bool(_) => 7,
            Array::String(_) => 8,
            Array::Array(_) => 9,
            Array::U64(_) => 10,
            Array::I64(_) => 11,
            Array::F64(_) => 12,
        }
    }

    /// Short type name of the elements: `u8`, `string`, `array`, ...
    pub fn element_type_name(&self) -> &'static str {
        type_name_of_id(self.element_type_id())
    }

    /// Element `i` as a [`Value`]; a string or an inner array is copied.
    pub fn get(&self, i: usize) -> Option<Value> {
        match_array!(self,
            v => v.get(i).map(|&x| Value::from(x)),
            s => s.get(i).map(Value::from),
            a => a.get(i).cloned().map(Value::Array),
        )
    }

    /// The strings, if this is an array of strings.
    pub fn as_strings(&self) -> Option<&StringArray> {
        match self {
            Array::String(s) => Some(s),
            _ => None,
        }
    }

    /// Type description for error messages: `array of i32`, `empty array of string`,
    /// `array of array of u8` (nested arrays are described by their first element).
    pub fn describe_type(&self) -> String {
        let elements = match self {
            Array::Array(items) => items
                .first()
                .map_or_else(|| "array".to_string(), Array::describe_type),
            other => other.element_type_name().to_string(),
        };
        if self.is_empty() {
            format!("empty array of {elements}")
        } else {
            format!("array of {elements}")
        }
    }

    /// Bytes this array owns on the heap (allocated capacity, nested arrays included).
    pub fn heap_bytes(&self) -> usize {
        match_array!(self,
            v => vec_heap_bytes(v),
            s => s.heap_bytes(),
            a => vec_heap_bytes(a) + a.iter().map(Array::heap_bytes).sum::<usize>(),
        )
    }
}

fn vec_heap_bytes<T>(v: &Vec<T>) -> usize {
    v.capacity() * size_of::<T>()
}

/// Strings in two allocations: all text in one buffer, and where each string ends. An
/// element costs its text and 4 bytes, not a 24-byte `String` and an allocation of its
/// own, so a vocabulary (or a hostile file of empty strings) stays near its size on disk.
#[derive(Clone, Default, PartialEq)]
pub struct StringArray {
    // Boxed so that `Array` is no larger than a `Vec`: an array of arrays holds one `Array`
    // per element, and a file can list 12-byte empty arrays by the million.
    buf: Box<StringBuf>,
}

#[derive(Clone, Default, PartialEq)]
struct StringBuf {
    text: String,
    /// End of each string in `text`; a string starts where the one before it ends.
    /// `u32` halves the index; [`StringArray::MAX_TEXT_BYTES`] bounds the text to match.
    ends: Vec<u32>,
}

impl StringArray {
    /// The most text bytes one array can hold, all strings together.
    pub const MAX_TEXT_BYTES: usize = u32::MAX as usize;

    /// An empty array.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty array with room for `strings` strings of `text_bytes` bytes in all.
    pub fn with_capacity(strings: usize, text_bytes: usize) -> Self {
        Self {
            buf: Box::new(StringBuf {
                text: String::with_capacity(text_bytes),
                ends: Vec::with_capacity(strings),
            }),
        }
    }

    /// Appends `s`.
    ///
    /// # Panics
    /// If the text of all strings would exceed [`MAX_TEXT_BYTES`](Self::MAX_TEXT_BYTES).
    pub fn push(&mut self, s: &str) {
        let buf = &mut *self.buf;
        buf.text.push_str(s);
        let end = u32::try_from(buf.text.len())
            .expect("StringArray: more than MAX_TEXT_BYTES bytes of text");
        buf.ends.push(end);
    }

    /// Number of strings.
    pub fn len(&self) -> usize {
        self.buf.ends.len()
    }

    /// Whether there are no strings.
    pub fn is_empty(&self) -> bool {
        self.buf.ends.is_empty()
    }

    /// String `i`, if `i < len()`.
    pub fn get(&self, i: usize) -> Option<&str> {
        let end = *self.buf.ends.get(i)? as usize;
        let start = match i {
            0 => 0,
            _ => self.buf.ends[i - 1] as usize,
        };
        Some(&self.buf.text[start..end])
    }

    /// The strings in order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            strings: self,
            range: 0..self.len(),
        }
    }

    /// Bytes this array owns on the heap (allocated capacity).
    pub fn heap_bytes(&self) -> usize {
        size_of::<StringBuf>() + self.buf.text.capacity() + vec_heap_bytes(&self.buf.ends)
    }
}

impl std::ops::Index<usize> for StringArray {
    type Output = str;

    fn index(&self, i: usize) -> &str {
        match self.get(i) {
            Some(s) => s,
            None => panic!("index {i} out of range for {} strings", self.len()),
        }
    }
}

impl fmt::Debug for StringArray {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<S: AsRef<str>> FromIterator<S> for StringArray {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        let mut strings = StringArray::new();
        for s in iter {
            strings.push(s.as_ref());
        }
        strings
    }
}

impl<'a> IntoIterator for &'a StringArray {
    type Item = &'a str;
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// Iterator over the strings of a [`StringArray`].
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    strings: &'a StringArray,
    range: std::ops::Range<usize>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        self.range.next().and_then(|i| self.strings.get(i))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.range.size_hint()
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.range.next_back().and_then(|i| self.strings.get(i))
    }
}

impl ExactSizeIterator for Iter<'_> {}

/// Name of a GGUF value type id; `unknown` for ids outside 0..=12.
pub(crate) fn type_name_of_id(id: u32) -> &'static str {
    match id {
        0 => "u8",
        1 => "i8",
        2 => "u16",
        3 => "i16",
        4 => "u32",
        5 => "i32",
        6 => "f32",
        7 => "bool",
        8 => "string",
        9 => "array",
        10 => "u64",
        11 => "i64",
        12 => "f64",
        _ => "unknown",
    }
}

/// Strings longer than this are cut when displayed.
const DISPLAY_MAX_CHARS: usize = 80;
/// Arrays longer than this show only their first items when displayed.
const DISPLAY_MAX_ITEMS: usize = 8;

impl fmt::Display for Value {
    /// A short rendering for listings: floats as `1.0` / `1e-6`, strings quoted (cut
    /// after 80 characters), arrays longer than 8 as their first 8 items and
    /// `... (N items)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::U8(v) => write!(f, "{v}"),
            Value::I8(v) => write!(f, "{v}"),
            Value::U16(v) => write!(f, "{v}"),
            Value::I16(v) => write!(f, "{v}"),
            Value::U32(v) => write!(f, "{v}"),
            Value::I32(v) => write!(f, "{v}"),
            Value::U64(v) => write!(f, "{v}"),
            Value::I64(v) => write!(f, "{v}"),
            // Debug keeps a float looking like a float (`1.0`) and uses an exponent for
            // very large or small magnitudes (`1e-6`) where Display writes every digit.
            Value::F32(v) => write!(f, "{v:?}"),
            Value::F64(v) => write!(f, "{v:?}"),
            Value::Bool(v) => write!(f, "{v}"),
            Value::String(s) => display_str(f, s),
            Value::Array(array) => write!(f, "{array}"),
        }
    }
}

impl fmt::Display for Array {
    /// The first 8 items, then `... (N items)` if there are more.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for i in 0..self.len().min(DISPLAY_MAX_ITEMS) {
            if i > 0 {
                f.write_str(", ")?;
            }
            match_array!(self,
                v => write!(f, "{}", Value::from(v[i]))?,
                s => display_str(f, &s[i])?,
                a => write!(f, "{}", a[i])?,
            );
        }
        if self.len() > DISPLAY_MAX_ITEMS {
            write!(f, ", ... ({} items)", self.len())?;
        }
        f.write_str("]")
    }
}

/// `s` quoted, cut after [`DISPLAY_MAX_CHARS`] characters.
fn display_str(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    let n_chars = s.chars().count();
    if n_chars <= DISPLAY_MAX_CHARS {
        write!(f, "{s:?}")
    } else {
        let head: String = s.chars().take(DISPLAY_MAX_CHARS).collect();
        write!(f, "{head:?}... ({n_chars} chars)")
    }
}

macro_rules! value_from {
    ($($t:ty => $variant:ident),* $(,)?) => {
        $(impl From<$t> for Value {
            fn from(v: $t) -> Self {
                Value::$variant(v)
            }
        })*
    };
}
value_from!(u8 => U8, i8 => I8, u16 => U16, i16 => I16, u32 => U32, i32 => I32, f32 => F32,
    bool => Bool, String => String, u64 => U64, i64 => I64, f64 => F64, Array => Array);

macro_rules! array_from {
    ($($t:ty => $variant:ident),* $(,)?) => {
        $(impl From<$t> for Array {
            fn from(v: $t) -> Self {
                Array::$variant(v)
            }
        }
        impl From<$t> for Value {
            fn from(v: $t) -> Self {
                Value::Array(Array::$variant(v))
            }
        })*
    };
}
array_from!(Vec<u8> => U8, Vec<i8> => I8, Vec<u16> => U16, Vec<i16> => I16, Vec<u32> => U32,
    Vec<i32> => I32, Vec<f32> => F32, Vec<bool> => Bool, StringArray => String,
    Vec<Array> => Array, Vec<u64> => U64, Vec<i64> => I64, Vec<f64> => F64);

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::String(v.to_string())
    }
}

/// GGUF metadata: key/value pairs in file order, with lookup by key.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metadata {
    entries: Vec<(String, Value)>,
    index: HashMap<String, usize>,
}

impl Metadata {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key` to `value`. An existing key keeps its position and gets the new value.
    pub fn insert(&mut self, key: impl Into<String>, value: Value) {
        let key = key.into();
        match self.index.get(&key) {
            Some(&i) => self.entries[i].1 = value,
            None => {
                self.index.insert(key.clone(), self.entries.len());
                self.entries.push((key, value));
            }
        }
    }

    /// Adds a key that must not exist yet (the reader's duplicate check).
    pub(crate) fn insert_new(&mut self, key: String, value: Value) -> Result<(), GgufError> {
        if self.index.contains_key(&key) {
            return Err(GgufError::DuplicateKey { key });
        }
        self.index.insert(key.clone(), self.entries.len());
        self.entries.push((key, value));
        Ok(())
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let i = self.index.remove(key)?;
        let (_, value) = self.entries.remove(i);
        for slot in self.index.values_mut() {
            if *slot > i {
                *slot -= 1;
            }
        }
        Some(value)
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.index.get(key).map(|&i| &self.entries[i].1)
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.index.contains_key(key)
    }

    /// All pairs in file (or insertion) order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Approximate bytes on the heap: the entries, the keys (held twice: in order and in
    /// the index), the values, and the index's table estimated from its capacity.
    pub fn heap_bytes(&self) -> usize {
        let entries = vec_heap_bytes(&self.entries);
        let index = self.index.capacity() * (size_of::<(String, usize)>() + 1);
        let contents: usize = self
            .entries
            .iter()
            .map(|(key, value)| 2 * key.capacity() + value.heap_bytes())
            .sum();
        entries + index + contents
    }

    fn require(&self, key: &str) -> Result<&Value, GgufError> {
        self.get(key)
            .ok_or_else(|| GgufError::MissingKey(key.to_string()))
    }

    /// `key` as a u32; any integer type is accepted if the value fits.
    pub fn get_u32(&self, key: &str) -> Result<u32, GgufError> {
        let v = self.require(key)?;
        v.as_u64()
            .and_then(|x| u32::try_from(x).ok())
            .ok_or_else(|| wrong_type(key, "u32", v))
    }

    /// `key` as a u64; any integer type is accepted if the value is not negative.
    pub fn get_u64(&self, key: &str) -> Result<u64, GgufError> {
        let v = self.require(key)?;
        v.as_u64().ok_or_else(|| wrong_type(key, "u64", v))
    }

    /// `key` as an f32; F32, F64 and integer values are accepted.
    pub fn get_f32(&self, key: &str) -> Result<f32, GgufError> {
        let v = self.require(key)?;
        v.as_f32().ok_or_else(|| wrong_type(key, "f32", v))
    }

    /// `key` as a bool; only [`Value::Bool`] is accepted.
    pub fn get_bool(&self, key: &str) -> Result<bool, GgufError> {
        let v = self.require(key)?;
        v.as_bool().ok_or_else(|| wrong_type(key, "bool", v))
    }

    /// `key` as a string.
    pub fn get_str(&self, key: &str) -> Result<&str, GgufError> {
        let v = self.require(key)?;
        v.as_str().ok_or_else(|| wrong_type(key, "string", v))
    }

    /// `key` as an array of strings.
    pub fn get_str_array(&self, key: &str) -> Result<&StringArray, GgufError> {
        let v = self.require(key)?;
        v.as_array()
            .and_then(Array::as_strings)
            .ok_or_else(|| wrong_type(key, "array of string", v))
    }

    /// `key` as an array of f32; float and integer elements are accepted.
    pub fn get_f32_array(&self, key: &str) -> Result<Vec<f32>, GgufError> {
        self.convert_array(key, "array of f32", Value::as_f32)
    }

    /// `key` as an array of i32; integer elements are accepted if they fit.
    pub fn get_i32_array(&self, key: &str) -> Result<Vec<i32>, GgufError> {
        self.convert_array(key, "array of i32", |item| {
            item.as_i64().and_then(|x| i32::try_from(x).ok())
        })
    }

    /// `key` as an array with every element converted by `convert` (an empty array of any
    /// type is accepted).
    fn convert_array<T>(
        &self,
        key: &str,
        expected: &'static str,
        convert: impl Fn(&Value) -> Option<T>,
    ) -> Result<Vec<T>, GgufError> {
        let v = self.require(key)?;
        let array = v.as_array().ok_or_else(|| wrong_type(key, expected, v))?;
        (0..array.len())
            .filter_map(|i| array.get(i))
            .enumerate()
            .map(|(i, item)| convert(&item).ok_or_else(|| wrong_element(key, expected, i, &item)))
            .collect()
    }

    /// Like [`get_u32`](Self::get_u32), but `Ok(None)` when `key` is absent.
    pub fn opt_u32(&self, key: &str) -> Result<Option<u32>, GgufError> {
        self.optional(key, Self::get_u32)
    }

    /// Like [`get_u64`](Self::get_u64), but `Ok(None)` when `key` is absent.
    pub fn opt_u64(&self, key: &str) -> Result<Option<u64>, GgufError> {
        self.optional(key, Self::get_u64)
    }

    /// Like [`get_f32`](Self::get_f32), but `Ok(None)` when `key` is absent.
    pub fn opt_f32(&self, key: &str) -> Result<Option<f32>, GgufError> {
        self.optional(key, Self::get_f32)
    }

    /// Like [`get_bool`](Self::get_bool), but `Ok(None)` when `key` is absent.
    pub fn opt_bool(&self, key: &str) -> Result<Option<bool>, GgufError> {
        self.optional(key, Self::get_bool)
    }

    /// Like [`get_str`](Self::get_str), but `Ok(None)` when `key` is absent.
    pub fn opt_str(&self, key: &str) -> Result<Option<&str>, GgufError> {
        self.optional(key, Self::get_str)
    }

    fn optional<'a, T>(
        &'a self,
        key: &str,
        get: impl FnOnce(&'a Self, &str) -> Result<T, GgufError>,
    ) -> Result<Option<T>, GgufError> {
        if self.contains_key(key) {
            get(self, key).map(Some)
        } else {
            Ok(None)
        }
    }
}

/// A [`GgufError::WrongType`] for `key`, describing what `found` holds.
fn wrong_type(key: &str, expected: &'static str, found: &Value) -> GgufError {
    let found = match found {
        Value::Array(_) | Value::String(_) => found.describe_type(),
        scalar => format!("{} {scalar}", scalar.type_name()),
    };
    GgufError::WrongType {
        key: key.to_string(),
        expected,
        found,
    }
}

/// A [`GgufError::WrongType`] for an array whose element `index` does not fit `expected`.
fn wrong_element(key: &str, expected: &'static str, index: usize, item: &Value) -> GgufError {
    let item = match item {
        Value::Array(_) | Value::String(_) => item.describe_type(),
        scalar => format!("{} {scalar}", scalar.type_name()),
    };
    GgufError::WrongType {
        key: key.to_string(),
        expected,
        found: format!("an array whose element {index} is {item}"),
    }
}

impl<K: Into<String>> FromIterator<(K, Value)> for Metadata {
    fn from_iter<I: IntoIterator<Item = (K, Value)>>(iter: I) -> Self {
        let mut metadata = Metadata::new();
        for (k, v) in iter {
            metadata.insert(k, v);
        }
        metadata
    }
}
