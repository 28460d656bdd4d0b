//! Options more than one command takes: the email addresses (deploy verifies their SES
//! identities, destroy deletes them), the CORS origin and the backup schedule (deploy sets
//! them, verify expects them).

use system::Options;

use crate::context::Ctx;
use crate::error::{InfraError, Result};
use crate::resources::{schedule, web};

/// CORS's "any origin", the default until a page is published.
pub const ANY_ORIGIN: &str = "*";

#[derive(clap::Args)]
pub struct Mail {
    /// The sender of confirmation and backup emails (an SES identity: deploy verifies it,
    /// destroy deletes it).
    #[arg(long, env = "SENDER_EMAIL", default_value = "")]
    pub sender_email: String,
    /// Who receives backup notices (an SES identity: deploy verifies it, destroy deletes it).
    #[arg(long, env = "RECIPIENT_EMAIL", default_value = "")]
    pub recipient_email: String,
}

impl Mail {
    /// Destroy also finds the addresses in the functions' configuration, so it takes what is
    /// given (or nothing).
    pub fn choose(&self, options: &mut Options) {
        options.sender_email.clone_from(&self.sender_email);
        options.recipient_email.clone_from(&self.recipient_email);
    }

    /// Deploy cannot configure the functions without both.
    pub fn require(&self) -> Result<()> {
        for (value, flag) in [
            (&self.sender_email, "--sender-email (or SENDER_EMAIL)"),
            (&self.recipient_email, "--recipient-email (or RECIPIENT_EMAIL)"),
        ] {
            if value.is_empty() {
                return Err(InfraError::Missing(format!(
                    "{flag}: the functions send email from and to these addresses"
                )));
            }
        }
        Ok(())
    }
}

#[derive(clap::Args)]
pub struct Origin {
    /// The origin allowed by CORS: `*`, or the web page's origin. With `*` and the page on
    /// CloudFront, the distribution's origin.
    #[arg(long, env = "ALLOWED_ORIGIN", default_value = ANY_ORIGIN)]
    pub allowed_origin: String,
}

impl Origin {
    pub fn choose(&self, options: &mut Options) {
        options.allowed_origin.clone_from(&self.allowed_origin);
    }

    /// With the page on CloudFront, the API allows the distribution's origin (unless an origin
    /// was given): deploy creates the distribution first (`publishing`); verify finds it.
    pub async fn settle(&self, ctx: &mut Ctx, publishing: bool, csp: Option<&str>) -> Result<()> {
        if self.allowed_origin != ANY_ORIGIN {
            return Ok(());
        }
        let origin = if publishing {
            Some(web::hosting(ctx, csp).await?)
        } else {
            web::find_distribution(ctx).await?.map(|d| format!("https://{}", d.domain))
        };
        if let Some(origin) = origin {
            let mut options = ctx.sys.options.clone();
            options.allowed_origin = origin;
            ctx.sys = system::System::new(options);
        }
        Ok(())
    }
}

#[derive(clap::Args)]
pub struct Schedule {
    /// When the backup runs on its own: an EventBridge schedule expression, cron(...) or
    /// rate(...), in UTC (deploy sets it, verify expects it).
    #[arg(
        long,
        env = "BACKUP_SCHEDULE",
        value_name = "EXPR",
        default_value = system::names::DEFAULT_BACKUP_SCHEDULE,
        value_parser = schedule::expression
    )]
    backup_schedule: String,
    /// No scheduled backup: deploy removes the rule, its target and the permission (verify
    /// expects none).
    #[arg(long, conflicts_with = "backup_schedule")]
    no_backup_schedule: bool,
}

impl Schedule {
    pub fn choose(&self, options: &mut Options) {
        options.backup_schedule = (!self.no_backup_schedule).then(|| self.backup_schedule.clone());
    }
}
