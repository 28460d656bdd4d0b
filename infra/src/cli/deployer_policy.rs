//! `infra deployer-policy`: the IAM policy of the identity that runs infra, generated from the
//! declaration for this region, prefix and addresses (or, with `--boundary`, the permissions
//! boundary every function role carries, for an administrator to create or update).

use super::shared::Mail;
use crate::context::Ctx;
use crate::error::Result;
use crate::policy;

#[derive(clap::Args)]
pub struct Args {
    /// The account the policy is for (default: the caller's, from STS).
    #[arg(long, value_name = "ID")]
    pub account: Option<String>,
    /// Print the function roles' permissions boundary instead.
    #[arg(long)]
    boundary: bool,
    /// The SES identities the deployer manages (the policy names them exactly).
    #[command(flatten)]
    pub mail: Mail,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<bool> {
    if !args.boundary {
        args.mail.require()?;
    }
    let document = if args.boundary { policy::boundary(&ctx.sys) } else { policy::deployer(&ctx.sys) };
    println!("{}", serde_json::to_string_pretty(&document).expect("plain data"));
    Ok(true)
}
