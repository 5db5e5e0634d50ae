//! The sample in the form a county hands it over: Chinese headers and values, some CSVs saved
//! by Excel on Chinese Windows (GBK, dates as 2024/5/5), some saved by newer tools (UTF-8 with
//! a BOM), and one workbook with several tables as sheets with real date and number cells.

use std::path::Path;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Date32Type, Decimal128Type, Int64Type};
use model::schema::{ColumnDef, ColumnType, EnumValue, TableDef};
use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook, Worksheet, XlsxError};

use super::GenerateError;
use super::dates::ymd;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DateStyle {
    /// 2024-05-05
    Iso,
    /// 2024/5/5, as Excel on Chinese Windows exports dates.
    Slash,
    /// 2024年5月5日
    Chinese,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    Gbk(DateStyle),
    Utf8Bom(DateStyle),
    Sheet,
}

/// Which file each table goes to; every table exactly once.
fn form(table: &str) -> Form {
    match table {
        "grid_units" | "branches" | "members" => Form::Gbk(DateStyle::Slash),
        "meetings" => Form::Utf8Bom(DateStyle::Chinese),
        "attendance" => Form::Utf8Bom(DateStyle::Iso),
        _ => Form::Sheet,
    }
}

/// The workbook's name for a county.
pub(crate) fn workbook_name(county: &str) -> String {
    format!("{county}考核数据.xlsx")
}

/// The files the hand-over form of `tables` consists of, in writing order.
pub(crate) fn file_names(county: &str, tables: &[&'static TableDef]) -> Vec<String> {
    let mut out: Vec<String> = tables
        .iter()
        .filter(|t| form(t.name) != Form::Sheet)
        .map(|t| format!("{}.csv", t.zh))
        .collect();
    if tables.iter().any(|t| form(t.name) == Form::Sheet) {
        out.push(workbook_name(county));
    }
    out
}

/// The spelling a Chinese county file uses for a canonical value: the value itself when it is
/// Chinese (性别 男/女), otherwise its first Chinese spelling.
fn zh_enum(values: &[EnumValue], canonical: &str) -> String {
    values
        .iter()
        .find(|v| v.canonical == canonical)
        .map(|v| {
            if !v.canonical.is_ascii() {
                v.canonical
            } else {
                v.spellings
                    .iter()
                    .find(|s| !s.is_ascii())
                    .copied()
                    .unwrap_or(v.canonical)
            }
        })
        .unwrap_or(canonical)
        .to_string()
}

/// `2024-B3` → `2024年5-6月`, the way assessment sheets head their periods.
fn zh_period(p: &str) -> String {
    match p.split_once("-B").map(|(y, n)| (y, n.parse::<u32>())) {
        Some((y, Ok(n))) if (1..=6).contains(&n) => format!("{y}年{}-{}月", 2 * n - 1, 2 * n),
        _ => p.to_string(),
    }
}

/// `2024-05` → `2024年5月`.
fn zh_month(m: &str) -> String {
    match m.split_once('-').map(|(y, n)| (y, n.parse::<u32>())) {
        Some((y, Ok(n))) => format!("{y}年{n}月"),
        _ => m.to_string(),
    }
}

/// Hundredths as a person types them: 1850 → `18.5`, 9500 → `95`, 925 → `9.25`.
use model::rules::hundredths_text as cents_text;

fn date_text(z: i32, style: DateStyle) -> String {
    let (y, m, d) = ymd(z);
    match style {
        DateStyle::Iso => format!("{y:04}-{m:02}-{d:02}"),
        DateStyle::Slash => format!("{y}/{m}/{d}"),
        DateStyle::Chinese => format!("{y}年{m}月{d}日"),
    }
}

/// A cell as text in a Chinese county file; `None` for an empty cell.
fn cell_text(def: &ColumnDef, col: &dyn Array, row: usize, style: DateStyle) -> Option<String> {
    if col.is_null(row) {
        return None;
    }
    Some(match &def.ty {
        ColumnType::Int { .. } => col.as_primitive::<Int64Type>().value(row).to_string(),
        ColumnType::Decimal => cents_text(col.as_primitive::<Decimal128Type>().value(row)),
        ColumnType::Date => date_text(col.as_primitive::<Date32Type>().value(row), style),
        ColumnType::Bool { .. } => if col.as_boolean().value(row) {
            "是"
        } else {
            "否"
        }
        .to_string(),
        ColumnType::Enum(values) => zh_enum(values, col.as_string::<i32>().value(row)),
        ColumnType::Period => zh_period(col.as_string::<i32>().value(row)),
        ColumnType::Month => zh_month(col.as_string::<i32>().value(row)),
        ColumnType::Text | ColumnType::IdNumber => col.as_string::<i32>().value(row).to_string(),
    })
}

fn csv_field(out: &mut String, s: &str) {
    if s.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(s);
    }
}

/// The table as CSV text with Chinese headers and CRLF line ends, as Excel saves it.
fn csv_text(table: &TableDef, batch: &RecordBatch, style: DateStyle) -> String {
    let mut out = String::new();
    for (i, c) in table.columns.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        csv_field(&mut out, c.zh);
    }
    out.push_str("\r\n");
    for row in 0..batch.num_rows() {
        for (i, c) in table.columns.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            if let Some(text) = cell_text(c, batch.column(i).as_ref(), row, style) {
                csv_field(&mut out, &text);
            }
        }
        out.push_str("\r\n");
    }
    out
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<u64, GenerateError> {
    std::fs::write(path, bytes).map_err(|source| GenerateError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(bytes.len() as u64)
}

fn gbk(path: &Path, text: &str) -> Result<Vec<u8>, GenerateError> {
    let (bytes, _, unmappable) = encoding_rs::GBK.encode(text);
    if unmappable {
        // Name the first line that GBK cannot hold.
        let line = text
            .lines()
            .find(|l| encoding_rs::GBK.encode(l).2)
            .unwrap_or_default();
        return Err(GenerateError::NotGbk {
            path: path.to_path_buf(),
            text: line.to_string(),
        });
    }
    Ok(bytes.into_owned())
}

/// Writes the hand-over files into `dir`; returns their total size in bytes.
pub(crate) fn write(
    dir: &Path,
    county: &str,
    tables: &[(&'static TableDef, RecordBatch)],
) -> Result<u64, GenerateError> {
    let mut bytes = 0;
    let mut sheets = Vec::new();
    for (table, batch) in tables {
        match form(table.name) {
            Form::Gbk(style) => {
                let path = dir.join(format!("{}.csv", table.zh));
                let encoded = gbk(&path, &csv_text(table, batch, style))?;
                bytes += write_file(&path, &encoded)?;
            }
            Form::Utf8Bom(style) => {
                let path = dir.join(format!("{}.csv", table.zh));
                let mut encoded = vec![0xEF, 0xBB, 0xBF];
                encoded.extend_from_slice(csv_text(table, batch, style).as_bytes());
                bytes += write_file(&path, &encoded)?;
            }
            Form::Sheet => sheets.push((*table, batch)),
        }
    }
    if !sheets.is_empty() {
        let path = dir.join(workbook_name(county));
        let xlsx = |source: XlsxError| GenerateError::Xlsx {
            path: path.clone(),
            source,
        };
        let data = workbook(county, &sheets).map_err(xlsx)?;
        bytes += write_file(&path, &data)?;
    }
    Ok(bytes)
}

fn workbook(
    county: &str,
    sheets: &[(&'static TableDef, &RecordBatch)],
) -> Result<Vec<u8>, XlsxError> {
    let mut wb = Workbook::new();
    // A fixed creation time: otherwise the file would change with every run.
    let created = ExcelDateTime::from_ymd(2025, 1, 6)?.and_hms(9, 0, 0)?;
    wb.set_properties(
        &DocProperties::new()
            .set_title(format!("{county}党建考核数据（2024年度）"))
            .set_author("gridassess 示范数据生成器")
            .set_comment("程序生成的虚构示范数据：县名、人名、身份证号、电话均为虚构。")
            .set_creation_datetime(&created),
    );
    let header = Format::new().set_bold().set_background_color("#DDEBF7");
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let decimal = Format::new().set_num_format("0.00");

    let notes = wb.add_worksheet();
    notes.set_name("填表说明")?;
    notes.set_column_width(0, 90)?;
    let lines = [
        format!("{county}：考核评分、两新组织、党员积分、走访记录"),
        "本工作簿为程序生成的虚构示范数据，县名、人名、身份证号（顺序码9xx）、电话（10开头）均为虚构。".to_string(),
        "考核周期按两个月一期填写（如“2024年1-2月”）；日期列为日期格式；分值保留两位小数。".to_string(),
        "各工作表名称即数据表名称，第一行为列名，请勿改动。".to_string(),
    ];
    for (i, line) in lines.iter().enumerate() {
        notes.write_string(i as u32, 0, line)?;
    }

    for (table, batch) in sheets {
        let ws = wb.add_worksheet();
        ws.set_name(table.zh)?;
        for (c, def) in table.columns.iter().enumerate() {
            ws.write_string_with_format(0, c as u16, def.zh, &header)?;
            ws.set_column_width(c as u16, column_width(def))?;
        }
        ws.set_freeze_panes(1, 0)?;
        for row in 0..batch.num_rows() {
            let r = row as u32 + 1;
            for (c, def) in table.columns.iter().enumerate() {
                write_cell(
                    ws,
                    r,
                    c as u16,
                    def,
                    batch.column(c).as_ref(),
                    row,
                    &date,
                    &decimal,
                )?;
            }
        }
    }
    wb.save_to_buffer()
}

fn column_width(def: &ColumnDef) -> f64 {
    match def.name {
        "name" => 30.0,
        "id_number" | "reason" | "theme" => 24.0,
        "period" | "month" | "unit_id" => 14.0,
        _ => 12.0,
    }
}

#[allow(clippy::too_many_arguments)]
fn write_cell(
    ws: &mut Worksheet,
    r: u32,
    c: u16,
    def: &ColumnDef,
    col: &dyn Array,
    row: usize,
    date: &Format,
    decimal: &Format,
) -> Result<(), XlsxError> {
    if col.is_null(row) {
        return Ok(());
    }
    match def.ty {
        ColumnType::Int { .. } => {
            ws.write_number(r, c, col.as_primitive::<Int64Type>().value(row) as f64)?;
        }
        ColumnType::Decimal => {
            let cents = col.as_primitive::<Decimal128Type>().value(row);
            ws.write_number_with_format(r, c, cents as f64 / 100.0, decimal)?;
        }
        ColumnType::Date => {
            let (y, m, d) = ymd(col.as_primitive::<Date32Type>().value(row));
            let when = ExcelDateTime::from_ymd(y as u16, m as u8, d as u8)?;
            ws.write_datetime_with_format(r, c, &when, date)?;
        }
        _ => {
            if let Some(text) = cell_text(def, col, row, DateStyle::Iso) {
                ws.write_string(r, c, text)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_forms() {
        assert_eq!(zh_period("2024-B1"), "2024年1-2月");
        assert_eq!(zh_period("2024-B6"), "2024年11-12月");
        assert_eq!(zh_month("2024-05"), "2024年5月");
        assert_eq!(cents_text(1850), "18.5");
        assert_eq!(cents_text(9500), "95");
        assert_eq!(cents_text(925), "9.25");
        assert_eq!(cents_text(-200), "-2");
        assert_eq!(
            zh_enum(model::schema::BRANCH_TYPES, "private_enterprise"),
            "非公企业"
        );
        assert_eq!(zh_enum(model::schema::GENDERS, "女"), "女");
        assert_eq!(
            zh_enum(model::schema::MEETING_KINDS, "theme_day"),
            "主题党日"
        );
        assert_eq!(
            date_text(crate::generate::dates::days(2024, 5, 5), DateStyle::Slash),
            "2024/5/5"
        );
        // Every table goes to exactly one file.
        let all: Vec<&'static TableDef> = model::schema::TABLES.iter().collect();
        let files = file_names("醴陵示范县", &all);
        assert_eq!(files.len(), 6);
        assert!(files.contains(&"醴陵示范县考核数据.xlsx".to_string()));
    }
}
