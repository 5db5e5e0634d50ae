//! A county's tables as Arrow batches in the warehouse schema (`model::schema`), canonical
//! English values, at most [`BATCH`] rows each. Attendance and points are derived here, batch
//! by batch, so a county's 1.5 million attendance rows never exist all at once.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Decimal128Builder, Int64Builder, RecordBatch,
    StringBuilder,
};
use arrow::datatypes::SchemaRef;
use model::domain::{AttendanceStatus, Gender, MemberCategory, MemberStatus, PointCategory};
use model::schema::{DECIMAL_PRECISION, DECIMAL_SCALE, TableDef};

use super::GenerateError;
use super::dates::ymd;
use super::names;
use super::plan::{INDICATORS, Plan, Profile, YEAR};
use super::rng::Part;
use super::sink::Sink;

/// Rows per batch: large enough for fast Parquet pages, small enough to keep memory flat.
pub(crate) const BATCH: usize = 65_536;

fn batch(
    table: &'static TableDef,
    schema: &SchemaRef,
    columns: Vec<ArrayRef>,
) -> Result<RecordBatch, GenerateError> {
    RecordBatch::try_new(schema.clone(), columns).map_err(|source| GenerateError::Arrow {
        table: table.name,
        source,
    })
}

fn decimal(table: &'static TableDef, mut b: Decimal128Builder) -> Result<ArrayRef, GenerateError> {
    let array = b
        .finish()
        .with_precision_and_scale(DECIMAL_PRECISION, DECIMAL_SCALE)
        .map_err(|source| GenerateError::Arrow {
            table: table.name,
            source,
        })?;
    Ok(Arc::new(array))
}

/// Writes `table` of `plan` to `sink`; returns the number of rows.
pub(crate) fn emit(
    plan: &Plan,
    table: &'static TableDef,
    sink: &mut Sink,
) -> Result<u64, GenerateError> {
    let schema = table.arrow_schema();
    match table.name {
        "grid_units" => grid_units(plan, table, &schema, sink),
        "branches" => branches(plan, table, &schema, sink),
        "members" => members(plan, table, &schema, sink),
        "meetings" => meetings(plan, table, &schema, sink),
        "attendance" => attendance(plan, table, &schema, sink),
        "scores" => scores(plan, table, &schema, sink),
        "organizations" => organizations(plan, table, &schema, sink),
        "points" => points(plan, table, &schema, sink),
        "visits" => visits(plan, table, &schema, sink),
        // The schema gained a table the generator does not know yet: write it with no rows
        // rather than leave it out, so the output still has every table.
        _ => {
            sink.write(RecordBatch::new_empty(schema))?;
            Ok(0)
        }
    }
}

fn grid_units(
    plan: &Plan,
    table: &'static TableDef,
    schema: &SchemaRef,
    sink: &mut Sink,
) -> Result<u64, GenerateError> {
    for chunk in plan.units.chunks(BATCH) {
        let mut id = StringBuilder::new();
        let mut parent = StringBuilder::new();
        let mut level = Int64Builder::new();
        let mut name = StringBuilder::new();
        let mut kind = StringBuilder::new();
        let mut leader = StringBuilder::new();
        for u in chunk {
            id.append_value(&u.id);
            parent.append_option(u.parent.map(|p| plan.units[p as usize].id.as_str()));
            level.append_value(i64::from(u.level));
            name.append_value(&u.name);
            kind.append_value(u.kind);
            leader.append_option(u.leader.as_deref());
        }
        let cols: Vec<ArrayRef> = vec![
            Arc::new(id.finish()),
            Arc::new(parent.finish()),
            Arc::new(level.finish()),
            Arc::new(name.finish()),
            Arc::new(kind.finish()),
            Arc::new(leader.finish()),
        ];
        sink.write(batch(table, schema, cols)?)?;
    }
    Ok(plan.units.len() as u64)
}

fn branches(
    plan: &Plan,
    table: &'static TableDef,
    schema: &SchemaRef,
    sink: &mut Sink,
) -> Result<u64, GenerateError> {
    for chunk in plan.branches.chunks(BATCH) {
        let mut id = StringBuilder::new();
        let mut name = StringBuilder::new();
        let mut unit = StringBuilder::new();
        let mut ty = StringBuilder::new();
        let mut joint = BooleanBuilder::new();
        let mut founded = Date32Builder::new();
        let mut paired = StringBuilder::new();
        for b in chunk {
            id.append_value(&b.id);
            name.append_value(&b.name);
            unit.append_value(&plan.units[b.unit as usize].id);
            ty.append_value(b.ty.canonical());
            joint.append_value(b.is_joint);
            founded.append_option(b.founded_on);
            paired.append_option(b.paired.map(|p| plan.branches[p as usize].id.as_str()));
        }
        let cols: Vec<ArrayRef> = vec![
            Arc::new(id.finish()),
            Arc::new(name.finish()),
            Arc::new(unit.finish()),
            Arc::new(ty.finish()),
            Arc::new(joint.finish()),
            Arc::new(founded.finish()),
            Arc::new(paired.finish()),
        ];
        sink.write(batch(table, schema, cols)?)?;
    }
    Ok(plan.branches.len() as u64)
}

fn members(
    plan: &Plan,
    table: &'static TableDef,
    schema: &SchemaRef,
    sink: &mut Sink,
) -> Result<u64, GenerateError> {
    for chunk in plan.members.chunks(BATCH) {
        let mut id = StringBuilder::new();
        let mut branch = StringBuilder::new();
        let mut name = StringBuilder::new();
        let mut gender = StringBuilder::new();
        let mut birth = Date32Builder::new();
        let mut joined = Date32Builder::new();
        let mut status = StringBuilder::new();
        let mut category = StringBuilder::new();
        let mut id_number = StringBuilder::new();
        let mut phone = StringBuilder::new();
        let mut group = StringBuilder::new();
        let mut exempt = BooleanBuilder::new();
        for m in chunk {
            id.append_value(&m.id);
            branch.append_value(&plan.branches[m.branch as usize].id);
            name.append_value(&m.name);
            let g = if m.female {
                Gender::Female
            } else {
                Gender::Male
            };
            gender.append_value(g.canonical());
            birth.append_value(m.birth);
            joined.append_value(m.joined);
            let s = if m.probationary {
                MemberStatus::Probationary
            } else {
                MemberStatus::Formal
            };
            status.append_value(s.canonical());
            category.append_value(m.category.canonical());
            id_number.append_value(&m.id_number);
            phone.append_option(m.phone.as_deref());
            group.append_option(
                (m.group > 0).then(|| names::PARTY_GROUPS[usize::from(m.group - 1)]),
            );
            exempt.append_value(m.exempt);
        }
        let cols: Vec<ArrayRef> = vec![
            Arc::new(id.finish()),
            Arc::new(branch.finish()),
            Arc::new(name.finish()),
            Arc::new(gender.finish()),
            Arc::new(birth.finish()),
            Arc::new(joined.finish()),
            Arc::new(status.finish()),
            Arc::new(category.finish()),
            Arc::new(id_number.finish()),
            Arc::new(phone.finish()),
            Arc::new(group.finish()),
            Arc::new(exempt.finish()),
        ];
        sink.write(batch(table, schema, cols)?)?;
    }
    Ok(plan.members.len() as u64)
}

fn meetings(
    plan: &Plan,
    table: &'static TableDef,
    schema: &SchemaRef,
    sink: &mut Sink,
) -> Result<u64, GenerateError> {
    for chunk in plan.meetings.chunks(BATCH) {
        let mut id = StringBuilder::new();
        let mut branch = StringBuilder::new();
        let mut kind = StringBuilder::new();
        let mut held = Date32Builder::new();
        let mut group = StringBuilder::new();
        let mut theme = StringBuilder::new();
        for m in chunk {
            id.append_value(&m.id);
            branch.append_value(&plan.branches[m.branch as usize].id);
            kind.append_value(m.kind.canonical());
            held.append_value(m.held_on);
            group.append_option(
                (m.group > 0).then(|| names::PARTY_GROUPS[usize::from(m.group - 1)]),
            );
            theme.append_value(m.theme);
        }
        let cols: Vec<ArrayRef> = vec![
            Arc::new(id.finish()),
            Arc::new(branch.finish()),
            Arc::new(kind.finish()),
            Arc::new(held.finish()),
            Arc::new(group.finish()),
            Arc::new(theme.finish()),
        ];
        sink.write(batch(table, schema, cols)?)?;
    }
    Ok(plan.meetings.len() as u64)
}

/// How much attendance drops in each month for rural members: the Spring Festival (February),
/// the 双抢 rice harvest and planting (July) and the autumn harvest (October).
const SEASON: [f64; 12] = [
    -0.02, -0.10, -0.03, 0.0, -0.02, -0.04, -0.08, -0.03, 0.0, -0.06, -0.01, 0.0,
];

fn attendance(
    plan: &Plan,
    table: &'static TableDef,
    schema: &SchemaRef,
    sink: &mut Sink,
) -> Result<u64, GenerateError> {
    let mut rng = plan.rng(Part::Attendance);
    let new_builders = || {
        (
            StringBuilder::with_capacity(BATCH, BATCH * 8),
            StringBuilder::with_capacity(BATCH, BATCH * 8),
            StringBuilder::with_capacity(BATCH, BATCH * 7),
        )
    };
    let mut b = new_builders();
    let mut pending = 0usize;
    let mut rows = 0u64;
    for (mi, m) in plan.meetings.iter().enumerate() {
        let branch = &plan.branches[m.branch as usize];
        let (_, month, _) = ymd(m.held_on);
        // Seasons hit villages fully, retired cadres partly, offices and companies little.
        let damp = match branch.profile {
            Profile::Village | Profile::Community => 1.0,
            Profile::Retired => 0.6,
            _ => 0.3,
        };
        let season = SEASON[(month - 1) as usize] * damp;
        for who in plan.participants(m) {
            let p = &plan.members[who as usize];
            let chance = (branch.rate + p.reliability + season).clamp(0.2, 0.995);
            // Always draw, so fixing one member's record does not shift anyone else's.
            let drawn = if rng.chance(chance) {
                if rng.chance(p.online) {
                    AttendanceStatus::Online
                } else {
                    AttendanceStatus::Present
                }
            } else if rng.chance(if p.category == MemberCategory::Mobile {
                // Most who miss a meeting ask for leave (请假); migrant workers nearly always.
                0.88
            } else {
                0.75
            }) {
                AttendanceStatus::Excused
            } else {
                AttendanceStatus::Absent
            };
            let value = match plan.absences.get(&who) {
                Some(list) if list.contains(&(mi as u32)) => AttendanceStatus::Absent,
                Some(_) => AttendanceStatus::Present,
                None => drawn,
            };
            b.0.append_value(&m.id);
            b.1.append_value(&p.id);
            b.2.append_value(value.canonical());
            pending += 1;
            if pending == BATCH {
                let (mut x, mut y, mut z) = std::mem::replace(&mut b, new_builders());
                let cols: Vec<ArrayRef> = vec![
                    Arc::new(x.finish()),
                    Arc::new(y.finish()),
                    Arc::new(z.finish()),
                ];
                sink.write(batch(table, schema, cols)?)?;
                rows += pending as u64;
                pending = 0;
            }
        }
    }
    if pending > 0 {
        let cols: Vec<ArrayRef> = vec![
            Arc::new(b.0.finish()),
            Arc::new(b.1.finish()),
            Arc::new(b.2.finish()),
        ];
        sink.write(batch(table, schema, cols)?)?;
        rows += pending as u64;
    }
    Ok(rows)
}

fn scores(
    plan: &Plan,
    table: &'static TableDef,
    schema: &SchemaRef,
    sink: &mut Sink,
) -> Result<u64, GenerateError> {
    for chunk in plan.scores.chunks(BATCH) {
        let mut period = StringBuilder::new();
        let mut branch = StringBuilder::new();
        let mut indicator = StringBuilder::new();
        let mut score = Decimal128Builder::new();
        let mut assessor = StringBuilder::new();
        for s in chunk {
            let b = &plan.branches[s.branch as usize];
            period.append_value(format!("{YEAR}-B{}", s.period));
            branch.append_value(&b.id);
            indicator.append_value(INDICATORS[usize::from(s.indicator)].0);
            score.append_value(i128::from(s.cents));
            let town = plan.units[b.unit as usize].township;
            assessor
                .append_option(town.map(|t| format!("{}党委考核组", plan.units[t as usize].name)));
        }
        let cols: Vec<ArrayRef> = vec![
            Arc::new(period.finish()),
            Arc::new(branch.finish()),
            Arc::new(indicator.finish()),
            decimal(table, score)?,
            Arc::new(assessor.finish()),
        ];
        sink.write(batch(table, schema, cols)?)?;
    }
    Ok(plan.scores.len() as u64)
}

fn organizations(
    plan: &Plan,
    table: &'static TableDef,
    schema: &SchemaRef,
    sink: &mut Sink,
) -> Result<u64, GenerateError> {
    for chunk in plan.orgs.chunks(BATCH) {
        let mut id = StringBuilder::new();
        let mut name = StringBuilder::new();
        let mut kind = StringBuilder::new();
        let mut unit = StringBuilder::new();
        let mut industry = StringBuilder::new();
        let mut employees = Int64Builder::new();
        let mut party_members = Int64Builder::new();
        let mut branch = StringBuilder::new();
        let mut instructor = StringBuilder::new();
        for o in chunk {
            id.append_value(&o.id);
            name.append_value(&o.name);
            kind.append_value(o.kind.canonical());
            unit.append_value(&plan.units[o.unit as usize].id);
            industry.append_option(o.industry);
            employees.append_option(o.employees);
            party_members.append_value(o.party_members);
            branch.append_option(o.branch.map(|b| plan.branches[b as usize].id.as_str()));
            instructor.append_option(o.instructor.as_deref());
        }
        let cols: Vec<ArrayRef> = vec![
            Arc::new(id.finish()),
            Arc::new(name.finish()),
            Arc::new(kind.finish()),
            Arc::new(unit.finish()),
            Arc::new(industry.finish()),
            Arc::new(employees.finish()),
            Arc::new(party_members.finish()),
            Arc::new(branch.finish()),
            Arc::new(instructor.finish()),
        ];
        sink.write(batch(table, schema, cols)?)?;
    }
    Ok(plan.orgs.len() as u64)
}

/// One member's year of points, drawn from a standing: most members are 合格, some 优秀,
/// fewer 基本合格 and 不合格, mobile members lower on average.
fn member_points(
    rng: &mut super::rng::Rng,
    mobile: bool,
    first_month: u32,
    out: &mut Vec<(u32, PointCategory, i64, &'static str)>,
) {
    out.clear();
    let u = rng.unit() + if mobile { 0.1 } else { 0.0 };
    // (annual task points, chance to miss a month's task, rewards, monthly deduction chance,
    // honour chance)
    let (task, miss, rewards, deduct, honor) = if u < 0.18 {
        (rng.uniform(68.0, 78.0), 0.02, rng.range(3, 6), 0.01, 0.12)
    } else if u < 0.80 {
        (rng.uniform(60.0, 67.0), 0.02, rng.range(0, 3), 0.015, 0.03)
    } else if u < 0.96 {
        (rng.uniform(48.0, 60.0), 0.08, rng.range(0, 1), 0.05, 0.0)
    } else {
        (rng.uniform(15.0, 38.0), 0.35, 0, 0.15, 0.0)
    };
    // A member admitted during the year earns from the month they joined.
    let monthly = task / 12.0;
    for month in first_month..=12 {
        if !rng.chance(miss) {
            // Half points, at least half a point.
            let v = (((monthly + rng.normalish() * 0.8) * 2.0).round() as i64).max(1) * 50;
            out.push((
                month,
                PointCategory::Task,
                v,
                *rng.pick(names::TASK_REASONS),
            ));
        }
        if rng.chance(deduct) {
            let v = -100 * rng.range(1, 2);
            out.push((
                month,
                PointCategory::Base,
                v,
                *rng.pick(names::BASE_REASONS),
            ));
        }
    }
    for _ in 0..rewards {
        let month = rng.range(i64::from(first_month), 12) as u32;
        let v = rng.range(2, 6) * 50;
        out.push((
            month,
            PointCategory::Reward,
            v,
            *rng.pick(names::REWARD_REASONS),
        ));
    }
    // Honours are given at the 七一 commendation.
    if first_month <= 7 && rng.chance(honor) {
        let (reason, v) = *rng.pick(names::HONOR_REASONS);
        out.push((7, PointCategory::Honor, v, reason));
    }
    if rng.chance(0.004) {
        let month = rng.range(i64::from(first_month), 12) as u32;
        out.push((
            month,
            PointCategory::Violation,
            -500 * rng.range(1, 2),
            *rng.pick(names::VIOLATION_REASONS),
        ));
    }
    // Entries are recorded month by month.
    out.sort_by_key(|e| e.0);
}

fn points(
    plan: &Plan,
    table: &'static TableDef,
    schema: &SchemaRef,
    sink: &mut Sink,
) -> Result<u64, GenerateError> {
    let mut rng = plan.rng(Part::Points);
    let mut entries = Vec::new();
    let new_builders = || {
        (
            StringBuilder::with_capacity(BATCH, BATCH * 9),
            StringBuilder::with_capacity(BATCH, BATCH * 8),
            StringBuilder::with_capacity(BATCH, BATCH * 7),
            StringBuilder::with_capacity(BATCH, BATCH * 6),
            Decimal128Builder::with_capacity(BATCH),
            StringBuilder::with_capacity(BATCH, BATCH * 24),
        )
    };
    let mut b = new_builders();
    let mut pending = 0usize;
    let mut rows = 0u64;
    let start_of_year = super::dates::days(YEAR, 1, 1);
    for m in &plan.members {
        if m.exempt {
            continue;
        }
        let first_month = if m.joined < start_of_year {
            1
        } else {
            ymd(m.joined).1
        };
        member_points(
            &mut rng,
            m.category == MemberCategory::Mobile,
            first_month,
            &mut entries,
        );
        for (month, category, cents, reason) in &entries {
            rows += 1;
            b.0.append_value(format!("JF{rows:07}"));
            b.1.append_value(&m.id);
            b.2.append_value(format!("{YEAR}-{month:02}"));
            b.3.append_value(category.canonical());
            b.4.append_value(i128::from(*cents));
            b.5.append_value(reason);
            pending += 1;
            if pending == BATCH {
                let full = std::mem::replace(&mut b, new_builders());
                write_points(table, schema, sink, full)?;
                pending = 0;
            }
        }
    }
    if pending > 0 {
        write_points(table, schema, sink, b)?;
    }
    Ok(rows)
}

type PointBuilders = (
    StringBuilder,
    StringBuilder,
    StringBuilder,
    StringBuilder,
    Decimal128Builder,
    StringBuilder,
);

fn write_points(
    table: &'static TableDef,
    schema: &SchemaRef,
    sink: &mut Sink,
    mut b: PointBuilders,
) -> Result<(), GenerateError> {
    let cols: Vec<ArrayRef> = vec![
        Arc::new(b.0.finish()),
        Arc::new(b.1.finish()),
        Arc::new(b.2.finish()),
        Arc::new(b.3.finish()),
        decimal(table, b.4)?,
        Arc::new(b.5.finish()),
    ];
    sink.write(batch(table, schema, cols)?)
}

fn visits(
    plan: &Plan,
    table: &'static TableDef,
    schema: &SchemaRef,
    sink: &mut Sink,
) -> Result<u64, GenerateError> {
    for chunk in plan.visits.chunks(BATCH) {
        let mut id = StringBuilder::new();
        let mut unit = StringBuilder::new();
        let mut member = StringBuilder::new();
        let mut on = Date32Builder::new();
        let mut households = Int64Builder::new();
        let mut raised = Int64Builder::new();
        let mut resolved = Int64Builder::new();
        for v in chunk {
            id.append_value(&v.id);
            unit.append_value(&plan.units[v.unit as usize].id);
            member.append_option(v.member.map(|m| plan.members[m as usize].id.as_str()));
            on.append_value(v.on);
            households.append_value(v.households);
            raised.append_value(v.raised);
            resolved.append_value(v.resolved);
        }
        let cols: Vec<ArrayRef> = vec![
            Arc::new(id.finish()),
            Arc::new(unit.finish()),
            Arc::new(member.finish()),
            Arc::new(on.finish()),
            Arc::new(households.finish()),
            Arc::new(raised.finish()),
            Arc::new(resolved.finish()),
        ];
        sink.write(batch(table, schema, cols)?)?;
    }
    Ok(plan.visits.len() as u64)
}
