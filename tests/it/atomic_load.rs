//! A load killed with SIGKILL at any moment leaves the tenant exactly as before the load or
//! exactly as after it, and the next load completes normally.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::time::Instant;

use crate::common::{Warehouse, fixtures, tables_of};

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("mkdir");
    for entry in fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// A load big enough to take a while: members, meetings and attendance for the fixture county.
fn write_big_load(dir: &Path) {
    let (members, meetings, per_meeting) = (3000, 400, 60);
    let mut m = String::from("member_id,branch_id,name,status\n");
    for i in 0..members {
        writeln!(m, "BM{i},B{},党员{i},正式", i % 5 + 1).expect("fmt");
    }
    let mut mt = String::from("meeting_id,branch_id,kind,held_on\n");
    let mut a = String::from("meeting_id,member_id,status\n");
    for j in 0..meetings {
        let b = j % 5 + 1;
        writeln!(
            mt,
            "BMT{j},B{b},支委会,2024-{:02}-{:02}",
            j % 12 + 1,
            j % 28 + 1
        )
        .expect("fmt");
        for k in 0..per_meeting {
            let member = (k * 5 + b - 1) % members;
            let status = ["出席", "缺席", "请假", "线上"][(j + k) % 4];
            writeln!(a, "BMT{j},BM{member},{status}").expect("fmt");
        }
    }
    fs::write(dir.join("members.csv"), m).expect("write");
    fs::write(dir.join("meetings.csv"), mt).expect("write");
    fs::write(dir.join("attendance.csv"), a).expect("write");
}

#[test]
fn a_load_killed_at_any_moment_leaves_the_old_state_or_the_new_one() {
    let base = Warehouse::new();
    base.ok(&[
        "ingest",
        "--tenant",
        "t",
        fixtures()
            .join("valid/utf8_english/input")
            .to_str()
            .expect("path"),
    ]);
    let pristine = base.dir.path().join("pristine");
    copy_dir(&base.path(), &pristine);
    let before = tables_of(&pristine);

    let input = base.dir.path().join("big");
    fs::create_dir_all(&input).expect("mkdir");
    write_big_load(&input);
    let input = input.to_str().expect("path").to_string();

    // The state after a load that is allowed to finish, and how long such a load takes.
    let finished = base.dir.path().join("finished");
    copy_dir(&pristine, &finished);
    let start = Instant::now();
    let out = crate::common::bin()
        .env("GRIDASSESS_WAREHOUSE", &finished)
        .args(["ingest", "--tenant", "t", &input])
        .output()
        .expect("run");
    let full = start.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = tables_of(&finished);
    assert_ne!(before, after);

    let attempts = 8;
    let mut saw = (0, 0);
    for i in 0..attempts {
        let wh = base.dir.path().join(format!("killed-{i}"));
        copy_dir(&pristine, &wh);
        let mut child = crate::common::bin()
            .env("GRIDASSESS_WAREHOUSE", &wh)
            .args(["ingest", "--tenant", "t", &input])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn");
        // Spread the kills over the whole load, with the last ones near the commit.
        let at = full.mul_f64((i as f64 + 0.5) / attempts as f64 * 1.1);
        std::thread::sleep(at);
        child.kill().expect("SIGKILL");
        child.wait().expect("wait");
        let state = tables_of(&wh);
        if state == before {
            saw.0 += 1;
        } else if state == after {
            saw.1 += 1;
        } else {
            panic!("after a kill at {at:?} the tenant is neither the old nor the new state");
        }
        // The next load runs normally from whatever state the kill left.
        let out = crate::common::bin()
            .env("GRIDASSESS_WAREHOUSE", &wh)
            .args(["ingest", "--tenant", "t", &input])
            .output()
            .expect("run");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(tables_of(&wh), after, "reloading after a kill at {at:?}");
    }
    eprintln!(
        "kills that left the old state: {}, the new state: {} (load takes {full:?})",
        saw.0, saw.1
    );
    assert!(
        saw.0 > 0,
        "no kill landed before the commit; the load took {full:?}"
    );
}
