//! `report.html`: one file with everything inlined — the charts as SVG, the styles, and a font
//! subset of exactly the characters on the page — so it opens on a machine with no network and
//! no Chinese fonts, and prints on A4 with table headers repeated on each page.
//!
//! The page is written in minijinja templates (`templates/`, compiled into the binary); this
//! module gives them the report as plain data ([`Page`]) and escapes every value they print.

use minijinja::{AutoEscape, Environment, Output, State, Value};
use serde::Serialize;

use crate::Report;
use crate::data::{Scope, percent_text};
use crate::error::ReportError;
use crate::font::{self, FAMILY};
use crate::tables::{
    ATTENDANCE_COLUMNS, COVERAGE_COLUMNS, FINDINGS_COLUMNS, Mark, POINTS_COLUMNS, Select, Table,
    rows_where, table,
};

/// The templates, by the names they include and import each other with.
const TEMPLATES: [(&str, &str); 4] = [
    ("page.html", include_str!("../templates/page.html")),
    ("body.html", include_str!("../templates/body.html")),
    ("macros.html", include_str!("../templates/macros.html")),
    ("style.css", include_str!("../templates/style.css")),
];

/// The auto-escaping of the `.html` templates: [`escape`] rather than minijinja's own HTML
/// escaping, which also rewrites `'` and `/` (in dates, rates and names) and would change the page.
const HTML: AutoEscape = AutoEscape::Custom("gridassess-html");

/// Text made safe for HTML content and double-quoted attributes.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Prints a value into a template: escaped in HTML unless it is markup made here (marked `safe`
/// in the templates: the charts' SVG, the font rule, the rendered body).
fn format(out: &mut Output, state: &State, value: &Value) -> Result<(), minijinja::Error> {
    if state.auto_escape() == HTML && !value.is_safe() {
        return out
            .write_str(&escape(&value.to_string()))
            .map_err(minijinja::Error::from);
    }
    minijinja::escape_formatter(out, state, value)
}

fn environment() -> Result<Environment<'static>, ReportError> {
    let mut env = Environment::new();
    // Block tags on lines of their own leave no trace, so the templates can be laid out for
    // reading and the page still comes out line for line as written.
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_keep_trailing_newline(true);
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html") {
            HTML
        } else {
            AutoEscape::None
        }
    });
    env.set_formatter(format);
    for (name, source) in TEMPLATES {
        env.add_template(name, source)
            .map_err(|source| ReportError::Template {
                template: name,
                source,
            })?;
    }
    Ok(env)
}

/// Everything the page shows, as the templates read it.
#[derive(Serialize)]
struct Page<'a> {
    county: &'a str,
    tenant_id: &'a str,
    /// `2024年第3期（5—6月）`, `2024年度`.
    scope: String,
    /// `2024-B3`, `2024`.
    scope_tag: String,
    whole_year: bool,
    rules_version: u32,
    generated_at: &'a str,
    figures: Figures,
    charts: Charts,
    tables: Tables,
}

/// The key figures, formatted.
#[derive(Serialize)]
struct Figures {
    flags: usize,
    /// `古楼坪村党支部（东岭镇）、…`; empty without flag holders.
    holders: String,
    rewards: String,
    penalties: usize,
    /// `某村党支部（某镇）：表态发言；…`; empty without penalties.
    penalty_list: String,
    attendance_rate: String,
    coverage_rate: String,
    standalone_rate: String,
    orgs: i64,
    covered: i64,
    standalone: i64,
}

/// The charts of each section, in the order they were drawn.
#[derive(Serialize)]
struct Charts {
    ranking: Vec<Figure>,
    totals: Vec<Figure>,
    attendance: Vec<Figure>,
    coverage: Vec<Figure>,
    points: Vec<Figure>,
    visits: Vec<Figure>,
}

#[derive(Serialize)]
struct Figure {
    name: String,
    /// The chart's SVG for inlining (markup, printed as is).
    svg: String,
}

#[derive(Serialize)]
struct Tables {
    ranking: TableView,
    attendance: TableView,
    compliance_gaps: TableView,
    alerts: TableView,
    coverage: TableView,
    findings: TableView,
    points: TableView,
    visits: TableView,
}

#[derive(Serialize)]
struct TableView {
    headers: Vec<String>,
    rows: Vec<Row>,
    /// More columns than a portrait page holds (the ranking with every indicator): the table
    /// prints on landscape pages.
    wide: bool,
}

#[derive(Serialize)]
struct Row {
    /// The row's highlight class: `flag` or `penalty`.
    mark: Option<&'static str>,
    cells: Vec<Cell>,
}

#[derive(Serialize)]
struct Cell {
    text: String,
    /// A number, set right-aligned.
    numeric: bool,
}

impl From<Table> for TableView {
    fn from(t: Table) -> TableView {
        let rows = t
            .text
            .into_iter()
            .zip(t.numbers)
            .zip(t.marks)
            .map(|((text, numbers), mark)| Row {
                mark: mark.map(|m| match m {
                    Mark::Flag => "flag",
                    Mark::Penalty => "penalty",
                }),
                cells: text
                    .into_iter()
                    .zip(numbers)
                    .map(|(text, n)| Cell {
                        text,
                        numeric: n.is_some(),
                    })
                    .collect(),
            })
            .collect();
        TableView {
            wide: t.headers.len() > 10,
            headers: t.headers,
            rows,
        }
    }
}

fn figures(report: &Report) -> Figures {
    let k = &report.figures;
    let rate = |n: i64| {
        (k.orgs > 0)
            .then(|| n as f64 / k.orgs as f64)
            .map_or("—".into(), percent_text)
    };
    Figures {
        flags: k.flag_holders.len(),
        holders: k
            .flag_holders
            .iter()
            .map(|(g, b)| format!("{b}（{g}）"))
            .collect::<Vec<_>>()
            .join("、"),
        rewards: crate::assemble::money(k.rewards_yuan),
        penalties: k.penalties.len(),
        penalty_list: k
            .penalties
            .iter()
            .map(|(g, b, s)| format!("{b}（{g}）：{s}"))
            .collect::<Vec<_>>()
            .join("；"),
        attendance_rate: k.attendance_rate.map_or("—".into(), percent_text),
        coverage_rate: rate(k.covered),
        standalone_rate: rate(k.standalone),
        orgs: k.orgs,
        covered: k.covered,
        standalone: k.standalone,
    }
}

fn charts(report: &Report) -> Charts {
    let section = |prefix: &str| {
        report
            .charts
            .iter()
            .filter(|c| c.name.starts_with(prefix))
            .map(|c| Figure {
                name: c.name.clone(),
                svg: c.svg_inline(),
            })
            .collect()
    };
    Charts {
        ranking: section("ranking_"),
        totals: section("totals_"),
        attendance: section("attendance_"),
        coverage: section("coverage"),
        points: section("points_"),
        visits: section("visit_"),
    }
}

fn tables(report: &Report) -> Result<Tables, ReportError> {
    let input = &report.input;
    let ranking = match &input.scope {
        Scope::Period(_) => table(
            "red_flag_ranking",
            &input.ranking,
            Select::AllBut(&["period", "group_id", "branch_id", "rules_version"]),
        )?,
        Scope::Year(_) => table(
            "red_flag_year",
            &input.year_summary,
            Select::AllBut(&["year", "group_id", "branch_id"]),
        )?,
    };
    let attendance = table(
        "attendance_monthly_by_unit",
        &rows_where(
            &input.attendance,
            "attendance_monthly_by_unit",
            "level",
            "2",
        )?,
        Select::Only(ATTENDANCE_COLUMNS),
    )?;
    Ok(Tables {
        ranking: ranking.into(),
        attendance: attendance.into(),
        compliance_gaps: table(
            "meeting_compliance",
            &input.compliance_gaps,
            Select::Only(&["quarter", "branch_name", "missing"]),
        )?
        .into(),
        alerts: table(
            "attendance_alerts",
            &input.alerts,
            Select::AllBut(&["year"]),
        )?
        .into(),
        coverage: table("coverage", &input.coverage, Select::Only(COVERAGE_COLUMNS))?.into(),
        findings: table(
            "coverage_findings",
            &input.findings,
            Select::Only(FINDINGS_COLUMNS),
        )?
        .into(),
        points: table("member_points", &input.points, Select::Only(POINTS_COLUMNS))?.into(),
        visits: table(
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
        )?
        .into(),
    })
}

fn render_template<S: Serialize>(
    env: &Environment<'_>,
    name: &'static str,
    context: S,
) -> Result<String, ReportError> {
    env.get_template(name)
        .and_then(|t| t.render(context))
        .map_err(|source| ReportError::Template {
            template: name,
            source,
        })
}

pub(crate) fn render(report: &Report) -> Result<String, ReportError> {
    let input = &report.input;
    let page = Page {
        county: &input.county,
        tenant_id: &input.tenant_id,
        scope: input.scope.label(),
        scope_tag: input.scope.tag(),
        whole_year: matches!(input.scope, Scope::Year(_)),
        rules_version: input.rules_version,
        generated_at: &input.generated_at,
        figures: figures(report),
        charts: charts(report),
        tables: tables(report)?,
    };
    let env = environment()?;
    let body = render_template(&env, "body.html", &page)?;
    // The font subset carries the characters of the body, which holds every text of the page
    // (the window title repeats the heading and the scope line).
    let face = font::font_face_css(&body, font::Packing::Woff2)?;
    render_template(
        &env,
        "page.html",
        minijinja::context! {
            county => &input.county,
            scope => &page.scope,
            family => FAMILY,
            face => face,
            body => body,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_for_html_as_before_and_markup_is_not() {
        let env = environment().unwrap();
        let out = env
            .render_named_str(
                "test.html",
                "<p title=\"{{ v }}\">{{ v }}</p>{{ svg|safe }}",
                minijinja::context! { v => "A&B <i>\"x\"</i> 2024/05 O'Neil", svg => "<svg/>" },
            )
            .unwrap();
        // `'` and `/` stay as they are: minijinja's own HTML escaping would rewrite them.
        assert_eq!(
            out,
            "<p title=\"A&amp;B &lt;i&gt;&quot;x&quot;&lt;/i&gt; 2024/05 O'Neil\">A&amp;B &lt;i&gt;&quot;x&quot;&lt;/i&gt; 2024/05 O'Neil</p><svg/>"
        );
    }
}
