//! Excel workbooks: one sheet per table, named in Chinese, with real date cells.

use arrow::array::AsArray;
use arrow::compute::cast;
use arrow::datatypes::DataType;
use ingest::{Reason, Severity};
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook, Worksheet, XlsxError};

use crate::common::{Loaded, assert_same_tables, load_case, reference_county, texts};
use crate::inputs::{issues, load_files, only_issue};

#[test]
fn a_workbook_with_a_sheet_per_table() {
    let loaded = load_case("valid/xlsx_workbook");
    assert_same_tables("xlsx_workbook", &loaded, &reference_county());
    assert_eq!(loaded.report.files.len(), 9);
    assert!(loaded.report.files.iter().all(|f| f.encoding.is_none()));
    // The instructions sheet names no table: skipped and said so, not rejected.
    let [skipped] = loaded.report.skipped.as_slice() else {
        panic!("{:?}", loaded.report.skipped);
    };
    assert!(skipped.path.ends_with("[填表说明]"), "{}", skipped.path);
}

/// Writes the cells of one sheet.
type Fill = dyn Fn(&mut Worksheet) -> Result<(), XlsxError>;

/// A workbook's bytes, with one sheet per `(name, fill)`.
fn workbook(sheets: &[(&str, &Fill)]) -> Vec<u8> {
    let mut book = Workbook::new();
    for (name, fill) in sheets {
        let sheet = book.add_worksheet();
        sheet.set_name(*name).expect("sheet name");
        fill(sheet).expect("fill sheet");
    }
    book.save_to_buffer().expect("workbook bytes")
}

/// Writes `rows` of text from row `first` (0-based) on.
fn write_rows(sheet: &mut Worksheet, first: u32, rows: &[&[&str]]) -> Result<(), XlsxError> {
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            if !cell.is_empty() {
                sheet.write_string(first + r as u32, c as u16, *cell)?;
            }
        }
    }
    Ok(())
}

const GRID_HEADER: &[&str] = &["unit_id", "parent_id", "level", "name", "leader"];

/// The grid's header and root, with `rest` written below by the test.
fn grid_with(
    rest: impl Fn(&mut Worksheet) -> Result<(), XlsxError>,
) -> impl Fn(&mut Worksheet) -> Result<(), XlsxError> {
    move |sheet| {
        write_rows(sheet, 0, &[GRID_HEADER, &["C", "", "0", "县"]])?;
        rest(sheet)
    }
}

fn load_workbook(bytes: Vec<u8>) -> Loaded {
    load_files(&[("县数据.xlsx", bytes)])
}

/// A formula saved by a tool that does not calculate has no value: in a required column the
/// row is rejected, in an optional one the row is kept without it, and both say why.
#[test]
fn a_formula_without_a_saved_value_is_reported_not_read_as_empty() {
    let bytes = workbook(&[(
        "grid_units",
        &grid_with(|sheet| {
            sheet.set_formula_result_default("");
            write_rows(
                sheet,
                2,
                &[&["U1", "C", "", "甲村"], &["U2", "C", "1", "乙村"]],
            )?;
            sheet.write_formula(2, 2, "=1+0")?;
            sheet.write_formula(3, 4, "=\"张\"&\"三\"")?;
            Ok(())
        }),
    )]);
    let loaded = load_workbook(bytes);
    let rejected = only_issue(&loaded, Severity::Rejected);
    assert_eq!(
        (rejected.line, rejected.column.as_deref(), &rejected.reason),
        (Some(3), Some("level"), &Reason::FormulaWithoutValue)
    );
    let warning = only_issue(&loaded, Severity::Warning);
    assert_eq!(
        (warning.line, warning.column.as_deref(), &warning.reason),
        (
            Some(4),
            Some("leader"),
            &Reason::KeptWithoutValue(Box::new(Reason::FormulaWithoutValue))
        )
    );
    assert_eq!(
        texts(&loaded, "grid_units", "unit_id"),
        [Some("C".into()), Some("U2".into())]
    );
    assert_eq!(texts(&loaded, "grid_units", "leader"), [None, None]);
}

/// A hidden sheet holding last year's grid, before the visible one: never read, and listed.
#[test]
fn hidden_sheets_are_skipped_and_listed() {
    let stale = |sheet: &mut Worksheet| {
        write_rows(sheet, 0, &[GRID_HEADER, &["C", "", "0", "旧县"]])?;
        sheet.set_hidden(true);
        Ok(())
    };
    let very_hidden = |sheet: &mut Worksheet| {
        write_rows(sheet, 0, &[GRID_HEADER, &["C", "", "0", "更旧的县"]])?;
        sheet.set_very_hidden(true);
        Ok(())
    };
    let current = |sheet: &mut Worksheet| {
        write_rows(sheet, 0, &[GRID_HEADER, &["C", "", "0", "县"]])?;
        sheet.set_active(true);
        Ok(())
    };
    let bytes = workbook(&[
        ("grid_units", &stale),
        ("旧网格", &very_hidden),
        ("网格单元", &current),
    ]);
    let loaded = load_workbook(bytes);
    assert_eq!(texts(&loaded, "grid_units", "name"), [Some("县".into())]);
    assert_eq!(loaded.report.files.len(), 1);
    let skipped: Vec<(&str, &str)> = loaded
        .report
        .skipped
        .iter()
        .map(|s| {
            (
                s.path.rsplit(' ').next().unwrap_or_default(),
                s.reason.as_str(),
            )
        })
        .collect();
    assert_eq!(
        skipped,
        [
            (
                "[grid_units]",
                "hidden sheet: not read; unhide it in Excel/WPS to load it"
            ),
            (
                "[旧网格]",
                "hidden sheet: not read; unhide it in Excel/WPS to load it"
            ),
        ]
    );
    assert!(
        loaded.report.issues.is_empty(),
        "{:#?}",
        loaded.report.issues
    );
}

/// Codes typed as numbers in a column formatted `000000` show their leading zeros; a number in
/// a text-formatted (`@`) column shows as typed. Both are read as shown.
#[test]
fn numbers_in_text_columns_are_read_as_their_format_shows_them() {
    let bytes = workbook(&[(
        "grid_units",
        &grid_with(|sheet| {
            let zeros = Format::new().set_num_format("000000");
            let text = Format::new().set_num_format("@");
            write_rows(
                sheet,
                2,
                &[&["", "C", "1", "甲村"], &["", "C", "1", "乙村"]],
            )?;
            sheet.write_number_with_format(2, 0, 7, &zeros)?;
            sheet.write_number_with_format(3, 0, 8, &text)?;
            Ok(())
        }),
    )]);
    let loaded = load_workbook(bytes);
    assert!(
        loaded.report.issues.is_empty(),
        "{:#?}",
        loaded.report.issues
    );
    assert_eq!(
        texts(&loaded, "grid_units", "unit_id"),
        [Some("000007".into()), Some("8".into()), Some("C".into())]
    );
}

/// An 18-digit number saved as a number kept 15 digits: a key is rejected, an optional text
/// kept without it, both saying to format the column as text.
#[test]
fn numbers_beyond_15_digits_in_text_columns_are_not_read() {
    let bytes = workbook(&[(
        "grid_units",
        &grid_with(|sheet| {
            write_rows(
                sheet,
                2,
                &[&["", "C", "1", "甲村"], &["U2", "C", "1", "乙村"]],
            )?;
            sheet.write_number(2, 0, 430281198001019914.0)?;
            sheet.write_number(3, 4, 430281198001019914.0)?;
            Ok(())
        }),
    )]);
    let loaded = load_workbook(bytes);
    let rejected = only_issue(&loaded, Severity::Rejected);
    assert_eq!(
        (rejected.line, rejected.column.as_deref(), &rejected.reason),
        (Some(3), Some("unit_id"), &Reason::LostDigits)
    );
    let warning = only_issue(&loaded, Severity::Warning);
    assert_eq!(
        (warning.line, &warning.reason),
        (
            Some(4),
            &Reason::KeptWithoutValue(Box::new(Reason::LostDigits))
        )
    );
    assert_eq!(texts(&loaded, "grid_units", "leader"), [None, None]);
}

/// Cells merged over several rows show their value in every row: so is it read, and each
/// region is reported.
#[test]
fn a_merged_region_fills_every_cell_and_is_reported() {
    let bytes = workbook(&[(
        "grid_units",
        &grid_with(|sheet| {
            let plain = Format::new();
            write_rows(
                sheet,
                2,
                &[
                    &["U1", "", "", "甲村"],
                    &["U2", "", "", "乙村"],
                    &["U3", "", "", "丙村"],
                ],
            )?;
            sheet.merge_range(2, 1, 4, 1, "C", &plain)?;
            sheet.merge_range(2, 2, 4, 2, "", &plain)?;
            sheet.write_number(2, 2, 1)?;
            Ok(())
        }),
    )]);
    let loaded = load_workbook(bytes);
    assert!(
        issues(&loaded, Severity::Rejected).is_empty(),
        "{:#?}",
        loaded.report.issues
    );
    let merged: Vec<(Option<u64>, Option<&str>, &Reason)> = issues(&loaded, Severity::Warning)
        .iter()
        .map(|i| (i.line, i.column.as_deref(), &i.reason))
        .collect();
    assert_eq!(
        merged,
        [
            (
                Some(3),
                Some("parent_id"),
                &Reason::MergedCells {
                    range: "B3:B5".into()
                }
            ),
            (
                Some(3),
                Some("level"),
                &Reason::MergedCells {
                    range: "C3:C5".into()
                }
            ),
        ]
    );
    assert_eq!(
        texts(&loaded, "grid_units", "parent_id"),
        [None, Some("C".into()), Some("C".into()), Some("C".into())]
    );
}

/// A county's tiny membership: the root, one branch and one member, for sheets that refer to
/// a member.
fn membership(book: &mut Vec<(&'static str, Box<Fill>)>) {
    book.push((
        "grid_units",
        Box::new(|s| write_rows(s, 0, &[GRID_HEADER, &["C", "", "0", "县"]])),
    ));
    book.push((
        "branches",
        Box::new(|s| {
            write_rows(
                s,
                0,
                &[
                    &["branch_id", "name", "unit_id", "type"],
                    &["B1", "甲支部", "C", "农村"],
                ],
            )
        }),
    ));
    book.push((
        "members",
        Box::new(|s| {
            write_rows(
                s,
                0,
                &[
                    &["member_id", "branch_id", "name", "status"],
                    &["M1", "B1", "张三", "正式"],
                ],
            )
        }),
    ));
}

/// Float noise (`19.499999999999996`, `0.1 + 0.2`) in a decimal column is read as
/// the two-place value it shows, when rounding moves it by less than 1e-9; a real third
/// place is still rejected.
#[test]
fn float_noise_in_a_decimal_column_is_rounded_to_two_places() {
    let mut sheets = Vec::new();
    membership(&mut sheets);
    sheets.push((
        "points",
        Box::new(|s: &mut Worksheet| {
            write_rows(
                s,
                0,
                &[
                    &["entry_id", "member_id", "month", "category", "points"],
                    &["P1", "M1", "2024-05", "基础分"],
                    &["P2", "M1", "2024-05", "基础分"],
                    &["P3", "M1", "2024-05", "基础分"],
                ],
            )?;
            s.write_number(1, 4, 19.499999999999996)?;
            s.write_number(2, 4, 0.1 + 0.2)?;
            s.write_number(3, 4, 19.495)?;
            Ok(())
        }),
    ));
    let refs: Vec<(&str, &Fill)> = sheets.iter().map(|(n, f)| (*n, f.as_ref())).collect();
    let loaded = load_workbook(workbook(&refs));
    let rejected = only_issue(&loaded, Severity::Rejected);
    assert_eq!(rejected.line, Some(4));
    assert_eq!(rejected.value.as_deref(), Some("19.495"));
    let (_, points) = loaded
        .tables
        .iter()
        .find(|(t, _)| *t == "points")
        .expect("points");
    let values = cast(
        points.column_by_name("points").expect("points"),
        &DataType::Utf8,
    )
    .expect("as text");
    let values: Vec<&str> = values.as_string::<i32>().iter().flatten().collect();
    assert_eq!(values, ["19.50", "0.30"]);
}

/// Excel serial days exist only in number cells of a workbook, and only a date column reads
/// them as dates; a date-time cell keeps its date and says what it did not store.
#[test]
fn serial_days_and_date_times_in_a_workbook_date_column() {
    let visits = |s: &mut Worksheet| {
        write_rows(
            s,
            0,
            &[
                &[
                    "visit_id",
                    "unit_id",
                    "visited_on",
                    "households",
                    "issues_raised",
                    "issues_resolved",
                ],
                &["V1", "C", "", "1", "0", "0"],
                &["V2", "C", "", "1", "0", "0"],
            ],
        )?;
        s.write_number(1, 2, 45413)?;
        let when = ExcelDateTime::from_ymd(2024, 5, 5)?.and_hms(8, 30, 0)?;
        s.write_datetime_with_format(
            2,
            2,
            &when,
            &Format::new().set_num_format("yyyy-mm-dd hh:mm"),
        )?;
        Ok(())
    };
    let bytes = workbook(&[("grid_units", &grid_with(|_| Ok(()))), ("visits", &visits)]);
    let loaded = load_workbook(bytes);
    assert!(
        issues(&loaded, Severity::Rejected).is_empty(),
        "{:#?}",
        loaded.report.issues
    );
    let warning = only_issue(&loaded, Severity::Warning);
    assert_eq!(
        (warning.line, &warning.reason),
        (
            Some(3),
            &Reason::TimeOfDay {
                time: "08:30".into()
            }
        )
    );
    assert_eq!(
        crate::dates::visit_dates(&loaded),
        [Some("2024-05-01".into()), Some("2024-05-05".into())]
    );
}
