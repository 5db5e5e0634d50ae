#!/usr/bin/env python3
"""Differential test of the metric views: an independent formulation of SPEC §4, written from
the SPEC text (DuckDB for the grouping, plain Python for everything sequential), run on the
same generated county, compared row by row with what `gridassess` computes.

    python3 tests/differential/duckdb_metrics.py GRIDASSESS_BINARY WORKDIR [--size-note]

It generates a county as typed Parquet, loads it into a fresh warehouse with `gridassess
ingest`, reads every view back with `gridassess sql --format csv`, and compares. It uses the
default rules of SPEC §3, restated here rather than read from the engine. Exit status 1 and a
diff on any mismatch.
"""
import csv
import io
import os
import subprocess
import sys
from collections import defaultdict
from decimal import Decimal, ROUND_HALF_UP

import duckdb

# One normalization of cells for every comparison against gridassess (the benchmark's too).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from p1_common import norm  # noqa: E402

INDICATORS = ["党组织建设", "扶贫工作", "计生工作", "综治维稳", "安全生产", "民政民生", "整脏治乱",
              "财政税收", "驻村帮扶", "党风廉政"]
TIERS = [(Decimal(95), [600, 500, 400]), (Decimal(85), [300, 250, 200])]
PENALTY_BELOW = Decimal(85)
STEPS = ["表态发言", "取消年终参评资格", "乡纪委问责"]
GRADES = [(Decimal(90), "优秀"), (Decimal(80), "合格"), (Decimal(60), "基本合格"), (Decimal(0), "不合格")]


def run(binary, env, *args):
    return subprocess.run([binary, *args], env=env, check=True, capture_output=True, text=True).stdout


def rate(n, d):
    return None if d == 0 else n / d


def main():
    binary, work = sys.argv[1], sys.argv[2]
    data = os.path.join(work, "county")
    env = dict(os.environ, GRIDASSESS_WAREHOUSE=os.path.join(work, "wh"))
    run(binary, env, "generate", "--scale", "county", "--seed", "7", "--format", "parquet", "--out", data)
    run(binary, env, "init")
    run(binary, env, "tenant", "add", "c001", "--name", "差分县")
    run(binary, env, "ingest", "--tenant", "c001", "--format", "csv", data)

    def ours(sql):
        out = run(binary, env, "sql", "--tenant", "c001", "--format", "csv", sql)
        rows = list(csv.reader(io.StringIO(out)))
        return [tuple(norm(v) for v in r) for r in rows[1:]]

    db = duckdb.connect()
    for t in ["grid_units", "branches", "members", "meetings", "attendance", "scores",
              "organizations", "points", "visits"]:
        db.execute(f"CREATE TABLE {t} AS SELECT * FROM read_parquet('{data}/{t}.parquet')")
    q = lambda sql: db.execute(sql).fetchall()

    # The grid: every unit's ancestor at each level, walking parent links.
    parent = {u: (p, lvl) for u, p, lvl in q("SELECT unit_id, parent_id, level FROM grid_units")}
    def ancestors(u):
        out = {}
        while u is not None:
            p, lvl = parent[u]
            out[lvl] = u
            u = p
        return out
    anc = {u: ancestors(u) for u in parent}
    unit_name = dict(q("SELECT unit_id, name FROM grid_units"))
    branch_unit = dict(q("SELECT branch_id, unit_id FROM branches"))
    branch_name = dict(q("SELECT branch_id, name FROM branches"))

    checks = {}

    # --- red flag, one period ---
    rows = q("""
        SELECT s.period, s.branch_id, s.indicator, s.score
        FROM scores s JOIN branches b ON b.branch_id = s.branch_id
        WHERE b.type IN ('rural', 'community') AND regexp_full_match(s.period, '[0-9]{4}-B[1-6]')""")
    per = defaultdict(dict)
    for period, branch, ind, score in rows:
        per[(period, branch)][ind] = Decimal(score)
    groups = defaultdict(list)
    for (period, branch), scores in per.items():
        total = sum(scores.values(), Decimal(0))
        g = anc[branch_unit[branch]].get(2, branch_unit[branch])
        groups[(period, g)].append((branch, total, scores.get("党组织建设", Decimal(0)), scores))
    ranked = []
    for (period, g), members in groups.items():
        for branch, total, tb, scores in members:
            rank = 1 + sum(1 for _, t2, tb2, _ in members if (t2, tb2) > (total, tb))
            ranked.append([period, g, rank, branch, total, scores, len(members)])
    periods = sorted({r[0] for r in ranked})
    by_key = {(r[0], r[3]): r for r in ranked}
    max_rank = defaultdict(int)
    for r in ranked:
        max_rank[(r[0], r[1])] = max(max_rank[(r[0], r[1])], r[2])
    expected = []
    outcome = {}
    penalty_count = defaultdict(int)
    streak = {}
    for period in periods:
        for r in sorted((r for r in ranked if r[0] == period), key=lambda r: r[3]):
            _, g, rank, branch, total, scores, n = r
            reward = 0
            if rank <= 3:
                for min_score, rewards in TIERS:
                    if total >= min_score:
                        reward = rewards[rank - 1] if rank <= len(rewards) else 0
                        break
            flag = rank == 1
            last = n >= 2 and rank == max_rank[(period, g)]
            penalty = ""
            if last and total < PENALTY_BELOW:
                penalty_count[(branch, period[:4])] += 1
                penalty = STEPS[min(penalty_count[(branch, period[:4])], len(STEPS)) - 1]
            i = periods.index(period)
            prev = streak.get((periods[i - 1], branch), 0) if i > 0 else 0
            streak[(period, branch)] = prev + 1 if flag else 0
            outcome[(period, branch)] = (reward, penalty)
            missing = "、".join(x for x in INDICATORS if x not in scores)
            expected.append(tuple(norm(v) for v in (period, g, rank, branch, total, missing, reward,
                                                      flag, last, penalty, streak[(period, branch)])))
    checks["red_flag_ranking"] = (expected, ours(
        "SELECT period, group_id, rank, branch_id, total, missing_indicators, reward_yuan, red_flag, "
        "last_place, penalty, consecutive_flags FROM red_flag_ranking"))

    # --- red flag, one year ---
    expected = []
    years = defaultdict(list)
    for r in ranked:
        years[(r[0][:4], r[3])].append(r)
    for (year, branch), rs in years.items():
        rs.sort(key=lambda r: r[0])
        ps = [p for p in periods if p[:4] == year]
        flags = [r for r in rs if r[2] == 1]
        longest, run_len, last_i = 0, 0, None
        for r in flags:
            i = ps.index(r[0])
            run_len = run_len + 1 if last_i is not None and i == last_i + 1 else 1
            last_i = i
            longest = max(longest, run_len)
        totals = [r[4] for r in rs]
        mean = (sum(totals, Decimal(0)) / len(totals)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        reward = sum(outcome[(r[0], branch)][0] for r in rs)
        penalties = sum(1 for r in rs if outcome[(r[0], branch)][1])
        expected.append(tuple(norm(v) for v in (year, rs[-1][1], branch, len(rs), len(flags),
                                                  min(r[2] for r in rs), max(r[2] for r in rs), mean,
                                                  reward, penalties, longest >= 2, len(flags) == 0)))
    checks["red_flag_year"] = (expected, ours(
        "SELECT year, group_id, branch_id, periods, flags, best_rank, worst_rank, mean_total, "
        "reward_yuan, penalties, bonus_funding, subsidy_cancelled FROM red_flag_year"))

    # --- coverage and findings ---
    is_joint = dict(q("SELECT branch_id, is_joint FROM branches"))
    orgs = q("SELECT org_id, kind, unit_id, party_members, branch_id FROM organizations")
    cov = defaultdict(lambda: [0, 0, 0, 0])
    for org, kind, unit, pm, br in orgs:
        for lvl, a in anc[unit].items():
            c = cov[(lvl, kind, a)]
            c[0] += 1
            if br is not None:
                c[1] += 1
                c[2 if not is_joint[br] else 3] += 1
    checks["coverage"] = ([tuple(norm(v) for v in (lvl, kind, u, n, cv, rate(cv, n), s, j, rate(s, n)))
                           for (lvl, kind, u), (n, cv, s, j) in cov.items()], ours(
        "SELECT level, kind, unit_id, orgs, covered, coverage_rate, standalone, joint, standalone_rate FROM coverage"))
    findings = []
    joint_orgs = defaultdict(int)
    for org, kind, unit, pm, br in orgs:
        if pm >= 3 and (br is None or is_joint[br]):
            findings.append(("应单独组建", org, br or ""))
        if pm >= 1 and br is None:
            findings.append(("有党员未覆盖", org, ""))
        if br is not None and is_joint[br]:
            joint_orgs[br] += 1
    findings += [("超出一管五", "", b) for b, n in joint_orgs.items() if n > 5]
    checks["coverage_findings"] = (findings, ours("SELECT finding, org_id, branch_id FROM coverage_findings"))

    # --- attendance per branch-month and per unit ---
    counts = q("""
        SELECT m.branch_id, strftime(m.held_on, '%Y-%m') AS month, count(DISTINCT m.meeting_id),
               count(a.member_id),
               count(*) FILTER (WHERE a.status IN ('present', 'online')),
               count(*) FILTER (WHERE a.status = 'excused'),
               count(*) FILTER (WHERE a.status = 'absent')
        FROM meetings m LEFT JOIN attendance a ON a.meeting_id = m.meeting_id
        GROUP BY ALL""")
    def prev_month(m):
        y, mo = int(m[:4]), int(m[5:])
        return f"{y - 1}-12" if mo == 1 else f"{y}-{mo - 1:02d}"
    def with_change(table):
        out = []
        for key, (mt, e, p, x, a) in table.items():
            r = rate(p, e)
            pk = key[:-1] + (prev_month(key[-1]),)
            pr = rate(table[pk][2], table[pk][1]) if pk in table else None
            out.append((key, mt, e, p, x, a, r, None if r is None or pr is None else r - pr))
        return out
    branch_month = {(b, m): (mt, e, p, x, a) for b, m, mt, e, p, x, a in counts}
    checks["attendance_monthly"] = (
        [tuple(norm(v) for v in (m, b, mt, e, p, x, a, r, c)) for (b, m), mt, e, p, x, a, r, c in with_change(branch_month)],
        ours("SELECT month, branch_id, meetings, expected, present, excused, absent, rate, rate_change FROM attendance_monthly"))
    unit_month = defaultdict(lambda: [0, 0, 0, 0, 0])
    for (b, m), vals in branch_month.items():
        for lvl, a in anc[branch_unit[b]].items():
            acc = unit_month[(lvl, a, m)]
            for i, v in enumerate(vals):
                acc[i] += v
    checks["attendance_monthly_by_unit"] = (
        [tuple(norm(v) for v in (lvl, m, u, mt, e, p, x, a, r, c))
         for (lvl, u, m), mt, e, p, x, a, r, c in with_change({k: tuple(v) for k, v in unit_month.items()})],
        ours("SELECT level, month, unit_id, meetings, expected, present, excused, absent, rate, rate_change "
             "FROM attendance_monthly_by_unit"))

    # --- 三会一课 compliance ---
    meetings = q("SELECT branch_id, kind, party_group, held_on FROM meetings")
    def quarter(d):
        return f"{d.year}-Q{(d.month + 2) // 3}"
    quarters = sorted({quarter(d) for _, _, _, d in meetings})
    held = set()
    for b, kind, pg, d in meetings:
        held.add((b, kind, pg if kind == "group" else None, f"{d.year}-{d.month:02d}"))
        held.add((b, kind, pg if kind == "group" else None, quarter(d)))
    groups_of = defaultdict(set)
    for b, pg in q("SELECT branch_id, party_group FROM members WHERE party_group IS NOT NULL AND party_group <> ''"):
        groups_of[b].add(pg)
    expected = []
    for b in branch_unit:
        for qt in quarters:
            y, n = int(qt[:4]), int(qt[-1])
            months = [f"{y}-{(n - 1) * 3 + k:02d}" for k in (1, 2, 3)]
            gaps = [f"支委会 {m}" for m in months if (b, "committee", None, m) not in held]
            for g in sorted(groups_of[b]):
                gaps += [f"党小组会 {g} {m}" for m in months if (b, "group", g, m) not in held]
            if (b, "assembly", None, qt) not in held:
                gaps.append("支部党员大会")
            if (b, "lecture", None, qt) not in held:
                gaps.append("党课")
            expected.append(tuple(norm(v) for v in (qt, b, not gaps, "; ".join(gaps))))
    checks["meeting_compliance"] = (expected, ours("SELECT quarter, branch_id, compliant, missing FROM meeting_compliance"))

    # --- absence alerts ---
    att = q("""SELECT a.member_id, m.held_on, m.meeting_id, a.status FROM attendance a
               JOIN meetings m ON m.meeting_id = a.meeting_id ORDER BY a.member_id, m.held_on, m.meeting_id""")
    member_branch = dict(q("SELECT member_id, branch_id FROM members"))
    per_member = defaultdict(lambda: [0, 0, 0])
    for member, d, _, status in att:
        s = per_member[(d.year, member)]
        if status == "absent":
            s[0] += 1
            s[1] += 1
            s[2] = max(s[2], s[1])
        else:
            s[1] = 0
    checks["attendance_alerts"] = (
        [tuple(norm(v) for v in (y, m, member_branch[m], u, longest, u >= 3, longest >= 3))
         for (y, m), (u, _, longest) in per_member.items() if u >= 3 or longest >= 3],
        ours("SELECT year, member_id, branch_id, unexcused, longest_run, admonish, discipline FROM attendance_alerts"))

    # --- member points ---
    sums = defaultdict(lambda: defaultdict(Decimal))
    for member, month, cat, pts in q("SELECT member_id, month, category, points FROM points"):
        sums[(int(month[:4]), member)][cat] += Decimal(pts)
    pyears = sorted({y for y, _ in sums})
    expected = []
    for y in pyears:
        by_branch = defaultdict(list)
        for m, b in q("SELECT member_id, branch_id FROM members WHERE NOT points_exempt"):
            s = sums.get((y, m), {})
            base = min(max(Decimal(20) + s.get("base", Decimal(0)), Decimal(0)), Decimal(20))
            task = min(Decimal(70), s.get("task", Decimal(0)))
            reward = min(Decimal(10), s.get("reward", Decimal(0)))
            honor = s.get("honor", Decimal(0))
            total = base + task + reward + honor
            violation = "violation" in s
            grade = "不合格" if violation else next((n for mn, n in GRADES if total >= mn), "不合格")
            by_branch[b].append([y, m, b, base, task, reward, honor, total, grade, violation])
        for b, ms in by_branch.items():
            for r in ms:
                rank = 1 + sum(1 for o in ms if o[7] > r[7])
                expected.append(tuple(norm(v) for v in (*r, rank, (rank - 1) < 0.2 * len(ms))))
    checks["member_points"] = (expected, ours(
        "SELECT year, member_id, branch_id, base, task, reward, honor, total, grade, violation, rank, top_share "
        "FROM member_points"))

    # --- grid visits ---
    acc = {u: [0, 0, 0, 0] for u in parent}
    for unit, hh, raised, resolved in q("SELECT unit_id, households, issues_raised, issues_resolved FROM visits"):
        for a in anc[unit].values():
            for i, v in enumerate((1, hh, raised, resolved)):
                acc[a][i] += v
    checks["grid_visits"] = (
        [tuple(norm(v) for v in (u, parent[u][1], n, h, r, s, rate(s, r))) for u, (n, h, r, s) in acc.items()],
        ours("SELECT unit_id, level, visits, households, issues_raised, issues_resolved, resolution_rate FROM grid_visits"))

    failed = False
    for view, (want, got) in checks.items():
        want, got = sorted(want), sorted(got)
        if want == got:
            print(f"ok   {view}: {len(got)} rows equal")
            continue
        failed = True
        missing = [r for r in want if r not in set(got)][:5]
        extra = [r for r in got if r not in set(want)][:5]
        print(f"DIFF {view}: duckdb {len(want)} rows, gridassess {len(got)} rows")
        for r in missing:
            print(f"  only duckdb:     {r}")
        for r in extra:
            print(f"  only gridassess: {r}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
