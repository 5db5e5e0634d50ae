use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use anyhow::Result;
use engine::access::{Access, Role};
use engine::session::Session;
use warehouse::Warehouse;

use crate::output::Output;

/// Runs one query, or with none, every `;`-terminated statement read from standard input (an
/// interactive prompt when that is a terminal; `\q` or end of input quits). The session is the
/// one the server would give a user of `role` on these tenants, under the same guardrails.
pub async fn run(
    wh: &Path,
    tenants: &str,
    role: Role,
    as_of: Option<u64>,
    sql: Option<&str>,
    out: &Output<'_>,
) -> Result<()> {
    let warehouse = Warehouse::open(wh)?;
    let access = Access::new(
        tenants.split(',').map(|t| t.trim().to_string()).collect(),
        role,
    )
    .as_of(as_of);
    let session = Session::open(&warehouse, &access).await?;
    match sql {
        Some(q) => query(&session, q, out).await,
        None => prompt(&session, tenants, out).await,
    }
}

async fn query(session: &Session, sql: &str, out: &Output<'_>) -> Result<()> {
    let (schema, batches) = match session.sql(sql).await {
        Ok(result) => result,
        Err(e) if e.to_string().contains("not found") && e.to_string().contains("table") => {
            let names = session.names();
            anyhow::bail!("{e}\n  tables and views: {}", names.join(", "));
        }
        Err(e) => return Err(e.into()),
    };
    // Ad-hoc queries keep the names the user wrote, in every format.
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    out.write(&schema, &batches, Some(&names))
}

/// The byte index of the first `;` outside a quoted string or identifier.
fn statement_end(text: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    for (i, c) in text.char_indices() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, ';') => return Some(i),
            _ => {}
        }
    }
    None
}

async fn prompt(session: &Session, tenant: &str, out: &Output<'_>) -> Result<()> {
    let interactive = std::io::stdin().is_terminal();
    if interactive {
        eprintln!("gridassess sql on tenant {tenant}: end statements with ';', \\q quits.");
    }
    let mut pending = String::new();
    let mut failed = false;
    let stdin = std::io::stdin();
    loop {
        if interactive {
            eprint!(
                "{}",
                if pending.is_empty() {
                    "gridassess> "
                } else {
                    "        ... "
                }
            );
            std::io::stderr().flush()?;
        }
        let mut line = String::new();
        if stdin.lock().read_line(&mut line)? == 0 {
            break;
        }
        if pending.is_empty() && line.trim() == "\\q" {
            break;
        }
        pending.push_str(&line);
        while let Some(end) = statement_end(&pending) {
            let statement: String = pending.drain(..=end).collect();
            let statement = statement.trim().trim_end_matches(';').trim();
            if statement.is_empty() {
                continue;
            }
            // One bad statement is reported and the prompt goes on.
            if let Err(e) = query(session, statement, out).await {
                eprintln!("error: {e}");
                failed = true;
            }
        }
    }
    let rest = pending.trim();
    if !rest.is_empty()
        && let Err(e) = query(session, rest, out).await
    {
        eprintln!("error: {e}");
        failed = true;
    }
    if failed && !interactive {
        anyhow::bail!("some statements failed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::statement_end;

    #[test]
    fn semicolons_in_strings_do_not_end_a_statement() {
        assert_eq!(statement_end("select ';' as x; select 1;"), Some(15));
        assert_eq!(statement_end("select \"a;b\" from t"), None);
        assert_eq!(statement_end("select 1"), None);
    }
}
