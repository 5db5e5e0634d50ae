//! A tenant's query limits (SPEC §5), kept in the tenant's `limits.toml`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A tenant's limits (`limits.toml` in the tenant's folder).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Memory all running queries of the tenant may hold together, in MiB.
    pub memory_mb: u64,
    /// A query running longer is cancelled.
    pub timeout_seconds: f64,
    /// A result with more rows is refused (ask with LIMIT, or narrow the query).
    pub max_rows: u64,
    /// The longest SQL text accepted, in bytes.
    pub max_sql_bytes: usize,
    /// The most operators (arithmetic, comparison, AND/OR, …) in one statement.
    pub max_operators: usize,
    /// The deepest nesting of parentheses.
    pub max_nesting: usize,
    /// The most UNION / INTERSECT / EXCEPT in one statement.
    pub max_set_operations: usize,
    /// The most tables, views and subqueries one statement reads (each FROM, JOIN and comma in
    /// a FROM list): planning a join of hundreds of relations takes seconds before any limit on
    /// running can stop it.
    pub max_relations: usize,
    /// The most bytes one call of a function that builds more than it reads may build for a
    /// batch (`repeat`, `lpad`, `rpad`, `replace`, `regexp_replace`, `range`, `array_repeat`,
    /// …), in MiB: such values are built outside the memory pool, so `repeat('x', 800000000)`
    /// would otherwise take gigabytes before any limit sees it.
    pub max_function_output_mb: u64,
    /// A result holding more bytes than this (in MiB) is refused, however few its rows.
    pub max_result_mb: u64,
    /// The most queries of the tenant that run at once; more wait in line (up to the time
    /// limit), so one county's heavy queries cannot take every core from the others.
    pub max_concurrent_queries: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            memory_mb: 1024,
            timeout_seconds: 30.0,
            max_rows: 200_000,
            max_sql_bytes: 64 * 1024,
            max_operators: 2_000,
            max_nesting: 64,
            max_set_operations: 200,
            max_relations: 100,
            max_function_output_mb: 64,
            max_result_mb: 256,
            max_concurrent_queries: 2,
        }
    }
}

impl Limits {
    /// Reads `limits.toml`; a key it does not know is an error, not ignored.
    pub fn parse(text: &str) -> Result<Limits, toml::de::Error> {
        toml::from_str(text)
    }

    /// The text of `limits.toml`.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }

    /// The smaller of each limit (a user of several tenants gets the strictest).
    pub fn strictest(&self, other: &Limits) -> Limits {
        Limits {
            memory_mb: self.memory_mb.min(other.memory_mb),
            timeout_seconds: self.timeout_seconds.min(other.timeout_seconds),
            max_rows: self.max_rows.min(other.max_rows),
            max_sql_bytes: self.max_sql_bytes.min(other.max_sql_bytes),
            max_operators: self.max_operators.min(other.max_operators),
            max_nesting: self.max_nesting.min(other.max_nesting),
            max_set_operations: self.max_set_operations.min(other.max_set_operations),
            max_relations: self.max_relations.min(other.max_relations),
            max_function_output_mb: self
                .max_function_output_mb
                .min(other.max_function_output_mb),
            max_result_mb: self.max_result_mb.min(other.max_result_mb),
            max_concurrent_queries: self
                .max_concurrent_queries
                .min(other.max_concurrent_queries),
        }
    }

    /// The time limit of one query.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs_f64(self.timeout_seconds.max(0.001))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_strictest_limits_win() {
        let a = Limits {
            max_rows: 10,
            ..Limits::default()
        };
        let b = Limits {
            timeout_seconds: 1.0,
            ..Limits::default()
        };
        let s = a.strictest(&b);
        assert_eq!((s.max_rows, s.timeout_seconds), (10, 1.0));
        assert_eq!(Limits::parse(&s.to_toml()).unwrap(), s);
        assert!(
            Limits::parse("memory = 1")
                .unwrap_err()
                .to_string()
                .contains("unknown field")
        );
    }
}
