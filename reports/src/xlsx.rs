//! `ranking.xlsx`: the ranking as the department prints it for the wall — a merged title row,
//! Chinese headers, the header frozen and repeated on every printed page, landscape A4 one page
//! wide, flag holders and penalties highlighted by conditional formats (so they stay right if
//! someone re-sorts). One sheet per township, a summary first, then coverage, attendance and
//! points.

use std::collections::BTreeSet;
use std::path::Path;

use rust_xlsxwriter::{
    ConditionalFormatFormula, Format, FormatAlign, FormatBorder, Workbook, Worksheet, XlsxError,
};

use crate::Report;
use crate::data::{Column, ReportInput, Scope};
use crate::error::ReportError;
use crate::tables::{
    ATTENDANCE_COLUMNS, COVERAGE_COLUMNS, FINDINGS_COLUMNS, POINTS_COLUMNS, Select, Table,
    rows_where, table,
};

const FONT: &str = "宋体";
/// A4 in Excel's paper-size list.
const A4: u8 = 9;

struct Formats {
    title: Format,
    header: Format,
    text: Format,
    wrap: Format,
    number: Format,
    percent: Format,
    money: Format,
    flag: Format,
    penalty: Format,
}

impl Formats {
    fn new() -> Formats {
        let base = Format::new().set_font_name(FONT).set_font_size(10.5);
        let cell = base
            .clone()
            .set_border(FormatBorder::Thin)
            .set_align(FormatAlign::VerticalCenter);
        Formats {
            title: base
                .clone()
                .set_font_size(16)
                .set_bold()
                .set_align(FormatAlign::Center)
                .set_align(FormatAlign::VerticalCenter),
            header: cell
                .clone()
                .set_bold()
                .set_background_color("F2F2F2")
                .set_text_wrap()
                .set_align(FormatAlign::Center),
            text: cell.clone(),
            wrap: cell.clone().set_text_wrap(),
            number: cell.clone().set_num_format("General"),
            percent: cell.clone().set_num_format("0.0%"),
            money: cell.clone().set_num_format("\"¥\"#,##0.##"),
            flag: Format::new()
                .set_background_color("FBE3D3")
                .set_font_color("A33F00"),
            penalty: Format::new().set_background_color("D9D9D9").set_bold(),
        }
    }
}

/// Display width in Excel's character units (a Chinese character is two).
fn width(s: &str) -> f64 {
    s.chars()
        .map(|c| if c.is_ascii() { 1.0 } else { 2.0 })
        .sum()
}

fn col_letter(c: usize) -> String {
    let mut n = c + 1;
    let mut s = String::new();
    while n > 0 {
        let r = (n - 1) % 26;
        s.insert(0, (b'A' + r as u8) as char);
        n = (n - 1) / 26;
    }
    s
}

/// A sheet name Excel accepts: at most 31 characters, none of `[]:*?/\`, unique.
fn sheet_name(wanted: &str, used: &mut BTreeSet<String>) -> String {
    let clean: String = wanted
        .chars()
        .map(|c| if "[]:*?/\\".contains(c) { '_' } else { c })
        .take(28)
        .collect();
    let mut name = if clean.is_empty() {
        "Sheet".to_string()
    } else {
        clean
    };
    let mut n = 2;
    while used.contains(&name.to_lowercase()) {
        name = format!("{}({n})", name.chars().take(26).collect::<String>());
        n += 1;
    }
    used.insert(name.to_lowercase());
    name
}

fn print_setup(sheet: &mut Worksheet, title: &str) -> Result<(), XlsxError> {
    sheet.set_landscape();
    sheet.set_paper_size(A4);
    sheet.set_print_fit_to_pages(1, 0);
    sheet.set_print_center_horizontally(true);
    sheet.set_repeat_rows(0, 1)?;
    sheet.set_freeze_panes(2, 0)?;
    sheet.set_header(format!("&L&\"{FONT}\"&9{}", title.replace('&', "&&")));
    sheet.set_footer(format!("&C&\"{FONT}\"&9第 &P 页，共 &N 页"));
    Ok(())
}

fn write_sheet(
    sheet: &mut Worksheet,
    title: &str,
    t: &Table,
    f: &Formats,
) -> Result<(), XlsxError> {
    let ncols = t.headers.len().max(1) as u16;
    if ncols > 1 {
        sheet.merge_range(0, 0, 0, ncols - 1, title, &f.title)?;
    } else {
        sheet.write_string_with_format(0, 0, title, &f.title)?;
    }
    sheet.set_row_height(0, 30)?;
    sheet.set_row_height(1, 30)?;
    let mut widths: Vec<f64> = t.headers.iter().map(|h| width(h).max(6.0)).collect();
    for (c, h) in t.headers.iter().enumerate() {
        sheet.write_string_with_format(1, c as u16, h, &f.header)?;
    }
    if t.text.is_empty() {
        sheet.write_string_with_format(2, 0, "（无数据）", &f.text)?;
    }
    for (r, row) in t.text.iter().enumerate() {
        let xr = r as u32 + 2;
        for (c, cell) in row.iter().enumerate() {
            let name = t.names[c].as_str();
            let xc = c as u16;
            match t.numbers[r][c] {
                Some(v) if Table::is_rate(name) => {
                    sheet.write_number_with_format(xr, xc, v, &f.percent)?
                }
                Some(v) if name == "reward_yuan" => {
                    sheet.write_number_with_format(xr, xc, v, &f.money)?
                }
                Some(v) => sheet.write_number_with_format(xr, xc, v, &f.number)?,
                None if matches!(name, "detail" | "missing") => {
                    sheet.write_string_with_format(xr, xc, cell, &f.wrap)?
                }
                None => sheet.write_string_with_format(xr, xc, cell, &f.text)?,
            };
            widths[c] = widths[c].max(width(cell));
        }
    }
    for (c, w) in widths.iter().enumerate() {
        let name = t.names.get(c).map(String::as_str).unwrap_or("");
        let cap = if matches!(name, "detail" | "missing") {
            50.0
        } else {
            30.0
        };
        sheet.set_column_width(c as u16, (w + 2.0).min(cap))?;
    }
    // Highlight rows by their mark columns, as conditional formats over the data rows.
    if !t.text.is_empty() {
        let last_row = t.text.len() as u32 + 1;
        let last_col = ncols - 1;
        if let Some(p) = t.names.iter().position(|n| n == "penalty") {
            let rule = ConditionalFormatFormula::new()
                .set_rule(format!("=${}3<>\"\"", col_letter(p)).as_str())
                .set_format(f.penalty.clone());
            sheet.add_conditional_format(2, 0, last_row, last_col, &rule)?;
        }
        if let Some(c) = t.names.iter().position(|n| n == "red_flag") {
            let rule = ConditionalFormatFormula::new()
                .set_rule(format!("=${}3<>\"\"", col_letter(c)).as_str())
                .set_format(f.flag.clone());
            sheet.add_conditional_format(2, 0, last_row, last_col, &rule)?;
        }
        if let Some(c) = t.names.iter().position(|n| n == "flags") {
            let rule = ConditionalFormatFormula::new()
                .set_rule(format!("=${}3>0", col_letter(c)).as_str())
                .set_format(f.flag.clone());
            sheet.add_conditional_format(2, 0, last_row, last_col, &rule)?;
        }
        if let Some(c) = t.names.iter().position(|n| n == "penalties") {
            let rule = ConditionalFormatFormula::new()
                .set_rule(format!("=${}3>0", col_letter(c)).as_str())
                .set_format(f.penalty.clone());
            sheet.add_conditional_format(2, 0, last_row, last_col, &rule)?;
        }
    }
    print_setup(sheet, title)
}

/// The summary: one row per township with its flag holder, last place and rewards.
fn summary(report: &Report) -> Result<Table, ReportError> {
    let input = &report.input;
    let (t, b) = match input.scope {
        Scope::Period(_) => ("red_flag_ranking", &input.ranking),
        Scope::Year(_) => ("red_flag_ranking", &input.year_periods),
    };
    let gid = Column::text(b, t, "group_id")?;
    let gname = Column::text(b, t, "group_name")?;
    let name = Column::text(b, t, "branch_name")?;
    let flag = Column::flag(b, t, "red_flag")?;
    let penalty = Column::text(b, t, "penalty")?;
    let reward = Column::float(b, t, "reward_yuan")?;
    let period = Column::text(b, t, "period")?;
    let last = Column::flag(b, t, "last_place")?;
    let mut groups: Vec<(String, String)> = Vec::new();
    for i in 0..gid.len() {
        if !groups.iter().any(|(g, _)| *g == gid[i]) {
            groups.push((gid[i].clone(), gname[i].clone()));
        }
    }
    let is_year = matches!(input.scope, Scope::Year(_));
    let mut text = Vec::new();
    let mut numbers = Vec::new();
    for (g, gn) in &groups {
        let rows: Vec<usize> = (0..gid.len()).filter(|&i| gid[i] == *g).collect();
        let branches: BTreeSet<&str> = rows.iter().map(|&i| name[i].as_str()).collect();
        let with_period = |i: usize, s: &str| {
            if is_year {
                format!("{}（{}）", s, period[i])
            } else {
                s.to_string()
            }
        };
        let flags: Vec<String> = rows
            .iter()
            .filter(|&&i| flag[i])
            .map(|&i| with_period(i, &name[i]))
            .collect();
        let lasts: Vec<String> = rows
            .iter()
            .filter(|&&i| last[i])
            .map(|&i| with_period(i, &name[i]))
            .collect();
        let pens: Vec<String> = rows
            .iter()
            .filter(|&&i| !penalty[i].is_empty())
            .map(|&i| with_period(i, &format!("{}：{}", name[i], penalty[i])))
            .collect();
        let money: f64 = rows.iter().filter_map(|&i| reward[i]).sum();
        text.push(vec![
            gn.clone(),
            branches.len().to_string(),
            flags.join("、"),
            lasts.join("、"),
            pens.join("；"),
            crate::assemble::money(money),
        ]);
        numbers.push(vec![
            None,
            Some(branches.len() as f64),
            None,
            None,
            None,
            Some(money),
        ]);
    }
    let names = [
        "group_name",
        "branches",
        "flag_holders",
        "last_places",
        "penalty",
        "reward_yuan",
    ];
    Ok(Table {
        names: names.iter().map(|s| s.to_string()).collect(),
        headers: [
            "乡镇",
            "参评党组织数",
            "流动红旗",
            "排名末位",
            "处理",
            "奖励合计",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        marks: vec![None; text.len()],
        text,
        numbers,
    })
}

/// The workbook being written: the sheet names taken so far, the formats, and what every sheet's
/// title starts with (county and scope).
struct Book<'a> {
    path: &'a Path,
    wb: Workbook,
    used: BTreeSet<String>,
    formats: Formats,
    heading: String,
}

impl Book<'_> {
    /// Adds a sheet named `name` (made acceptable to Excel) showing `table` under the title
    /// `<county> <scope> <what>`.
    fn add(&mut self, name: &str, what: &str, table: &Table) -> Result<(), ReportError> {
        let xerr = |source| ReportError::Xlsx {
            path: self.path.to_path_buf(),
            source,
        };
        let sheet = self
            .wb
            .add_worksheet()
            .set_name(sheet_name(name, &mut self.used))
            .map_err(xerr)?;
        let title = format!("{} {}", self.heading, what);
        write_sheet(sheet, &title, table, &self.formats).map_err(xerr)
    }
}

/// One sheet per township, in ranking order.
fn township_sheets(book: &mut Book<'_>, input: &ReportInput) -> Result<(), ReportError> {
    let (t, batches, skip): (&'static str, &Vec<_>, &[&str]) = match input.scope {
        Scope::Period(_) => (
            "red_flag_ranking",
            &input.ranking,
            &[
                "period",
                "group_id",
                "group_name",
                "branch_id",
                "rules_version",
            ],
        ),
        Scope::Year(_) => (
            "red_flag_year",
            &input.year_summary,
            &["year", "group_id", "group_name", "branch_id"],
        ),
    };
    let gid = Column::text(batches, t, "group_id")?;
    let gname = Column::text(batches, t, "group_name")?;
    let mut seen: Vec<String> = Vec::new();
    for (i, g) in gid.iter().enumerate() {
        if seen.contains(g) {
            continue;
        }
        seen.push(g.clone());
        let group_batches = rows_where(batches, t, "group_id", g)?;
        let table = table(t, &group_batches, Select::AllBut(skip))?;
        book.add(&gname[i], &format!("{} 流动红旗排名", gname[i]), &table)?;
    }
    Ok(())
}

/// Coverage, its findings, attendance and points, a sheet each.
fn subject_sheets(book: &mut Book<'_>, input: &ReportInput) -> Result<(), ReportError> {
    let sheets: [(&str, &str, Table); 4] = [
        (
            "两个覆盖",
            "两新组织党组织覆盖情况",
            table("coverage", &input.coverage, Select::Only(COVERAGE_COLUMNS))?,
        ),
        (
            "覆盖问题",
            "两新组织覆盖问题清单",
            table(
                "coverage_findings",
                &input.findings,
                Select::Only(FINDINGS_COLUMNS),
            )?,
        ),
        (
            "组织生活出勤",
            "各乡镇组织生活出勤",
            table(
                "attendance_monthly_by_unit",
                &input.attendance,
                Select::Only(ATTENDANCE_COLUMNS),
            )?,
        ),
        (
            "党员积分",
            "各乡镇党员积分等次人数",
            table("member_points", &input.points, Select::Only(POINTS_COLUMNS))?,
        ),
    ];
    for (name, what, table) in &sheets {
        book.add(name, what, table)?;
    }
    Ok(())
}

pub(crate) fn write(report: &Report, path: &Path) -> Result<(), ReportError> {
    let input = &report.input;
    let mut book = Book {
        path,
        wb: Workbook::new(),
        used: BTreeSet::new(),
        formats: Formats::new(),
        heading: format!("{} {}", input.county, input.scope.label()),
    };
    book.add("汇总", "流动红旗考核汇总", &summary(report)?)?;
    township_sheets(&mut book, input)?;
    subject_sheets(&mut book, input)?;
    book.wb.save(path).map_err(|source| ReportError::Xlsx {
        path: path.to_path_buf(),
        source,
    })
}
