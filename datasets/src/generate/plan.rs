//! The in-memory model of one county: grid, branches, members, organizations, meetings,
//! scores and visits. The two large tables, attendance and points, are not held here; they are
//! derived from this model batch by batch while they are written (see `emit`).
//!
//! A county is made in steps, each drawing from its own random stream: the structure (grid,
//! branches with their target sizes and profiles, organizations) comes either from
//! `county::county_structure` or from the hand-laid sample; members ([`populate`]), meetings
//! ([`schedule`]), scores ([`score`]) and visits ([`visit`]) are then filled in the same way
//! for both.

use std::collections::BTreeMap;
use std::ops::{Range, RangeInclusive};

use model::domain::{BranchType, MeetingKind, MemberCategory, OrgKind};

use super::dates::{days, days_in_month};
use super::names;
use super::rng::{Part, Rng};

/// The year every generated county covers.
pub(crate) const YEAR: i32 = 2024;

/// Who a county is.
#[derive(Debug, Clone)]
pub(crate) struct CountyId {
    /// Position in the city/province list; also keys the random streams.
    pub index: u32,
    pub tenant_id: String,
    pub name: String,
    /// The six-digit administrative region code that unit ids and ID numbers start with.
    pub region: u32,
    /// Relative size: 1.0 is a county like 醴陵 (24 townships, ≈1,000 branches).
    pub size: f64,
}

/// Whether the default rules rank branches of this type for the red flag: only those get
/// bimonthly scores, village grid leaders and grid visits.
pub(crate) fn assessed_by_default(ty: BranchType) -> bool {
    matches!(ty, BranchType::Rural | BranchType::Community)
}

/// Who a branch's members are, which decides their ages and categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Profile {
    Village,
    Community,
    /// Cadres and staff of organs, institutions, schools and state enterprises.
    Cadre,
    /// A branch of retired cadres.
    Retired,
    Enterprise,
    Social,
}

#[derive(Debug, Clone)]
pub(crate) struct Unit {
    pub id: String,
    pub parent: Option<u32>,
    pub level: u8,
    pub name: String,
    pub kind: &'static str,
    pub leader: Option<String>,
    /// The unit's ancestor at level 2 (itself at level 2); none above the townships.
    pub township: Option<u32>,
}

#[derive(Debug, Clone)]
pub(crate) struct Branch {
    pub id: String,
    pub name: String,
    pub unit: u32,
    pub ty: BranchType,
    pub is_joint: bool,
    pub founded_on: Option<i32>,
    pub paired: Option<u32>,
    pub profile: Profile,
    /// How many members to make.
    pub size: u32,
    /// Mean chance that a member attends a meeting.
    pub rate: f64,
    /// Chance that a due meeting is not held (weak branches).
    pub skip: f64,
    /// Score level for assessed branches, as a share of the 100 points.
    pub quality: f64,
    /// Member offsets given a plain, steady profile (formal, middle-aged, in a party group,
    /// joined long ago) because the sample's boundary cases are built on them.
    pub steady: Vec<u32>,
    /// Filled by [`populate`]: the branch's members, a range of `Plan::members`.
    pub members: Range<u32>,
    /// Number of party groups (0 for a small branch).
    pub groups: u8,
    /// The first `committee` members sit on the branch committee (支委).
    pub committee: u32,
}

#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub id: String,
    pub branch: u32,
    pub name: String,
    pub female: bool,
    pub birth: i32,
    pub joined: i32,
    pub probationary: bool,
    pub category: MemberCategory,
    pub id_number: String,
    pub phone: Option<String>,
    /// 1-based party group, 0 for none.
    pub group: u8,
    pub exempt: bool,
    /// Added to the branch's attendance rate.
    pub reliability: f64,
    /// Chance that an attended meeting is attended online.
    pub online: f64,
}

#[derive(Debug, Clone)]
pub(crate) struct Org {
    pub id: String,
    pub name: String,
    pub kind: OrgKind,
    pub unit: u32,
    pub industry: Option<&'static str>,
    pub employees: Option<i64>,
    pub party_members: i64,
    pub branch: Option<u32>,
    pub instructor: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Meeting {
    pub id: String,
    pub branch: u32,
    pub kind: MeetingKind,
    pub held_on: i32,
    /// 1-based party group of a group meeting, 0 otherwise.
    pub group: u8,
    pub theme: &'static str,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Score {
    /// 1..=6: 2024-B1 … 2024-B6.
    pub period: u8,
    pub branch: u32,
    /// Index into [`INDICATORS`].
    pub indicator: u8,
    pub cents: i64,
}

#[derive(Debug, Clone)]
pub(crate) struct Visit {
    pub id: String,
    pub unit: u32,
    pub member: Option<u32>,
    pub on: i32,
    pub households: i64,
    pub raised: i64,
    pub resolved: i64,
}

/// The ten indicators of the default rules and their maxima in cents, in rules order.
/// (A test checks this against `model`'s default rules.)
pub(crate) const INDICATORS: &[(&str, i64)] = &[
    ("党组织建设", 2000),
    ("扶贫工作", 1000),
    ("计生工作", 1000),
    ("综治维稳", 1000),
    ("安全生产", 1000),
    ("民政民生", 1000),
    ("整脏治乱", 1000),
    ("财政税收", 500),
    ("驻村帮扶", 1000),
    ("党风廉政", 500),
];

pub(crate) const PERIODS: u8 = 6;

/// What the sample fixes about one branch's scores in one period.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ScoreTarget {
    pub total: i64,
    /// The 党组织建设 score, when a tie-break case needs it.
    pub dangjian: Option<i64>,
    /// An indicator left out of the period.
    pub missing: Option<u8>,
}

/// Everything about one county except attendance and points.
#[derive(Debug)]
pub(crate) struct Plan {
    pub county: CountyId,
    pub seed: u64,
    pub units: Vec<Unit>,
    pub branches: Vec<Branch>,
    pub members: Vec<Member>,
    pub orgs: Vec<Org>,
    pub meetings: Vec<Meeting>,
    pub scores: Vec<Score>,
    pub visits: Vec<Visit>,
    /// Members whose attendance is fixed: absent at exactly these meetings, present at all others.
    pub absences: BTreeMap<u32, Vec<u32>>,
}

impl Plan {
    pub(crate) fn rng(&self, part: Part) -> Rng {
        Rng::stream(self.seed, self.county.index, part)
    }

    /// The members expected at a meeting, in member order: the committee for 支委会, the party
    /// group for 党小组会, everyone otherwise; never someone who joined after the meeting.
    pub(crate) fn participants(&self, m: &Meeting) -> impl Iterator<Item = u32> + '_ {
        let b = &self.branches[m.branch as usize];
        let range = match m.kind {
            MeetingKind::Committee => b.members.start..b.members.start + b.committee,
            _ => b.members.clone(),
        };
        let (kind, group, held_on) = (m.kind, m.group, m.held_on);
        range.filter(move |&i| {
            let member = &self.members[i as usize];
            member.joined <= held_on && (kind != MeetingKind::Group || member.group == group)
        })
    }
}

/// The grid, branches and organizations, before any member exists.
#[derive(Debug, Default)]
pub(crate) struct Skeleton {
    pub units: Vec<Unit>,
    pub branches: Vec<Branch>,
    pub orgs: Vec<Org>,
}

impl Skeleton {
    /// Adds a unit one level below `parent` (or the root) and returns its index.
    pub(crate) fn unit(
        &mut self,
        id: String,
        parent: Option<u32>,
        name: String,
        kind: &'static str,
        leader: Option<String>,
    ) -> u32 {
        let idx = self.units.len() as u32;
        let level = parent.map_or(0, |p| self.units[p as usize].level + 1);
        let township = match level {
            0 | 1 => None,
            2 => Some(idx),
            _ => parent.and_then(|p| self.units[p as usize].township),
        };
        self.units.push(Unit {
            id,
            parent,
            level,
            name,
            kind,
            leader,
            township,
        });
        idx
    }

    /// The groups of a village (村民小组) or community (居民小组) and their household cells
    /// (责任区), below the village's unit `village` coded `code`: first the number of groups,
    /// then for each group its number of cells.
    pub(crate) fn village_grid(
        &mut self,
        rng: &mut Rng,
        village: u32,
        code: &str,
        community: bool,
        groups: &RangeInclusive<i64>,
        cells: &RangeInclusive<i64>,
    ) {
        let kind = if community {
            "居民小组"
        } else {
            "村民小组"
        };
        for g in 1..=rng.range_in(groups) {
            let name = format!("第{}{kind}", names::numeral(g as usize));
            let group = self.unit(format!("{code}{g:02}"), Some(village), name, kind, None);
            for c in 1..=rng.range_in(cells) {
                self.unit(
                    format!("{code}{g:02}{c:02}"),
                    Some(group),
                    format!("第{c}责任区"),
                    "责任区",
                    None,
                );
            }
        }
    }

    pub(crate) fn branch(&mut self, spec: BranchSpec) -> u32 {
        let idx = self.branches.len() as u32;
        self.branches.push(Branch {
            id: format!("ZB{:04}", idx + 1),
            name: spec.name,
            unit: spec.unit,
            ty: spec.ty,
            is_joint: spec.is_joint,
            founded_on: spec.founded_on,
            paired: None,
            profile: spec.profile,
            size: spec.size.max(1),
            rate: spec.rate,
            skip: spec.skip,
            quality: spec.quality,
            steady: Vec::new(),
            members: 0..0,
            groups: 0,
            committee: 0,
        });
        idx
    }

    pub(crate) fn org(&mut self, org: OrgSpec) -> u32 {
        let idx = self.orgs.len() as u32;
        self.orgs.push(Org {
            id: format!("LX{:04}", idx + 1),
            name: org.name,
            kind: org.kind,
            unit: org.unit,
            industry: org.industry,
            employees: org.employees,
            party_members: org.party_members,
            branch: None,
            instructor: org.instructor,
        });
        idx
    }
}

pub(crate) struct BranchSpec {
    pub name: String,
    pub unit: u32,
    pub ty: BranchType,
    pub is_joint: bool,
    pub founded_on: Option<i32>,
    pub profile: Profile,
    pub size: u32,
    pub rate: f64,
    pub skip: f64,
    pub quality: f64,
}

pub(crate) struct OrgSpec {
    pub name: String,
    pub kind: OrgKind,
    pub unit: u32,
    pub industry: Option<&'static str>,
    pub employees: Option<i64>,
    pub party_members: i64,
    pub instructor: Option<String>,
}

/// Share of branches whose founding date the county's records do not have.
const FOUNDED_UNKNOWN: f64 = 0.06;
/// The last year a branch is founded in: the data covers 2024.
const FOUNDED_UNTIL: i64 = 2023;
/// Share of branches founded on 七一 (July 1st), the favourite founding day.
const FOUNDED_ON_JULY_FIRST: f64 = 0.2;

/// A founding date between `from` and [`FOUNDED_UNTIL`], as county records have them; a few
/// are unknown.
pub(crate) fn founded(rng: &mut Rng, from: i32) -> Option<i32> {
    if rng.chance(FOUNDED_UNKNOWN) {
        return None;
    }
    let y = rng.range(i64::from(from), FOUNDED_UNTIL) as i32;
    if rng.chance(FOUNDED_ON_JULY_FIRST) {
        return Some(days(y, 7, 1));
    }
    let m = rng.range(1, 12) as u32;
    let d = rng.range(1, i64::from(days_in_month(y, m))) as u32;
    Some(days(y, m, d))
}

/// Share of branches that are weak: lower attendance, and due meetings skipped.
const WEAK_SHARE: f64 = 0.12;
/// Attendance rate of a weak branch.
const WEAK_RATE: Range<f64> = 0.66..0.80;
/// Share of due meetings a weak branch does not hold.
const WEAK_SKIP: Range<f64> = 0.08..0.35;

/// The attendance rate of an ordinary branch of type `ty`; offices, institutions, schools and
/// state enterprises attend best.
fn ordinary_rate(ty: BranchType) -> Range<f64> {
    match ty {
        BranchType::Rural => 0.80..0.98,
        BranchType::Community => 0.80..0.97,
        BranchType::PrivateEnterprise | BranchType::SocialOrg => 0.80..0.96,
        _ => 0.88..0.99,
    }
}

/// Attendance rate and meeting discipline (the share of due meetings skipped) of an ordinary
/// or a weak branch.
pub(crate) fn discipline(rng: &mut Rng, ty: BranchType) -> (f64, f64) {
    let weak = rng.chance(WEAK_SHARE);
    let rate = if weak {
        rng.uniform_in(&WEAK_RATE)
    } else {
        rng.uniform_in(&ordinary_rate(ty))
    };
    let skip = if weak {
        rng.uniform_in(&WEAK_SKIP)
    } else {
        0.0
    };
    (rate, skip)
}

/// Makes the members of every branch, fills in the grid's village-level leaders from them,
/// and counts the formal members of organizations that have their own branch.
pub(crate) fn populate(county: CountyId, seed: u64, mut sk: Skeleton) -> Plan {
    let mut rng = Rng::stream(seed, county.index, Part::Members);
    let members = branch_members(&mut rng, &county, &mut sk.branches);
    grid_leaders(&mut rng, &mut sk, &members);
    count_org_members(&mut sk, &members);
    Plan {
        county,
        seed,
        units: sk.units,
        branches: sk.branches,
        members,
        orgs: sk.orgs,
        meetings: Vec::new(),
        scores: Vec::new(),
        visits: Vec::new(),
        absences: BTreeMap::new(),
    }
}

/// The members of every branch, branch by branch; sets each branch's committee, party groups
/// and member range.
fn branch_members(rng: &mut Rng, county: &CountyId, branches: &mut [Branch]) -> Vec<Member> {
    let mut members: Vec<Member> = Vec::new();
    let mut ids_taken: BTreeMap<(i32, bool), u32> = BTreeMap::new();
    for (bi, branch) in branches.iter_mut().enumerate() {
        let start = members.len() as u32;
        let size = branch.size;
        branch.committee = match size {
            0..=19 => size.min(3),
            20..=49 => 5,
            _ => 7,
        };
        branch.groups = match size {
            0..=19 => 0,
            20..=49 => 2,
            _ => 3,
        };
        for offset in 0..size {
            let on_committee = offset < branch.committee;
            let steady = branch.steady.contains(&offset);
            let m = member(
                rng,
                county,
                branch.profile,
                on_committee || steady,
                members.len() as u32,
                &mut ids_taken,
            );
            let mut m = Member {
                branch: bi as u32,
                // Party groups are contiguous runs of the member list (members near each other
                // live near each other).
                group: if branch.groups == 0 {
                    0
                } else {
                    (offset * u32::from(branch.groups) / size) as u8 + 1
                },
                ..m
            };
            if steady {
                m.reliability = 0.0;
            }
            members.push(m);
        }
        branch.members = start..members.len() as u32;
    }
    members
}

/// Village-level grid leaders are the village's own members: the secretary leads the
/// village, members lead the groups and household cells (党员中心户).
fn grid_leaders(rng: &mut Rng, sk: &mut Skeleton, members: &[Member]) {
    let mut village_branch: BTreeMap<u32, u32> = BTreeMap::new();
    for (bi, b) in sk.branches.iter().enumerate() {
        if assessed_by_default(b.ty) {
            village_branch.entry(b.unit).or_insert(bi as u32);
        }
    }
    for ui in 0..sk.units.len() {
        let mut village = ui as u32;
        while sk.units[village as usize].level > 3 {
            match sk.units[village as usize].parent {
                Some(p) => village = p,
                None => break,
            }
        }
        if sk.units[ui].level < 3 {
            continue;
        }
        if let Some(&b) = village_branch.get(&village) {
            let range = sk.branches[b as usize].members.clone();
            let pick = if sk.units[ui].level == 3 {
                range.start
            } else {
                range.start + rng.below(u64::from(range.end - range.start)) as u32
            };
            sk.units[ui].leader = Some(members[pick as usize].name.clone());
        }
    }
}

/// An organization with a branch of its own reports that branch's formal members.
fn count_org_members(sk: &mut Skeleton, members: &[Member]) {
    for org in &mut sk.orgs {
        if let Some(b) = org.branch {
            let branch = &sk.branches[b as usize];
            if !branch.is_joint {
                org.party_members = members
                    [branch.members.start as usize..branch.members.end as usize]
                    .iter()
                    .filter(|m| !m.probationary)
                    .count() as i64;
            }
        }
    }
}

/// One member of a branch with the given profile. `steady` members (the committee, and the
/// sample's boundary-case members) are formal, of working age and not mobile.
fn member(
    rng: &mut Rng,
    county: &CountyId,
    profile: Profile,
    steady: bool,
    seq: u32,
    ids_taken: &mut BTreeMap<(i32, bool), u32>,
) -> Member {
    let female = rng.chance(match profile {
        Profile::Cadre | Profile::Social => 0.38,
        Profile::Community => 0.4,
        _ => 0.25,
    });
    let (age, category) = if steady {
        steady_age_and_category(rng, profile)
    } else {
        age_and_category(rng, profile, female)
    };
    let birth_year = YEAR - 1 - age as i32;
    let birth = days(birth_year, 1, 1) + rng.range(0, 364) as i32;
    let (joined, probationary) = joined(rng, birth, age, steady);
    let (birth, id_number) = id_number(county, birth, female, ids_taken);
    let name = names::person(rng, female);
    // 10x numbers are not issued to mobile phones in China: obviously synthetic.
    let phone = (!rng.chance(0.05)).then(|| format!("10{:02}{:07}", county.index % 100, seq + 1));
    // Exempt from points: the very old (and so very few).
    let exempt = category == MemberCategory::Retired && age >= 85 && rng.chance(0.7);
    let reliability = if category == MemberCategory::Mobile {
        rng.uniform(-0.25, -0.05)
    } else {
        rng.uniform(-0.10, 0.05)
    };
    let online = if category == MemberCategory::Mobile {
        0.45
    } else {
        0.04
    };
    Member {
        id: format!("DY{:06}", seq + 1),
        branch: 0,
        name,
        female,
        birth,
        joined,
        probationary,
        category,
        id_number,
        phone,
        group: 0,
        exempt,
        reliability,
        online,
    }
}

/// A steady member: of working age, in the category their branch's profile implies.
fn steady_age_and_category(rng: &mut Rng, profile: Profile) -> (i64, MemberCategory) {
    let age = rng.range(32, 56);
    let category = match profile {
        Profile::Village | Profile::Community | Profile::Social => MemberCategory::NoPost,
        Profile::Retired => MemberCategory::Retired,
        _ => MemberCategory::Employed,
    };
    (age, category)
}

/// Age and category of any other member, by the branch's profile.
fn age_and_category(rng: &mut Rng, profile: Profile, female: bool) -> (i64, MemberCategory) {
    match profile {
        Profile::Village | Profile::Community => {
            // Rural party members are older than the population: a triangular spread
            // over 20–90 peaking at 55.
            let age = 20 + (35.0 * (rng.unit() + rng.unit())) as i64;
            let u = rng.unit();
            let working = if profile == Profile::Village {
                if u < 0.22 {
                    MemberCategory::Mobile
                } else if u < 0.32 {
                    MemberCategory::Employed
                } else {
                    MemberCategory::NoPost
                }
            } else if u < 0.1 {
                MemberCategory::Mobile
            } else if u < 0.55 {
                MemberCategory::Employed
            } else {
                MemberCategory::NoPost
            };
            let retire_at = if female { 55 } else { 60 };
            let cat = if age >= retire_at && rng.chance(0.75) {
                MemberCategory::Retired
            } else {
                working
            };
            (age, cat)
        }
        Profile::Cadre => (rng.range(23, 59), MemberCategory::Employed),
        Profile::Retired => (rng.range(58, 92), MemberCategory::Retired),
        Profile::Enterprise => (
            rng.range(22, 56),
            if rng.chance(0.08) {
                MemberCategory::Mobile
            } else {
                MemberCategory::Employed
            },
        ),
        Profile::Social => {
            let age = rng.range(25, 72);
            let cat = if age >= 60 {
                MemberCategory::Retired
            } else if rng.chance(0.6) {
                MemberCategory::Employed
            } else {
                MemberCategory::NoPost
            };
            (age, cat)
        }
    }
}

/// When a member born on `birth`, `age` at the end of last year, joined the party, and whether
/// they are still probationary.
fn joined(rng: &mut Rng, birth: i32, age: i64, steady: bool) -> (i32, bool) {
    let birth_year = YEAR - 1 - age as i32;
    // Joined the party at 20–40 (older villagers often later), never before 18.
    let join_age = (rng.range(20, 40) as i32).min(age as i32 - 1).max(18);
    let probationary = !steady && age <= 40 && rng.chance(0.06);
    let joined = if probationary {
        // Admitted this year: a probationary member for a year.
        days(YEAR, 1, 1) + rng.range(0, 300) as i32
    } else {
        let y = (birth_year + join_age).min(YEAR - 1);
        let y = if steady { y.min(YEAR - 8) } else { y };
        days(y, 1, 1) + rng.range(0, 364) as i32
    };
    (joined.max(birth + 18 * 365), probationary)
}

/// An ID number for a member born on `birth`, and the birth date it encodes: a day later when
/// the 50 sequence numbers of the date and gender are taken.
///
/// ID numbers are the county's region code, the birth date and a sequence 9xx that the
/// statistics office never issues at this scale, so no real person's number is produced. The
/// ninth digit of the sequence is odd for men, even for women.
fn id_number(
    county: &CountyId,
    mut birth: i32,
    female: bool,
    ids_taken: &mut BTreeMap<(i32, bool), u32>,
) -> (i32, String) {
    loop {
        let taken = ids_taken.entry((birth, female)).or_insert(0);
        if *taken < 50 {
            let seq3 = 900 + *taken * 2 + u32::from(!female);
            *taken += 1;
            let (y, m, d) = super::dates::ymd(birth);
            let first17 = format!("{}{y:04}{m:02}{d:02}{seq3:03}", county.region);
            let check = model::schema::id_check_char(first17.as_bytes()).unwrap_or('0');
            return (birth, format!("{first17}{check}"));
        }
        birth += 1;
    }
}

/// The year of 三会一课 and other meetings of every branch; weak branches skip some.
pub(crate) fn schedule(plan: &mut Plan) {
    let mut rng = plan.rng(Part::Meetings);
    let mut all: Vec<Meeting> = Vec::new();
    for (bi, b) in plan.branches.iter().enumerate() {
        for (held_on, kind, group, theme) in branch_year(&mut rng, b) {
            all.push(Meeting {
                id: String::new(),
                branch: bi as u32,
                kind,
                held_on,
                group,
                theme,
            });
        }
    }
    // Ids follow branch, then date, so a member's meetings in id order are in date order.
    for (i, m) in all.iter_mut().enumerate() {
        m.id = format!("HY{:06}", i + 1);
    }
    plan.meetings = all;
}

/// A meeting being planned: date, kind, 1-based party group (0 for none), theme.
type Planned = (i32, MeetingKind, u8, &'static str);

/// The order in which meetings of one day are listed, and so numbered. It is the generator's
/// own, not the schema's: changing it renumbers meetings in every generated county and the
/// sample.
fn agenda_rank(kind: MeetingKind) -> u8 {
    match kind {
        MeetingKind::Committee => 0,
        MeetingKind::Group => 1,
        MeetingKind::ThemeDay => 2,
        MeetingKind::Assembly => 3,
        MeetingKind::Lecture => 4,
        MeetingKind::OrgLife => 5,
        MeetingKind::Review => 6,
    }
}

/// One branch's meetings of the year, by date and then [`agenda_rank`].
fn branch_year(rng: &mut Rng, b: &Branch) -> Vec<Planned> {
    let mut own: Vec<Planned> = Vec::new();
    let theme_day = *rng.pick(&[1u32, 5, 8, 10, 15, 20]);
    for month in 1..=12u32 {
        month_meetings(rng, b, month, theme_day, &mut own);
    }
    own.push((
        days(YEAR, 1, rng.range(15, 26) as u32),
        MeetingKind::OrgLife,
        0,
        names::ORG_LIFE_THEME,
    ));
    own.push((
        days(YEAR, 12, rng.range(20, 28) as u32),
        MeetingKind::Review,
        0,
        names::REVIEW_THEME,
    ));
    own.sort_by_key(|&(held_on, kind, group, theme)| (held_on, agenda_rank(kind), group, theme));
    own
}

/// The branch's meetings due in `month`: the committee, each party group and the theme day
/// every month, the assembly and a lecture every quarter; each may be skipped.
fn month_meetings(rng: &mut Rng, b: &Branch, month: u32, theme_day: u32, own: &mut Vec<Planned>) {
    let held = |rng: &mut Rng, skip: f64| !rng.chance(skip);
    let mi = (month - 1) as usize;
    let dim = days_in_month(YEAR, month);
    // Nothing is held in the Spring Festival week (2024-02-10).
    let day = |rng: &mut Rng, lo: u32, hi: u32| {
        let d = rng.range(i64::from(lo), i64::from(hi.min(dim))) as u32;
        if month == 2 && (8..=17).contains(&d) {
            d + 10
        } else {
            d
        }
    };
    if held(rng, b.skip) {
        let d = day(rng, 2, 8);
        own.push((
            days(YEAR, month, d),
            MeetingKind::Committee,
            0,
            names::COMMITTEE_THEMES[mi],
        ));
    }
    for g in 1..=b.groups {
        if held(rng, b.skip) {
            let d = day(rng, 9, 20);
            own.push((
                days(YEAR, month, d),
                MeetingKind::Group,
                g,
                names::GROUP_THEMES[mi],
            ));
        }
    }
    if held(rng, b.skip) {
        let d = if month == 2 && (8..=17).contains(&theme_day) {
            20
        } else {
            theme_day
        };
        own.push((
            days(YEAR, month, d),
            MeetingKind::ThemeDay,
            0,
            names::THEME_DAY_THEMES[mi],
        ));
    }
    if month % 3 == 1 && held(rng, b.skip / 2.0) {
        let m = month + rng.range(0, 1) as u32;
        let d = rng.range(20, 28) as u32;
        own.push((
            days(YEAR, m, d),
            MeetingKind::Assembly,
            0,
            names::ASSEMBLY_THEMES[mi / 3],
        ));
    }
    if month.is_multiple_of(3) && held(rng, b.skip / 2.0) {
        // The third-quarter lecture is the 七一 lecture, on July 1st.
        let date = if month == 9 {
            days(YEAR, 7, 1)
        } else {
            days(YEAR, month, rng.range(21, 28) as u32)
        };
        own.push((date, MeetingKind::Lecture, 0, names::LECTURE_THEMES[mi / 3]));
    }
}

/// Splits `total` cents over the indicators: `dangjian` fixes 党组织建设 when given, `missing`
/// leaves one indicator out. Scores are in half points, quarter points when the total needs it.
pub(crate) fn split_total(
    rng: &mut Rng,
    total: i64,
    dangjian: Option<i64>,
    missing: Option<u8>,
) -> [Option<i64>; 10] {
    let mut out: [Option<i64>; 10] = [Some(0); 10];
    if let Some(m) = missing {
        out[m as usize] = None;
    }
    let free: Vec<usize> = (0..INDICATORS.len())
        .filter(|&i| out[i].is_some() && !(i == 0 && dangjian.is_some()))
        .collect();
    let fixed = dangjian.unwrap_or(0);
    if let Some(d) = dangjian {
        out[0] = Some(d);
    }
    let room: i64 = free.iter().map(|&i| INDICATORS[i].1).sum();
    let remaining = (total - fixed).clamp(0, room);
    let ratio = remaining as f64 / room as f64;
    for &i in &free {
        let max = INDICATORS[i].1;
        let v = (max as f64 * (ratio + rng.normalish() * 0.02)).clamp(0.0, max as f64);
        out[i] = Some(((v / 50.0).round() as i64 * 50).clamp(0, max));
    }
    // Walk the difference off in half points (a quarter or less at the end), always on an
    // indicator with room, starting from a random one.
    let mut diff = remaining - free.iter().map(|&i| out[i].unwrap_or(0)).sum::<i64>();
    while diff != 0 {
        let step = diff.signum() * diff.abs().min(50);
        let start = rng.index(free.len());
        let mut moved = false;
        for k in 0..free.len() {
            let i = free[(start + k) % free.len()];
            let v = out[i].unwrap_or(0) + step;
            if (0..=INDICATORS[i].1).contains(&v) {
                out[i] = Some(v);
                diff -= step;
                moved = true;
                break;
            }
        }
        if !moved {
            break;
        }
    }
    out
}

/// Bimonthly scores of every rural and community branch. `targets` (the sample's engineered
/// cases) fix a branch-period's total; all others follow the branch's quality.
pub(crate) fn score(plan: &mut Plan, targets: &BTreeMap<(u32, u8), ScoreTarget>) {
    let mut rng = plan.rng(Part::Scores);
    let mut scores = Vec::new();
    for (bi, b) in plan.branches.iter().enumerate() {
        if !assessed_by_default(b.ty) {
            continue;
        }
        for period in 1..=PERIODS {
            let target = match targets.get(&(bi as u32, period)) {
                Some(t) => *t,
                None => {
                    let pct = (b.quality + rng.normalish() * 0.02).clamp(0.70, 0.995);
                    // Totals on quarter points.
                    let total = ((pct * 400.0).round() as i64) * 25;
                    let missing = rng.chance(0.012).then(|| rng.range(1, 9) as u8);
                    ScoreTarget {
                        total,
                        dangjian: None,
                        missing,
                    }
                }
            };
            let split = split_total(&mut rng, target.total, target.dangjian, target.missing);
            for (i, v) in split.iter().enumerate() {
                if let Some(cents) = v {
                    scores.push(Score {
                        period,
                        branch: bi as u32,
                        indicator: i as u8,
                        cents: *cents,
                    });
                }
            }
        }
    }
    plan.scores = scores;
}

/// Grid visits: members of each village's branch visit households in the village, its groups
/// and household cells, every month.
pub(crate) fn visit(plan: &mut Plan) {
    let mut rng = plan.rng(Part::Visits);
    let mut children: Vec<Vec<u32>> = vec![Vec::new(); plan.units.len()];
    for (i, u) in plan.units.iter().enumerate() {
        if let Some(p) = u.parent {
            children[p as usize].push(i as u32);
        }
    }
    let mut visits = Vec::new();
    let mut resolution: BTreeMap<u32, f64> = BTreeMap::new();
    for b in plan.branches.iter().filter(|b| assessed_by_default(b.ty)) {
        let village = b.unit;
        let mut below = vec![village];
        let mut i = 0;
        while i < below.len() {
            below.extend_from_slice(&children[below[i] as usize]);
            i += 1;
        }
        let town = plan.units[village as usize].township.unwrap_or(village);
        let rate = *resolution
            .entry(town)
            .or_insert_with(|| rng.uniform(0.82, 0.97));
        let n_members = b.members.end - b.members.start;
        for month in 1..=12u32 {
            for _ in 0..rng.range(6, 14) {
                let unit = below[rng.index(below.len())];
                let level = plan.units[unit as usize].level;
                let member = (n_members > 0 && !rng.chance(0.05))
                    .then(|| b.members.start + rng.below(u64::from(n_members)) as u32);
                let households = match level {
                    3 => rng.range(3, 15),
                    4 => rng.range(2, 10),
                    _ => rng.range(1, 6),
                };
                let raised = (0..households).filter(|_| rng.chance(0.15)).count() as i64;
                let resolved = (0..raised).filter(|_| rng.chance(rate)).count() as i64;
                let day = rng.range(1, i64::from(days_in_month(YEAR, month))) as u32;
                visits.push(Visit {
                    id: String::new(),
                    unit,
                    member,
                    on: days(YEAR, month, day),
                    households,
                    raised,
                    resolved,
                });
            }
        }
    }
    for (i, v) in visits.iter_mut().enumerate() {
        v.id = format!("ZF{:06}", i + 1);
    }
    plan.visits = visits;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indicators_match_the_default_rules() {
        let rules = model::rules::Rules::default_rules();
        let names: Vec<(String, i64)> = rules
            .assessment
            .indicators
            .get_ref()
            .iter()
            .map(|i| (i.name.clone(), i.max.0))
            .collect();
        let ours: Vec<(String, i64)> = INDICATORS
            .iter()
            .map(|(n, m)| (n.to_string(), *m))
            .collect();
        assert_eq!(names, ours);
    }

    #[test]
    fn split_hits_the_total_within_maxima() {
        let mut rng = Rng::stream(3, 0, Part::Scores);
        for total in (7000..=9950).step_by(25) {
            let s = split_total(&mut rng, total, None, None);
            let sum: i64 = s.iter().flatten().sum();
            assert_eq!(sum, total);
            for (v, (_, max)) in s.iter().zip(INDICATORS) {
                let v = v.unwrap();
                assert!((0..=*max).contains(&v));
            }
        }
        let s = split_total(&mut rng, 8800, Some(1850), Some(8));
        assert_eq!(s[0], Some(1850));
        assert_eq!(s[8], None);
        assert_eq!(s.iter().flatten().sum::<i64>(), 8800);
    }
}
