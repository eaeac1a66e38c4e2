//! The optimizer settings a run config gives, by name (`optim::SETTINGS` declares them):
//! written to TOML in the table's order, and refusing a key the table does not declare.

use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};
use crate::optim::{settings::setting, OptimizerConfig, SETTINGS};

/// Values given for optimizer settings, kept in `SETTINGS` order; a setting not given takes
/// the optimizer's default.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Given(Vec<(&'static str, f32)>);

impl Given {
    pub fn get(&self, name: &str) -> Option<f32> {
        self.0.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }

    /// Give `name` the value `v`; an error names the settings there are.
    pub fn set(&mut self, name: &str, v: f32) -> Result<()> {
        let s = setting(name).ok_or_else(|| unknown(name))?;
        self.0.retain(|(n, _)| *n != s.name);
        self.0.push((s.name, v));
        let order = |n: &str| SETTINGS.iter().position(|s| s.name == n);
        self.0.sort_by_key(|(n, _)| order(n));
        Ok(())
    }

    pub fn remove(&mut self, name: &str) {
        self.0.retain(|(n, _)| *n != name);
    }

    /// Exactly the settings `c`'s rule uses, at `c`'s values.
    pub fn resolved(c: &OptimizerConfig) -> Self {
        Self(SETTINGS.iter().filter(|s| s.used_by(c.kind)).map(|s| (s.name, (s.get)(c))).collect())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'static str, f32)> + '_ {
        self.0.iter().copied()
    }
}

fn unknown(name: &str) -> Error {
    let valid: Vec<&str> = SETTINGS.iter().map(|s| s.name).collect();
    Error::config("optimizer", format!("no setting {name:?}; the settings are {}", valid.join(", ")))
}

impl Serialize for Given {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, v) in &self.0 {
            map.serialize_entry(name, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Given {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct Entries;
        impl<'de> Visitor<'de> for Entries {
            type Value = Given;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("optimizer settings (name = number)")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> std::result::Result<Given, M::Error> {
                let mut given = Given::default();
                while let Some((name, v)) = map.next_entry::<String, f32>()? {
                    given.set(&name, v).map_err(serde::de::Error::custom)?;
                }
                Ok(given)
            }
        }
        deserializer.deserialize_map(Entries)
    }
}
