"""P1 baseline in DuckDB: every metric of SPEC §4 for one period and one year, in SQL only.

    run(root, period, year, threads) -> {view: pyarrow.Table}

`root` holds `county=<id>/<table>.parquet`; each row gets its `county` from hive partitioning and
every key, join and window partition includes it, so ids may repeat across counties. The rules
are SPEC §3's defaults, restated below as constants. Python only assembles SQL text; all
computation runs in one fresh in-memory DuckDB connection per call, reading the Parquet files
inside the call (nothing is cached between calls, as the Rust engine re-reads its files too).

Written from SPEC §3/§4 (see bench/p1_common.py for the columns and the run's filters), not from
the engine's SQL, so that agreement is evidence that both are right.
"""

import time

import duckdb

# --- SPEC §3 default rules -----------------------------------------------------------------
INDICATORS = [("党组织建设", 20), ("扶贫工作", 10), ("计生工作", 10), ("综治维稳", 10),
              ("安全生产", 10), ("民政民生", 10), ("整脏治乱", 10), ("财政税收", 5),
              ("驻村帮扶", 10), ("党风廉政", 5)]
PERIOD_PATTERN = r"\d{4}-B[1-6]"          # period = "bimonthly"
GROUP_LEVEL = 2                           # rank within the township
BRANCH_TYPES = ["rural", "community"]
TIE_BREAK = ["党组织建设"]
TIERS = [(95, [600, 500, 400]), (85, [300, 250, 200])]
PENALTY_BELOW = 85
PENALTY_STEPS = ["表态发言", "取消年终参评资格", "乡纪委问责"]

UNEXCUSED_WARNING = 3
CONSECUTIVE_UNEXCUSED = 3
# 三会一课: committee and group monthly, assembly and lecture quarterly (labels as in `missing`)
MONTHLY = [("committee", "支委会"), ("group", "党小组会")]
QUARTERLY = [("assembly", "支部党员大会"), ("lecture", "党课")]

POINTS_BASE, TASK_CAP, REWARD_CAP = 20, 70, 10
GRADES = [(90, "优秀"), (80, "合格"), (60, "基本合格"), (0, "不合格")]
FAIL_GRADE = "不合格"
TOP_SHARE = "0.2"                          # a SQL decimal literal: compared exactly

STANDALONE_MIN_MEMBERS = 3
JOINT_MAX_ORGS = 5

TABLES = ["grid_units", "branches", "members", "meetings", "attendance", "scores",
          "organizations", "points", "visits"]


def _q(s):
    """A SQL string literal."""
    return "'" + s.replace("'", "''") + "'"


def _list(items):
    """A SQL list literal (1-based indexing: `[...][n]`)."""
    return "[" + ", ".join(_q(i) if isinstance(i, str) else str(i) for i in items) + "]"


def _in(items):
    """The right-hand side of a SQL `IN`."""
    return "(" + ", ".join(_q(i) for i in items) + ")"


def _sql(root, period, year):
    """The setup statements (one temp table each, in dependency order) and the ten result queries."""
    src = {t: f"read_parquet('{root}/county=*/{t}.parquet', hive_partitioning = true)"
           for t in TABLES}
    y0, y1 = f"DATE '{year}-01-01'", f"DATE '{year + 1}-01-01'"
    prev_dec = f"DATE '{year - 1}-12-01'"     # rate_change of January needs last December

    setup = [
        # The grid, and every unit's ancestors (itself included) at every level: one row per
        # (unit, ancestor). Rollups to any level are then one equi-join on this small table.
        f"""CREATE TEMP TABLE units AS
            SELECT county, unit_id, parent_id, level, name FROM {src['grid_units']}""",
        """CREATE TEMP TABLE anc AS
            WITH RECURSIVE up(county, unit_id, anc_id, anc_level) AS (
                SELECT county, unit_id, unit_id, level FROM units
                UNION ALL
                SELECT up.county, up.unit_id, u.parent_id, u.level - 1
                FROM up JOIN units u ON u.county = up.county AND u.unit_id = up.anc_id
                WHERE u.parent_id IS NOT NULL)
            SELECT * FROM up""",
        # Branches and members get a small integer key: window partitions over strings are slow.
        f"""CREATE TEMP TABLE branches AS
            SELECT county, branch_id, name, unit_id, type, coalesce(is_joint, false) AS is_joint,
                   row_number() OVER ()::INTEGER AS bkey
            FROM {src['branches']}""",
        # Meetings of the year (and last December, for January's rate_change), numbered in
        # (held_on, meeting_id) order so member histories sort on one integer.
        f"""CREATE TEMP TABLE meetings AS
            SELECT county, meeting_id, branch_id, kind, party_group, held_on,
                   row_number() OVER (PARTITION BY county ORDER BY held_on, meeting_id)::INTEGER AS seq
            FROM {src['meetings']}
            WHERE held_on >= {prev_dec} AND held_on < {y1}""",
        f"""CREATE TEMP TABLE members AS
            SELECT m.county, m.member_id, m.branch_id, b.bkey, m.party_group,
                   coalesce(m.points_exempt, false) AS points_exempt
            FROM {src['members']} m
            LEFT JOIN branches b ON b.county = m.county AND b.branch_id = m.branch_id""",
    ]

    # --- red flag: every period (penalties and streaks need the history), kept in a temp table
    ind_cols = ",\n                   ".join(
        f"sum(score) FILTER (WHERE indicator = {_q(n)}) AS \"{n}\"" for n, _ in INDICATORS)
    tie = "".join(f", coalesce(\"{n}\", 0) DESC" for n in TIE_BREAK)
    missing = ", ".join(f"CASE WHEN \"{n}\" IS NULL THEN {_q(n)} END" for n, _ in INDICATORS)
    reward = " ".join(f"WHEN total >= {m} THEN coalesce({_list(r)}[rank], 0)" for m, r in TIERS)
    setup.append(f"""CREATE TEMP TABLE rf AS
        WITH s AS (   -- one row per taking-part branch and period; a missing indicator is NULL here
            SELECT s.county, s.period, s.branch_id,
                   sum(score) FILTER (WHERE indicator IN {_in(n for n, _ in INDICATORS)}) AS total,
                   {ind_cols}
            FROM {src['scores']} s
            WHERE regexp_full_match(s.period, '{PERIOD_PATTERN}')
            GROUP BY ALL),
        ranked AS (
            SELECT s.*, b.name AS branch_name, coalesce(a.anc_id, b.unit_id) AS group_id,
                   substr(s.period, 1, 4)::INTEGER AS year,
                   rank() OVER grp AS rank,
                   count(*) OVER (PARTITION BY s.county, s.period, group_id) AS n,
                   -- the tenant's periods in order ('YYYY-Bn' sorts by year, then number)
                   dense_rank() OVER (PARTITION BY s.county ORDER BY s.period) AS pidx
            FROM s
            JOIN branches b ON b.county = s.county AND b.branch_id = s.branch_id
            LEFT JOIN anc a ON a.county = b.county AND a.unit_id = b.unit_id AND a.anc_level = {GROUP_LEVEL}
            WHERE b.type IN {_in(BRANCH_TYPES)}
            WINDOW grp AS (PARTITION BY s.county, s.period, group_id ORDER BY total DESC{tie})),
        placed AS (
            SELECT *, rank = 1 AS red_flag,
                   n >= 2 AND rank = max(rank) OVER (PARTITION BY county, period, group_id) AS last_place,
                   CASE WHEN rank <= 3 THEN CASE {reward} ELSE 0 END ELSE 0 END AS reward_yuan
            FROM ranked),
        counted AS (
            SELECT *,
                   -- n-th penalised period of the branch in the calendar year
                   count(*) FILTER (WHERE last_place AND total < {PENALTY_BELOW}) OVER (
                       PARTITION BY county, branch_id, year ORDER BY pidx ROWS UNBOUNDED PRECEDING) AS n_pen,
                   -- islands of flagged periods: pidx - (position among the branch's flag/no-flag rows)
                   pidx - row_number() OVER (PARTITION BY county, branch_id, red_flag ORDER BY pidx) AS island,
                   -- two flags in a row within one year (for bonus_funding)
                   red_flag AND lag(red_flag) OVER br AND lag(pidx) OVER br = pidx - 1
                       AND lag(year) OVER br = year AS flag_pair
            FROM placed
            WINDOW br AS (PARTITION BY county, branch_id ORDER BY pidx))
        SELECT county, period, year, pidx, group_id, rank, branch_id, branch_name, total,
               concat_ws('、', {missing}) AS missing_indicators,
               reward_yuan, red_flag, last_place,
               CASE WHEN last_place AND total < {PENALTY_BELOW}
                    THEN {_list(PENALTY_STEPS)}[least(n_pen, {len(PENALTY_STEPS)})] END AS penalty,
               CASE WHEN red_flag THEN row_number() OVER (PARTITION BY county, branch_id, red_flag, island ORDER BY pidx)
                    ELSE 0 END AS consecutive_flags,
               flag_pair,
               {", ".join(f'coalesce("{n}", 0) AS "{n}"' for n, _ in INDICATORS)}
        FROM counted""")

    views = {}
    views["red_flag_ranking"] = f"""
        SELECT r.county, r.period, r.group_id, u.name AS group_name, r.rank, r.branch_id, r.branch_name,
               r.total, r.missing_indicators, r.reward_yuan, r.red_flag, r.last_place, r.penalty,
               r.consecutive_flags, {", ".join(f'r."{n}"' for n, _ in INDICATORS)}
        FROM rf r LEFT JOIN units u ON u.county = r.county AND u.unit_id = r.group_id
        WHERE r.period = {_q(period)}"""

    views["red_flag_year"] = f"""
        SELECT county, year, arg_max(group_id, pidx) AS group_id, branch_id,
               arg_max(branch_name, pidx) AS branch_name,
               count(*) AS periods, count(*) FILTER (WHERE red_flag) AS flags,
               min(rank) AS best_rank, max(rank) AS worst_rank,
               -- exact half-up rounding of the mean, in integer cents
               ((sign(sum(total)) * ((abs(sum(total)) * 200)::HUGEINT + count(*)) // (2 * count(*)))::DECIMAL(18, 0)
                   * 0.01)::DECIMAL(18, 2) AS mean_total,
               sum(reward_yuan) AS reward_yuan, count(penalty) AS penalties,
               coalesce(bool_or(flag_pair), false) AS bonus_funding,
               count(*) FILTER (WHERE red_flag) = 0 AS subsidy_cancelled
        FROM rf WHERE year = {year}
        GROUP BY county, year, branch_id"""

    # --- coverage: organizations with their covering branch, rolled up to every level
    orgs = f"""
        SELECT o.county, o.org_id, o.name, o.kind, o.unit_id, o.party_members, o.branch_id,
               b.name AS branch_name, b.is_joint
        FROM {src['organizations']} o
        LEFT JOIN branches b ON b.county = o.county AND b.branch_id = o.branch_id"""
    views["coverage"] = f"""
        WITH o AS ({orgs})
        SELECT o.county, a.anc_level AS level, o.kind, a.anc_id AS unit_id, u.name AS unit_name,
               count(*) AS orgs, count(o.branch_id) AS covered,
               count(o.branch_id) / count(*) AS coverage_rate,
               count(*) FILTER (WHERE NOT o.is_joint) AS standalone,
               count(*) FILTER (WHERE o.is_joint) AS joint,
               count(*) FILTER (WHERE NOT o.is_joint) / count(*) AS standalone_rate
        FROM o
        JOIN anc a ON a.county = o.county AND a.unit_id = o.unit_id
        JOIN units u ON u.county = a.county AND u.unit_id = a.anc_id
        GROUP BY o.county, a.anc_level, o.kind, a.anc_id, u.name"""

    views["coverage_findings"] = f"""
        WITH o AS ({orgs})
        SELECT county, '应单独组建' AS finding, org_id, branch_id,
               CASE WHEN branch_id IS NULL
                    THEN name || '有正式党员' || party_members || '名（达到{STANDALONE_MIN_MEMBERS}名），尚未建立党组织，应单独组建党组织'
                    ELSE name || '有正式党员' || party_members || '名（达到{STANDALONE_MIN_MEMBERS}名），现由联合党组织“'
                         || branch_name || '”覆盖，应单独组建党组织' END AS detail
        FROM o WHERE party_members >= {STANDALONE_MIN_MEMBERS} AND (branch_id IS NULL OR is_joint)
        UNION ALL
        SELECT county, '有党员未覆盖', org_id, NULL,
               name || '有正式党员' || party_members || '名，尚未被党组织覆盖'
        FROM o WHERE party_members >= 1 AND branch_id IS NULL
        UNION ALL
        SELECT county, '超出一管五', NULL, branch_id,
               '联合党组织“' || branch_name || '”覆盖' || count(*) || '个组织，超出“一管五”上限（最多{JOINT_MAX_ORGS}个）'
        FROM o WHERE is_joint
        GROUP BY county, branch_id, branch_name
        HAVING count(*) > {JOINT_MAX_ORGS}"""

    # --- attendance per branch-month: count attendance per meeting first (no 14 M-row join),
    # then per branch-month; meetings without attendance rows still count as meetings.
    setup.append(f"""CREATE TEMP TABLE bm AS
        WITH per_meeting AS (
            SELECT county, meeting_id, count(*) AS expected,
                   count(*) FILTER (WHERE status IN ('present', 'online')) AS present,
                   count(*) FILTER (WHERE status = 'excused') AS excused,
                   count(*) FILTER (WHERE status = 'absent') AS absent
            FROM {src['attendance']} GROUP BY ALL)
        SELECT m.county, m.branch_id, date_trunc('month', m.held_on) AS month, count(*) AS meetings,
               coalesce(sum(p.expected), 0)::BIGINT AS expected, coalesce(sum(p.present), 0)::BIGINT AS present,
               coalesce(sum(p.excused), 0)::BIGINT AS excused, coalesce(sum(p.absent), 0)::BIGINT AS absent
        FROM meetings m LEFT JOIN per_meeting p ON p.county = m.county AND p.meeting_id = m.meeting_id
        GROUP BY ALL""")

    def with_change(rows, key):
        """rate and rate_change (against the previous calendar month of the same key)."""
        return f"""
            SELECT *, present / nullif(expected, 0) AS rate,
                   CASE WHEN lag(month) OVER w = month - INTERVAL 1 MONTH
                        THEN rate - lag(rate) OVER w END AS rate_change
            FROM ({rows})
            WINDOW w AS (PARTITION BY {key} ORDER BY month)"""

    views["attendance_monthly"] = f"""
        SELECT county, strftime(month, '%Y-%m') AS month, branch_id, name, meetings, expected,
               present, excused, absent, rate, rate_change
        FROM ({with_change('SELECT bm.*, b.name FROM bm JOIN branches b USING (county, branch_id)',
                           'county, branch_id')})
        WHERE month >= {y0}"""

    views["attendance_monthly_by_unit"] = f"""
        SELECT county, level, strftime(month, '%Y-%m') AS month, unit_id, name, meetings, expected,
               present, excused, absent, rate, rate_change
        FROM ({with_change(f'''
            SELECT bm.county, a.anc_level AS level, a.anc_id AS unit_id, u.name, bm.month,
                   sum(meetings)::BIGINT AS meetings, sum(expected)::BIGINT AS expected,
                   sum(present)::BIGINT AS present, sum(excused)::BIGINT AS excused,
                   sum(absent)::BIGINT AS absent
            FROM bm
            JOIN branches b USING (county, branch_id)
            JOIN anc a ON a.county = b.county AND a.unit_id = b.unit_id
            JOIN units u ON u.county = a.county AND u.unit_id = a.anc_id
            GROUP BY ALL''', 'county, level, unit_id')})
        WHERE month >= {y0}"""

    # --- 三会一课: one row per required meeting (kind, party group, month or quarter slot),
    # anti-joined with the meetings held; the gaps left are the `missing` list.
    slot = " ".join([f"WHEN {_q(k)} THEN date_trunc('month', held_on)" for k, _ in MONTHLY]
                    + [f"WHEN {_q(k)} THEN date_trunc('quarter', held_on)" for k, _ in QUARTERLY])
    label_m = dict(MONTHLY)
    views["meeting_compliance"] = f"""
        WITH quarters AS (   -- the tenant's quarters of the year that have any meeting
            SELECT DISTINCT county, date_trunc('quarter', held_on) AS q
            FROM meetings WHERE held_on >= {y0}),
        months AS (SELECT county, q, q + to_months(i::INTEGER) AS m FROM quarters, range(3) t(i)),
        groups AS (SELECT DISTINCT county, branch_id, party_group FROM members WHERE party_group <> ''),
        need AS (
            SELECT b.county, b.branch_id, m.q, 0 AS ord, 'committee' AS kind, '' AS pg, m.m AS slot,
                   '{label_m['committee']} ' || strftime(m.m, '%Y-%m') AS gap
            FROM branches b JOIN months m USING (county)
            UNION ALL
            SELECT g.county, g.branch_id, m.q, 1, 'group', g.party_group, m.m,
                   '{label_m['group']} ' || g.party_group || ' ' || strftime(m.m, '%Y-%m')
            FROM groups g JOIN months m USING (county)
            UNION ALL
            SELECT b.county, b.branch_id, q.q, 2 + k.ord, k.kind, '', q.q, k.label
            FROM branches b JOIN quarters q USING (county),
                 (VALUES {", ".join(f"({i}, {_q(k)}, {_q(l)})" for i, (k, l) in enumerate(QUARTERLY))}) k(ord, kind, label)),
        held AS (
            SELECT DISTINCT county, branch_id, kind,
                   CASE WHEN kind = 'group' THEN coalesce(party_group, '') ELSE '' END AS pg,
                   CASE kind {slot} END AS slot
            FROM meetings
            WHERE held_on >= {y0} AND kind IN {_in(k for k, _ in MONTHLY + QUARTERLY)}),
        gaps AS (
            SELECT county, branch_id, q, string_agg(gap, '; ' ORDER BY ord, pg, slot) AS missing
            FROM need ANTI JOIN held USING (county, branch_id, kind, pg, slot)
            GROUP BY ALL)
        SELECT b.county, strftime(q.q, '%Y') || '-Q' || quarter(q.q) AS quarter, b.branch_id,
               b.name AS branch_name, g.missing IS NULL AS compliant, coalesce(g.missing, '') AS missing
        FROM branches b JOIN quarters q USING (county)
        LEFT JOIN gaps g ON g.county = b.county AND g.branch_id = b.branch_id AND g.q = q.q"""

    # --- absence alerts. Only members with enough absences in the year can have an alert
    # (a run of N absences is N absences), so only their histories are sorted, keyed by a
    # small integer per member rather than by (county, member_id) strings.
    at_least = min(UNEXCUSED_WARNING, CONSECUTIVE_UNEXCUSED)
    views["attendance_alerts"] = f"""
        WITH at_risk AS MATERIALIZED (   -- k is used twice below: it must be computed once
            SELECT county, member_id, count(*) AS unexcused, row_number() OVER ()::INTEGER AS k
            FROM {src['attendance']} a JOIN meetings m USING (county, meeting_id)
            WHERE a.status = 'absent' AND m.held_on >= {y0}
            GROUP BY ALL HAVING count(*) >= {at_least}),
        history AS (   -- the at-risk members' attendance in the year, numbered per member
            SELECT r.k, a.status = 'absent' AS absent,
                   row_number() OVER (PARTITION BY r.k ORDER BY m.seq) AS pos
            FROM {src['attendance']} a
            JOIN at_risk r USING (county, member_id)
            JOIN meetings m USING (county, meeting_id)
            WHERE m.held_on >= {y0}),
        runs AS (   -- gaps and islands: within a run of absences, pos - (index among absences) is constant
            SELECT k, max(n) AS longest_run
            FROM (SELECT k, count(*) AS n
                  FROM (SELECT k, pos - row_number() OVER (PARTITION BY k ORDER BY pos) AS island
                        FROM history WHERE absent)
                  GROUP BY k, island)
            GROUP BY k)
        SELECT r.county, {year} AS year, r.member_id, mb.branch_id, r.unexcused, s.longest_run,
               r.unexcused >= {UNEXCUSED_WARNING} AS admonish,
               s.longest_run >= {CONSECUTIVE_UNEXCUSED} AS discipline
        FROM at_risk r JOIN runs s USING (k)
        LEFT JOIN members mb ON mb.county = r.county AND mb.member_id = r.member_id
        WHERE r.unexcused >= {UNEXCUSED_WARNING} OR s.longest_run >= {CONSECUTIVE_UNEXCUSED}"""

    # --- member points: one pass over the year's entries, then every non-exempt member
    grade = " ".join(f"WHEN total >= {m} THEN {_q(n)}" for m, n in GRADES)
    views["member_points"] = f"""
        WITH p AS (
            SELECT county, member_id,
                   sum(points) FILTER (WHERE category = 'base') AS base,
                   sum(points) FILTER (WHERE category = 'task') AS task,
                   sum(points) FILTER (WHERE category = 'reward') AS reward,
                   sum(points) FILTER (WHERE category = 'honor') AS honor,
                   bool_or(category = 'violation') AS violation
            FROM {src['points']}
            WHERE month LIKE '{year}-%'
            GROUP BY ALL),
        scored AS (
            SELECT m.county, m.member_id, m.branch_id, m.bkey,
                   least(greatest({POINTS_BASE} + coalesce(p.base, 0), 0), {POINTS_BASE}) AS base,
                   least({TASK_CAP}, coalesce(p.task, 0)) AS task,
                   least({REWARD_CAP}, coalesce(p.reward, 0)) AS reward,
                   coalesce(p.honor, 0) AS honor,
                   coalesce(p.violation, false) AS violation
            FROM members m
            LEFT JOIN p ON p.county = m.county AND p.member_id = m.member_id
            WHERE NOT m.points_exempt),
        totalled AS (SELECT *, base + task + reward + honor AS total FROM scored)
        SELECT county, {year} AS year, member_id, branch_id, base, task, reward, honor, total,
               CASE WHEN violation THEN {_q(FAIL_GRADE)} ELSE CASE {grade} ELSE {_q(FAIL_GRADE)} END END AS grade,
               violation, rank() OVER br AS rank,
               rank() OVER br - 1 < {TOP_SHARE} * count(*) OVER (PARTITION BY bkey) AS top_share
        FROM totalled
        WINDOW br AS (PARTITION BY bkey ORDER BY total DESC)"""

    # --- grid visits: sum per unit, roll up to every ancestor, keep every unit
    views["grid_visits"] = f"""
        WITH v AS (
            SELECT county, unit_id, count(*) AS visits, sum(households) AS households,
                   sum(issues_raised) AS raised, sum(issues_resolved) AS resolved
            FROM {src['visits']} GROUP BY ALL),
        rolled AS (
            SELECT a.county, a.anc_id AS unit_id, sum(visits) AS visits, sum(households) AS households,
                   sum(raised) AS raised, sum(resolved) AS resolved
            FROM v JOIN anc a USING (county, unit_id)
            GROUP BY ALL)
        SELECT u.county, u.unit_id, u.name AS unit_name, u.level,
               coalesce(r.visits, 0)::BIGINT AS visits, coalesce(r.households, 0)::BIGINT AS households,
               coalesce(r.raised, 0)::BIGINT AS issues_raised, coalesce(r.resolved, 0)::BIGINT AS issues_resolved,
               r.resolved / nullif(r.raised, 0) AS resolution_rate
        FROM units u LEFT JOIN rolled r USING (county, unit_id)"""

    return setup, views


def run(root: str, period: str, year: int, threads: int, timings: dict | None = None):
    """Every view of p1_common.VIEWS as a pyarrow Table (county first). `timings`, when given,
    receives the seconds spent per setup step and per view."""
    setup, views = _sql(root.rstrip("/"), period, year)
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"SET threads = {int(threads)}")
        con.execute("SET enable_progress_bar = false")   # it would write to stdout
        con.execute("SET preserve_insertion_order = false")
        for stmt in setup:
            t = time.perf_counter()
            con.execute(stmt)
            if timings is not None:   # named after the temp table it creates
                timings["table " + stmt.split()[3]] = time.perf_counter() - t
        out = {}
        for name, sql in views.items():
            t = time.perf_counter()
            rel = con.sql(sql)   # a relation hands its rows to Arrow without an extra copy
            out[name] = rel.to_arrow_table() if hasattr(rel, "to_arrow_table") else rel.arrow()
            if timings is not None:
                timings[name] = time.perf_counter() - t
        return out
    finally:
        con.close()
