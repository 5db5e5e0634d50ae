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

/// The deepest level of the grid (SPEC: county 0 … household cell 5). With each unit's parent
/// exactly one level up, no unit has more ancestors above it than this.
pub const DEEPEST_GRID_LEVEL: i64 = 5;

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
                ColumnType::Int {
                    min: 0,
                    max: DEEPEST_GRID_LEVEL,
                },
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

/// How county forms head the branch a member or a meeting belongs to (the same list for both).
const BRANCH_OF_A_ROW: &[&str] = &[
    "支部",
    "党支部",
    "党组织",
    "所在党支部",
    "所在党组织",
    "所属支部",
    "所属党支部",
    "所属党组织",
    "支部名称",
    "支部编号",
    "支部编码",
    "支部代码",
    "组织编码",
    "组织编号",
    "组织代码",
    "党组织编码",
    "党组织编号",
    "所在支部编码",
    "所在支部编号",
];

/// Other headers counties write for a column, beyond its English and Chinese names: short and
/// long forms, with or without 编号/编码/名称/代码, older terms. One row per column:
/// (table, column, variants). Headers are compared after [`normalize_header`], so case, spaces,
/// underscores, full-width forms and a trailing bracketed note (`得分（分）`) need no row here;
/// an English header may also leave out `id` or say `code`/`no` instead (`branch`, `Member No`).
/// A spelling names one column of its table: the test `no_header_is_claimed_by_two_columns`
/// keeps it so.
pub static HEADER_VARIANTS: &[(&str, &str, &[&str])] = &[
    (
        "grid_units",
        "unit_id",
        &[
            "单元编号",
            "单元代码",
            "网格编码",
            "网格编号",
            "网格代码",
            "编码",
            "编号",
            "代码",
            "unit code",
            "grid id",
        ],
    ),
    (
        "grid_units",
        "parent_id",
        &[
            "上级编号",
            "上级代码",
            "上级单元",
            "上级单元编码",
            "上级单元编号",
            "上级网格",
            "上级网格编码",
            "上级网格编号",
            "上级",
            "父级编码",
            "父级",
            "parent",
            "parent unit",
        ],
    ),
    (
        "grid_units",
        "level",
        &["级别", "层级", "网格层级", "网格等级", "等级", "grid level"],
    ),
    (
        "grid_units",
        "name",
        &["单元名称", "网格名称", "unit name", "grid name"],
    ),
    (
        "grid_units",
        "kind",
        &["单元类型", "网格类型", "类别", "type"],
    ),
    (
        "grid_units",
        "leader",
        &["网格长", "负责人", "责任人姓名", "负责人姓名"],
    ),
    (
        "branches",
        "branch_id",
        &[
            "组织编号",
            "组织代码",
            "党组织编码",
            "党组织编号",
            "党组织代码",
            "支部编码",
            "支部编号",
            "支部代码",
            "编码",
            "编号",
            "branch code",
        ],
    ),
    (
        "branches",
        "name",
        &[
            "党组织名称",
            "支部名称",
            "名称",
            "党组织",
            "支部",
            "branch name",
        ],
    ),
    (
        "branches",
        "unit_id",
        &[
            "网格",
            "网格编码",
            "网格编号",
            "所在网格编码",
            "所属网格",
            "网格单元",
            "单元编码",
            "所在单元",
            "grid",
        ],
    ),
    (
        "branches",
        "type",
        &["类型", "党组织类型", "支部类型", "组织类别", "类别", "kind"],
    ),
    (
        "branches",
        "is_joint",
        &[
            "是否联合支部",
            "联合党支部",
            "是否联合",
            "joint",
            "joint branch",
        ],
    ),
    (
        "branches",
        "founded_on",
        &[
            "成立时间",
            "组建日期",
            "组建时间",
            "成立",
            "founded",
            "founding date",
        ],
    ),
    (
        "branches",
        "paired_branch_id",
        &[
            "结对支部编码",
            "结对支部编号",
            "结对党组织",
            "结对共建支部",
            "结对",
            "paired",
        ],
    ),
    (
        "members",
        "member_id",
        &[
            "党员编码",
            "党员代码",
            "编号",
            "人员编号",
            "人员编码",
            "member code",
        ],
    ),
    ("members", "branch_id", BRANCH_OF_A_ROW),
    (
        "members",
        "name",
        &["党员姓名", "名字", "full name", "member name"],
    ),
    ("members", "gender", &["sex"]),
    (
        "members",
        "birth_date",
        &[
            "出生年月",
            "出生年月日",
            "出生时间",
            "生日",
            "birthday",
            "date of birth",
            "birth",
        ],
    ),
    (
        "members",
        "joined_on",
        &["入党时间", "入党年月", "joined", "join date", "date joined"],
    ),
    (
        "members",
        "status",
        &["状态", "党员身份", "党籍状态", "member status"],
    ),
    (
        "members",
        "category",
        &["类别", "党员类型", "人员类别", "member category"],
    ),
    (
        "members",
        "id_number",
        &[
            "身份证号码",
            "身份证",
            "公民身份号码",
            "身份证件号码",
            "证件号码",
            "id card",
            "id no",
        ],
    ),
    (
        "members",
        "phone",
        &[
            "电话",
            "手机",
            "手机号",
            "手机号码",
            "联系方式",
            "电话号码",
            "mobile",
            "tel",
            "telephone",
        ],
    ),
    (
        "members",
        "party_group",
        &["所在党小组", "所属党小组", "党小组名称", "group"],
    ),
    (
        "members",
        "points_exempt",
        &["是否豁免", "是否积分豁免", "豁免积分", "免于积分", "exempt"],
    ),
    (
        "meetings",
        "meeting_id",
        &["会议编码", "会议代码", "编号", "活动编号", "meeting code"],
    ),
    ("meetings", "branch_id", BRANCH_OF_A_ROW),
    (
        "meetings",
        "kind",
        &["类型", "会议类别", "活动类型", "会议形式", "type"],
    ),
    (
        "meetings",
        "held_on",
        &[
            "会议日期",
            "召开日期",
            "开会日期",
            "会议时间",
            "召开时间",
            "时间",
            "活动日期",
            "date",
            "meeting date",
        ],
    ),
    (
        "meetings",
        "party_group",
        &["所在党小组", "所属党小组", "group"],
    ),
    (
        "meetings",
        "theme",
        &[
            "会议主题",
            "活动主题",
            "内容",
            "会议内容",
            "topic",
            "subject",
        ],
    ),
    (
        "attendance",
        "meeting_id",
        &["会议编码", "会议", "meeting code"],
    ),
    (
        "attendance",
        "member_id",
        &["党员编码", "党员", "人员编号", "member code"],
    ),
    (
        "attendance",
        "status",
        &[
            "状态",
            "出勤",
            "出勤状态",
            "参会情况",
            "签到情况",
            "签到状态",
            "attendance",
        ],
    ),
    (
        "scores",
        "period",
        &["周期", "考核期", "考核期间", "考核时段", "期间", "时段"],
    ),
    (
        "scores",
        "branch_id",
        &[
            "支部",
            "党支部",
            "党组织",
            "所在支部",
            "所属支部",
            "所在党组织",
            "所属党组织",
            "支部名称",
            "支部编号",
            "支部编码",
            "支部代码",
            "组织编号",
            "组织代码",
            "党组织编码",
            "党组织编号",
        ],
    ),
    (
        "scores",
        "indicator",
        &[
            "指标",
            "指标名称",
            "考核项目",
            "考核内容",
            "考核项",
            "indicator name",
            "item",
        ],
    ),
    ("scores", "score", &["分数", "评分", "考核得分", "成绩"]),
    (
        "scores",
        "assessor",
        &["评分人", "考核者", "打分人", "评分人员", "rater"],
    ),
    (
        "organizations",
        "org_id",
        &[
            "组织编码",
            "组织代码",
            "编号",
            "编码",
            "企业编号",
            "organization",
            "organization id",
        ],
    ),
    (
        "organizations",
        "name",
        &["名称", "企业名称", "单位名称", "组织", "org name"],
    ),
    (
        "organizations",
        "kind",
        &["类型", "类别", "组织类型", "单位类型", "type"],
    ),
    (
        "organizations",
        "unit_id",
        &[
            "网格",
            "网格编码",
            "网格编号",
            "所属网格",
            "网格单元",
            "单元编码",
            "grid",
        ],
    ),
    (
        "organizations",
        "industry",
        &["所属行业", "行业类别", "行业类型", "sector"],
    ),
    (
        "organizations",
        "employees",
        &[
            "从业人员数",
            "从业人数",
            "职工人数",
            "员工人数",
            "员工数",
            "staff",
        ],
    ),
    (
        "organizations",
        "party_members",
        &["党员数", "党员人数", "正式党员人数", "正式党员", "党员数量"],
    ),
    (
        "organizations",
        "branch_id",
        &[
            "党组织",
            "所在党组织",
            "所属支部",
            "所在支部",
            "党支部",
            "支部",
            "党组织编码",
            "党组织编号",
            "支部编号",
            "支部编码",
            "branch",
        ],
    ),
    (
        "organizations",
        "instructor",
        &["指导员", "党建指导员姓名", "instructor name"],
    ),
    (
        "points",
        "entry_id",
        &[
            "编号",
            "记录编码",
            "积分编号",
            "积分记录编号",
            "entry",
            "record id",
        ],
    ),
    (
        "points",
        "member_id",
        &["党员编码", "党员", "人员编号", "member code"],
    ),
    ("points", "month", &["月", "积分月份", "年月", "所属月份"]),
    (
        "points",
        "category",
        &["积分类别", "积分类型", "类型", "type"],
    ),
    (
        "points",
        "points",
        &["积分", "分数", "得分", "积分分值", "分"],
    ),
    (
        "points",
        "reason",
        &["原因", "积分事由", "事项", "说明", "加减分事由", "理由"],
    ),
    (
        "visits",
        "visit_id",
        &["走访编码", "编号", "记录编号", "visit"],
    ),
    (
        "visits",
        "unit_id",
        &[
            "所在网格",
            "网格",
            "网格编码",
            "网格编号",
            "单元编码",
            "所属网格",
            "grid",
        ],
    ),
    (
        "visits",
        "member_id",
        &[
            "走访党员",
            "走访人编号",
            "走访党员编号",
            "党员编号",
            "走访人员",
            "visitor",
        ],
    ),
    (
        "visits",
        "visited_on",
        &["日期", "走访时间", "时间", "date", "visit date"],
    ),
    (
        "visits",
        "households",
        &["户数", "走访户", "入户数", "走访户数量"],
    ),
    (
        "visits",
        "issues_raised",
        &[
            "收集问题数",
            "问题数",
            "发现问题",
            "发现问题数",
            "收集问题数量",
            "issues",
        ],
    ),
    (
        "visits",
        "issues_resolved",
        &["办结问题数", "解决问题数", "办结数", "已办结", "resolved"],
    ),
];

/// How a header names a column, best first: when two headers of a file name one column, the
/// better match is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum HeaderMatch {
    /// The column's English or Chinese name.
    Name,
    /// A row of [`HEADER_VARIANTS`].
    Variant,
    /// An English id column's name without `id`, or with `code`/`no`/`number` instead.
    EnglishStem,
}

/// A header as it is compared: invisible characters and a BOM removed, full-width forms
/// folded, a required-mark `*` and a trailing bracketed note (`(分)`, `（必填）`) dropped,
/// lower case, without spaces, `_`, `-` and `.`.
pub fn normalize_header(header: &str) -> String {
    let folded: String = header
        .chars()
        .filter(|c| {
            !matches!(
                c,
                '\u{FEFF}' | '\u{200B}'..='\u{200F}' | '\u{2060}' | '\u{00AD}'
            )
        })
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            c if c.is_whitespace() => ' ',
            c => c,
        })
        .collect();
    let mut h = folded.trim().trim_matches(['*', ':']).trim();
    // 得分(分), 所在支部(branch_id), 党员编号[必填]: the note in brackets is not the name.
    for (open, close) in [('(', ')'), ('[', ']')] {
        if let Some(i) = h.strip_suffix(close).and_then(|rest| rest.rfind(open))
            && i > 0
        {
            h = h[..i].trim();
        }
    }
    h.to_lowercase()
        .chars()
        .filter(|c| !(c.is_whitespace() || matches!(c, '_' | '-' | '.')))
        .collect()
}

/// English forms of an id column without `id`: `branch`, `branch code`, `branch no`.
fn english_stem_matches(column: &str, header: &str) -> bool {
    let Some(stem) = column.strip_suffix("_id") else {
        return false;
    };
    let stem: String = stem.chars().filter(|c| *c != '_').collect();
    header
        .strip_prefix(stem.as_str())
        .is_some_and(|rest| matches!(rest, "" | "code" | "no" | "number" | "num"))
}

impl TableDef {
    /// How `header` (as written) names column `column` of this table, if it does.
    pub fn header_names(&self, column: &ColumnDef, header: &str) -> Option<HeaderMatch> {
        let h = normalize_header(header);
        if h.is_empty() {
            return None;
        }
        if h == normalize_header(column.name) || h == normalize_header(column.zh) {
            return Some(HeaderMatch::Name);
        }
        let variant = HEADER_VARIANTS.iter().any(|(t, c, variants)| {
            *t == self.name
                && *c == column.name
                && variants.iter().any(|v| normalize_header(v) == h)
        });
        if variant {
            return Some(HeaderMatch::Variant);
        }
        english_stem_matches(column.name, &h).then_some(HeaderMatch::EnglishStem)
    }

    /// The column `header` names, and how: the best match; on a tie, the first column.
    pub fn column_for_header(&self, header: &str) -> Option<(usize, HeaderMatch)> {
        self.columns
            .iter()
            .enumerate()
            .filter_map(|(i, c)| self.header_names(c, header).map(|m| (i, m)))
            .min_by_key(|(i, m)| (*m, *i))
    }

    /// Every spelling of a column's header this table knows: its names and its variants.
    pub fn header_spellings(&self, column: &ColumnDef) -> Vec<&'static str> {
        let mut out = vec![column.name, column.zh];
        for (t, c, variants) in HEADER_VARIANTS {
            if *t == self.name && *c == column.name {
                out.extend(variants.iter());
            }
        }
        out
    }
}

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
