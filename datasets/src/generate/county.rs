//! The structure of a generated county: the list of counties a city or province holds, and for
//! one county its grid (districts, townships, villages and communities with their groups and
//! household cells), its branches with their target sizes and profiles, and its 两新组织 with
//! their coverage.
//!
//! A county's structure is made in stages — root and districts, then township by township its
//! villages, its own branches and its organizations, then the county-level branches — all
//! drawing from the county's one structure stream in this fixed order. [`SHAPE`] holds the
//! numbers that shape it. The sample county has its own hand-laid structure (`sample.rs`).

use std::collections::BTreeSet;
use std::ops::{Range, RangeInclusive};

use model::domain::{BranchType, OrgKind};

use super::names;
use super::plan::{BranchSpec, CountyId, OrgSpec, Profile, Skeleton, discipline, founded};
use super::rng::{Part, Rng};

/// The numbers that shape a generated county, stage by stage. Counts and sizes are inclusive
/// ranges drawn uniformly, `f64` ranges are drawn uniformly from `start` up to `end`, and shares
/// are probabilities. They are plausible for a county like 醴陵, not measured. Changing one
/// changes every generated county (the committed sample has its own layout).
pub(crate) struct Shape {
    /// The list of counties of a city or province.
    pub counties: CountyListShape,
    /// Districts and townships.
    pub grid: GridShape,
    /// Villages and communities, their grid below and their branches.
    pub villages: VillageShape,
    /// The branches of a township's own organs, institutions and schools.
    pub township: TownshipShape,
    /// 两新组织: enterprises and social organizations, and the branches that cover them.
    pub orgs: OrgShape,
    /// County departments, institutions, schools and state enterprises.
    pub county_level: CountyLevelShape,
}

/// See [`Shape::counties`].
pub(crate) struct CountyListShape {
    /// Relative size of every county after the first (which is 1.0, a county like 醴陵).
    pub size: Range<f64>,
    /// Share of county-level cities (…市) among the counties (…县).
    pub city_share: f64,
}

/// See [`Shape::grid`].
pub(crate) struct GridShape {
    /// Townships of a county of size 1.0; the count scales with the size.
    pub townships: f64,
    /// Townships of even the smallest county.
    pub min_townships: usize,
    /// Districts (片区) the townships are spread over, at most.
    pub max_districts: usize,
    /// Every `street_every`-th township, starting with the first, is an urban 街道.
    pub street_every: usize,
    /// Townships number `xiang_from`, `xiang_from + xiang_every`, … (unless a 街道) are 乡;
    /// the others are 镇.
    pub xiang_every: usize,
    /// See `xiang_every`.
    pub xiang_from: usize,
    /// Share of women among district leaders.
    pub district_leader_female: f64,
    /// Share of women among township secretaries.
    pub secretary_female: f64,
}

/// How many communities and villages a township of one kind has.
pub(crate) struct Settlements {
    /// `None`: no community, and nothing is drawn.
    pub communities: Option<RangeInclusive<i64>>,
    /// Villages.
    pub villages: RangeInclusive<i64>,
}

/// See [`Shape::villages`].
pub(crate) struct VillageShape {
    /// In a 街道.
    pub street: Settlements,
    /// In a 镇.
    pub town: Settlements,
    /// In a 乡.
    pub xiang: Settlements,
    /// Residents' groups (居民小组) of a community.
    pub community_groups: RangeInclusive<i64>,
    /// Villagers' groups (村民小组) of a village.
    pub village_groups: RangeInclusive<i64>,
    /// Household cells (责任区) of a group.
    pub cells: RangeInclusive<i64>,
    /// Members of a community's branch.
    pub community_members: RangeInclusive<i64>,
    /// Members of a village's branch.
    pub village_members: RangeInclusive<i64>,
    /// A branch this large is a 党总支 rather than a 党支部.
    pub general_branch_from: u32,
    /// Score level of a weak village's branch (see [`discipline`]).
    pub weak_quality: Range<f64>,
    /// Score level of any other village's branch.
    pub quality: Range<f64>,
    /// Earliest founding year of a village's branch.
    pub founded_from: i32,
}

/// One kind of non-assessed branch: how many, how large, since when.
pub(crate) struct BranchKindShape {
    /// Branches of this kind per township.
    pub count: RangeInclusive<i64>,
    /// Members of each.
    pub members: RangeInclusive<i64>,
    /// Earliest founding year.
    pub founded_from: i32,
}

/// See [`Shape::township`].
pub(crate) struct TownshipShape {
    /// The township organs' branches (机关第一党支部 …).
    pub organs: BranchKindShape,
    /// Share of organ branches paired (结对共建) with one of the township's weakest villages.
    pub organ_paired: f64,
    /// Share of townships with a branch of retired cadres.
    pub retired_share: f64,
    /// Members of the retired cadres' branch.
    pub retired_members: RangeInclusive<i64>,
    /// Earliest founding year of the retired cadres' branch.
    pub retired_founded_from: i32,
    /// How much lower the retired cadres' attendance rate is than an organ's.
    pub retired_rate_drop: f64,
    /// Township institutions' branches (卫生院, 农技站 …).
    pub institutions: BranchKindShape,
    /// Township schools' branches.
    pub schools: BranchKindShape,
}

/// A head count: uniform over a range, or skewed towards `min` (the product of two uniforms
/// times `spread`: many small, a few large).
pub(crate) enum Headcount {
    /// Uniform over the range.
    Uniform(RangeInclusive<i64>),
    /// `min` plus `spread` times the product of two uniforms.
    Skewed {
        /// The smallest count.
        min: i64,
        /// The largest count above `min`, approached rarely.
        spread: f64,
    },
}

impl Headcount {
    fn draw(&self, rng: &mut Rng) -> i64 {
        match self {
            Headcount::Uniform(r) => rng.range_in(r),
            Headcount::Skewed { min, spread } => min + (rng.unit() * rng.unit() * spread) as i64,
        }
    }
}

/// How many party members an organization has: none, a few, or many.
pub(crate) struct PartyMembers {
    /// Share with none.
    pub none: f64,
    /// Share with none or a few; the rest have many.
    pub few_or_none: f64,
    /// A few.
    pub few: RangeInclusive<i64>,
    /// Many.
    pub many: Headcount,
}

/// Enterprises or social organizations.
pub(crate) struct OrgKindShape {
    /// Employees.
    pub employees: Headcount,
    /// Party members.
    pub party_members: PartyMembers,
    /// Share of those with enough members (see [`OrgShape::own_branch_from`]) that have their
    /// own branch.
    pub own_branch: f64,
}

/// See [`Shape::orgs`].
pub(crate) struct OrgShape {
    /// Enterprises of a 街道.
    pub street_enterprises: RangeInclusive<i64>,
    /// Enterprises of a 镇 or 乡.
    pub enterprises: RangeInclusive<i64>,
    /// Social organizations of any township.
    pub social_orgs: RangeInclusive<i64>,
    /// Enterprises.
    pub enterprise: OrgKindShape,
    /// Social organizations.
    pub social: OrgKindShape,
    /// Share sited in the township itself (seat, industrial park) rather than in a village.
    pub in_township: f64,
    /// Share whose employee count is unknown.
    pub employees_unknown: f64,
    /// Share with the township's party-building instructor (党建指导员) assigned.
    pub with_instructor: f64,
    /// Share of women among instructors.
    pub instructor_female: f64,
    /// Party members an organization needs for a branch of its own.
    pub own_branch_from: i64,
    /// Members of an own branch beyond the organization's party members.
    pub own_branch_extra: RangeInclusive<i64>,
    /// Earliest founding year of an own branch.
    pub own_founded_from: i32,
    /// Share of organizations with some members, but no own branch, in a joint branch.
    pub joint_with_members: f64,
    /// Share of organizations without members in a joint branch.
    pub joint_without_members: f64,
    /// Organizations per joint branch, usually (一管五 or less).
    pub joint_run: RangeInclusive<i64>,
    /// Share of joint branches that take more (beyond 一管五).
    pub large_run_share: f64,
    /// Organizations of such a joint branch.
    pub large_run: RangeInclusive<i64>,
    /// Fewer organizations than this left over join the last run instead of making their own.
    pub min_last_run: usize,
    /// Members of a joint branch beyond its organizations' party members.
    pub joint_extra: RangeInclusive<i64>,
    /// Members of even the smallest joint branch.
    pub joint_min_members: u32,
    /// Earliest founding year of a joint branch.
    pub joint_founded_from: i32,
}

/// One list of county-level branches.
pub(crate) struct CountyLevelList {
    /// Their names, in the order they are taken; `县` is replaced by the county's name.
    pub names: &'static [&'static str],
    /// Their type.
    pub ty: BranchType,
    /// How many of the list a county of size 1.0 has.
    pub full: usize,
    /// Members of each.
    pub members: RangeInclusive<i64>,
}

/// See [`Shape::county_level`].
pub(crate) struct CountyLevelShape {
    /// Organs, institutions, schools, state enterprises, in this order.
    pub lists: [CountyLevelList; 4],
    /// Branches of each list in even the smallest county.
    pub min_per_list: usize,
    /// Earliest founding year.
    pub founded_from: i32,
    /// Share of organ branches paired with a weak village (驻村帮扶).
    pub organ_paired: f64,
}

/// The shape of every generated county.
pub(crate) static SHAPE: Shape = Shape {
    counties: CountyListShape {
        size: 0.7..1.3,
        city_share: 0.2,
    },
    grid: GridShape {
        townships: 24.0,
        min_townships: 2,
        max_districts: 5,
        street_every: 8,
        xiang_every: 5,
        xiang_from: 3,
        district_leader_female: 0.2,
        secretary_female: 0.15,
    },
    villages: VillageShape {
        street: Settlements {
            communities: Some(5..=9),
            villages: 0..=2,
        },
        town: Settlements {
            communities: Some(0..=1),
            villages: 10..=15,
        },
        xiang: Settlements {
            communities: None,
            villages: 8..=12,
        },
        community_groups: 3..=5,
        village_groups: 3..=6,
        cells: 2..=4,
        community_members: 35..=110,
        village_members: 65..=200,
        general_branch_from: 50,
        weak_quality: 0.78..0.88,
        quality: 0.845..0.98,
        founded_from: 1950,
    },
    township: TownshipShape {
        organs: BranchKindShape {
            count: 2..=4,
            members: 15..=40,
            founded_from: 1980,
        },
        organ_paired: 0.65,
        retired_share: 0.6,
        retired_members: 10..=30,
        retired_founded_from: 1990,
        retired_rate_drop: 0.08,
        institutions: BranchKindShape {
            count: 1..=3,
            members: 6..=20,
            founded_from: 1985,
        },
        schools: BranchKindShape {
            count: 1..=3,
            members: 8..=28,
            founded_from: 1985,
        },
    },
    orgs: OrgShape {
        street_enterprises: 45..=70,
        enterprises: 35..=60,
        social_orgs: 6..=14,
        enterprise: OrgKindShape {
            employees: Headcount::Skewed {
                min: 8,
                spread: 400.0,
            },
            party_members: PartyMembers {
                none: 0.5,
                few_or_none: 0.75,
                few: 1..=2,
                many: Headcount::Skewed {
                    min: 3,
                    spread: 8.0,
                },
            },
            own_branch: 0.8,
        },
        social: OrgKindShape {
            employees: Headcount::Uniform(3..=40),
            party_members: PartyMembers {
                none: 0.7,
                few_or_none: 0.9,
                few: 1..=2,
                many: Headcount::Uniform(3..=6),
            },
            own_branch: 0.7,
        },
        in_township: 0.25,
        employees_unknown: 0.04,
        with_instructor: 0.7,
        instructor_female: 0.3,
        own_branch_from: 3,
        own_branch_extra: 0..=1,
        own_founded_from: 2005,
        joint_with_members: 0.7,
        joint_without_members: 0.25,
        joint_run: 3..=5,
        large_run_share: 0.1,
        large_run: 6..=8,
        min_last_run: 2,
        joint_extra: 0..=2,
        joint_min_members: 3,
        joint_founded_from: 2012,
    },
    county_level: CountyLevelShape {
        lists: [
            CountyLevelList {
                names: names::COUNTY_ORGANS,
                ty: BranchType::Organ,
                full: 60,
                members: 15..=60,
            },
            CountyLevelList {
                names: names::COUNTY_INSTITUTIONS,
                ty: BranchType::Institution,
                full: 15,
                members: 15..=70,
            },
            CountyLevelList {
                names: names::COUNTY_SCHOOLS,
                ty: BranchType::School,
                full: 7,
                members: 20..=80,
            },
            CountyLevelList {
                names: names::COUNTY_SOES,
                ty: BranchType::Soe,
                full: 12,
                members: 20..=90,
            },
        ],
        min_per_list: 2,
        founded_from: 1970,
        organ_paired: 0.7,
    },
};

/// The list of counties of a city or province under `seed`: the first `n` of one endless list,
/// so a county run is the first county of a city run and a city the first ten of a province.
pub(crate) fn county_ids(seed: u64, n: u32) -> Vec<CountyId> {
    let mut rng = Rng::stream(seed, 0, Part::Names);
    let mut used = BTreeSet::new();
    let mut out = Vec::with_capacity(n as usize);
    for index in 0..n {
        let size = if index == 0 {
            1.0
        } else {
            rng.uniform_in(&SHAPE.counties.size)
        };
        let suffix = if rng.chance(SHAPE.counties.city_share) {
            "市"
        } else {
            "县"
        };
        let mut name = format!("{}{suffix}", names::place(&mut rng));
        while !used.insert(name.clone()) {
            name = format!("{}{suffix}", names::place(&mut rng));
        }
        // Ten counties to a prefecture, numbered as region codes are (4301xx, 4302xx, …).
        let region = 430_000 + (index / 10 + 1) * 100 + 21 + index % 10;
        out.push(CountyId {
            index,
            tenant_id: format!("c{:03}", index + 1),
            name,
            region,
            size,
        });
    }
    out
}

/// The grid, branches and organizations of a county of relative size `county.size × scale`.
pub(crate) fn county_structure(county: &CountyId, seed: u64, scale: f64) -> Skeleton {
    let size = county.size * scale;
    let mut b = Builder {
        county,
        short: county.name.chars().take(2).collect(),
        rng: Rng::stream(seed, county.index, Part::Structure),
        sk: Skeleton::default(),
    };
    let root = b.root();
    let n_towns = ((SHAPE.grid.townships * size).round() as usize).max(SHAPE.grid.min_townships);
    let districts = b.districts(root, n_towns.min(SHAPE.grid.max_districts));
    let mut codes = TownshipCodes::default();
    let mut town_names = BTreeSet::new();
    let mut villages = Vec::new();
    for t in 0..n_towns {
        let district = districts[t * districts.len() / n_towns];
        let town = b.township(t, district, &mut codes, &mut town_names);
        let own = b.villages(&town);
        b.township_branches(&town, &own);
        b.organizations(&town, &own);
        villages.extend(own);
    }
    b.county_level_branches(root, size, &villages);
    b.sk
}

/// A county's structure in the making: the stream it draws from and what it has so far.
struct Builder<'a> {
    county: &'a CountyId,
    /// The first two characters of the county's name, which its enterprises' names start with.
    short: String,
    rng: Rng,
    sk: Skeleton,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TownshipKind {
    /// 街道, urban.
    Street,
    /// 镇.
    Town,
    /// 乡, rural and smaller.
    Xiang,
}

impl TownshipKind {
    /// The kind of township number `t` (0-based).
    fn of(t: usize) -> TownshipKind {
        let g = &SHAPE.grid;
        if t.is_multiple_of(g.street_every) {
            TownshipKind::Street
        } else if t % g.xiang_every == g.xiang_from {
            TownshipKind::Xiang
        } else {
            TownshipKind::Town
        }
    }

    fn text(self) -> &'static str {
        match self {
            TownshipKind::Street => "街道",
            TownshipKind::Town => "镇",
            TownshipKind::Xiang => "乡",
        }
    }

    fn settlements(self) -> &'static Settlements {
        match self {
            TownshipKind::Street => &SHAPE.villages.street,
            TownshipKind::Town => &SHAPE.villages.town,
            TownshipKind::Xiang => &SHAPE.villages.xiang,
        }
    }
}

/// Statistical codes of townships, numbered by kind: 街道 001–099, 镇 101–199, 乡 201–299.
#[derive(Default)]
struct TownshipCodes {
    streets: u32,
    towns: u32,
    xiangs: u32,
}

impl TownshipCodes {
    fn next(&mut self, region: u32, kind: TownshipKind) -> String {
        match kind {
            TownshipKind::Street => {
                self.streets += 1;
                format!("{region}{:03}", self.streets)
            }
            TownshipKind::Town => {
                self.towns += 1;
                format!("{region}{:03}", 100 + self.towns)
            }
            TownshipKind::Xiang => {
                self.xiangs += 1;
                format!("{region}{:03}", 200 + self.xiangs)
            }
        }
    }
}

/// A township's grid unit, as its villages and branches need it.
struct Township {
    unit: u32,
    code: String,
    name: String,
    kind: TownshipKind,
}

/// A branch that is not assessed, before its draws.
struct PlainBranch {
    name: String,
    unit: u32,
    ty: BranchType,
    is_joint: bool,
    profile: Profile,
    founded_from: i32,
}

/// A place name not yet in `taken`, which then holds it.
fn unique_place(rng: &mut Rng, taken: &mut BTreeSet<String>) -> String {
    let mut name = names::place(rng);
    while !taken.insert(name.clone()) {
        name = names::place(rng);
    }
    name
}

/// The branch type and member profile of the branches that cover organizations of `kind`.
fn covering(kind: OrgKind) -> (BranchType, Profile) {
    match kind {
        OrgKind::Enterprise => (BranchType::PrivateEnterprise, Profile::Enterprise),
        OrgKind::SocialOrg => (BranchType::SocialOrg, Profile::Social),
    }
}

impl Builder<'_> {
    /// The county's own unit, led by its secretary.
    fn root(&mut self) -> u32 {
        let secretary = names::person(&mut self.rng, false);
        self.sk.unit(
            self.county.region.to_string(),
            None,
            self.county.name.clone(),
            "县",
            Some(secretary),
        )
    }

    fn districts(&mut self, root: u32, n: usize) -> Vec<u32> {
        (0..n)
            .map(|d| {
                let leader = names::someone(&mut self.rng, SHAPE.grid.district_leader_female);
                self.sk.unit(
                    format!("{}P{}", self.county.region, d + 1),
                    Some(root),
                    names::DISTRICTS[d].to_string(),
                    "片区",
                    Some(leader),
                )
            })
            .collect()
    }

    /// Township number `t`'s unit, with a name no other township of the county has.
    fn township(
        &mut self,
        t: usize,
        district: u32,
        codes: &mut TownshipCodes,
        taken: &mut BTreeSet<String>,
    ) -> Township {
        let kind = TownshipKind::of(t);
        let code = codes.next(self.county.region, kind);
        let name = format!("{}{}", unique_place(&mut self.rng, taken), kind.text());
        let secretary = names::someone(&mut self.rng, SHAPE.grid.secretary_female);
        let unit = self.sk.unit(
            code.clone(),
            Some(district),
            name.clone(),
            kind.text(),
            Some(secretary),
        );
        Township {
            unit,
            code,
            name,
            kind,
        }
    }

    /// The township's communities, then its villages, each with its grid and its branch;
    /// returns their branches.
    fn villages(&mut self, town: &Township) -> Vec<u32> {
        let settlements = town.kind.settlements();
        let n_comm = match &settlements.communities {
            Some(r) => self.rng.range_in(r),
            None => 0,
        };
        let n_vill = self.rng.range_in(&settlements.villages);
        let mut taken = BTreeSet::new();
        (0..n_comm + n_vill)
            .map(|v| self.village(town, v, n_comm, &mut taken))
            .collect()
    }

    /// Settlement `v` of the township (communities first); returns its branch.
    fn village(
        &mut self,
        town: &Township,
        v: i64,
        n_comm: i64,
        taken: &mut BTreeSet<String>,
    ) -> u32 {
        let community = v < n_comm;
        let name = unique_place(&mut self.rng, taken);
        // Statistical codes: 居委会 001–199, 村委会 200–399.
        let (kind, code) = if community {
            ("社区", format!("{}{:03}", town.code, v + 1))
        } else {
            ("村", format!("{}{:03}", town.code, 201 + v - n_comm))
        };
        let unit = self.sk.unit(
            code.clone(),
            Some(town.unit),
            format!("{name}{kind}"),
            kind,
            None,
        );
        let s = &SHAPE.villages;
        let groups = if community {
            &s.community_groups
        } else {
            &s.village_groups
        };
        self.sk
            .village_grid(&mut self.rng, unit, &code, community, groups, &s.cells);
        self.village_branch(unit, &format!("{name}{kind}"), community)
    }

    /// The branch of a village or community, named after it.
    fn village_branch(&mut self, unit: u32, village: &str, community: bool) -> u32 {
        let s = &SHAPE.villages;
        let ty = if community {
            BranchType::Community
        } else {
            BranchType::Rural
        };
        let (rate, skip) = discipline(&mut self.rng, ty);
        let weak = skip > 0.0;
        let members = if community {
            &s.community_members
        } else {
            &s.village_members
        };
        let size = self.rng.range_in(members) as u32;
        // Bigger branches are 党总支 in practice.
        let suffix = if size >= s.general_branch_from {
            "党总支"
        } else {
            "党支部"
        };
        let quality = self
            .rng
            .uniform_in(if weak { &s.weak_quality } else { &s.quality });
        let founded_on = founded(&mut self.rng, s.founded_from);
        self.sk.branch(BranchSpec {
            name: format!("{village}{suffix}"),
            unit,
            ty,
            is_joint: false,
            founded_on,
            profile: if community {
                Profile::Community
            } else {
                Profile::Village
            },
            size,
            rate,
            skip,
            quality,
        })
    }

    /// A branch that is not assessed. Every such branch draws in this order: its discipline,
    /// its founding date, then its size (by `size`).
    fn plain_branch(&mut self, spec: PlainBranch, size: impl FnOnce(&mut Rng) -> u32) -> u32 {
        let (rate, skip) = discipline(&mut self.rng, spec.ty);
        let founded_on = founded(&mut self.rng, spec.founded_from);
        let size = size(&mut self.rng);
        self.sk.branch(BranchSpec {
            name: spec.name,
            unit: spec.unit,
            ty: spec.ty,
            is_joint: spec.is_joint,
            founded_on,
            profile: spec.profile,
            size,
            rate,
            skip,
            quality: 0.0,
        })
    }

    /// A branch of a cadres' unit (organ, institution, school, state enterprise).
    fn cadre_branch(
        &mut self,
        name: String,
        unit: u32,
        ty: BranchType,
        founded_from: i32,
        members: &RangeInclusive<i64>,
    ) -> u32 {
        let spec = PlainBranch {
            name,
            unit,
            ty,
            is_joint: false,
            profile: Profile::Cadre,
            founded_from,
        };
        self.plain_branch(spec, |rng| rng.range_in(members) as u32)
    }

    /// The weakest first, by score level.
    fn weakest_first(&self, branches: &[u32]) -> Vec<u32> {
        let mut out = branches.to_vec();
        out.sort_by(|a, b| {
            self.sk.branches[*a as usize]
                .quality
                .total_cmp(&self.sk.branches[*b as usize].quality)
        });
        out
    }

    /// Township organs, perhaps the retired cadres, institutions and schools; organs pair with
    /// the township's weakest villages (结对共建).
    fn township_branches(&mut self, town: &Township, villages: &[u32]) {
        let s = &SHAPE.township;
        let weakest = self.weakest_first(villages);
        let n_organs = self.rng.range_in(&s.organs.count) as usize;
        for o in 0..n_organs {
            let name = format!("{}机关第{}党支部", town.name, names::numeral(o + 1));
            let b = self.cadre_branch(
                name,
                town.unit,
                BranchType::Organ,
                s.organs.founded_from,
                &s.organs.members,
            );
            if self.rng.chance(s.organ_paired) {
                self.sk.branches[b as usize].paired = weakest.get(o).copied();
            }
        }
        if self.rng.chance(s.retired_share) {
            let spec = PlainBranch {
                name: format!("{}离退休干部党支部", town.name),
                unit: town.unit,
                ty: BranchType::Organ,
                is_joint: false,
                profile: Profile::Retired,
                founded_from: s.retired_founded_from,
            };
            let b = self.plain_branch(spec, |rng| rng.range_in(&s.retired_members) as u32);
            self.sk.branches[b as usize].rate -= s.retired_rate_drop;
        }
        let n_inst = self.rng.range_in(&s.institutions.count) as usize;
        let first = self.rng.index(names::TOWNSHIP_INSTITUTIONS.len());
        for i in 0..n_inst {
            let what =
                names::TOWNSHIP_INSTITUTIONS[(first + i) % names::TOWNSHIP_INSTITUTIONS.len()];
            let name = format!("{}{what}党支部", town.name);
            let inst = &s.institutions;
            let ty = BranchType::Institution;
            self.cadre_branch(name, town.unit, ty, inst.founded_from, &inst.members);
        }
        let n_school = self.rng.range_in(&s.schools.count) as usize;
        for what in &names::TOWNSHIP_SCHOOLS[..n_school] {
            let name = format!("{}{what}党支部", town.name);
            let school = &s.schools;
            let ty = BranchType::School;
            self.cadre_branch(name, town.unit, ty, school.founded_from, &school.members);
        }
    }

    /// 两新组织: the township's enterprises, then its social organizations, sited in its
    /// villages or (industrial parks, the township seat) in the township itself; each kind's
    /// joint branches follow its organizations.
    fn organizations(&mut self, town: &Township, villages: &[u32]) {
        let o = &SHAPE.orgs;
        let sites: Vec<u32> = villages
            .iter()
            .map(|b| self.sk.branches[*b as usize].unit)
            .collect();
        let n_ent = self.rng.range_in(if town.kind == TownshipKind::Street {
            &o.street_enterprises
        } else {
            &o.enterprises
        });
        let n_soc = self.rng.range_in(&o.social_orgs);
        let instructor = names::someone(&mut self.rng, o.instructor_female);
        for (kind, count) in [(OrgKind::Enterprise, n_ent), (OrgKind::SocialOrg, n_soc)] {
            let mut waiting = Vec::new();
            for _ in 0..count {
                let org = self.organization(town, &sites, kind, &instructor);
                match self.coverage(kind, self.sk.orgs[org as usize].party_members) {
                    Coverage::Own => self.own_branch(org, kind),
                    Coverage::Joint => waiting.push(org),
                    Coverage::Uncovered => {}
                }
            }
            self.joint_branches(town, kind, &waiting);
        }
    }

    /// One organization of `kind` in the township.
    fn organization(
        &mut self,
        town: &Township,
        sites: &[u32],
        kind: OrgKind,
        instructor: &str,
    ) -> u32 {
        let o = &SHAPE.orgs;
        let shape = match kind {
            OrgKind::Enterprise => &o.enterprise,
            _ => &o.social,
        };
        let unit = if sites.is_empty() || self.rng.chance(o.in_township) {
            town.unit
        } else {
            *self.rng.pick(sites)
        };
        let (industry, name, employees) = match kind {
            OrgKind::Enterprise => {
                let (industry, suffix) = *self.rng.pick(names::INDUSTRIES);
                let employees = shape.employees.draw(&mut self.rng);
                let brand = names::brand(&mut self.rng);
                (
                    industry,
                    format!("{}{brand}{suffix}", self.short),
                    employees,
                )
            }
            _ => {
                let (industry, suffix) = *self.rng.pick(names::SOCIAL_KINDS);
                let place = &self.sk.units[unit as usize].name;
                let place = place.trim_end_matches(['镇', '乡', '村']);
                let place = place.trim_end_matches("社区").trim_end_matches("街道");
                let name = format!("{place}{suffix}");
                (industry, name, shape.employees.draw(&mut self.rng))
            }
        };
        let party_members = self.party_members(&shape.party_members);
        let employees = (!self.rng.chance(o.employees_unknown)).then_some(employees);
        let instructor = self
            .rng
            .chance(o.with_instructor)
            .then(|| instructor.to_string());
        self.sk.org(OrgSpec {
            name,
            kind,
            unit,
            industry: Some(industry),
            employees,
            party_members,
            instructor,
        })
    }

    fn party_members(&mut self, p: &PartyMembers) -> i64 {
        let u = self.rng.unit();
        if u < p.none {
            0
        } else if u < p.few_or_none {
            self.rng.range_in(&p.few)
        } else {
            p.many.draw(&mut self.rng)
        }
    }

    /// Whether an organization with `party_members` gets its own branch, waits for a joint
    /// one, or stays uncovered: most with enough members have their own branch; smaller ones
    /// share a joint branch or stay uncovered.
    fn coverage(&mut self, kind: OrgKind, party_members: i64) -> Coverage {
        let o = &SHAPE.orgs;
        let own_share = match kind {
            OrgKind::Enterprise => o.enterprise.own_branch,
            _ => o.social.own_branch,
        };
        let enough = party_members >= o.own_branch_from;
        let u = self.rng.unit();
        if enough && u < own_share {
            Coverage::Own
        } else if (party_members >= 1 && u < o.joint_with_members)
            || (party_members == 0 && u < o.joint_without_members)
            || enough
        {
            Coverage::Joint
        } else {
            Coverage::Uncovered
        }
    }

    /// The organization's own branch, at its site.
    fn own_branch(&mut self, org: u32, kind: OrgKind) {
        let o = &SHAPE.orgs;
        let (ty, profile) = covering(kind);
        let (name, unit, party_members) = {
            let org = &self.sk.orgs[org as usize];
            (format!("{}党支部", org.name), org.unit, org.party_members)
        };
        let spec = PlainBranch {
            name,
            unit,
            ty,
            is_joint: false,
            profile,
            founded_from: o.own_founded_from,
        };
        let b = self.plain_branch(spec, |rng| {
            party_members as u32 + rng.range_in(&o.own_branch_extra) as u32
        });
        self.sk.orgs[org as usize].branch = Some(b);
    }

    /// Joint branches take the waiting organizations in runs of 3–5, now and then more
    /// (beyond 一管五).
    fn joint_branches(&mut self, town: &Township, kind: OrgKind, waiting: &[u32]) {
        let o = &SHAPE.orgs;
        let (ty, profile) = covering(kind);
        let what = match kind {
            OrgKind::Enterprise => "非公企业",
            _ => "社会组织",
        };
        let mut rest = waiting;
        let mut n = 0;
        while !rest.is_empty() {
            let run = if self.rng.chance(o.large_run_share) {
                &o.large_run
            } else {
                &o.joint_run
            };
            let mut take = self.rng.range_in(run) as usize;
            if rest.len() < take + o.min_last_run {
                take = rest.len();
            }
            let (chunk, tail) = rest.split_at(take);
            rest = tail;
            n += 1;
            let party_members: i64 = chunk
                .iter()
                .map(|org| self.sk.orgs[*org as usize].party_members)
                .sum();
            let spec = PlainBranch {
                name: format!("{}{what}第{}联合党支部", town.name, names::numeral(n)),
                unit: town.unit,
                ty,
                is_joint: true,
                profile,
                founded_from: o.joint_founded_from,
            };
            let b = self.plain_branch(spec, |rng| {
                (party_members as u32 + rng.range_in(&o.joint_extra) as u32)
                    .max(o.joint_min_members)
            });
            for org in chunk {
                self.sk.orgs[*org as usize].branch = Some(b);
            }
        }
    }

    /// County departments, institutions, schools and state enterprises sit at the root; most
    /// organs pair with a weak village (驻村帮扶), the weakest first.
    fn county_level_branches(&mut self, root: u32, size: f64, villages: &[u32]) {
        let c = &SHAPE.county_level;
        let weak_villages = self.weakest_first(villages);
        let mut pair_next = 0;
        for list in &c.lists {
            let n = (((list.full as f64) * size).round() as usize)
                .clamp(c.min_per_list, list.names.len());
            for what in &list.names[..n] {
                // 县委组织部 → 枫溪县委组织部, 团县委 → 团枫溪县委.
                let name = format!("{what}党支部").replacen('县', &self.county.name, 1);
                let b = self.cadre_branch(name, root, list.ty, c.founded_from, &list.members);
                if list.ty == BranchType::Organ
                    && self.rng.chance(c.organ_paired)
                    && !weak_villages.is_empty()
                {
                    self.sk.branches[b as usize].paired =
                        Some(weak_villages[pair_next % weak_villages.len()]);
                    pair_next += 1;
                }
            }
        }
    }
}

/// How an organization is covered by a party branch.
enum Coverage {
    /// By a branch of its own.
    Own,
    /// By a joint branch shared with other organizations.
    Joint,
    /// Not at all.
    Uncovered,
}
