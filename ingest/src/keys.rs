//! Primary keys read in place: a row's key is its key columns' text, borrowed from the Arrow
//! arrays, so checking millions of keys allocates nothing per row.

use std::collections::hash_map::Entry;
use std::hash::BuildHasher;

use arrow::array::{Array, AsArray, RecordBatch, StringArray};
use foldhash::{HashMap, HashMapExt};
use model::schema::TableDef;

/// The most columns a primary key has (scores: period, branch and indicator).
const MAX_PARTS: usize = 3;

/// One row's key, as borrowed parts; two keys are equal when every part is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct RowKey<'a> {
    parts: [&'a str; MAX_PARTS],
    len: usize,
}

impl<'a> RowKey<'a> {
    /// The key of a one-column primary key.
    pub(crate) fn single(&self) -> Option<&'a str> {
        (self.len == 1).then_some(self.parts[0])
    }

    /// The key as a person reads it: its parts joined by `, `.
    pub(crate) fn shown(&self) -> String {
        self.parts[..self.len].join(", ")
    }
}

/// The primary-key columns of a batch, looked up once rather than per row.
pub(crate) struct KeyColumns {
    cols: Vec<StringArray>,
}

impl KeyColumns {
    /// The key columns of `batch`, a batch of `table`; `None` when one is missing or not text.
    pub(crate) fn of(table: &TableDef, batch: &RecordBatch) -> Option<KeyColumns> {
        if table.primary_key.len() > MAX_PARTS {
            // No table has one (a test below holds the schema to it).
            return None;
        }
        let cols = table
            .primary_key
            .iter()
            .map(|k| {
                let i = table.column_index(k)?;
                batch.column(i).as_string_opt::<i32>().cloned()
            })
            .collect::<Option<Vec<_>>>()?;
        Some(KeyColumns { cols })
    }

    /// The key of `row`, or `None` when a part is null.
    pub(crate) fn at(&self, row: usize) -> Option<RowKey<'_>> {
        let mut parts = [""; MAX_PARTS];
        for (part, col) in parts.iter_mut().zip(&self.cols) {
            if col.is_null(row) {
                return None;
            }
            *part = col.value(row);
        }
        Some(RowKey {
            parts,
            len: self.cols.len(),
        })
    }
}

/// The first row of every key seen, remembered by the key's 64-bit hash: 16 bytes a key, so a
/// county's 1.5 M attendance keys stay in cache far better than the keys would. Two different
/// keys with one hash (about once in ten billion loads of that size) are told apart exactly.
pub(crate) struct FirstRows<'a, S = foldhash::fast::RandomState> {
    keys: &'a KeyColumns,
    state: S,
    by_hash: HashMap<u64, usize>,
    collided: HashMap<RowKey<'a>, usize>,
}

impl<'a> FirstRows<'a> {
    pub(crate) fn new(keys: &'a KeyColumns, capacity: usize) -> Self {
        FirstRows::with_hasher(keys, capacity, foldhash::fast::RandomState::default())
    }
}

impl<'a, S: BuildHasher> FirstRows<'a, S> {
    fn with_hasher(keys: &'a KeyColumns, capacity: usize, state: S) -> Self {
        FirstRows {
            keys,
            state,
            by_hash: HashMap::with_capacity(capacity),
            collided: HashMap::new(),
        }
    }

    /// The first row that held `key`; `None` when there was none, and `row` is now its first.
    pub(crate) fn first_or_insert(&mut self, key: RowKey<'a>, row: usize) -> Option<usize> {
        match self.by_hash.entry(self.state.hash_one(key)) {
            Entry::Vacant(slot) => {
                slot.insert(row);
                None
            }
            Entry::Occupied(slot) => {
                let kept = *slot.get();
                if self.keys.at(kept) == Some(key) {
                    return Some(kept);
                }
                match self.collided.entry(key) {
                    Entry::Vacant(slot) => {
                        slot.insert(row);
                        None
                    }
                    Entry::Occupied(slot) => Some(*slot.get()),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::hash::BuildHasherDefault;
    use std::sync::Arc;

    use arrow::array::ArrayRef;
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    /// Every key hashes to 0: every key after the first is a collision.
    #[derive(Default)]
    struct Zero;

    impl std::hash::Hasher for Zero {
        fn finish(&self) -> u64 {
            0
        }
        fn write(&mut self, _: &[u8]) {}
    }

    #[test]
    fn keys_with_one_hash_are_still_told_apart() {
        let table = model::schema::table_for_name("attendance").expect("attendance");
        let column = |values: &[&str]| -> ArrayRef { Arc::new(StringArray::from(values.to_vec())) };
        let fields: Vec<Field> = table
            .columns
            .iter()
            .map(|c| Field::new(c.name, DataType::Utf8, true))
            .collect();
        let meetings = ["m1", "m1", "m2", "m1", "m2", "m1"];
        let members = ["a", "b", "a", "a", "a", "b"];
        let columns: Vec<ArrayRef> = table
            .columns
            .iter()
            .map(|c| match c.name {
                "meeting_id" => column(&meetings),
                "member_id" => column(&members),
                _ => column(&[""; 6]),
            })
            .collect();
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).expect("batch");
        let keys = KeyColumns::of(table, &batch).expect("key columns");
        let mut first = FirstRows::with_hasher(&keys, 6, BuildHasherDefault::<Zero>::default());
        let seen: Vec<Option<usize>> = (0..6)
            .map(|row| first.first_or_insert(keys.at(row).expect("key"), row))
            .collect();
        assert_eq!(seen, [None, None, None, Some(0), Some(2), Some(1)]);
        // The same with the real hasher.
        let mut first = FirstRows::new(&keys, 6);
        let seen: Vec<Option<usize>> = (0..6)
            .map(|row| first.first_or_insert(keys.at(row).expect("key"), row))
            .collect();
        assert_eq!(seen, [None, None, None, Some(0), Some(2), Some(1)]);
    }

    #[test]
    fn every_primary_key_fits() {
        for table in model::schema::TABLES {
            assert!(table.primary_key.len() <= MAX_PARTS, "{}", table.name);
        }
    }
}
