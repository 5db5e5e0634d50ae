//! The domain's enumerations as Rust types: the closed lists of `schema` (branch types, member
//! categories, meeting kinds, …) for code that makes or reads values rather than parsing
//! county files.
//!
//! `schema` holds each list as [`EnumValue`]s, with every spelling a county file may use; the
//! enums here name the same values, in the same order, and [`canonical`](BranchType::canonical)
//! gives the text the warehouse stores. A test checks that each enum and its table list exactly
//! the same canonical values, so neither can gain a value the other lacks.

use crate::schema::{self, EnumValue};

/// Defines an enum over one `schema` table: its variants in the table's order, `ALL`,
/// `SCHEMA` and `canonical()`.
macro_rules! domain_enum {
    (
        $(#[$meta:meta])*
        $name:ident => $table:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $canonical:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every value, in the order of the schema table.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The schema table that lists this enum's values with their accepted spellings.
            pub const SCHEMA: &'static [EnumValue] = schema::$table;

            /// The canonical text the warehouse stores for this value.
            pub fn canonical(self) -> &'static str {
                match self {
                    $( $name::$variant => $canonical, )+
                }
            }
        }
    };
}

domain_enum! {
    /// What kind of body a party branch sits in (`branches.type`).
    BranchType => BRANCH_TYPES {
        /// A village's branch (农村).
        Rural => "rural",
        /// An urban community's branch (社区).
        Community => "community",
        /// A government organ's branch (机关).
        Organ => "organ",
        /// A public institution's branch (事业单位).
        Institution => "institution",
        /// A state-owned enterprise's branch (国有企业).
        Soe => "soe",
        /// A private enterprise's branch (非公企业).
        PrivateEnterprise => "private_enterprise",
        /// A social organization's branch (社会组织).
        SocialOrg => "social_org",
        /// A school's branch (学校).
        School => "school",
        /// A temporary branch (临时党组织), e.g. of a project or a training course.
        Temporary => "temporary",
    }
}

domain_enum! {
    /// A member's gender (`members.gender`); the canonical values are the Chinese ones.
    Gender => GENDERS {
        /// 男
        Male => "男",
        /// 女
        Female => "女",
    }
}

domain_enum! {
    /// Whether a member is formal or still probationary (`members.status`).
    MemberStatus => MEMBER_STATUSES {
        /// A formal member (正式党员).
        Formal => "formal",
        /// A probationary member (预备党员), in their first year.
        Probationary => "probationary",
    }
}

domain_enum! {
    /// A member's category (`members.category`).
    MemberCategory => MEMBER_CATEGORIES {
        /// In work (在职党员).
        Employed => "employed",
        /// Without a post (无职党员), typically villagers.
        NoPost => "no_post",
        /// Working away from home (流动党员).
        Mobile => "mobile",
        /// Retired (离退休党员).
        Retired => "retired",
    }
}

domain_enum! {
    /// The kind of a branch meeting (`meetings.kind`): 三会一课 and the other regular meetings.
    MeetingKind => MEETING_KINDS {
        /// The branch's general assembly of members (支部党员大会), quarterly.
        Assembly => "assembly",
        /// The branch committee (支委会), monthly.
        Committee => "committee",
        /// A party group's meeting (党小组会), monthly.
        Group => "group",
        /// A party lecture (党课), quarterly.
        Lecture => "lecture",
        /// The monthly theme day (主题党日).
        ThemeDay => "theme_day",
        /// The annual organizational life meeting (组织生活会).
        OrgLife => "org_life",
        /// The annual democratic review of members (民主评议党员).
        Review => "review",
    }
}

domain_enum! {
    /// How a member attended a meeting (`attendance.status`).
    AttendanceStatus => ATTENDANCE_STATUSES {
        /// Present in person (出席).
        Present => "present",
        /// Present online (线上).
        Online => "online",
        /// Absent with leave (请假).
        Excused => "excused",
        /// Absent without leave (缺席).
        Absent => "absent",
    }
}

domain_enum! {
    /// The kind of a 两新组织 (`organizations.kind`).
    OrgKind => ORG_KINDS {
        /// A private enterprise (非公企业).
        Enterprise => "enterprise",
        /// A social organization (社会组织).
        SocialOrg => "social_org",
    }
}

domain_enum! {
    /// What a points entry is for (`points.category`).
    PointCategory => POINT_CATEGORIES {
        /// Base points, and deductions from them (基础分).
        Base => "base",
        /// Points for tasks done (任务分).
        Task => "task",
        /// Reward points (奖励分).
        Reward => "reward",
        /// Points for an honour or commendation (表彰加分).
        Honor => "honor",
        /// A deduction for a disciplinary violation (违纪扣分).
        Violation => "violation",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table_texts(table: &[EnumValue]) -> Vec<&'static str> {
        table.iter().map(|v| v.canonical).collect()
    }

    /// Checks that `all` lists exactly the values of `table`, in its order, and that `table`
    /// is the list the enumerated column `table_name.column` is validated against.
    fn check<T: Copy>(
        all: &[T],
        canonical: fn(T) -> &'static str,
        table: &[EnumValue],
        (table_name, column): (&str, &str),
    ) {
        let ours: Vec<&str> = all.iter().map(|v| canonical(*v)).collect();
        // Equal lists: every variant is in the table, every value of the table is a variant,
        // and ALL is in the table's order.
        assert_eq!(
            ours,
            table_texts(table),
            "{table_name}.{column}: enum and SCHEMA differ"
        );
        // Ingest validates the column against this list, so it accepts every value the enum
        // can produce.
        let def = schema::table(table_name).and_then(|t| t.column(column));
        match def.map(|c| &c.ty) {
            Some(schema::ColumnType::Enum(values)) => assert_eq!(
                ours,
                table_texts(values),
                "{table_name}.{column}: enum and column differ"
            ),
            other => panic!("{table_name}.{column} is not an enumerated column: {other:?}"),
        }
    }

    #[test]
    fn every_enum_lists_exactly_the_values_of_its_schema_table_and_column() {
        check(
            BranchType::ALL,
            BranchType::canonical,
            BranchType::SCHEMA,
            ("branches", "type"),
        );
        check(
            Gender::ALL,
            Gender::canonical,
            Gender::SCHEMA,
            ("members", "gender"),
        );
        check(
            MemberStatus::ALL,
            MemberStatus::canonical,
            MemberStatus::SCHEMA,
            ("members", "status"),
        );
        check(
            MemberCategory::ALL,
            MemberCategory::canonical,
            MemberCategory::SCHEMA,
            ("members", "category"),
        );
        check(
            MeetingKind::ALL,
            MeetingKind::canonical,
            MeetingKind::SCHEMA,
            ("meetings", "kind"),
        );
        check(
            AttendanceStatus::ALL,
            AttendanceStatus::canonical,
            AttendanceStatus::SCHEMA,
            ("attendance", "status"),
        );
        check(
            OrgKind::ALL,
            OrgKind::canonical,
            OrgKind::SCHEMA,
            ("organizations", "kind"),
        );
        check(
            PointCategory::ALL,
            PointCategory::canonical,
            PointCategory::SCHEMA,
            ("points", "category"),
        );
    }
}
