//! The sample county, 醴陵示范县: laid out by hand (two districts, five townships, 22 villages
//! and communities, 38 branches, 20 organizations) with the assessment's boundary cases built
//! in on purpose. Members, meetings, attendance, points and visits are then made as for any
//! county; the boundary cases fix only the rows they need. `sample/README.md` lists every case
//! with its ids, and the integration tests check each one on the generated rows.

use std::collections::BTreeMap;

use model::domain::{BranchType, OrgKind};

use super::names;
use super::plan::{self, BranchSpec, CountyId, OrgSpec, Plan, Profile, ScoreTarget, Skeleton};
use super::rng::{Part, Rng};

pub(crate) const TENANT: &str = "sample";
pub(crate) const NAME: &str = "醴陵示范县";
/// 醴陵's real region code; ID numbers stay synthetic through their 9xx sequence numbers.
const REGION: u32 = 430_281;
/// Random streams of the sample, apart from any generated county's.
const STREAM: u32 = 0x00FF_FFFF;

struct Town {
    code: &'static str,
    name: &'static str,
    kind: &'static str,
    district: usize,
    /// (name, is a community, members)
    villages: &'static [(&'static str, bool, u32)],
}

const TOWNS: &[Town] = &[
    Town {
        code: "101",
        name: "青溪镇",
        kind: "镇",
        district: 0,
        villages: &[
            ("青溪村", false, 28),
            ("枫树村", false, 22),
            ("石塘村", false, 18),
            ("荷花村", false, 16),
            ("桃源村", false, 20),
            ("新屋村", false, 14),
        ],
    },
    Town {
        code: "102",
        name: "石门镇",
        kind: "镇",
        district: 0,
        villages: &[
            ("石门村", false, 24),
            ("龙潭村", false, 18),
            ("白沙村", false, 16),
            ("金鸡村", false, 15),
            ("长岭村", false, 12),
        ],
    },
    Town {
        code: "201",
        name: "枫林乡",
        kind: "乡",
        district: 1,
        villages: &[
            ("枫林村", false, 20),
            ("杨家村", false, 15),
            ("松山村", false, 13),
            ("竹园村", false, 12),
        ],
    },
    Town {
        code: "001",
        name: "瓷城街道",
        kind: "街道",
        district: 1,
        villages: &[
            ("瓷都社区", true, 26),
            ("解放社区", true, 22),
            ("渌江社区", true, 18),
            ("南塘村", false, 14),
        ],
    },
    Town {
        code: "103",
        name: "官庄镇",
        kind: "镇",
        district: 1,
        villages: &[
            ("官庄村", false, 18),
            ("田心村", false, 15),
            ("沙坪村", false, 12),
        ],
    },
];

/// Branch indices (0-based; the id is `ZB` and the index + 1, zero-padded to four digits).
pub(crate) mod ids {
    /// 青溪镇: 青溪村 … 新屋村.
    pub const QINGXI: [u32; 6] = [0, 1, 2, 3, 4, 5];
    /// 石门镇: 石门村 … 长岭村.
    pub const SHIMEN: [u32; 5] = [6, 7, 8, 9, 10];
    /// 枫林乡: 枫林村 … 竹园村.
    pub const FENGLIN: [u32; 4] = [11, 12, 13, 14];
    /// 官庄镇: 官庄村, 田心村, 沙坪村.
    pub const GUANZHUANG: [u32; 3] = [19, 20, 21];
    /// 杨家村: one indicator missing in 2024-B4.
    pub const MISSING: u32 = 12;
    /// Member offsets (within their branch) of the two absence cases.
    pub const CONSECUTIVE: (u32, u32) = (0, 8);
    pub const SCATTERED: (u32, u32) = (6, 10);
}

/// The index of 驻村帮扶 among the indicators, the one 杨家村 misses in 2024-B4.
const ZHUCUN: u8 = 8;

fn unit_code(town: &Town) -> String {
    format!("{REGION}{}", town.code)
}

/// A 两新组织 of the sample, laid out by hand.
struct SampleOrg {
    name: &'static str,
    kind: OrgKind,
    industry: &'static str,
    employees: i64,
    party_members: i64,
}

const fn enterprise(
    name: &'static str,
    industry: &'static str,
    employees: i64,
    party_members: i64,
) -> SampleOrg {
    SampleOrg {
        name,
        kind: OrgKind::Enterprise,
        industry,
        employees,
        party_members,
    }
}

const fn social_org(
    name: &'static str,
    industry: &'static str,
    employees: i64,
    party_members: i64,
) -> SampleOrg {
    SampleOrg {
        kind: OrgKind::SocialOrg,
        ..enterprise(name, industry, employees, party_members)
    }
}

/// The six enterprises of 瓷城街道's joint branch, one more than 一管五 allows.
const CICHENG_JOINT: [SampleOrg; 6] = [
    enterprise("瓷城锦泰电子科技有限公司", "电子信息", 64, 2),
    enterprise("瓷城恒达物流有限公司", "现代物流", 35, 1),
    enterprise("瓷城顺发餐饮管理有限公司", "餐饮服务", 22, 0),
    enterprise("瓷城裕丰商贸有限公司", "商贸零售", 18, 1),
    enterprise("瓷城鑫源建材有限公司", "新型建材", 41, 2),
    enterprise("瓷城嘉华服饰有限公司", "服装纺织", 57, 1),
];

/// The grid and the village branches of the sample.
struct Grid {
    root: u32,
    /// Township units, in [`TOWNS`] order.
    towns: Vec<u32>,
    /// Village and community branches, ZB0001–ZB0022.
    villages: Vec<u32>,
}

impl Grid {
    /// The grid unit of village branch number `i` (0-based).
    fn village_unit(&self, sk: &Skeleton, i: usize) -> u32 {
        sk.branches[self.villages[i] as usize].unit
    }
}

/// The sample's structure in the making: its stream and what it has so far.
struct Builder {
    rng: Rng,
    sk: Skeleton,
}

/// The sample's grid, branches and organizations, in stages that draw from its structure
/// stream in this order.
fn structure(seed: u64) -> Skeleton {
    let mut b = Builder {
        rng: Rng::stream(seed, STREAM, Part::Structure),
        sk: Skeleton::default(),
    };
    let grid = b.grid();
    b.public_branches(&grid);
    b.enterprises(&grid);
    b.social_orgs(&grid);
    b.uncovered_orgs(&grid);
    // Steady members for the absence cases.
    for (village, offset) in [ids::CONSECUTIVE, ids::SCATTERED] {
        b.sk.branches[grid.villages[village as usize] as usize]
            .steady
            .push(offset);
    }
    b.sk
}

impl Builder {
    /// The county, its two districts and its townships with their villages and communities;
    /// villages first, township by township, so their branches are ZB0001–ZB0022.
    fn grid(&mut self) -> Grid {
        let root = self.sk.unit(
            REGION.to_string(),
            None,
            NAME.to_string(),
            "县",
            Some(names::person(&mut self.rng, false)),
        );
        let districts: Vec<u32> = ["东片区", "西片区"]
            .iter()
            .enumerate()
            .map(|(d, name)| {
                let leader = names::person(&mut self.rng, false);
                self.sk.unit(
                    format!("{REGION}P{}", d + 1),
                    Some(root),
                    name.to_string(),
                    "片区",
                    Some(leader),
                )
            })
            .collect();
        let mut towns = Vec::new();
        let mut villages = Vec::new();
        for t in TOWNS {
            let leader = names::someone(&mut self.rng, 0.2);
            let town = self.sk.unit(
                unit_code(t),
                Some(districts[t.district]),
                t.name.to_string(),
                t.kind,
                Some(leader),
            );
            towns.push(town);
            villages.extend(self.villages(t, town));
        }
        Grid {
            root,
            towns,
            villages,
        }
    }

    /// The villages and communities of township `t`, each with its grid and its branch.
    fn villages(&mut self, t: &Town, town: u32) -> Vec<u32> {
        let code = unit_code(t);
        let (mut n_comm, mut n_vill) = (0, 0);
        let mut out = Vec::new();
        for &(name, community, size) in t.villages {
            let (kind, vcode) = if community {
                n_comm += 1;
                ("社区", format!("{code}{n_comm:03}"))
            } else {
                n_vill += 1;
                ("村", format!("{code}{:03}", 200 + n_vill))
            };
            let unit = self
                .sk
                .unit(vcode.clone(), Some(town), name.to_string(), kind, None);
            self.sk
                .village_grid(&mut self.rng, unit, &vcode, community, &(2..=4), &(2..=3));
            out.push(self.village_branch(name, unit, community, size));
        }
        out
    }

    /// A village's or community's branch: 长岭村 and 竹园村 are weak (low attendance, a quarter
    /// of meetings skipped), the others ordinary.
    fn village_branch(&mut self, name: &str, unit: u32, community: bool, size: u32) -> u32 {
        let weak = matches!(name, "长岭村" | "竹园村");
        let founded_on = plan::founded(&mut self.rng, 1950);
        let rate = if weak {
            self.rng.uniform(0.70, 0.78)
        } else {
            self.rng.uniform(0.80, 0.96)
        };
        let quality = self.rng.uniform(0.86, 0.95);
        self.sk.branch(BranchSpec {
            name: format!("{name}党支部"),
            unit,
            ty: if community {
                BranchType::Community
            } else {
                BranchType::Rural
            },
            is_joint: false,
            founded_on,
            profile: if community {
                Profile::Community
            } else {
                Profile::Village
            },
            size,
            rate,
            skip: if weak { 0.25 } else { 0.0 },
            quality,
        })
    }

    /// A branch other than a village's, of `size` members, with good discipline: the sample's
    /// weak branches are villages.
    fn branch(
        &mut self,
        name: String,
        unit: u32,
        ty: BranchType,
        is_joint: bool,
        size: u32,
    ) -> u32 {
        let (rate, _) = plan::discipline(&mut self.rng, ty);
        // Party branches in private firms and social organizations are recent.
        let since = match ty {
            BranchType::PrivateEnterprise | BranchType::SocialOrg => 2008,
            _ => 1985,
        };
        let profile = match ty {
            BranchType::PrivateEnterprise => Profile::Enterprise,
            BranchType::SocialOrg => Profile::Social,
            _ => Profile::Cadre,
        };
        let founded_on = plan::founded(&mut self.rng, since);
        self.sk.branch(BranchSpec {
            name,
            unit,
            ty,
            is_joint,
            founded_on,
            profile,
            size,
            rate: rate.max(0.82),
            skip: 0.0,
            quality: 0.0,
        })
    }

    /// An organization at `unit`; most have the township's party-building instructor.
    fn org(&mut self, org: &SampleOrg, unit: u32) -> u32 {
        let instructor = self
            .rng
            .chance(0.8)
            .then(|| names::someone(&mut self.rng, 0.3));
        self.sk.org(OrgSpec {
            name: org.name.to_string(),
            kind: org.kind,
            unit,
            industry: Some(org.industry),
            employees: Some(org.employees),
            party_members: org.party_members,
            instructor,
        })
    }

    /// An organization at `unit` covered by `branch`.
    fn covered_org(&mut self, org: &SampleOrg, unit: u32, branch: u32) {
        let o = self.org(org, unit);
        self.sk.orgs[o as usize].branch = Some(branch);
    }

    /// Organs, an institution, a school and a state enterprise. Township organs are paired
    /// (结对) with 新屋村, 长岭村 and 沙坪村, the organization department with 竹园村.
    fn public_branches(&mut self, grid: &Grid) {
        let organ_pairs = [Some(5u32), Some(10), None, None, Some(21)];
        let organ_sizes = [18, 16, 12, 20, 14];
        for (i, t) in TOWNS.iter().enumerate() {
            let name = format!("{}机关党支部", t.name);
            let b = self.branch(
                name,
                grid.towns[i],
                BranchType::Organ,
                false,
                organ_sizes[i],
            );
            self.sk.branches[b as usize].paired = organ_pairs[i];
        }
        let name = format!("{NAME}委组织部机关党支部");
        let zzb = self.branch(name, grid.root, BranchType::Organ, false, 20);
        self.sk.branches[zzb as usize].paired = Some(14);
        let name = format!("{NAME}财政局党支部");
        self.branch(name, grid.root, BranchType::Organ, false, 15);
        let name = "青溪镇卫生院党支部".to_string();
        self.branch(name, grid.towns[0], BranchType::Institution, false, 9);
        let name = "石门镇中学党支部".to_string();
        self.branch(name, grid.towns[1], BranchType::School, false, 12);
        let name = format!("{NAME}供电公司瓷城供电所党支部");
        self.branch(name, grid.towns[3], BranchType::Soe, false, 10);
    }

    /// Two enterprises with their own branch; 瓷城街道's joint branch covering six (beyond
    /// 一管五); 青溪镇's covering three, one with four members that should have its own.
    fn enterprises(&mut self, grid: &Grid) {
        let qx_village = grid.village_unit(&self.sk, 0);
        let sm_village = grid.village_unit(&self.sk, 6);
        for (org, unit, members) in [
            (
                enterprise("醴陵示范青溪瓷业有限公司", "陶瓷", 180, 0),
                qx_village,
                6,
            ),
            (
                enterprise("石门华兴花炮制造有限公司", "烟花爆竹", 95, 0),
                sm_village,
                4,
            ),
        ] {
            let o = self.org(&org, unit);
            let name = format!("{}党支部", org.name);
            let b = self.branch(name, unit, BranchType::PrivateEnterprise, false, members);
            self.sk.orgs[o as usize].branch = Some(b);
        }

        let cc = grid.towns[3];
        let name = "瓷城街道非公企业联合党支部".to_string();
        let joint_cc = self.branch(name, cc, BranchType::PrivateEnterprise, true, 9);
        let cc_units: Vec<u32> = (15..19).map(|i| grid.village_unit(&self.sk, i)).collect();
        for (i, org) in CICHENG_JOINT.iter().enumerate() {
            self.covered_org(org, cc_units[i % cc_units.len()], joint_cc);
        }

        let qx = grid.towns[0];
        let name = "青溪镇非公企业联合党支部".to_string();
        let joint_qx = self.branch(name, qx, BranchType::PrivateEnterprise, true, 8);
        for (org, unit) in [
            (enterprise("青溪宏盛机械有限公司", "机械制造", 120, 4), qx),
            (
                enterprise("青溪瑞祥食品有限公司", "食品加工", 46, 2),
                qx_village,
            ),
            (
                enterprise("青溪安利农业开发有限公司", "农业科技", 15, 1),
                qx,
            ),
        ] {
            self.covered_org(&org, unit, joint_qx);
        }
    }

    /// Social organizations: a joint branch in 瓷城街道, a standalone one in 青溪镇.
    fn social_orgs(&mut self, grid: &Grid) {
        let cc = grid.towns[3];
        let name = "瓷城街道社会组织联合党支部".to_string();
        let joint = self.branch(name, cc, BranchType::SocialOrg, true, 5);
        let site = grid.village_unit(&self.sk, 15);
        for org in [
            social_org("瓷城街道个体劳动者协会", "行业协会", 12, 2),
            social_org("瓷都社区养老服务中心", "养老服务", 16, 1),
        ] {
            self.covered_org(&org, site, joint);
        }
        let qx = grid.towns[0];
        let o = self.org(&social_org("青溪镇志愿者协会", "公益慈善", 30, 0), qx);
        let name = "青溪镇志愿者协会党支部".to_string();
        let b = self.branch(name, qx, BranchType::SocialOrg, false, 3);
        self.sk.orgs[o as usize].branch = Some(b);
    }

    /// Uncovered organizations: some with members (有党员未覆盖), one with three (应单独组建).
    fn uncovered_orgs(&mut self, grid: &Grid) {
        let (sm, fl, gz) = (grid.towns[1], grid.towns[2], grid.towns[4]);
        let fl_village = grid.village_unit(&self.sk, 11);
        let lj_community = grid.village_unit(&self.sk, 17);
        for (org, unit) in [
            (
                enterprise("官庄丰源农业开发有限公司", "农业科技", 26, 0),
                gz,
            ),
            (
                enterprise("枫林兴隆建设工程有限公司", "建筑工程", 48, 2),
                fl_village,
            ),
            (enterprise("石门昌盛瓷业有限公司", "陶瓷", 75, 3), sm),
            (
                social_org("渌江社区篮球协会", "文化体育", 8, 0),
                lj_community,
            ),
            (social_org("官庄镇乡贤理事会", "社区服务", 11, 1), gz),
            (social_org("枫林乡种养殖专业协会", "行业协会", 20, 0), fl),
        ] {
            self.org(&org, unit);
        }
    }
}

/// (branch, period) → total in cents, and 党组织建设 where a tie needs it.
fn score_targets() -> BTreeMap<(u32, u8), ScoreTarget> {
    let t = |total: i64| ScoreTarget {
        total,
        dangjian: None,
        missing: None,
    };
    let mut targets = BTreeMap::new();
    // 青溪镇, periods B1–B6. 青溪村 holds the flag B1–B4 (exactly 95.00 in B2), loses it to
    // 枫树村 in B5 and takes it back in B6. In B3 枫树村 and 石塘村 tie at 92.00 with the same
    // 党组织建设 (shared rank 2), 荷花村 and 桃源村 tie at 88.50 and 党组织建设 decides (4, 5).
    let qingxi: [[i64; 6]; 6] = [
        [9650, 9500, 9600, 9700, 9550, 9750],
        [9300, 9250, 9200, 9100, 9650, 9300],
        [9050, 8900, 9200, 9350, 9000, 9150],
        [8800, 9000, 8850, 8950, 8800, 8900],
        [9150, 8750, 8850, 8800, 8700, 8850],
        [8600, 8550, 8600, 8700, 8650, 8600],
    ];
    for (i, row) in qingxi.iter().enumerate() {
        for (p, total) in row.iter().enumerate() {
            targets.insert((ids::QINGXI[i], p as u8 + 1), t(*total));
        }
    }
    for (i, dj) in [(1, 1850), (2, 1850), (3, 1800), (4, 1750)] {
        if let Some(target) = targets.get_mut(&(ids::QINGXI[i], 3)) {
            target.dangjian = Some(dj);
        }
    }
    // 石门镇: 长岭村 is last and under 85 in B1, B2, B4 and B6 (penalties 1, 2, 3 and the
    // last step again), last but at 86.50 in B3 (no penalty); in B5 金鸡村 is last at 84.50.
    let shimen: [[i64; 6]; 5] = [
        [9400, 9350, 9550, 9450, 9300, 9400],
        [9150, 9000, 8950, 9200, 9050, 9100],
        [8900, 9200, 9050, 8850, 8750, 8950],
        [8750, 8800, 8700, 8900, 8450, 8800],
        [8250, 8400, 8650, 8000, 8700, 8300],
    ];
    for (i, row) in shimen.iter().enumerate() {
        for (p, total) in row.iter().enumerate() {
            targets.insert((ids::SHIMEN[i], p as u8 + 1), t(*total));
        }
    }
    // 枫林乡 B4: 杨家村 has no 驻村帮扶 score; its nine scores sum to 81.00.
    for (i, total) in [9200, 8100, 8900, 8650].into_iter().enumerate() {
        targets.insert((ids::FENGLIN[i], 4), t(total));
    }
    if let Some(target) = targets.get_mut(&(ids::MISSING, 4)) {
        target.missing = Some(ZHUCUN);
    }
    // 官庄镇 B2: 沙坪村 exactly 85.00, last of three.
    for (i, total) in [9000, 8800, 8500].into_iter().enumerate() {
        targets.insert((ids::GUANZHUANG[i], 2), t(total));
    }
    targets
}

/// The meetings of member `who`, ordered as the attendance alerts order them (date, then id).
fn meetings_of(plan: &Plan, who: u32) -> Vec<u32> {
    let branch = plan.members[who as usize].branch;
    let mut list: Vec<u32> = plan
        .meetings
        .iter()
        .enumerate()
        .filter(|(_, m)| m.branch == branch && plan.participants(m).any(|p| p == who))
        .map(|(i, _)| i as u32)
        .collect();
    list.sort_by(|a, b| {
        let (ma, mb) = (&plan.meetings[*a as usize], &plan.meetings[*b as usize]);
        (ma.held_on, &ma.id).cmp(&(mb.held_on, &mb.id))
    });
    list
}

/// The whole sample county in memory.
pub(crate) fn plan(seed: u64) -> Plan {
    let county = CountyId {
        index: STREAM,
        tenant_id: TENANT.to_string(),
        name: NAME.to_string(),
        region: REGION,
        size: 1.0,
    };
    let sk = structure(seed);
    let mut plan = plan::populate(county, seed, sk);
    plan::schedule(&mut plan);
    plan::score(&mut plan, &score_targets());
    plan::visit(&mut plan);

    // Three absences in a row (组织处理), and three scattered over the year (诫勉谈话 only).
    let member_at = |plan: &Plan, (village, offset): (u32, u32)| {
        plan.branches[village as usize].members.start + offset
    };
    let consecutive = member_at(&plan, ids::CONSECUTIVE);
    let list = meetings_of(&plan, consecutive);
    let at = list.len() * 2 / 5;
    plan.absences.insert(consecutive, list[at..at + 3].to_vec());
    let scattered = member_at(&plan, ids::SCATTERED);
    let list = meetings_of(&plan, scattered);
    let n = list.len();
    plan.absences
        .insert(scattered, vec![list[n / 6], list[n / 2], list[n * 5 / 6]]);
    plan
}
