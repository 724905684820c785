//! Fixture lookups over the crate's JSON reader ([`crate::eval::json`]): a missing key or a
//! wrong type fails the test with its name, and numbers parse from their literal text (exact
//! for integers, correctly rounded for floats).

use crate::eval::json::Value;

pub trait Fixture {
    fn field(&self, key: &str) -> &Value;
    fn list(&self) -> &[Value];
    fn text(&self) -> &str;
    fn flag(&self) -> bool;
    fn num<T: std::str::FromStr>(&self) -> T
    where
        T::Err: std::fmt::Debug;
    fn f32s(&self) -> Vec<f32>;
    fn is_null(&self) -> bool;
}

impl Fixture for Value {
    fn field(&self, key: &str) -> &Value {
        self.get(key)
            .unwrap_or_else(|| panic!("fixture has no key {key:?} in {}", self.describe()))
    }

    fn list(&self) -> &[Value] {
        self.as_array()
            .unwrap_or_else(|| panic!("expected a JSON array, found {}", self.describe()))
    }

    fn text(&self) -> &str {
        self.as_str()
            .unwrap_or_else(|| panic!("expected a JSON string, found {}", self.describe()))
    }

    fn flag(&self) -> bool {
        match self {
            Value::Bool(b) => *b,
            other => panic!("expected a JSON bool, found {}", other.describe()),
        }
    }

    fn num<T: std::str::FromStr>(&self) -> T
    where
        T::Err: std::fmt::Debug,
    {
        match self {
            Value::Number(text) => text
                .parse()
                .unwrap_or_else(|e| panic!("cannot parse JSON number {text:?}: {e:?}")),
            other => panic!("expected a JSON number, found {}", other.describe()),
        }
    }

    fn f32s(&self) -> Vec<f32> {
        self.list().iter().map(|v| v.num::<f32>()).collect()
    }

    fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}
