//! GGUF metadata values and the ordered key/value map that holds them.

use std::collections::HashMap;
use std::fmt;

use super::error::GgufError;

/// How deeply arrays of arrays may nest (an array of scalars is depth 1). GGUF allows
/// nesting but no known file uses more than one level; the limit bounds recursion on
/// untrusted input.
pub const MAX_ARRAY_NESTING: usize = 8;

/// One metadata value. The variants map one-to-one onto GGUF's value types.
///
/// GGUF arrays are homogeneous: every element of an [`Value::Array`] written to a file
/// must have the same variant.
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
    Array(Vec<Value>),
    U64(u64),
    I64(i64),
    F64(f64),
}

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

    /// The elements if the value is a [`Value::Array`].
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(v) => Some(v),
            _ => None,
        }
    }

    /// Type description for error messages: `u32`, `string`, `array of i32`, `empty array`.
    pub fn describe_type(&self) -> String {
        match self {
            Value::Array(items) => match items.first() {
                Some(first) => format!("array of {}", first.describe_type()),
                None => "empty array".to_string(),
            },
            other => other.type_name().to_string(),
        }
    }
}

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
            Value::String(s) => {
                let n_chars = s.chars().count();
                if n_chars <= DISPLAY_MAX_CHARS {
                    write!(f, "{s:?}")
                } else {
                    let head: String = s.chars().take(DISPLAY_MAX_CHARS).collect();
                    write!(f, "{head:?}... ({n_chars} chars)")
                }
            }
            Value::Array(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().take(DISPLAY_MAX_ITEMS).enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                if items.len() > DISPLAY_MAX_ITEMS {
                    write!(f, ", ... ({} items)", items.len())?;
                }
                f.write_str("]")
            }
        }
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
    bool => Bool, String => String, u64 => U64, i64 => I64, f64 => F64, Vec<Value> => Array);

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

    /// `key` as an array of strings (an empty array is accepted).
    pub fn get_str_array(&self, key: &str) -> Result<Vec<&str>, GgufError> {
        let v = self.require(key)?;
        let expected = "array of string";
        let items = v.as_array().ok_or_else(|| wrong_type(key, expected, v))?;
        items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                item.as_str()
                    .ok_or_else(|| wrong_element(key, expected, i, item))
            })
            .collect()
    }

    /// `key` as an array of f32; float and integer elements are accepted.
    pub fn get_f32_array(&self, key: &str) -> Result<Vec<f32>, GgufError> {
        let v = self.require(key)?;
        let expected = "array of f32";
        let items = v.as_array().ok_or_else(|| wrong_type(key, expected, v))?;
        items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                item.as_f32()
                    .ok_or_else(|| wrong_element(key, expected, i, item))
            })
            .collect()
    }

    /// `key` as an array of i32; integer elements are accepted if they fit.
    pub fn get_i32_array(&self, key: &str) -> Result<Vec<i32>, GgufError> {
        let v = self.require(key)?;
        let expected = "array of i32";
        let items = v.as_array().ok_or_else(|| wrong_type(key, expected, v))?;
        items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                item.as_i64()
                    .and_then(|x| i32::try_from(x).ok())
                    .ok_or_else(|| wrong_element(key, expected, i, item))
            })
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
