use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use anyhow::Result;
use datafusion::prelude::SessionContext;
use engine::Warehouse;
use engine::session::{read_only, tenant_session};

use crate::output::{Format, write_batches};

/// Runs one query, or with none, every `;`-terminated statement read from standard input (an
/// interactive prompt when that is a terminal; `\q` or end of input quits).
pub async fn run(wh: &Path, tenant: &str, sql: Option<&str>, format: Format) -> Result<()> {
    let tenant = Warehouse::open(wh)?.tenant(tenant)?;
    let manifest = tenant.manifest()?;
    let ctx = tenant_session(&tenant, &manifest, None).await?;
    match sql {
        Some(q) => query(&ctx, q, format).await,
        None => prompt(&ctx, &tenant.id, format).await,
    }
}

async fn query(ctx: &SessionContext, sql: &str, format: Format) -> Result<()> {
    let df = match ctx.sql_with_options(sql, read_only()).await {
        Ok(df) => df,
        Err(e) if e.to_string().contains("not found") && e.to_string().contains("table") => {
            let tables: Vec<&str> = engine::schema::TABLES.iter().map(|t| t.name).collect();
            anyhow::bail!(
                "{e}\n  tables: {}\n  views: {}",
                tables.join(", "),
                engine::views::VIEW_NAMES.join(", ")
            );
        }
        Err(e) => return Err(e.into()),
    };
    let schema = df.schema().inner().clone();
    let batches = df.collect().await?;
    // Ad-hoc queries keep the names the user wrote, in every format.
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    write_batches(
        &mut std::io::stdout().lock(),
        format,
        &schema,
        &batches,
        Some(&names),
    )
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

async fn prompt(ctx: &SessionContext, tenant: &str, format: Format) -> Result<()> {
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
            if let Err(e) = query(ctx, statement, format).await {
                eprintln!("error: {e}");
                failed = true;
            }
        }
    }
    let rest = pending.trim();
    if !rest.is_empty()
        && let Err(e) = query(ctx, rest, format).await
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
