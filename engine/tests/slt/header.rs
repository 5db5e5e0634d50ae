//! The header of an `.slt` file: directives in the comment lines before its first record.
//!
//! ```text
//! # rules: quarterly.toml
//! # known disagreement: why the view and SPEC §4 differ here
//! ```
//!
//! They are plain comments to sqllogictest, so a file stays a valid `.slt` file. Any other
//! comment is just a comment (the files open with a line like `# red_flag_ranking: SPEC §4 …`).

/// What a file's header asks for.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Header {
    /// A rules file under `rules/`; `None` for the default rules.
    pub(crate) rules: Option<String>,
    /// Why the file, written as SPEC §4 expects, fails against the views as they are.
    pub(crate) known_disagreement: Option<String>,
}

const RULES: &str = "rules";
const KNOWN_DISAGREEMENT: &str = "known disagreement";

/// Reads the header of `text`. A directive after the first record, a directive given twice,
/// an empty value, or a rules name that is not a file name in `rules/` is an error: each would
/// otherwise run the file under rules it does not mean.
pub(crate) fn parse(text: &str) -> Result<Header, String> {
    let mut header = Header::default();
    let mut in_header = true;
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let trimmed = line.trim();
        let Some(comment) = trimmed.strip_prefix('#') else {
            in_header &= trimmed.is_empty();
            continue;
        };
        let Some((key, value)) = comment.split_once(':') else {
            continue;
        };
        let key = key.trim();
        let slot = match key {
            RULES => &mut header.rules,
            KNOWN_DISAGREEMENT => &mut header.known_disagreement,
            _ => continue,
        };
        if !in_header {
            return Err(format!(
                "line {line_no}: `# {key}:` belongs in the header, before the first record"
            ));
        }
        if slot.is_some() {
            return Err(format!("line {line_no}: `# {key}:` is given twice"));
        }
        let value = value.trim();
        if value.is_empty() {
            return Err(format!("line {line_no}: `# {key}:` has no value"));
        }
        if key == RULES && !is_plain_file_name(value) {
            return Err(format!(
                "line {line_no}: rules '{value}' is not a file name in rules/"
            ));
        }
        *slot = Some(value.to_string());
    }
    Ok(header)
}

/// A name of a file directly in `rules/`: no folders, no way out of it.
fn is_plain_file_name(name: &str) -> bool {
    !name.contains(['/', '\\']) && !name.starts_with('.')
}

pub(crate) mod tests {
    //! Run as trials by `main` (a `harness = false` binary has no `#[test]`).

    use super::*;

    fn expect(text: &str, want: Result<Header, &str>) -> Result<(), String> {
        let got = parse(text);
        let ok = match (&got, &want) {
            (Ok(g), Ok(w)) => g == w,
            (Err(g), Err(w)) => g.contains(w),
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(format!("{text:?}: expected {want:?}, got {got:?}"))
        }
    }

    pub(crate) fn a_header_names_rules_and_a_known_disagreement() -> Result<(), String> {
        expect(
            "# red_flag_ranking: a comment: not a directive\n\
             #rules:  quarterly.toml \n\
             \n\
             # known disagreement: ties\n\
             include _data.slt.part\n",
            Ok(Header {
                rules: Some("quarterly.toml".into()),
                known_disagreement: Some("ties".into()),
            }),
        )?;
        expect("statement ok\nSELECT 1\n", Ok(Header::default()))?;
        expect(
            "# rules: a.toml\n# rules: b.toml\n",
            Err("line 2: `# rules:` is given twice"),
        )?;
        expect("# rules:\n", Err("line 1: `# rules:` has no value"))
    }

    pub(crate) fn a_directive_after_the_first_record_is_refused() -> Result<(), String> {
        expect(
            "# a comment\n\nstatement ok\nSELECT 1\n\n# rules: quarterly.toml\n",
            Err("line 6: `# rules:` belongs in the header"),
        )?;
        // An ordinary comment further down is fine.
        expect(
            "statement ok\nSELECT 1\n\n# the ranks: 1, 2, 2, 4\n",
            Ok(Header::default()),
        )
    }

    pub(crate) fn a_rules_name_outside_the_rules_folder_is_refused() -> Result<(), String> {
        expect(
            "# rules: ../../../model/src/default_rules.toml\n",
            Err("is not a file name in rules/"),
        )?;
        expect(
            "# rules: .hidden.toml\n",
            Err("is not a file name in rules/"),
        )
    }
}
