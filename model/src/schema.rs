//! The tables a county hands over (SPEC §2): names in English and Chinese, column types,
//! keys and references. Ingest validates against these definitions and the warehouse stores
//! exactly these columns, so this file is the one place a column is added or renamed.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

/// Scores and points are stored as exact decimals with two places: `DECIMAL(12, 2)`.
pub const DECIMAL_PRECISION: u8 = 12;
/// See [`DECIMAL_PRECISION`].
pub const DECIMAL_SCALE: i8 = 2;

/// One accepted value of an enumerated column: the canonical value stored, then every spelling
/// a county file may use for it (Chinese names first).
#[derive(Debug)]
pub struct EnumValue {
    /// The value stored in the warehouse.
    pub canonical: &'static str,
    /// Every other spelling accepted for it in a county's file.
    pub spellings: &'static [&'static str],
}

const fn ev(canonical: &'static str, spellings: &'static [&'static str]) -> EnumValue {
    EnumValue {
        canonical,
        spellings,
    }
}

/// What a column holds, and so how a cell is parsed and stored.
#[derive(Debug)]
pub enum ColumnType {
    /// Text: free text (names, themes, reasons) stored exactly as written, or, in a key
    /// column ([`TableDef::is_key_column`]), an id cleaned of invisible and full-width forms.
    Text,
    /// A whole number within `min..=max`.
    Int {
        /// The smallest accepted value.
        min: i64,
        /// The largest accepted value.
        max: i64,
    },
    /// A decimal with at most two places (scores, points).
    Decimal,
    /// `2024-05-05`, `2024/5/5`, `2024年5月5日` or an Excel serial day number.
    Date,
    /// 是/否, Y/N, true/false, 1/0.
    Bool {
        /// The value of an empty cell.
        default: bool,
    },
    /// One of a closed list; stored as the canonical (English) value.
    Enum(&'static [EnumValue]),
    /// An assessment period, normalized to `YYYY-Bn`, `YYYY-Qn`, `YYYY-Mnn` or `YYYY-Hn`.
    Period,
    /// A calendar month, normalized to `YYYY-MM`.
    Month,
    /// An 18-character resident ID number with a GB 11643 check digit.
    IdNumber,
}

/// One column of a table.
#[derive(Debug)]
pub struct ColumnDef {
    /// The SPEC name, also the stored column's name.
    pub name: &'static str,
    /// The Chinese header counties use.
    pub zh: &'static str,
    /// What it holds.
    pub ty: ColumnType,
    /// Whether an empty cell rejects the row.
    pub required: bool,
    /// Personal data, and how it is masked for analysts (SPEC §5).
    pub mask: Option<Mask>,
}

/// How a column of personal data is shown to an analyst (SPEC §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mask {
    /// 张三 → 张*
    Name,
    /// 430281199001011234 → 430281********1234
    IdNumber,
    /// 13812345678 → 138****5678
    Phone,
}

/// `column` refers to the primary key of `table` (always a single column).
#[derive(Debug)]
pub struct ForeignKey {
    /// The referring column.
    pub column: &'static str,
    /// The table referred to.
    pub table: &'static str,
}

/// One table of SPEC §2.
#[derive(Debug)]
pub struct TableDef {
    /// The SPEC name (`branches`), also the file, sheet and warehouse table name.
    pub name: &'static str,
    /// The Chinese name counties use (`党组织`).
    pub zh: &'static str,
    /// Its columns, in SPEC order.
    pub columns: &'static [ColumnDef],
    /// The columns that identify a row.
    pub primary_key: &'static [&'static str],
    /// Its references to other tables.
    pub foreign_keys: &'static [ForeignKey],
}

impl TableDef {
    /// The column named `name`.
    pub fn column(&self, name: &str) -> Option<&ColumnDef> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Whether column `name` holds an id: a primary- or foreign-key column, or one named
    /// `…_id`. Ids are cleaned (invisible characters stripped, full-width forms folded, each
    /// with a warning) where free text is stored as written.
    pub fn is_key_column(&self, name: &str) -> bool {
        self.primary_key.contains(&name)
            || self.foreign_keys.iter().any(|fk| fk.column == name)
            || name.ends_with("_id")
    }

    /// The position of the column named `name`.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// The Arrow schema the warehouse stores for this table.
    pub fn arrow_schema(&self) -> SchemaRef {
        let fields: Vec<Field> = self
            .columns
            .iter()
            .map(|c| {
                let not_null = c.required
                    || self.primary_key.contains(&c.name)
                    || matches!(c.ty, ColumnType::Bool { .. });
                Field::new(c.name, c.ty.arrow_type(), !not_null)
            })
            .collect();
        Arc::new(Schema::new(fields))
    }
}

impl ColumnType {
    /// The Arrow type the warehouse stores it as.
    pub fn arrow_type(&self) -> DataType {
        match self {
            ColumnType::Int { .. } => DataType::Int64,
            ColumnType::Decimal => DataType::Decimal128(DECIMAL_PRECISION, DECIMAL_SCALE),
            ColumnType::Date => DataType::Date32,
            ColumnType::Bool { .. } => DataType::Boolean,
            ColumnType::Text
            | ColumnType::Enum(_)
            | ColumnType::Period
            | ColumnType::Month
            | ColumnType::IdNumber => DataType::Utf8,
        }
    }
}

const fn col(name: &'static str, zh: &'static str, ty: ColumnType, required: bool) -> ColumnDef {
    ColumnDef {
        name,
        zh,
        ty,
        required,
        mask: None,
    }
}

const fn pii(
    name: &'static str,
    zh: &'static str,
    ty: ColumnType,
    required: bool,
    mask: Mask,
) -> ColumnDef {
    ColumnDef {
        name,
        zh,
        ty,
        required,
        mask: Some(mask),
    }
}

const fn fk(column: &'static str, table: &'static str) -> ForeignKey {
    ForeignKey { column, table }
}

/// `branches.type`: what kind of organization a branch is in.
pub const BRANCH_TYPES: &[EnumValue] = &[
    ev("rural", &["农村", "农村党组织"]),
    ev("community", &["社区", "社区党组织"]),
    ev("organ", &["机关", "机关党组织"]),
    ev("institution", &["事业单位"]),
    ev("soe", &["国有企业", "国企"]),
    ev("private_enterprise", &["非公企业", "非公有制企业"]),
    ev("social_org", &["社会组织"]),
    ev("school", &["学校"]),
    ev("temporary", &["临时", "临时党组织"]),
];

/// `members.gender`.
pub const GENDERS: &[EnumValue] = &[ev("男", &["male", "m"]), ev("女", &["female", "f"])];

/// `members.status`: formal or probationary member.
pub const MEMBER_STATUSES: &[EnumValue] = &[
    ev("formal", &["正式", "正式党员"]),
    ev("probationary", &["预备", "预备党员"]),
];

/// `members.category`: employed, without a post, mobile, retired.
pub const MEMBER_CATEGORIES: &[EnumValue] = &[
    ev("employed", &["在职", "在职党员"]),
    ev("no_post", &["无职", "无职党员"]),
    ev("mobile", &["流动", "流动党员"]),
    ev("retired", &["离退休", "离退休党员", "退休"]),
];

/// `meetings.kind`: the kinds of 三会一课 and other organizational life.
pub const MEETING_KINDS: &[EnumValue] = &[
    ev("assembly", &["支部党员大会", "党员大会"]),
    ev("committee", &["支委会", "支部委员会"]),
    ev("group", &["党小组会"]),
    ev("lecture", &["党课"]),
    ev("theme_day", &["主题党日"]),
    ev("org_life", &["组织生活会"]),
    ev("review", &["民主评议", "民主评议党员"]),
];

/// `attendance.status`.
pub const ATTENDANCE_STATUSES: &[EnumValue] = &[
    ev("present", &["出席", "出勤", "到会"]),
    ev("online", &["线上", "线上参会"]),
    ev("excused", &["请假"]),
    ev("absent", &["缺席", "缺勤"]),
];

/// `organizations.kind`: the two 两新 kinds.
pub const ORG_KINDS: &[EnumValue] = &[
    ev("enterprise", &["非公企业", "企业"]),
    ev("social_org", &["社会组织"]),
];

/// `points.category`.
pub const POINT_CATEGORIES: &[EnumValue] = &[
    ev("base", &["基础分"]),
    ev("task", &["任务分"]),
    ev("reward", &["奖励分"]),
    ev("honor", &["表彰加分"]),
    ev("violation", &["违纪", "违纪扣分"]),
];

const COUNT: ColumnType = ColumnType::Int {
    min: 0,
    max: i64::MAX,
};

/// Every table, parents before children, so validation and loading can go in this order.
pub static TABLES: &[TableDef] = &[
    TableDef {
        name: "grid_units",
        zh: "网格单元",
        columns: &[
            col("unit_id", "单元编码", ColumnType::Text, true),
            col("parent_id", "上级编码", ColumnType::Text, false),
            col(
                "level",
                "网格级别",
                ColumnType::Int { min: 0, max: 5 },
                true,
            ),
            col("name", "名称", ColumnType::Text, true),
            col("kind", "类型", ColumnType::Text, false),
            // The person responsible for the unit: a name like any other.
            pii("leader", "责任人", ColumnType::Text, false, Mask::Name),
        ],
        primary_key: &["unit_id"],
        // parent_id is checked by the grid rules, which also need the level.
        foreign_keys: &[],
    },
    TableDef {
        name: "branches",
        zh: "党组织",
        columns: &[
            col("branch_id", "组织编码", ColumnType::Text, true),
            col("name", "组织名称", ColumnType::Text, true),
            col("unit_id", "所在网格", ColumnType::Text, true),
            col("type", "组织类型", ColumnType::Enum(BRANCH_TYPES), true),
            col(
                "is_joint",
                "联合支部",
                ColumnType::Bool { default: false },
                false,
            ),
            col("founded_on", "成立日期", ColumnType::Date, false),
            col("paired_branch_id", "结对支部", ColumnType::Text, false),
        ],
        primary_key: &["branch_id"],
        foreign_keys: &[
            fk("unit_id", "grid_units"),
            fk("paired_branch_id", "branches"),
        ],
    },
    TableDef {
        name: "members",
        zh: "党员",
        columns: &[
            col("member_id", "党员编号", ColumnType::Text, true),
            col("branch_id", "所在支部", ColumnType::Text, true),
            pii("name", "姓名", ColumnType::Text, true, Mask::Name),
            col("gender", "性别", ColumnType::Enum(GENDERS), false),
            col("birth_date", "出生日期", ColumnType::Date, false),
            col("joined_on", "入党日期", ColumnType::Date, false),
            col(
                "status",
                "党员状态",
                ColumnType::Enum(MEMBER_STATUSES),
                true,
            ),
            col(
                "category",
                "党员类别",
                ColumnType::Enum(MEMBER_CATEGORIES),
                false,
            ),
            pii(
                "id_number",
                "身份证号",
                ColumnType::IdNumber,
                false,
                Mask::IdNumber,
            ),
            pii("phone", "联系电话", ColumnType::Text, false, Mask::Phone),
            col("party_group", "党小组", ColumnType::Text, false),
            col(
                "points_exempt",
                "积分豁免",
                ColumnType::Bool { default: false },
                false,
            ),
        ],
        primary_key: &["member_id"],
        foreign_keys: &[fk("branch_id", "branches")],
    },
    TableDef {
        name: "meetings",
        zh: "组织生活",
        columns: &[
            col("meeting_id", "会议编号", ColumnType::Text, true),
            col("branch_id", "所在支部", ColumnType::Text, true),
            col("kind", "会议类型", ColumnType::Enum(MEETING_KINDS), true),
            col("held_on", "日期", ColumnType::Date, true),
            col("party_group", "党小组", ColumnType::Text, false),
            col("theme", "主题", ColumnType::Text, false),
        ],
        primary_key: &["meeting_id"],
        foreign_keys: &[fk("branch_id", "branches")],
    },
    TableDef {
        name: "attendance",
        zh: "签到记录",
        columns: &[
            col("meeting_id", "会议编号", ColumnType::Text, true),
            col("member_id", "党员编号", ColumnType::Text, true),
            col(
                "status",
                "出勤情况",
                ColumnType::Enum(ATTENDANCE_STATUSES),
                true,
            ),
        ],
        primary_key: &["meeting_id", "member_id"],
        foreign_keys: &[fk("meeting_id", "meetings"), fk("member_id", "members")],
    },
    TableDef {
        name: "scores",
        zh: "考核评分",
        columns: &[
            col("period", "考核周期", ColumnType::Period, true),
            col("branch_id", "组织编码", ColumnType::Text, true),
            col("indicator", "考核指标", ColumnType::Text, true),
            col("score", "得分", ColumnType::Decimal, true),
            col("assessor", "考核人", ColumnType::Text, false),
        ],
        primary_key: &["period", "branch_id", "indicator"],
        foreign_keys: &[fk("branch_id", "branches")],
    },
    TableDef {
        name: "organizations",
        zh: "两新组织",
        columns: &[
            col("org_id", "组织编号", ColumnType::Text, true),
            col("name", "组织名称", ColumnType::Text, true),
            col("kind", "组织类别", ColumnType::Enum(ORG_KINDS), true),
            col("unit_id", "所在网格", ColumnType::Text, true),
            col("industry", "行业", ColumnType::Text, false),
            col("employees", "从业人员", COUNT, false),
            col("party_members", "正式党员数", COUNT, true),
            col("branch_id", "所属党组织", ColumnType::Text, false),
            col("instructor", "党建指导员", ColumnType::Text, false),
        ],
        primary_key: &["org_id"],
        foreign_keys: &[fk("unit_id", "grid_units"), fk("branch_id", "branches")],
    },
    TableDef {
        name: "points",
        zh: "党员积分",
        columns: &[
            col("entry_id", "记录编号", ColumnType::Text, true),
            col("member_id", "党员编号", ColumnType::Text, true),
            col("month", "月份", ColumnType::Month, true),
            col("category", "类别", ColumnType::Enum(POINT_CATEGORIES), true),
            col("points", "分值", ColumnType::Decimal, true),
            col("reason", "事由", ColumnType::Text, false),
        ],
        primary_key: &["entry_id"],
        foreign_keys: &[fk("member_id", "members")],
    },
    TableDef {
        name: "visits",
        zh: "走访记录",
        columns: &[
            col("visit_id", "走访编号", ColumnType::Text, true),
            col("unit_id", "网格单元", ColumnType::Text, true),
            col("member_id", "走访人", ColumnType::Text, false),
            col("visited_on", "走访日期", ColumnType::Date, true),
            col("households", "走访户数", COUNT, true),
            col("issues_raised", "收集问题", COUNT, true),
            col("issues_resolved", "办结问题", COUNT, true),
        ],
        primary_key: &["visit_id"],
        foreign_keys: &[fk("unit_id", "grid_units"), fk("member_id", "members")],
    },
];

/// Other spellings of column headers seen in county files, beyond the English and Chinese
/// names above: (table, header, column).
pub static HEADER_ALIASES: &[(&str, &str, &str)] = &[
    ("meetings", "会议日期", "held_on"),
    ("visits", "日期", "visited_on"),
    ("visits", "所在网格", "unit_id"),
    ("organizations", "名称", "name"),
    ("organizations", "类型", "kind"),
    ("members", "所在党组织", "branch_id"),
    ("attendance", "状态", "status"),
];

/// The table named `name` (SPEC name).
pub fn table(name: &str) -> Option<&'static TableDef> {
    TABLES.iter().find(|t| t.name == name)
}

/// Finds the table a file or sheet is named after, in English or Chinese
/// (`branches`, `党组织`, ignoring case and surrounding spaces).
pub fn table_for_name(stem: &str) -> Option<&'static TableDef> {
    let stem = stem.trim();
    TABLES
        .iter()
        .find(|t| t.name.eq_ignore_ascii_case(stem) || t.zh == stem)
}

impl EnumValue {
    /// Whether `value` (already trimmed) spells this value.
    pub fn matches(&self, value: &str) -> bool {
        self.canonical.eq_ignore_ascii_case(value)
            || self.spellings.iter().any(|s| s.eq_ignore_ascii_case(value))
    }
}

/// The GB 11643 check character for the first 17 digits of a resident ID number.
pub fn id_check_char(first17: &[u8]) -> Option<char> {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];
    if first17.len() != 17 {
        return None;
    }
    let mut sum = 0u32;
    for (b, w) in first17.iter().zip(WEIGHTS) {
        if !b.is_ascii_digit() {
            return None;
        }
        sum += u32::from(b - b'0') * w;
    }
    Some(CHECK[(sum % 11) as usize])
}

/// Whether `id` is 18 characters with a correct GB 11643 check digit.
pub fn id_number_is_valid(id: &str) -> bool {
    let bytes = id.as_bytes();
    bytes.len() == 18
        && id_check_char(&bytes[..17])
            .is_some_and(|c| c == (bytes[17] as char).to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_digit_of_the_standard_example() {
        // The worked example of GB 11643-1999.
        assert!(id_number_is_valid("11010519491231002X"));
        assert!(!id_number_is_valid("110105194912310021"));
        assert!(!id_number_is_valid("11010519491231002"));
    }

    #[test]
    fn every_foreign_key_points_at_a_single_column_key_of_an_earlier_or_same_table() {
        for (i, t) in TABLES.iter().enumerate() {
            for fk in t.foreign_keys {
                let target = TABLES.iter().position(|x| x.name == fk.table).unwrap();
                assert!(
                    target <= i,
                    "{} references later table {}",
                    t.name,
                    fk.table
                );
                assert_eq!(TABLES[target].primary_key.len(), 1);
                assert!(t.column(fk.column).is_some());
            }
        }
    }
}
