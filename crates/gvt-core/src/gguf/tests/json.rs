//! Fixture lookups over `serde_json`: a missing key or a wrong type fails the test with its
//! name. Integers are exact; the fixtures' floats are f32 values written as f64, which
//! convert back exactly.

use serde_json::Value;

pub trait Fixture {
    fn field(&self, key: &str) -> &Value;
    fn list(&self) -> &[Value];
    fn text(&self) -> &str;
    fn flag(&self) -> bool;
    fn num<T: std::str::FromStr>(&self) -> T
    where
        T::Err: std::fmt::Debug;
    fn f32s(&self) -> Vec<f32>;
}

impl Fixture for Value {
    fn field(&self, key: &str) -> &Value {
        self.get(key)
            .unwrap_or_else(|| panic!("fixture has no key {key:?} in {self}"))
    }

    fn list(&self) -> &[Value] {
        self.as_array()
            .unwrap_or_else(|| panic!("expected a JSON array, found {self}"))
    }

    fn text(&self) -> &str {
        self.as_str()
            .unwrap_or_else(|| panic!("expected a JSON string, found {self}"))
    }

    fn flag(&self) -> bool {
        self.as_bool()
            .unwrap_or_else(|| panic!("expected a JSON bool, found {self}"))
    }

    fn num<T: std::str::FromStr>(&self) -> T
    where
        T::Err: std::fmt::Debug,
    {
        match self {
            Value::Number(n) => {
                let text = n.to_string();
                text.parse()
                    .unwrap_or_else(|e| panic!("cannot parse JSON number {text}: {e:?}"))
            }
            other => panic!("expected a JSON number, found {other}"),
        }
    }

    fn f32s(&self) -> Vec<f32> {
        self.list().iter().map(|v| v.num::<f32>()).collect()
    }
}
