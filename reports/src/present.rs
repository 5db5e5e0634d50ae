//! How results look to people (the `table` format): Chinese column labels, rates as
//! percentages, money in yuan, the flag holder marked. Machines get the `csv`/`json`/`parquet`
//! output, which keeps the SPEC names and raw values.

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float64Type};
use arrow::util::display::{ArrayFormatter, FormatOptions};

/// The Chinese label of a result column (the column name itself when none is known).
pub fn label(column: &str) -> String {
    let zh = match column {
        "period" => "考核周期",
        "group_id" => "分组编码",
        "group_name" => "分组",
        "rank" => "名次",
        "branch_id" => "组织编码",
        "branch_name" => "党组织",
        "total" => "总分",
        "missing_indicators" => "缺项指标",
        "reward_yuan" => "奖励",
        "red_flag" => "流动红旗",
        "last_place" => "末位",
        "penalty" => "处理",
        "consecutive_flags" => "连续获旗",
        "rules_version" => "规则版本",
        "year" => "年度",
        "periods" => "参评期数",
        "flags" => "获旗次数",
        "best_rank" => "最好名次",
        "worst_rank" => "最差名次",
        "mean_total" => "平均分",
        "penalties" => "受处理次数",
        "bonus_funding" => "增加经费",
        "subsidy_cancelled" => "取消绩效补贴",
        "kind" => "类型",
        "unit_id" => "单元编码",
        "unit_name" => "网格单元",
        "orgs" => "组织数",
        "covered" => "已覆盖",
        "coverage_rate" => "覆盖率",
        "standalone" => "单独组建",
        "joint" => "联合组建",
        "standalone_rate" => "单独组建率",
        "finding" => "问题",
        "org_id" => "组织编号",
        "detail" => "说明",
        "month" => "月份",
        "name" => "名称",
        "meetings" => "会议次数",
        "expected" => "应到人次",
        "present" => "实到人次",
        "excused" => "请假人次",
        "absent" => "缺席人次",
        "rate" => "出勤率",
        "rate_change" => "环比",
        "quarter" => "季度",
        "compliant" => "达标",
        "missing" => "缺少",
        "member_id" => "党员编号",
        "member_name" => "姓名",
        "members" => "人数",
        "unexcused" => "无故缺席",
        "longest_run" => "最长连续缺席",
        "admonish" => "诫勉谈话",
        "discipline" => "组织处理",
        "base" => "基础分",
        "task" => "任务分",
        "reward" => "奖励分",
        "honor" => "表彰加分",
        "grade" => "等次",
        "violation" => "违纪",
        "top_share" => "前20%",
        "level" => "网格级别",
        "visits" => "走访次数",
        "households" => "走访户数",
        "issues_raised" => "收集问题",
        "issues_resolved" => "办结问题",
        "resolution_rate" => "办结率",
        other => return other.to_string(),
    };
    zh.to_string()
}

/// How marks are drawn: a terminal has emoji; print and spreadsheets get words, which every
/// font and printer has.
#[derive(Debug, Clone, Copy)]
pub struct Marks {
    red_flag: &'static str,
}

impl Marks {
    /// For a terminal: emoji.
    pub const TERMINAL: Marks = Marks { red_flag: "🚩" };
    /// For paper and spreadsheets: words.
    pub const PRINT: Marks = Marks {
        red_flag: "★流动红旗",
    };
}

/// Boolean columns shown as a mark on the rows where they hold, blank elsewhere.
const MARKS: &[&str] = &["red_flag", "top_share", "last_place"];

fn is_rate(column: &str) -> bool {
    column == "rate" || column.ends_with("_rate")
}

/// Whole yuan without decimals: ¥600, ¥62.5.
pub(crate) fn yuan(text: &str) -> String {
    let t = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        text
    };
    format!("¥{t}")
}

/// The Chinese spelling of a canonical enum value (`non_public` → `非公企业`).
pub(crate) fn canonical_to_chinese(value: &str) -> Option<&'static str> {
    use model::schema::{BRANCH_TYPES, ORG_KINDS};
    ORG_KINDS
        .iter()
        .chain(BRANCH_TYPES)
        .find(|v| v.canonical == value)
        .and_then(|v| v.spellings.first().copied())
}

/// One cell as a person reads it.
fn cell(
    column: &str,
    array: &ArrayRef,
    row: usize,
    formatter: &ArrayFormatter,
    marks: Marks,
) -> String {
    if array.is_null(row) {
        return String::new();
    }
    match array.data_type() {
        DataType::Boolean => {
            let v = array.as_boolean().value(row);
            match (column, v) {
                ("red_flag", true) => marks.red_flag.into(),
                ("top_share", true) => "★".into(),
                ("last_place", true) => "末位".into(),
                // Marks read best when only the marked rows carry them.
                (_, false) if MARKS.contains(&column) => String::new(),
                (_, true) => "是".into(),
                (_, false) => "否".into(),
            }
        }
        DataType::Float64 if column == "rate_change" => {
            let v = array.as_primitive::<Float64Type>().value(row) * 100.0;
            format!("{v:+.1} %")
        }
        DataType::Float64 if is_rate(column) => {
            let v = array.as_primitive::<Float64Type>().value(row) * 100.0;
            format!("{v:.1} %")
        }
        _ => {
            let text = formatter.value(row).to_string();
            if column == "reward_yuan" {
                yuan(&text)
            } else if column == "kind" {
                canonical_to_chinese(&text).map_or(text, str::to_string)
            } else {
                text
            }
        }
    }
}

/// The batches as rows of display strings (columns in the batches' order, named by `columns`).
pub fn humanize(
    batches: &[RecordBatch],
    columns: &[String],
    marks: Marks,
) -> Result<Vec<Vec<String>>, arrow::error::ArrowError> {
    let options = FormatOptions::default().with_null("");
    let mut rows = Vec::new();
    for batch in batches {
        let formatters = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()?;
        for r in 0..batch.num_rows() {
            rows.push(
                batch
                    .columns()
                    .iter()
                    .zip(&formatters)
                    .zip(columns)
                    .map(|((a, f), name)| cell(name, a, r, f, marks))
                    .collect(),
            );
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_drops_needless_decimals() {
        assert_eq!(yuan("600.00"), "¥600");
        assert_eq!(yuan("62.50"), "¥62.5");
        assert_eq!(yuan("0.00"), "¥0");
        assert_eq!(yuan("600"), "¥600");
    }
}
