//! Text encodings of county CSV files.
//!
//! Excel and WPS on Chinese Windows save CSV as GBK; newer tools write UTF-8, often with a BOM.
//! The encoding is decided per file on the evidence of its lines and reported, never guessed
//! silently: a byte sequence that is not valid in the chosen encoding, or a line that reads as
//! Chinese only in the other one, rejects its row, and is never replaced by U+FFFD.

use std::borrow::Cow;

use encoding_rs::{Encoding, GB18030};
use rayon::prelude::*;

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

/// What the lines of a file say about its encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Detected {
    pub(crate) encoding: TextEncoding,
    /// Bytes of byte-order mark to skip.
    pub(crate) skip: usize,
    /// Lines whose text reads best in the chosen encoding.
    pub(crate) chosen_lines: usize,
    /// The lines (numbered from 1, after the mark, as [`split_lines`] counts them) whose text
    /// reads best in the other encoding: rows pasted from another file.
    pub(crate) other_lines: Vec<u64>,
}

impl Detected {
    /// The other encoding a county file comes in: GBK for a UTF-8 file and the reverse.
    pub(crate) fn other(&self) -> TextEncoding {
        match self.encoding {
            TextEncoding::Gb18030 => TextEncoding::Utf8,
            _ => TextEncoding::Gb18030,
        }
    }
}

/// Which reading of one line is Chinese text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Vote {
    Utf8,
    Gb18030,
    /// Both read equally well (or neither decodes): no evidence.
    None,
}

/// Decides the encoding of a file on the evidence of its lines. A UTF-8 byte-order mark
/// decides on its own. Otherwise each line with non-ASCII bytes votes for the encoding whose
/// reading of it decodes and is the more plausible text of a Chinese county file (see
/// [`plausibility`]); "it decodes" alone is no evidence, since GB18030 decodes almost any
/// bytes and GBK bytes are often valid UTF-8. The file is read in the encoding most lines vote
/// for, UTF-8 on a tie; the lines that voted for the other are returned, to be rejected.
pub(crate) fn detect(bytes: &[u8]) -> Detected {
    let (bom, skip) = if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        (true, 3)
    } else {
        (false, 0)
    };
    // The lines vote in parallel, a stretch of whole lines per task; each stretch numbers its
    // lines from 1 and is shifted by the lines before it.
    let stretches: Vec<(Vec<u64>, Vec<u64>, u64)> = line_chunks(&bytes[skip..])
        .par_iter()
        .map(|chunk| {
            let (mut utf8, mut gb, mut lines) = (Vec::new(), Vec::new(), 0);
            let mut gb_text = String::new();
            for (i, line) in split_lines(chunk).enumerate() {
                lines = i as u64 + 1;
                if line.is_ascii() {
                    continue;
                }
                match vote(line, &mut gb_text) {
                    Vote::Utf8 => utf8.push(lines),
                    Vote::Gb18030 => gb.push(lines),
                    Vote::None => {}
                }
            }
            (utf8, gb, lines)
        })
        .collect();
    let mut utf8_lines = Vec::new();
    let mut gb_lines = Vec::new();
    let mut before = 0;
    for (utf8, gb, lines) in stretches {
        utf8_lines.extend(utf8.into_iter().map(|l| l + before));
        gb_lines.extend(gb.into_iter().map(|l| l + before));
        before += lines;
    }
    let (encoding, chosen, other) = if bom {
        (TextEncoding::Utf8Bom, utf8_lines, gb_lines)
    } else if gb_lines.len() > utf8_lines.len() {
        (TextEncoding::Gb18030, gb_lines, utf8_lines)
    } else {
        (TextEncoding::Utf8, utf8_lines, gb_lines)
    };
    Detected {
        encoding,
        skip,
        chosen_lines: chosen.len(),
        other_lines: other,
    }
}

/// Valid UTF-8 whose every character is plausible is UTF-8: GBK text is valid UTF-8 only as
/// letters of other scripts. Otherwise, when both decode, the reading with the higher mean
/// plausibility per character wins (a mean, because a misreading of UTF-8 as GBK has 1.5 times
/// the characters, many of them common by chance).
fn vote(line: &[u8], gb_text: &mut String) -> Vote {
    match std::str::from_utf8(line) {
        Ok(u) => {
            if u.chars().all(|c| c.is_ascii() || char_plausibility(c) >= 0) {
                return Vote::Utf8;
            }
            if !decode_gb18030_into(line, gb_text) {
                return Vote::Utf8;
            }
            let (su, nu) = plausibility(u);
            let (sg, ng) = plausibility(gb_text);
            // su / nu against sg / ng, without division.
            match (su * ng as i64).cmp(&(sg * nu as i64)) {
                std::cmp::Ordering::Greater => Vote::Utf8,
                std::cmp::Ordering::Less => Vote::Gb18030,
                std::cmp::Ordering::Equal => Vote::None,
            }
        }
        Err(_) if decode_gb18030_into(line, gb_text) => Vote::Gb18030,
        Err(_) => Vote::None,
    }
}

/// Stretches of whole lines of about a megabyte each, for work in parallel: each but the
/// last ends just after a `\n`, so a `\r\n` is never split and every stretch's lines are the
/// file's lines. (Neither GBK nor UTF-8 uses the byte `\n` inside a character.)
fn line_chunks(bytes: &[u8]) -> Vec<&[u8]> {
    const STRETCH: usize = 1 << 20;
    let mut out = Vec::new();
    let mut rest = bytes;
    while rest.len() > STRETCH {
        match rest[STRETCH..].iter().position(|b| *b == b'\n') {
            Some(i) => {
                let (chunk, tail) = rest.split_at(STRETCH + i + 1);
                out.push(chunk);
                rest = tail;
            }
            None => break,
        }
    }
    if !rest.is_empty() || out.is_empty() {
        out.push(rest);
    }
    out
}

/// The whole of a GB18030 file as UTF-8, decoded in parallel by stretches of lines; `None`
/// when some bytes do not decode (its cells are then decoded one by one, to say which).
pub(crate) fn decode_gb18030_whole(bytes: &[u8]) -> Option<String> {
    let parts: Vec<Cow<'_, str>> = line_chunks(bytes)
        .par_iter()
        .map(|chunk| GB18030.decode_without_bom_handling_and_without_replacement(chunk))
        .collect::<Option<_>>()?;
    let mut text = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for part in &parts {
        text.push_str(part);
    }
    Some(text)
}

/// Decodes `bytes` as GB18030 into `out` (reused between lines); false when they do not
/// decode.
fn decode_gb18030_into(bytes: &[u8], out: &mut String) -> bool {
    out.clear();
    out.reserve(bytes.len() * 3 / 2 + 4);
    let mut decoder = GB18030.new_decoder_without_bom_handling();
    let (result, _) = decoder.decode_to_string_without_replacement(bytes, out, true);
    matches!(result, encoding_rs::DecoderResult::InputEmpty)
}

/// The lines of a file as a text editor shows them: `\r\n`, `\n` and a lone `\r` (old Mac
/// files, or a CR typed into a cell) each end a line. GBK and UTF-8 never use these bytes
/// inside a character, so the split is the same in both.
pub(crate) fn split_lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = bytes;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        match rest.iter().position(|b| matches!(b, b'\r' | b'\n')) {
            Some(i) => {
                let line = &rest[..i];
                let next = if rest[i] == b'\r' && rest.get(i + 1) == Some(&b'\n') {
                    i + 2
                } else {
                    i + 1
                };
                rest = &rest[next..];
                Some(line)
            }
            None => {
                let line = rest;
                rest = &[];
                Some(line)
            }
        }
    })
}

/// How plausible `text` is as a line of a Chinese county's file, and of how many non-ASCII
/// characters: each character scores by its class. Common (GB2312 level-1) ideographs score most, then level-2 ideographs and the
/// punctuation Chinese text uses; letters of other scripts, control and private-use
/// characters and rare extension ideographs cost. Misreadings produce the costly classes:
/// UTF-8 read as GBK gives rare ideographs, kana and private-use characters, GBK read as UTF-8
/// gives Latin, Greek, IPA and Cyrillic letters.
pub(crate) fn plausibility(text: &str) -> (i64, usize) {
    text.chars()
        .filter(|c| !c.is_ascii())
        .fold((0, 0), |(sum, n), c| (sum + char_plausibility(c), n + 1))
}

fn char_plausibility(c: char) -> i64 {
    match u32::from(c) {
        0x4E00..=0x9FFF => match gb2312_level(c) {
            Some(1) => 3,
            Some(_) => 1,
            None => 0,
        },
        // CJK and full-width punctuation, general punctuation (“”—…), the middle dot of
        // minority names, ×÷°℃, Roman and circled numbers, geometric shapes and arrows.
        0x3000..=0x303F
        | 0xFF01..=0xFF5E
        | 0xFFE0..=0xFFE5
        | 0x2010..=0x2027
        | 0x2030..=0x203B
        | 0x00B7
        | 0x00D7
        | 0x00F7
        | 0x00B0
        | 0x2103
        | 0x2160..=0x217F
        | 0x2460..=0x24FF
        | 0x25A0..=0x25FF
        | 0x2190..=0x2199 => 1,
        // C1 control characters and private use: never typed.
        0x0080..=0x009F | 0xE000..=0xF8FF | 0xF0000.. => -3,
        // Latin-1 and Latin Extended letters, kana, rare ideographs: possible, seldom.
        0x00A0..=0x024F | 0x3040..=0x30FF | 0x3400..=0x4DBF | 0xF900..=0xFAFF | 0x20000.. => -1,
        // Letters of other scripts (IPA, Greek, Cyrillic, Hebrew, Arabic …), combining marks
        // and other symbols.
        _ => -2,
    }
}

/// The GB2312 level of an ideograph (1: the 3,755 common ones, 2: the 3,008 others), `None`
/// for ideographs outside GB2312. Built once by decoding every GB2312 ideograph's bytes.
fn gb2312_level(c: char) -> Option<u8> {
    static LEVELS: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    let levels = LEVELS.get_or_init(|| {
        let mut levels = vec![0u8; 0xA000 - 0x4E00];
        for lead in 0xB0u8..=0xF7 {
            for trail in 0xA1u8..=0xFE {
                let bytes = [lead, trail];
                let decoded = GB18030.decode_without_bom_handling_and_without_replacement(&bytes);
                if let Some(ch) = decoded.and_then(|s| s.chars().next()) {
                    let cp = u32::from(ch);
                    if (0x4E00..0xA000).contains(&cp) {
                        levels[(cp - 0x4E00) as usize] = if lead <= 0xD7 { 1 } else { 2 };
                    }
                }
            }
        }
        levels
    });
    let cp = u32::from(c);
    let level = *levels.get(usize::try_from(cp.checked_sub(0x4E00)?).ok()?)?;
    (level > 0).then_some(level)
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

/// Text for showing a position, such as the column of a character: undecodable bytes count
/// as one replacement character each. Never used for a value that is stored.
pub(crate) fn decode_lossy(bytes: &[u8], enc: TextEncoding) -> String {
    let encoding: &'static Encoding = match enc {
        TextEncoding::Utf8 | TextEncoding::Utf8Bom | TextEncoding::Utf16 => encoding_rs::UTF_8,
        TextEncoding::Gb18030 => GB18030,
    };
    encoding.decode_without_bom_handling(bytes).0.into_owned()
}

/// Decodes one field, or shows where it is broken: the text that decodes, with the bytes
/// that do not as `\xNN` (`南\xFF\xFE村`), so the user can find the cell.
pub(crate) fn decode_field(bytes: &[u8], enc: TextEncoding) -> Result<Cow<'_, str>, String> {
    let encoding: &'static Encoding = match enc {
        TextEncoding::Utf8 | TextEncoding::Utf8Bom | TextEncoding::Utf16 => encoding_rs::UTF_8,
        TextEncoding::Gb18030 => GB18030,
    };
    if let Some(s) = encoding.decode_without_bom_handling_and_without_replacement(bytes) {
        return Ok(s);
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

    /// A file of several stretches, with `\r\n` and lone `\r` line ends, and one UTF-8 row
    /// pasted far past the first stretch: its line number is the file's, not its stretch's.
    #[test]
    fn a_pasted_row_deep_in_a_big_file_keeps_its_line_number() {
        let mut text = String::from("组织编码,组织名称\r\n");
        for i in 0..90_000 {
            let end = if i % 1000 == 7 { "\r" } else { "\r\n" };
            text.push_str(&format!("B{i:05},古楼坪村第{i}党支部{end}"));
        }
        let (mut bytes, _, _) = GB18030.encode(&text);
        let bytes = bytes.to_mut();
        assert!(bytes.len() > 2 << 20, "more than two stretches");
        let lines_before = split_lines(bytes).count() as u64;
        bytes.extend_from_slice("B99999,南岗村党支部\n".as_bytes());
        bytes.extend_from_slice(&GB18030.encode("B99998,北岗村党支部\n").0);
        let detected = detect(bytes);
        assert_eq!(detected.encoding, TextEncoding::Gb18030);
        assert_eq!(detected.other_lines, vec![lines_before + 1]);
        assert_eq!(detected.chosen_lines as u64, lines_before + 1);
        // Decoded whole, in stretches, it is the file decoded in one piece.
        let (whole, _, _) = GB18030.encode(&text);
        assert_eq!(decode_gb18030_whole(&whole).as_deref(), Some(text.as_str()));
        // A byte that does not decode anywhere in it: not decoded whole.
        let mut broken = whole.to_vec();
        let at = broken.len() - 3;
        broken[at] = 0xFF;
        assert_eq!(decode_gb18030_whole(&broken), None);
    }

    #[test]
    fn gbk_bytes_are_detected_and_decoded() {
        let (bytes, _, _) = GB18030.encode("组织编码,组织名称\nB001,古楼坪村党支部\n");
        let detected = detect(&bytes);
        assert_eq!(
            (detected.encoding, detected.skip, detected.chosen_lines),
            (TextEncoding::Gb18030, 0, 2)
        );
        assert!(detected.other_lines.is_empty());
        assert_eq!(
            decode_field(&bytes[..8], detected.encoding).unwrap(),
            "组织编码"
        );
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
        let detected = detect(bytes);
        assert_eq!(
            (detected.encoding, detected.skip),
            (TextEncoding::Utf8Bom, 3)
        );
    }

    #[test]
    fn lines_end_as_an_editor_ends_them() {
        let lines: Vec<&[u8]> = split_lines(b"a\r\nb\rc\n\nd").collect();
        assert_eq!(lines, [&b"a"[..], b"b", b"c", b"", b"d"]);
    }

    #[test]
    fn common_chinese_outscores_its_misreadings() {
        // UTF-8 Chinese read as GBK, and GBK read as UTF-8.
        let mean = |s: &str| {
            let (sum, n) = plausibility(s);
            sum as f64 / n as f64
        };
        assert!(mean("古楼坪村") > mean("鍙ゆゼ鍧潙"));
        assert!(mean("缺席") > mean("缂哄腑"));
        assert!(mean("农庄") > mean("ũׯ"));
        assert_eq!(gb2312_level('村'), Some(1));
        assert_eq!(gb2312_level('鍙'), None);
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
