//! `report` on the sample county: PNG and SVG charts with Chinese labels, `report.html` that
//! loads nothing from the network and renders in a real browser, and `ranking.xlsx` as a real
//! reader (openpyxl) sees it. Needs `python3` with `openpyxl` and Debian's `chromium`;
//! `.ci/run` installs both.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::Warehouse;

/// The sample county loaded as tenant `t`, with a report for `scope` written to `out`.
struct Sample {
    w: Warehouse,
    out: PathBuf,
    stdout: String,
}

fn sample_report(scope: &[&str]) -> Sample {
    let w = Warehouse::new();
    w.load_sample();
    let out = w.dir.path().join("report");
    let mut args = vec!["report", "--tenant", "t"];
    args.extend_from_slice(scope);
    args.extend(["--out", out.to_str().expect("path")]);
    let stdout = w.ok(&args);
    Sample { w, out, stdout }
}

/// Branch names of one township in the period's ranking, from the CSV output.
fn branch_names(w: &Warehouse, period: &str, group: &str) -> Vec<String> {
    let csv = w.ok(&[
        "assess", "--tenant", "t", "--period", period, "--format", "csv",
    ]);
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let gi = header
        .iter()
        .position(|h| *h == "group_id")
        .expect("group_id");
    let ni = header
        .iter()
        .position(|h| *h == "branch_name")
        .expect("branch_name");
    lines
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|f| f[gi] == group)
        .map(|f| f[ni].to_string())
        .collect()
}

/// Text elements of an SVG: (x, y, font size, anchor, content).
fn svg_texts(svg: &str) -> Vec<(f64, f64, f64, String, String)> {
    let attr = |tag: &str, name: &str| -> Option<String> {
        let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
        let end = tag[start..].find('"')? + start;
        Some(tag[start..end].to_string())
    };
    let mut out = Vec::new();
    let mut rest = svg;
    while let Some(s) = rest.find("<text ") {
        rest = &rest[s..];
        let open_end = rest.find('>').expect("tag end");
        let close = rest.find("</text>").expect("close");
        let tag = &rest[..open_end];
        let num = |n: &str| attr(tag, n).and_then(|v| v.parse().ok()).unwrap_or(0.0);
        out.push((
            num("x"),
            num("y"),
            num("font-size"),
            attr(tag, "text-anchor").unwrap_or_default(),
            rest[open_end + 1..close].trim().to_string(),
        ));
        rest = &rest[close..];
    }
    out
}

struct Image {
    width: u32,
    height: u32,
    rgb: Vec<u8>,
}

fn decode_png(path: &Path) -> Image {
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(path).expect("png"),
    ));
    let mut reader = decoder.read_info().expect("png header");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("png frame");
    let channels = info.color_type.samples();
    let rgb = buf[..info.buffer_size()]
        .chunks(channels)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    Image {
        width: info.width,
        height: info.height,
        rgb,
    }
}

impl Image {
    /// Pixels in the box that are clearly darker than the white paper.
    fn ink(&self, x0: f64, y0: f64, x1: f64, y1: f64) -> usize {
        let clamp = |v: f64, max: u32| (v.max(0.0) as u32).min(max);
        let mut n = 0;
        for y in clamp(y0, self.height)..clamp(y1, self.height) {
            for x in clamp(x0, self.width)..clamp(x1, self.width) {
                let i = (y as usize * self.width as usize + x as usize) * 3;
                let lum = (u32::from(self.rgb[i]) * 3
                    + u32::from(self.rgb[i + 1]) * 6
                    + u32::from(self.rgb[i + 2]))
                    / 10;
                if lum < 140 {
                    n += 1;
                }
            }
        }
        n
    }

    /// Pixels close to the colour `c`.
    fn count_near(&self, c: (u8, u8, u8)) -> usize {
        self.rgb
            .chunks(3)
            .filter(|p| {
                p[0].abs_diff(c.0) < 24 && p[1].abs_diff(c.1) < 24 && p[2].abs_diff(c.2) < 24
            })
            .count()
    }
}

#[test]
fn a_period_report_writes_every_chart_the_html_and_the_workbook() {
    let s = sample_report(&["--period", "2024年5-6月"]);
    let files: Vec<&str> = s
        .stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix(s.out.to_str().expect("path")))
        .collect();
    insta::assert_snapshot!(files.join("\n"));
    for f in &files {
        let len = std::fs::metadata(format!("{}{f}", s.out.display())).map_or(0, |m| m.len());
        assert!(len > 1000, "{f} is missing or nearly empty");
    }
}

#[test]
fn png_charts_have_the_svg_size_at_twice_the_scale_and_ink_under_every_label() {
    let s = sample_report(&["--period", "2024-B3"]);
    let names = branch_names(&s.w, "2024-B3", "430281101");
    assert!(names.len() >= 5, "{names:?}");
    for chart in [
        "ranking_430281101",
        "totals_430281101",
        "attendance_trend",
        "coverage",
        "points_grades",
        "visit_resolution",
    ] {
        let svg = std::fs::read_to_string(s.out.join(format!("charts/{chart}.svg"))).expect("svg");
        let png = decode_png(&s.out.join(format!("charts/{chart}.png")));
        assert_eq!(png.width, 1600, "{chart}");
        let svg_height: f64 = svg
            .split("height=\"")
            .nth(1)
            .and_then(|h| h.split('"').next())
            .and_then(|h| h.parse().ok())
            .expect("svg height");
        assert_eq!(f64::from(png.height), svg_height * 2.0, "{chart}");
        // Every label the SVG places has ink at the same place in the PNG: the embedded font
        // drew it (a missing font draws nothing; a missing glyph draws a hollow box, which the
        // per-character check in the reports crate catches).
        let texts = svg_texts(&svg);
        assert!(texts.len() > 10, "{chart}: {} texts", texts.len());
        for (x, y, size, anchor, text) in &texts {
            let w = size * text.chars().count() as f64 * 0.5;
            let x0 = match anchor.as_str() {
                "end" => x - w,
                "middle" => x - w / 2.0,
                _ => *x,
            };
            let ink = png.ink(
                x0 * 2.0,
                (y - size) * 2.0,
                (x0 + w) * 2.0 + 4.0,
                (y + size) * 2.0,
            );
            assert!(ink > 20, "{chart}: no ink for {text:?} at ({x}, {y})");
        }
        if chart == "ranking_430281101" {
            for n in &names {
                assert!(texts.iter().any(|t| t.4 == *n), "{chart} lacks {n}");
            }
            // The flag holder's bar is vermillion (#D55E00).
            assert!(png.count_near((0xD5, 0x5E, 0x00)) > 2000, "no flag bar");
        }
    }
}

/// The HTML with its volatile and bulky parts replaced: the font data, the time of making,
/// and the inline charts (their SVGs are snapshotted on their own).
fn stable_html(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(s) = rest.find("<svg ") {
        out.push_str(&rest[..s]);
        let e = rest[s..].find("</svg>").expect("svg end") + s + "</svg>".len();
        let svg = &rest[s..e];
        let texts = svg_texts(svg).len();
        out.push_str(&format!("<svg>[chart with {texts} labels]</svg>"));
        rest = &rest[e..];
    }
    out.push_str(rest);
    out
}

fn filters() -> Vec<(&'static str, &'static str)> {
    vec![
        (r"base64,[A-Za-z0-9+/=]+", "base64,[font]"),
        (r"生成于 \d{4}-\d\d-\d\d \d\d:\d\d", "生成于 [time]"),
    ]
}

#[test]
fn the_html_and_svg_match_their_snapshots() {
    let s = sample_report(&["--period", "2024-B3"]);
    let html = std::fs::read_to_string(s.out.join("report.html")).expect("html");
    let ranking = std::fs::read_to_string(s.out.join("charts/ranking_430281101.svg")).expect("svg");
    let coverage = std::fs::read_to_string(s.out.join("charts/coverage.svg")).expect("svg");
    insta::with_settings!({ filters => filters() }, {
        insta::assert_snapshot!("report_html", stable_html(&html));
        insta::assert_snapshot!("ranking_svg", ranking);
        insta::assert_snapshot!("coverage_svg", coverage);
    });
}

#[test]
fn the_html_and_svg_load_nothing_from_the_network() {
    let s = sample_report(&["--period", "2024-B3"]);
    let mut files = vec![s.out.join("report.html")];
    for e in std::fs::read_dir(s.out.join("charts")).expect("charts") {
        let p = e.expect("entry").path();
        if p.extension().is_some_and(|x| x == "svg") {
            files.push(p);
        }
    }
    for f in files {
        let text = std::fs::read_to_string(&f).expect("read");
        let is_svg = f.extension().is_some_and(|x| x == "svg");
        for bad in [
            "http://", "https://", "<script", "<link", "<img", "@import", "//cdn",
        ] {
            // An SVG file's namespace is a name, not a resource; it is the one allowed URL.
            let text = if is_svg {
                text.replacen("xmlns=\"http://www.w3.org/2000/svg\"", "", 1)
            } else {
                text.clone()
            };
            assert!(!text.contains(bad), "{} contains {bad}", f.display());
        }
        // The font is inlined as a data: URL (WOFF2 in the HTML, TrueType in chart files).
        assert!(
            text.contains("url(data:font/"),
            "{} has no embedded font",
            f.display()
        );
    }
}

#[test]
fn the_workbook_reads_back_in_openpyxl_with_print_settings_and_branch_names() {
    let s = sample_report(&["--period", "2024-B3"]);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/report/check_workbook.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(s.out.join("ranking.xlsx"))
        .output()
        .expect("python3 runs (with openpyxl: tests/run.sh sets it up)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sheets: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let sheets = sheets.as_array().expect("sheets");
    let names: Vec<&str> = sheets
        .iter()
        .map(|s| s["name"].as_str().expect("name"))
        .collect();
    assert_eq!(
        names,
        [
            "汇总",
            "瓷城街道",
            "青溪镇",
            "石门镇",
            "官庄镇",
            "枫林乡",
            "两个覆盖",
            "覆盖问题",
            "组织生活出勤",
            "党员积分"
        ]
    );
    for sheet in sheets {
        let name = sheet["name"].as_str().expect("name");
        assert_eq!(
            sheet["freeze_panes"], "A3",
            "{name}: header frozen under the title"
        );
        assert_eq!(sheet["orientation"], "landscape", "{name}");
        assert_eq!(sheet["paper_size"], 9, "{name}: A4");
        assert_eq!(sheet["fit_to_page"], true, "{name}");
        // fitToWidth is left out when it is 1, the OOXML default; 0 pages high = as many as needed.
        assert!(
            matches!(sheet["fit_to_width"].as_i64(), None | Some(1)),
            "{name}: {}",
            sheet["fit_to_width"]
        );
        assert_eq!(sheet["fit_to_height"], 0, "{name}");
        assert_eq!(
            sheet["print_title_rows"], "$1:$2",
            "{name}: title and header repeat"
        );
        let title = sheet["title"].as_str().expect("title");
        assert!(
            title.starts_with("测试县 2024年第3期（5—6月）"),
            "{name}: {title}"
        );
        let merged = sheet["merged"].as_array().expect("merged");
        assert!(
            merged
                .iter()
                .any(|m| m.as_str().is_some_and(|m| m.starts_with("A1:"))),
            "{name}: title not merged"
        );
    }
    let qingxi = sheets
        .iter()
        .find(|s| s["name"] == "青溪镇")
        .expect("青溪镇");
    let texts: Vec<&str> = qingxi["texts"]
        .as_array()
        .expect("texts")
        .iter()
        .filter_map(|t| t.as_str())
        .collect();
    for n in branch_names(&s.w, "2024-B3", "430281101") {
        assert!(texts.contains(&n.as_str()), "青溪镇 sheet lacks {n}");
    }
    let header: Vec<&str> = qingxi["header"]
        .as_array()
        .expect("header")
        .iter()
        .filter_map(|t| t.as_str())
        .collect();
    assert_eq!(&header[..4], ["名次", "党组织", "总分", "缺项指标"]);
    // Flag holders and penalties are highlighted by rules Excel re-applies after sorting.
    assert_eq!(qingxi["conditional_formats"], 2);
}

fn chromium() -> PathBuf {
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        if let Ok(out) = Command::new("which").arg(name).output()
            && out.status.success()
        {
            return PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        }
    }
    panic!("this test needs a headless browser: apt-get install chromium (tests/run.sh does)");
}

#[test]
fn the_html_renders_offline_in_headless_chromium_and_prints_on_a4() {
    let s = sample_report(&["--period", "2024-B3"]);
    let html = s.out.join("report.html");
    let profile = s.w.dir.path().join("chromium-profile");
    let run = |extra: &[String]| {
        let out = Command::new(chromium())
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
            ])
            // Any network request would go to a closed port and fail: the page must not need one.
            .arg("--proxy-server=http://127.0.0.1:9")
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(extra)
            .arg(format!("file://{}", html.display()))
            .output()
            .expect("run chromium");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let shot = s.w.dir.path().join("screenshot.png");
    run(&[
        "--window-size=1240,1754".into(),
        format!("--screenshot={}", shot.display()),
    ]);
    let img = decode_png(&shot);
    assert_eq!((img.width, img.height), (1240, 1754));
    // The title and the key figures are text; the first ranking charts show flag bars.
    assert!(img.ink(200.0, 20.0, 900.0, 80.0) > 500, "no title drawn");
    assert!(img.count_near((0xD5, 0x5E, 0x00)) > 1000, "no chart drawn");

    let pdf = s.w.dir.path().join("report.pdf");
    run(&[
        "--no-pdf-header-footer".into(),
        format!("--print-to-pdf={}", pdf.display()),
    ]);
    let bytes = std::fs::read(&pdf).expect("pdf");
    let text = String::from_utf8_lossy(&bytes);
    let pages = text.matches("/Type /Page\n").count()
        + text.matches("/Type /Page/").count()
        + text.matches("/Type /Page ").count();
    assert!(
        text.contains("/MediaBox [0 0 594.95996 841.91998]"),
        "not A4"
    );
    assert!(
        pages >= 3 || text.matches("/MediaBox").count() >= 3,
        "the report should run to several pages"
    );
}

#[test]
fn a_year_report_ranks_branches_by_their_mean_total() {
    let s = sample_report(&["--year", "2024"]);
    let html = std::fs::read_to_string(s.out.join("report.html")).expect("html");
    assert!(html.contains("<title>测试县基层党组织考核报告 2024年度</title>"));
    let svg = std::fs::read_to_string(s.out.join("charts/ranking_430281101.svg")).expect("svg");
    let texts = svg_texts(&svg);
    assert!(
        texts.iter().any(|t| t.4.contains("各期平均分")),
        "{texts:?}"
    );
    assert!(texts.iter().any(|t| t.4.contains("★获旗")), "{texts:?}");
}

#[test]
fn a_period_without_scores_is_an_error_that_lists_the_periods() {
    let w = Warehouse::new();
    w.load_sample();
    let out = w.run(&[
        "report",
        "--tenant",
        "t",
        "--period",
        "2023-B1",
        "--out",
        w.dir.path().join("r").to_str().expect("path"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no branch took part in 2023-B1"), "{err}");
    assert!(err.contains("2024-B1, 2024-B2"), "{err}");
    assert!(
        !w.dir.path().join("r").exists(),
        "nothing is written for a failed report"
    );
}
