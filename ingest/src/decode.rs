//! Text encodings of county CSV files.
//!
//! Excel and WPS on Chinese Windows save CSV as GBK; newer tools write UTF-8, often with a BOM.
//! The encoding is detected per file and reported, never guessed silently: a byte sequence that
//! is not valid in the detected encoding rejects its row, and is never replaced by U+FFFD.

use encoding_rs::{Encoding, GB18030};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TextEncoding {
    Utf8,
    Utf8Bom,
    /// GB18030, the superset of GBK and GB2312 that Windows "ANSI" Chinese files use.
    Gb18030,
    /// UTF-16 with a byte-order mark: what Excel's "Unicode text" export writes. The file is
    /// converted to UTF-8 as a whole before parsing.
    Utf16,
}

impl TextEncoding {
    pub(crate) fn label(self) -> &'static str {
        match self {
            TextEncoding::Utf8 => "UTF-8",
            TextEncoding::Utf8Bom => "UTF-8 with BOM",
            TextEncoding::Gb18030 => "GBK/GB18030",
            TextEncoding::Utf16 => "UTF-16",
        }
    }
}

/// Detects the encoding of a whole file: a UTF-8 BOM decides; otherwise UTF-8 when the bytes
/// are valid UTF-8; otherwise GB18030 when they decode as GB18030; otherwise whichever of the
/// two decodes more lines, and the lines that fail are rejected one by one.
/// Returns the encoding and how many bytes of BOM to skip.
pub(crate) fn detect(bytes: &[u8]) -> (TextEncoding, usize) {
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

/// A UTF-16 file (recognized by its byte-order mark) as UTF-8 text; `None` for any other file,
/// `Some(Err(offset))` with the byte offset of the first invalid sequence.
pub(crate) fn utf16_to_utf8(bytes: &[u8]) -> Option<Result<String, usize>> {
    let encoding = match bytes {
        [0xFF, 0xFE, ..] => encoding_rs::UTF_16LE,
        [0xFE, 0xFF, ..] => encoding_rs::UTF_16BE,
        _ => return None,
    };
    let body = &bytes[2..];
    Some(
        encoding
            .decode_without_bom_handling_and_without_replacement(body)
            .map(|s| s.into_owned())
            .ok_or_else(|| {
                let mut decoder = encoding.new_decoder_without_bom_handling();
                let mut out = String::with_capacity(body.len() * 2 + 16);
                let (_, read) = decoder.decode_to_string_without_replacement(body, &mut out, true);
                read + 2
            }),
    )
}

/// Decodes one field, or shows where it is broken: the text that decodes, with the bytes
/// that do not as `\xNN` (`南\xFF\xFE村`), so the user can find the cell.
pub(crate) fn decode_field(bytes: &[u8], enc: TextEncoding) -> Result<String, String> {
    let encoding: &'static Encoding = match enc {
        TextEncoding::Utf8 | TextEncoding::Utf8Bom | TextEncoding::Utf16 => encoding_rs::UTF_8,
        TextEncoding::Gb18030 => GB18030,
    };
    if let Some(s) = encoding.decode_without_bom_handling_and_without_replacement(bytes) {
        return Ok(s.into_owned());
    }
    let mut decoder = encoding.new_decoder_without_bom_handling();
    let mut shown = String::with_capacity(bytes.len() * 2);
    let mut rest = bytes;
    loop {
        let mut chunk = String::with_capacity(rest.len() * 3 + 16);
        let (result, read) = decoder.decode_to_string_without_replacement(rest, &mut chunk, true);
        shown.push_str(&chunk);
        match result {
            encoding_rs::DecoderResult::Malformed(bad, extra) => {
                // The malformed sequence ends `extra` bytes before what was read.
                let end = read - usize::from(extra);
                let start = end.saturating_sub(usize::from(bad));
                for b in &rest[start..end] {
                    shown.push_str(&format!("\\x{b:02X}"));
                }
                rest = &rest[read..];
            }
            encoding_rs::DecoderResult::InputEmpty | encoding_rs::DecoderResult::OutputFull => {
                if read >= rest.len() {
                    break;
                }
                rest = &rest[read..];
            }
        }
    }
    Err(shown)
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
    fn utf16_with_a_bom_becomes_utf8() {
        let mut bytes = vec![0xFF, 0xFE];
        for u in "组织编码\tB1\n".encode_utf16() {
            bytes.extend_from_slice(&u.to_le_bytes());
        }
        assert_eq!(
            utf16_to_utf8(&bytes),
            Some(Ok("组织编码\tB1\n".to_string()))
        );
        assert_eq!(utf16_to_utf8(b"plain"), None);
        assert!(matches!(
            utf16_to_utf8(&[0xFF, 0xFE, 0x00, 0xD8]),
            Some(Err(_))
        ));
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
        let (gbk, _, _) = GB18030.encode("南桥村");
        let mut broken = gbk[..2].to_vec();
        broken.extend_from_slice(b"\xFF");
        broken.extend_from_slice(&gbk[2..]);
        assert_eq!(
            decode_field(&broken, TextEncoding::Gb18030).unwrap_err(),
            "南\\xFF桥村"
        );
    }
}
