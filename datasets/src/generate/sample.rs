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

fn structure(seed: u64) -> Skeleton {
    let mut rng = Rng::stream(seed, STREAM, Part::Structure);
    let mut sk = Skeleton::default();
    let root = sk.unit(
        REGION.to_string(),
        None,
        NAME.to_string(),
        "县",
        Some(names::person(&mut rng, false)),
    );
    let districts: Vec<u32> = ["东片区", "西片区"]
        .iter()
        .enumerate()
        .map(|(d, name)| {
            let leader = names::person(&mut rng, false);
            sk.unit(
                format!("{REGION}P{}", d + 1),
                Some(root),
                name.to_string(),
                "片区",
                Some(leader),
            )
        })
        .collect();

    // Villages first, township by township, so their branches are ZB0001–ZB0022.
    let mut towns = Vec::new();
    let mut villages = Vec::new();
    for t in TOWNS {
        let code = unit_code(t);
        let leader = names::someone(&mut rng, 0.2);
        let town = sk.unit(
            code.clone(),
            Some(districts[t.district]),
            t.name.to_string(),
            t.kind,
            Some(leader),
        );
        towns.push(town);
        let mut n_comm = 0;
        let mut n_vill = 0;
        for (vname, community, size) in t.villages {
            let (vkind, vcode) = if *community {
                n_comm += 1;
                ("社区", format!("{code}{n_comm:03}"))
            } else {
                n_vill += 1;
                ("村", format!("{code}{:03}", 200 + n_vill))
            };
            let v = sk.unit(vcode.clone(), Some(town), vname.to_string(), vkind, None);
            for g in 1..=rng.range(2, 4) {
                let (gname, gkind) = if *community {
                    (
                        format!("第{}居民小组", names::numeral(g as usize)),
                        "居民小组",
                    )
                } else {
                    (
                        format!("第{}村民小组", names::numeral(g as usize)),
                        "村民小组",
                    )
                };
                let gu = sk.unit(format!("{vcode}{g:02}"), Some(v), gname, gkind, None);
                for c in 1..=rng.range(2, 3) {
                    sk.unit(
                        format!("{vcode}{g:02}{c:02}"),
                        Some(gu),
                        format!("第{c}责任区"),
                        "责任区",
                        None,
                    );
                }
            }
            let weak = matches!(*vname, "长岭村" | "竹园村");
            let ty = if *community {
                BranchType::Community
            } else {
                BranchType::Rural
            };
            let b = sk.branch(BranchSpec {
                name: format!("{vname}党支部"),
                unit: v,
                ty,
                is_joint: false,
                founded_on: plan::founded(&mut rng, 1950),
                profile: if *community {
                    Profile::Community
                } else {
                    Profile::Village
                },
                size: *size,
                rate: if weak {
                    rng.uniform(0.70, 0.78)
                } else {
                    rng.uniform(0.80, 0.96)
                },
                skip: if weak { 0.25 } else { 0.0 },
                quality: rng.uniform(0.86, 0.95),
            });
            villages.push(b);
        }
    }

    let other = |sk: &mut Skeleton,
                 rng: &mut Rng,
                 name: String,
                 unit: u32,
                 ty: BranchType,
                 is_joint: bool,
                 profile: Profile,
                 size: u32| {
        let (rate, _) = plan::discipline(rng, ty);
        // Party branches in private firms and social organizations are recent.
        let since = match ty {
            BranchType::PrivateEnterprise | BranchType::SocialOrg => 2008,
            _ => 1985,
        };
        sk.branch(BranchSpec {
            name,
            unit,
            ty,
            is_joint,
            founded_on: plan::founded(rng, since),
            profile,
            size,
            rate: rate.max(0.82),
            skip: 0.0,
            quality: 0.0,
        })
    };
    let r = &mut rng;
    // Township organs, three of them paired (结对) with a village: 新屋村, 长岭村, 沙坪村.
    let organ_pairs = [Some(5u32), Some(10), None, None, Some(21)];
    for (i, t) in TOWNS.iter().enumerate() {
        let b = other(
            &mut sk,
            r,
            format!("{}机关党支部", t.name),
            towns[i],
            BranchType::Organ,
            false,
            Profile::Cadre,
            [18, 16, 12, 20, 14][i],
        );
        sk.branches[b as usize].paired = organ_pairs[i];
    }
    let zzb = other(
        &mut sk,
        r,
        format!("{NAME}委组织部机关党支部"),
        root,
        BranchType::Organ,
        false,
        Profile::Cadre,
        20,
    );
    sk.branches[zzb as usize].paired = Some(14);
    other(
        &mut sk,
        r,
        format!("{NAME}财政局党支部"),
        root,
        BranchType::Organ,
        false,
        Profile::Cadre,
        15,
    );
    other(
        &mut sk,
        r,
        "青溪镇卫生院党支部".into(),
        towns[0],
        BranchType::Institution,
        false,
        Profile::Cadre,
        9,
    );
    other(
        &mut sk,
        r,
        "石门镇中学党支部".into(),
        towns[1],
        BranchType::School,
        false,
        Profile::Cadre,
        12,
    );
    other(
        &mut sk,
        r,
        format!("{NAME}供电公司瓷城供电所党支部"),
        towns[3],
        BranchType::Soe,
        false,
        Profile::Cadre,
        10,
    );
    let ent = |sk: &mut Skeleton,
               rng: &mut Rng,
               name: &str,
               unit: u32,
               industry: &'static str,
               employees: i64,
               pm: i64,
               social: bool| {
        let instructor = rng.chance(0.8).then(|| names::someone(rng, 0.3));
        sk.org(OrgSpec {
            name: name.to_string(),
            kind: if social {
                OrgKind::SocialOrg
            } else {
                OrgKind::Enterprise
            },
            unit,
            industry: Some(industry),
            employees: Some(employees),
            party_members: pm,
            instructor,
        })
    };
    // Standalone enterprise branches.
    let qx_village = sk.branches[villages[0] as usize].unit;
    let sm_village = sk.branches[villages[6] as usize].unit;
    let o1 = ent(
        &mut sk,
        r,
        "醴陵示范青溪瓷业有限公司",
        qx_village,
        "陶瓷",
        180,
        0,
        false,
    );
    let b1 = other(
        &mut sk,
        r,
        "醴陵示范青溪瓷业有限公司党支部".into(),
        qx_village,
        BranchType::PrivateEnterprise,
        false,
        Profile::Enterprise,
        6,
    );
    sk.orgs[o1 as usize].branch = Some(b1);
    let o2 = ent(
        &mut sk,
        r,
        "石门华兴花炮制造有限公司",
        sm_village,
        "烟花爆竹",
        95,
        0,
        false,
    );
    let b2 = other(
        &mut sk,
        r,
        "石门华兴花炮制造有限公司党支部".into(),
        sm_village,
        BranchType::PrivateEnterprise,
        false,
        Profile::Enterprise,
        4,
    );
    sk.orgs[o2 as usize].branch = Some(b2);

    // 瓷城街道's joint branch covers six enterprises: beyond 一管五.
    let cc = towns[3];
    let joint_cc = other(
        &mut sk,
        r,
        "瓷城街道非公企业联合党支部".into(),
        cc,
        BranchType::PrivateEnterprise,
        true,
        Profile::Enterprise,
        9,
    );
    let cc_units: Vec<u32> = villages[15..19]
        .iter()
        .map(|b| sk.branches[*b as usize].unit)
        .collect();
    for (i, (name, industry, emp, pm)) in [
        ("瓷城锦泰电子科技有限公司", "电子信息", 64, 2),
        ("瓷城恒达物流有限公司", "现代物流", 35, 1),
        ("瓷城顺发餐饮管理有限公司", "餐饮服务", 22, 0),
        ("瓷城裕丰商贸有限公司", "商贸零售", 18, 1),
        ("瓷城鑫源建材有限公司", "新型建材", 41, 2),
        ("瓷城嘉华服饰有限公司", "服装纺织", 57, 1),
    ]
    .into_iter()
    .enumerate()
    {
        let o = ent(
            &mut sk,
            r,
            name,
            cc_units[i % cc_units.len()],
            industry,
            emp,
            pm,
            false,
        );
        sk.orgs[o as usize].branch = Some(joint_cc);
    }
    // 青溪镇's joint branch covers three, one with four members: it should have its own.
    let qx = towns[0];
    let joint_qx = other(
        &mut sk,
        r,
        "青溪镇非公企业联合党支部".into(),
        qx,
        BranchType::PrivateEnterprise,
        true,
        Profile::Enterprise,
        8,
    );
    for (name, industry, emp, pm, unit) in [
        ("青溪宏盛机械有限公司", "机械制造", 120, 4, qx),
        ("青溪瑞祥食品有限公司", "食品加工", 46, 2, qx_village),
        ("青溪安利农业开发有限公司", "农业科技", 15, 1, qx),
    ] {
        let o = ent(&mut sk, r, name, unit, industry, emp, pm, false);
        sk.orgs[o as usize].branch = Some(joint_qx);
    }
    // Social organizations: a joint branch in 瓷城街道, a standalone one in 青溪镇.
    let joint_soc = other(
        &mut sk,
        r,
        "瓷城街道社会组织联合党支部".into(),
        cc,
        BranchType::SocialOrg,
        true,
        Profile::Social,
        5,
    );
    for (name, industry, emp, pm) in [
        ("瓷城街道个体劳动者协会", "行业协会", 12, 2),
        ("瓷都社区养老服务中心", "养老服务", 16, 1),
    ] {
        let o = ent(&mut sk, r, name, cc_units[0], industry, emp, pm, true);
        sk.orgs[o as usize].branch = Some(joint_soc);
    }
    let o_vol = ent(&mut sk, r, "青溪镇志愿者协会", qx, "公益慈善", 30, 0, true);
    let b_vol = other(
        &mut sk,
        r,
        "青溪镇志愿者协会党支部".into(),
        qx,
        BranchType::SocialOrg,
        false,
        Profile::Social,
        3,
    );
    sk.orgs[o_vol as usize].branch = Some(b_vol);

    // Uncovered organizations: some with members (有党员未覆盖), one with three (应单独组建).
    let gz = towns[4];
    let fl = towns[2];
    let sm = towns[1];
    let fl_village = sk.branches[villages[11] as usize].unit;
    for (name, industry, emp, pm, unit, social) in [
        ("官庄丰源农业开发有限公司", "农业科技", 26, 0, gz, false),
        (
            "枫林兴隆建设工程有限公司",
            "建筑工程",
            48,
            2,
            fl_village,
            false,
        ),
        ("石门昌盛瓷业有限公司", "陶瓷", 75, 3, sm, false),
        ("渌江社区篮球协会", "文化体育", 8, 0, cc_units[2], true),
        ("官庄镇乡贤理事会", "社区服务", 11, 1, gz, true),
        ("枫林乡种养殖专业协会", "行业协会", 20, 0, fl, true),
    ] {
        ent(&mut sk, r, name, unit, industry, emp, pm, social);
    }

    // Steady members for the absence cases.
    sk.branches[villages[ids::CONSECUTIVE.0 as usize] as usize]
        .steady
        .push(ids::CONSECUTIVE.1);
    sk.branches[villages[ids::SCATTERED.0 as usize] as usize]
        .steady
        .push(ids::SCATTERED.1);
    sk
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
