//! `user add|list|remove`: who may connect to the SQL server, to which tenants, in which role.

use std::io::{BufRead, IsTerminal};
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use arrow::array::{RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use engine::Warehouse;
use engine::users::Users;

use crate::UserCommand;
use crate::output::write_batches;

/// The password from standard input: asked twice without echo on a terminal, else the first
/// line (so scripts can pipe it in).
fn read_password(name: &str) -> Result<String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("password for {name}: "))?;
        let again = rpassword::prompt_password("again: ")?;
        if first != again {
            bail!("the two passwords differ; nothing was changed");
        }
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

pub fn run(wh: &Path, cmd: UserCommand) -> Result<()> {
    let warehouse = Warehouse::open(wh)?;
    let users = Users::of(&warehouse);
    match cmd {
        UserCommand::Add { name, tenant, role } => {
            let tenants: Vec<String> = tenant.split(',').map(|t| t.trim().to_string()).collect();
            let password = read_password(&name)?;
            users.add(&warehouse, &name, &tenants, role, &password)?;
            println!("added user {name} ({role}) for {}", tenants.join(", "));
        }
        UserCommand::Remove { name } => {
            users.remove(&name)?;
            println!("removed user {name}");
        }
        UserCommand::List { format } => {
            let list = users.list()?;
            let schema = Arc::new(Schema::new(vec![
                Field::new("name", DataType::Utf8, false),
                Field::new("role", DataType::Utf8, false),
                Field::new("tenants", DataType::Utf8, false),
            ]));
            let batch = RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(StringArray::from_iter_values(
                        list.iter().map(|u| u.name.as_str()),
                    )),
                    Arc::new(StringArray::from_iter_values(
                        list.iter().map(|u| u.role.to_string()),
                    )),
                    Arc::new(StringArray::from_iter_values(
                        list.iter().map(|u| u.tenants.join(",")),
                    )),
                ],
            )?;
            write_batches(
                &mut std::io::stdout().lock(),
                format,
                &schema,
                &[batch],
                None,
            )?;
        }
    }
    Ok(())
}
