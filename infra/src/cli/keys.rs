//! `infra keys`: list, add, rotate and remove API keys; `list --json` for scripts.

use clap::Subcommand;
use serde::Serialize;

use crate::commands;
use crate::context::Ctx;
use crate::error::Result;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Subcommand)]
enum Action {
    /// This system's keys: name, id, enabled, in the usage plan (never their values).
    List {
        /// Print a JSON array of {"name", "id", "enabled", "inPlan"}.
        #[arg(long)]
        json: bool,
    },
    /// A new key, added to the usage plan at once, its value in Secrets Manager.
    Add {
        /// The key's name (one per client, e.g. mobile-app).
        name: String,
        /// Also print the key's value.
        #[arg(long)]
        show_key: bool,
    },
    /// A new key under NAME; the old one keeps working until removed (or --disable-old).
    Rotate {
        /// The key to replace.
        name: String,
        /// Disable the old key at once instead of leaving it working.
        #[arg(long)]
        disable_old: bool,
        /// Also print the new key's value.
        #[arg(long)]
        show_key: bool,
    },
    /// Take a key out of the usage plan and delete it and its secret.
    Remove {
        /// The key to remove (a retired one is NAME-retired-<time>).
        name: String,
    },
}

/// A key as `list` shows it: the value is left behind here, so no output can carry it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Listed {
    name: String,
    id: String,
    enabled: bool,
    in_plan: bool,
}

pub async fn run(ctx: &Ctx, args: Args) -> Result<bool> {
    match args.action {
        Action::List { json } => {
            let keys: Vec<Listed> = commands::list(ctx)
                .await?
                .into_iter()
                .map(|(k, in_plan)| Listed {
                    name: k.name().unwrap_or_default().to_owned(),
                    id: k.id().unwrap_or_default().to_owned(),
                    enabled: k.enabled(),
                    in_plan,
                })
                .collect();
            if json {
                println!("{}", serde_json::to_string_pretty(&keys).expect("plain data"));
            } else {
                for k in &keys {
                    println!(
                        "{:<32} {:<12} {:<8} {}",
                        k.name,
                        k.id,
                        if k.enabled { "enabled" } else { "disabled" },
                        if k.in_plan { "in plan" } else { "NOT in plan" }
                    );
                }
            }
        }
        Action::Add { name, show_key } => {
            let key = commands::add(ctx, &name).await?;
            eprintln!("key id: {}", key.id().unwrap_or_default());
            if show_key {
                eprintln!("key:    {}", key.value().unwrap_or_default());
            }
        }
        Action::Rotate { name, disable_old, show_key } => {
            let (key, retired) = commands::rotate(ctx, &name, disable_old).await?;
            eprintln!("new key id: {}", key.id().unwrap_or_default());
            if show_key {
                eprintln!("new key:    {}", key.value().unwrap_or_default());
            }
            if !disable_old {
                eprintln!("the old key still works; when clients have moved: infra keys remove {retired}");
            }
        }
        Action::Remove { name } => commands::remove(ctx, &name).await?,
    }
    Ok(true)
}
