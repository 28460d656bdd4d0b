//! `infra usage`: requests used and remaining per day (GetUsage), as a table or JSON.

use crate::commands;
use crate::context::Ctx;
use crate::error::Result;

#[derive(clap::Args)]
pub struct Args {
    /// How many days, ending today (UTC).
    #[arg(long, default_value_t = 1)]
    days: u32,
    /// The key's name (default: the product's key).
    #[arg(long)]
    key: Option<String>,
    /// Print JSON: {"keyName", "keyId", "days": [{"date", "used", "remaining"}]}.
    #[arg(long)]
    json: bool,
}

pub async fn run(ctx: &Ctx, args: Args) -> Result<bool> {
    // The emulator lacks GetUsage; a local gateway answers it in AWS's wire shape.
    let client = match &ctx.gateway {
        Some(url) => aws_sdk_apigateway::Client::from_conf(
            ctx.aws.apigateway.config().to_builder().endpoint_url(url.trim_end_matches('/')).build(),
        ),
        None => ctx.aws.apigateway.clone(),
    };
    let key = args.key.unwrap_or_else(|| ctx.sys.api_key.clone());
    let usage = commands::usage(ctx, &client, &key, args.days).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&usage).expect("plain data"));
    } else {
        println!("{:<12} {:>8} {:>10}", "date (UTC)", "used", "remaining");
        for day in &usage.days {
            println!("{:<12} {:>8} {:>10}", day.date, day.used, day.remaining);
        }
    }
    Ok(true)
}
