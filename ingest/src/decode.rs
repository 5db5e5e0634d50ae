//! Text encodings of county CSV files.
//!
//! Excel and WPS on Chinese Windows save CSV as GBK; newer tools write UTF-8, often with a BOM.
//! The encoding is detected per file and reported, never guessed silently: a byte sequence that
//! is not valid in the detected encoding rejects its row, and is never replaced by U+FFFD.

use encoding_rs::{Encoding, GB18030};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEncoding {
    Utf8,
    Utf8Bom,
    /// GB18030, the superset of GBK and GB2312 that Windows "ANSI" Chinese files use.
    Gb18030,
}

impl TextEncoding {
    pub fn label(self) -> &'static str {
        match self {
            TextEncoding::Utf8 => "UTF-8",
            TextEncoding::Utf8Bom => "UTF-8 with BOM",
            TextEncoding::Gb18030 => "GBK/GB18030",
        }
    }
}

/// Detects the encoding of a whole file: a UTF-8 BOM decides; otherwise UTF-8 when the bytes
/// are valid UTF-8; otherwise GB18030 when they decode as GB18030; otherwise whichever of the
/// two decodes more lines, and the lines that fail are rejected one by one.
/// Returns the encoding and how many bytes of BOM to skip.
pub fn detect(bytes: &[u8]) -> (TextEncoding, usize) {
    if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return (TextEncoding::Utf8Bom, 3);
    }
    if std::str::from_utf8(bytes).is_ok() {
        return (TextEncoding::Utf8, 0);
    }
    if decode_gb18030(bytes).is_some() {
        return (TextEncoding::Gb18030, 0);
    }
    let (mut utf8_ok, mut gb_ok) = (0usize, 0usize);
    for line in bytes.split(|b| *b == b'\n') {
        if line.is_ascii() {
            continue;
        }
        utf8_ok += usize::from(std::str::from_utf8(line).is_ok());
        gb_ok += usize::from(decode_gb18030(line).is_some());
    }
    if utf8_ok >= gb_ok {
        (TextEncoding::Utf8, 0)
    } else {
        (TextEncoding::Gb18030, 0)
    }
}

fn decode_gb18030(bytes: &[u8]) -> Option<String> {
    let enc: &'static Encoding = GB18030;
    enc.decode_without_bom_handling_and_without_replacement(bytes)
        .map(|s| s.into_owned())
}

/// Decodes one field, or returns the offending bytes (as hex) when they are not valid in `enc`.
pub fn decode_field(bytes: &[u8], enc: TextEncoding) -> Result<String, String> {
    let decoded = match enc {
        TextEncoding::Utf8 | TextEncoding::Utf8Bom => {
            std::str::from_utf8(bytes).ok().map(str::to_owned)
        }
        TextEncoding::Gb18030 => decode_gb18030(bytes),
    };
    decoded.ok_or_else(|| hex_preview(bytes))
}

/// The raw bytes of a field, as the user would see them in a hex editor.
pub fn hex_preview(bytes: &[u8]) -> String {
    let mut s: String = bytes
        .iter()
        .take(24)
        .map(|b| {
            if b.is_ascii_graphic() {
                (*b as char).to_string()
            } else {
                format!("\\x{b:02X}")
            }
        })
        .collect();
    if bytes.len() > 24 {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gbk_bytes_are_detected_and_decoded() {
        let (bytes, _, _) = GB18030.encode("组织编码,组织名称\nB001,古楼坪村党支部\n");
        let (enc, skip) = detect(&bytes);
        assert_eq!((enc, skip), (TextEncoding::Gb18030, 0));
        assert_eq!(decode_field(&bytes[..8], enc).unwrap(), "组织编码");
    }

    #[test]
    fn a_bom_is_utf8_and_skipped() {
        let bytes = b"\xEF\xBB\xBFunit_id\n";
        assert_eq!(detect(bytes), (TextEncoding::Utf8Bom, 3));
    }

    #[test]
    fn an_invalid_byte_is_reported_not_replaced() {
        let err = decode_field(b"ab\xFFcd", TextEncoding::Utf8).unwrap_err();
        assert_eq!(err, "ab\\xFFcd");
    }
}
