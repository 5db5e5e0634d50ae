//! `report.html`: one file with everything inlined — the charts as SVG, the styles, and a font
//! subset of exactly the characters on the page — so it opens on a machine with no network and
//! no Chinese fonts, and prints on A4 with table headers repeated on each page.

use std::fmt::Write as _;

use crate::assemble::{holders_line, money};
use crate::data::{Scope, percent_text};
use crate::error::ReportError;
use crate::font::{self, FAMILY};
use crate::tables::{
    ATTENDANCE_COLUMNS, COVERAGE_COLUMNS, FINDINGS_COLUMNS, Mark, POINTS_COLUMNS, Select, Table,
    rows_where, table,
};
use crate::{Chart, Report};

const CSS: &str = r#"
@page { size: A4; margin: 14mm 12mm 16mm 12mm; }
* { box-sizing: border-box; }
body { font-family: FAMILY; color: #222; margin: 0 auto; max-width: 210mm; padding: 8mm 10mm; line-height: 1.5; font-size: 11pt; background: #fff; }
h1 { font-size: 20pt; margin: 0 0 2pt; font-weight: normal; letter-spacing: 1pt; }
h2 { font-size: 15pt; font-weight: normal; border-bottom: 1.5pt solid #D55E00; padding-bottom: 2pt; margin: 18pt 0 8pt; break-after: avoid; }
h3 { font-size: 12pt; font-weight: normal; margin: 12pt 0 4pt; break-after: avoid; }
.sub { color: #666; margin: 0 0 10pt; }
.figures { display: grid; grid-template-columns: repeat(3, 1fr); gap: 6pt; margin: 8pt 0 4pt; }
.figure { border: 0.75pt solid #ccc; border-radius: 3pt; padding: 5pt 8pt; break-inside: avoid; }
.figure .k { color: #666; font-size: 9.5pt; }
.figure .v { font-size: 17pt; }
.figure .d { font-size: 9pt; color: #444; }
.flag .v { color: #D55E00; }
figure { margin: 8pt 0 12pt; break-inside: avoid; }
figure svg { width: 100%; height: auto; display: block; }
figcaption { font-size: 9pt; color: #666; }
table { border-collapse: collapse; width: 100%; font-size: 9pt; margin: 4pt 0 10pt; }
thead { display: table-header-group; }
tr { break-inside: avoid; }
th, td { border: 0.5pt solid #bbb; padding: 2pt 4pt; text-align: left; vertical-align: top; }
th { background: #f2f2f2; font-weight: normal; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.flag td { background: #fbe3d3; }
tr.penalty td { background: #d9d9d9; font-weight: bold; }
.empty { color: #666; font-style: italic; }
footer { margin-top: 16pt; color: #666; font-size: 8.5pt; border-top: 0.5pt solid #ccc; padding-top: 4pt; }
/* Tables wider than a portrait page print on landscape pages of their own. */
@page wide { size: A4 landscape; margin: 10mm; }
.wide { page: wide; overflow-x: auto; }
.wide table { font-size: 8pt; }
.wide td { white-space: nowrap; }
@media print { body { padding: 0; max-width: none; } h2.page { break-before: page; } }
"#;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn figure(out: &mut String, c: &Chart) {
    let _ = write!(
        out,
        "<figure id=\"{}\">\n{}\n<figcaption>图片文件：charts/{}.png（插入文档用）、charts/{}.svg（屏幕用）</figcaption>\n</figure>\n",
        esc(&c.name),
        c.svg_inline(),
        esc(&c.name),
        esc(&c.name)
    );
}

fn table_html(out: &mut String, t: &Table, empty: &str) {
    if t.text.is_empty() {
        let _ = writeln!(out, "<h3>{}</h3>", esc(&t.title));
        let _ = writeln!(out, "<p class=\"empty\">{}</p>", esc(empty));
        return;
    }
    // Wide tables (the ranking with every indicator) get landscape pages.
    let wide = t.headers.len() > 10;
    if wide {
        out.push_str("<section class=\"wide\">\n");
    }
    let _ = writeln!(out, "<h3>{}</h3>", esc(&t.title));
    out.push_str("<table>\n<thead><tr>");
    for h in &t.headers {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for (r, row) in t.text.iter().enumerate() {
        let class = match t.marks[r] {
            Some(Mark::Flag) => " class=\"flag\"",
            Some(Mark::Penalty) => " class=\"penalty\"",
            None => "",
        };
        let _ = write!(out, "<tr{class}>");
        for (c, cell) in row.iter().enumerate() {
            let numeric = t.numbers[r][c].is_some();
            let _ = write!(
                out,
                "<td{}>{}</td>",
                if numeric { " class=\"n\"" } else { "" },
                esc(cell)
            );
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
    if wide {
        out.push_str("</section>\n");
    }
}

fn card(out: &mut String, class: &str, key: &str, value: &str, detail: &str) {
    let _ = writeln!(
        out,
        "<div class=\"figure {class}\"><div class=\"k\">{}</div><div class=\"v\">{}</div><div class=\"d\">{}</div></div>",
        esc(key),
        esc(value),
        esc(detail)
    );
}

pub(crate) fn render(report: &Report) -> Result<String, ReportError> {
    let input = &report.input;
    let k = &report.figures;
    let title = format!("{}基层党组织考核报告", input.county);
    let scope = input.scope.label();
    let mut body = String::new();
    let _ = write!(
        body,
        "<header>\n<h1>{}</h1>\n<p class=\"sub\">{} · 考核规则第 {} 版 · 生成于 {}</p>\n</header>\n",
        esc(&title),
        esc(&scope),
        input.rules_version,
        esc(&input.generated_at)
    );

    // Key figures.
    body.push_str("<section class=\"figures\">\n");
    let holders = holders_line(k);
    card(
        &mut body,
        "flag",
        "流动红旗",
        &format!("{} 个", k.flag_holders.len()),
        if holders.is_empty() {
            "本期无参评党组织"
        } else {
            &holders
        },
    );
    card(
        &mut body,
        "",
        "奖励合计",
        &money(k.rewards_yuan),
        "按名次和分数档次发放",
    );
    let penalties = k
        .penalties
        .iter()
        .map(|(g, b, s)| format!("{b}（{g}）：{s}"))
        .collect::<Vec<_>>()
        .join("；");
    card(
        &mut body,
        "",
        "末位处理",
        &format!("{} 个", k.penalties.len()),
        if penalties.is_empty() {
            "无"
        } else {
            &penalties
        },
    );
    card(
        &mut body,
        "",
        "全县出勤率",
        &k.attendance_rate.map_or("—".into(), percent_text),
        match input.scope {
            Scope::Period(_) => "本期各月组织生活实到人次 ÷ 应到人次",
            Scope::Year(_) => "全年组织生活实到人次 ÷ 应到人次",
        },
    );
    let rate = |n: i64| (k.orgs > 0).then(|| n as f64 / k.orgs as f64);
    card(
        &mut body,
        "",
        "两新组织党组织覆盖率",
        &rate(k.covered).map_or("—".into(), percent_text),
        &format!("{} 个组织中 {} 个已覆盖", k.orgs, k.covered),
    );
    card(
        &mut body,
        "",
        "单独组建率",
        &rate(k.standalone).map_or("—".into(), percent_text),
        &format!("{} 个组织单独建立党组织", k.standalone),
    );
    body.push_str("</section>\n");

    let charts = |prefix: &'static str| {
        report
            .charts
            .iter()
            .filter(move |c| c.name.starts_with(prefix))
    };

    body.push_str("<h2>一、流动红旗排名</h2>\n");
    for c in charts("ranking_") {
        figure(&mut body, c);
    }
    match &input.scope {
        Scope::Period(p) => table_html(
            &mut body,
            &table(
                &format!("{p} 排名明细（各项指标得分）"),
                "red_flag_ranking",
                &input.ranking,
                Select::AllBut(&["period", "group_id", "branch_id", "rules_version"]),
            )?,
            "本期没有参评的党组织",
        ),
        Scope::Year(y) => table_html(
            &mut body,
            &table(
                &format!("{y}年汇总"),
                "red_flag_year",
                &input.year_summary,
                Select::AllBut(&["year", "group_id", "branch_id"]),
            )?,
            "本年没有参评的党组织",
        ),
    }

    body.push_str("<h2 class=\"page\">二、各党组织全年走势</h2>\n");
    for c in charts("totals_") {
        figure(&mut body, c);
    }

    body.push_str("<h2 class=\"page\">三、组织生活与出勤</h2>\n");
    for c in charts("attendance_") {
        figure(&mut body, c);
    }
    table_html(
        &mut body,
        &table(
            "各乡镇每月出勤",
            "attendance_monthly_by_unit",
            &rows_where(
                &input.attendance,
                "attendance_monthly_by_unit",
                "level",
                "2",
            )?,
            Select::Only(ATTENDANCE_COLUMNS),
        )?,
        "本年没有组织生活记录",
    );
    table_html(
        &mut body,
        &table(
            "三会一课未达标（按季度）",
            "meeting_compliance",
            &input.compliance_gaps,
            Select::Only(&["quarter", "branch_name", "missing"]),
        )?,
        "各党支部各季度三会一课均达标",
    );
    table_html(
        &mut body,
        &table(
            "缺席预警",
            "attendance_alerts",
            &input.alerts,
            Select::AllBut(&["year"]),
        )?,
        "本年没有党员达到缺席预警条件",
    );

    body.push_str("<h2 class=\"page\">四、两个覆盖</h2>\n");
    for c in charts("coverage") {
        figure(&mut body, c);
    }
    table_html(
        &mut body,
        &table(
            "各乡镇覆盖情况",
            "coverage",
            &input.coverage,
            Select::Only(COVERAGE_COLUMNS),
        )?,
        "没有两新组织数据",
    );
    table_html(
        &mut body,
        &table(
            "需要处理的问题",
            "coverage_findings",
            &input.findings,
            Select::Only(FINDINGS_COLUMNS),
        )?,
        "没有发现问题",
    );

    body.push_str("<h2 class=\"page\">五、党员积分</h2>\n");
    for c in charts("points_") {
        figure(&mut body, c);
    }
    table_html(
        &mut body,
        &table(
            "各乡镇积分等次人数",
            "member_points",
            &input.points,
            Select::Only(POINTS_COLUMNS),
        )?,
        "本年没有积分记录",
    );

    body.push_str("<h2>六、网格走访</h2>\n");
    for c in charts("visit_") {
        figure(&mut body, c);
    }
    table_html(
        &mut body,
        &table(
            "各乡镇走访与办结",
            "grid_visits",
            &input.visits,
            Select::Only(&[
                "unit_name",
                "visits",
                "households",
                "issues_raised",
                "issues_resolved",
                "resolution_rate",
            ]),
        )?,
        "没有走访记录",
    );

    let _ = writeln!(
        body,
        "<footer>由 gridassess 根据 {} 的数据生成（租户 {}）。指标口径见 SPEC 第 4 节；本文件不引用任何网络资源，可离线打开和打印。</footer>",
        esc(&input.county),
        esc(&input.tenant_id)
    );

    let css = CSS.replace("FAMILY", FAMILY);
    let face = font::font_face_css(&format!("{title}{body}"), font::Packing::Woff2)?;
    Ok(format!(
        "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{} {}</title>\n<style>\n{face}\n{css}</style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        esc(&title),
        esc(&scope)
    ))
}
