//! `user add|list|remove`: who may connect to the SQL server, to which tenants, in which role.

use anyhow::{Context, Result, bail};
use server::users::Users;
use std::io::{BufRead, IsTerminal};
use std::path::Path;
use warehouse::Warehouse;

use crate::UserCommand;
use crate::output::write_text_table;

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
            write_text_table(
                format,
                &[
                    ("name", list.iter().map(|u| u.name.clone()).collect()),
                    ("role", list.iter().map(|u| u.role.to_string()).collect()),
                    (
                        "tenants",
                        list.iter().map(|u| u.tenants.join(",")).collect(),
                    ),
                ],
            )?;
        }
    }
    Ok(())
}
