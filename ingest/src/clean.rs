//! Cleaning by what a column holds (SPEC §2), one column at a time over the file's Arrow text:
//! - free text (names, themes, reasons) is kept exactly as written; only a cell of nothing but
//!   white space becomes null. The column is the file's own array with those cells masked: no
//!   copy;
//! - keys (ids) are kept as written here too, and cleaned per character by [`clean_key`] when
//!   validation types them, so that every change can be reported on its cell;
//! - every other column (enumerations, numbers, dates, periods, …) is trimmed, full-width ASCII
//!   is folded to half-width and empty text becomes null. Validation parses the result, cell
//!   by cell, and reports the original value of a cell that does not parse.

use std::borrow::Cow;

use arrow::array::{Array, StringArray, StringBuilder};
use arrow::buffer::NullBuffer;
use model::schema::ColumnType;
use rayon::prelude::*;

use crate::reason::Reason;
use crate::source::RawTable;

/// A column after cleaning: as written for free text and keys, trimmed and half-width for the
/// other columns; null for empty cells. As long as the raw table.
#[derive(Debug)]
pub(crate) struct CleanColumn {
    pub(crate) text: StringArray,
}

/// Text as written; null when the cell is nothing but white space. Shares the raw column's
/// buffers.
fn as_written(raw: &StringArray) -> StringArray {
    let kept: Vec<bool> = raw
        .iter()
        .map(|v| v.is_some_and(|s| !s.trim().is_empty()))
        .collect();
    if raw.null_count() == kept.iter().filter(|keep| !**keep).count() {
        return raw.clone();
    }
    StringArray::new(
        raw.offsets().clone(),
        raw.values().clone(),
        Some(NullBuffer::from(kept)),
    )
}

/// Full-width ASCII (U+FF01–U+FF5E) and the ideographic space folded to their ASCII forms.
fn fold_full_width(text: &str) -> Cow<'_, str> {
    if text.is_ascii()
        || !text
            .chars()
            .any(|c| matches!(c, '\u{FF01}'..='\u{FF5E}' | '\u{3000}'))
    {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| match c {
                '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
                '\u{3000}' => ' ',
                _ => c,
            })
            .collect(),
    )
}

/// Trimmed, full-width folded to half-width, empty → null.
fn normalized(raw: &StringArray) -> StringArray {
    let mut out = StringBuilder::with_capacity(raw.len(), raw.value_data().len());
    for cell in raw.iter() {
        match cell.map(fold_full_width) {
            Some(text) if !text.trim().is_empty() => out.append_value(text.trim()),
            _ => out.append_null(),
        }
    }
    out.finish()
}

/// What [`clean_key`] changed in a key, for the warning on its cell.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct KeyChanges {
    /// Invisible characters removed.
    pub(crate) removed: Vec<char>,
    /// Full-width characters and unusual spaces folded to their plain form.
    pub(crate) folded: Vec<char>,
}

impl KeyChanges {
    pub(crate) fn is_empty(&self) -> bool {
        self.removed.is_empty() && self.folded.is_empty()
    }
}

/// Invisible format characters that come with copied and pasted ids: the BOM, zero-width
/// spaces and joiners, the word joiner, direction marks and the like (Unicode Cf). They are
/// never part of an id someone typed.
pub(crate) fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{E0001}'
            | '\u{E0020}'..='\u{E007F}'
    )
}

/// The plain form of a full-width ASCII character (Ａ → A) or of a space other than the ASCII
/// one (the ideographic space, no-break spaces, typographic spaces).
pub(crate) fn folded(c: char) -> Option<char> {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0),
        '\u{3000}' | '\u{00A0}' | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' => Some(' '),
        _ => None,
    }
}

/// Characters no one can type as part of an id: control characters (a tab or line break
/// included), line and paragraph separators, private-use characters, noncharacters, and
/// U+FFFD, which a failed decoding leaves behind.
pub(crate) fn cannot_be_typed(c: char) -> bool {
    let u = c as u32;
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{FFFD}')
        || (0xE000..=0xF8FF).contains(&u)
        || u >= 0xF0000
        || (0xFDD0..=0xFDEF).contains(&u)
        || (u & 0xFFFE) == 0xFFFE
}

/// Cleans one key (an id) per character class, as the README's table says: surrounding ASCII
/// spaces are trimmed; invisible characters are removed and full-width forms and unusual spaces
/// folded, and both are returned so the cell gets a warning; a character that cannot be typed
/// is an error naming it and its position (from 1). An id with nothing left is an error too.
pub(crate) fn clean_key(raw: &str) -> Result<(Cow<'_, str>, KeyChanges), Reason> {
    // Almost every id is plain ASCII: take it as it is.
    if raw.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
        let key = raw.trim_matches(' ');
        if key.is_empty() {
            return Err(Reason::KeyOnlyInvisible {
                removed: Vec::new(),
            });
        }
        return Ok((Cow::Borrowed(key), KeyChanges::default()));
    }
    let mut key = String::with_capacity(raw.len());
    let mut changes = KeyChanges::default();
    for (i, c) in raw.chars().enumerate() {
        if is_invisible(c) {
            changes.removed.push(c);
        } else if let Some(plain) = folded(c) {
            changes.folded.push(c);
            key.push(plain);
        } else if cannot_be_typed(c) {
            return Err(Reason::KeyCharacter {
                ch: c,
                position: i + 1,
            });
        } else {
            key.push(c);
        }
    }
    let trimmed = key.trim_matches(' ');
    if trimmed.is_empty() {
        return Err(Reason::KeyOnlyInvisible {
            removed: changes.removed,
        });
    }
    Ok((Cow::Owned(trimmed.to_string()), changes))
}

/// Cleans every column the file has (in parallel); `None` for table columns the file lacks.
pub(crate) fn clean(raw: &RawTable) -> Vec<Option<CleanColumn>> {
    raw.cells
        .par_iter()
        .zip(raw.table.columns)
        .map(|(cells, def)| {
            let cells = cells.as_ref()?;
            let text = match def.ty {
                // Free text is stored as written; keys are cleaned cell by cell in validation.
                ColumnType::Text => as_written(cells),
                _ => normalized(cells),
            };
            Some(CleanColumn { text })
        })
        .collect()
}
